/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hostile_caller: a hostile program on a pmt master (pmtd serving it), built
 * as a 64-bit and as a 32-bit program (gcc -m32: the ioctls go through the
 * kernel's compat path).
 *
 *   hostile_caller UNIT --log LOG [--seed S] [--random N] [--big]
 *
 * Unknown ioctls (ENOTTY; known numbers with a wrong size: EINVAL; unknown
 * MTIOCTOP operations: ENOSYS), counts beyond SCSI's 24 bits and negative
 * ones (EINVAL), huge read and write counts, NULL, unmapped, read-only and
 * page-straddling pointers for read, write and every ioctl (EFAULT, with
 * nothing written and no record lost: a read that faults leaves its record
 * for the next read, as st does), misaligned buffers and structures (they
 * work), zero-length transfers (nothing written, nothing moved), a record of
 * 16 MiB - 1 bytes written and read back (--big), records over the limit
 * (EINVAL), a too-small read buffer (ENOMEM, as st), misaligned fixed-block
 * writes (EINVAL). --random N: N random unknown ioctl numbers more.
 *
 * What it wrote successfully is logged to LOG (tests/vm/faults.h): the image
 * must hold exactly that. Prints "ok: ..." per check, "FAIL: ..." per
 * failure and "CALLER inputs=N failed=F"; exits 1 on any failure.
 */
#include "faults.h"

#include <limits.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mtio.h>
#include <sys/syscall.h>

/* The system calls themselves: the compiler must not judge the arguments. */
#define xwrite(f, p, n) syscall(SYS_write, (f), (p), (n))
#define xread(f, p, n) syscall(SYS_read, (f), (p), (n))

static int fd, failed;
static unsigned long inputs;
static long page;
static unsigned char *ro, *edge; /* a read-only page; a page followed by an unmapped one */
static uint32_t seed = 1, recno;

static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf(ok ? "ok: " : "FAIL: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	failed += !ok;
}

/* A call that must fail with `want`. */
static int refused(long rc, int want)
{
	inputs++;
	return rc < 0 && errno == want;
}

static long mtop(short op, int count)
{
	struct mtop m = { .mt_op = op, .mt_count = count };

	return ioctl(fd, MTIOCTOP, &m);
}

static long pos_now(void)
{
	struct mtpos p;

	return ioctl(fd, MTIOCPOS, &p) < 0 ? -1 : (long)p.mt_blkno;
}

/* Writes record `recno` of `len` bytes from `at` (which may be misaligned)
 * and logs it. */
static int put(unsigned char *at, size_t len)
{
	gen_record(seed, recno, at, len);
	log_ev("W %u %zu", recno, len);
	if (write(fd, at, len) != (ssize_t)len)
		return -1;
	log_ev("A %u", recno);
	recno++;
	return 0;
}

static void weof(void)
{
	log_ev("F");
	check(mtop(MTWEOF, 1) == 0, "MTWEOF");
	log_ev("D");
}

static void unknown_ioctls(long nrandom)
{
	static const unsigned char bad_types[] = { 0x00, 'T', 'f', 'X', 0x94, 0x15, 'm' };
	unsigned char arg[256] __attribute__((aligned(16)));
	struct rng r = { seed * 31u + 7 };
	int ok = 1;

	memset(arg, 0, sizeof(arg));
	/* 'm' with other numbers: not st's. */
	for (unsigned nr = 0; nr < 256; nr++) {
		unsigned long cmd = _IOC(_IOC_READ, 'm', nr, 8);

		if (nr == 1 || nr == 2 || nr == 3)
			continue;
		if (!refused(ioctl(fd, cmd, arg), ENOTTY)) {
			check(0, "ioctl 'm' %u: %s, not ENOTTY", nr, strerror(errno));
			ok = 0;
		}
	}
	/* st's numbers with a wrong size (a 32-bit program may also use the
	 * 64-bit sizes: the kernel answers both). */
	for (unsigned sz = 0; sz < 64; sz++) {
		if (sz != 8 && !refused(ioctl(fd, _IOC(_IOC_WRITE, 'm', 1, sz), arg), EINVAL))
			ok = 0, check(0, "MTIOCTOP of size %u: %s", sz, strerror(errno));
		if (sz != sizeof(struct mtget) && sz != 48 && !refused(ioctl(fd, _IOC(_IOC_READ, 'm', 2, sz), arg), EINVAL))
			ok = 0, check(0, "MTIOCGET of size %u: %s", sz, strerror(errno));
		if (sz != sizeof(struct mtpos) && sz != 8 && !refused(ioctl(fd, _IOC(_IOC_READ, 'm', 3, sz), arg), EINVAL))
			ok = 0, check(0, "MTIOCPOS of size %u: %s", sz, strerror(errno));
	}
	/* Random numbers of other types (not the ones the VFS answers itself). */
	for (long i = 0; i < nrandom; i++) {
		unsigned long cmd;
		unsigned type;

		do
			type = (unsigned)rng_below(&r, 256);
		while (memchr(bad_types, (int)type, sizeof(bad_types)));
		cmd = _IOC((unsigned)rng_below(&r, 4), type, (unsigned)rng_below(&r, 256), (unsigned)rng_below(&r, 256));
		if (!refused(ioctl(fd, cmd, arg), ENOTTY)) {
			check(0, "ioctl %#lx: %s, not ENOTTY", cmd, strerror(errno));
			ok = 0;
			break;
		}
	}
	check(ok, "unknown ioctls: ENOTTY; st's numbers with a wrong size: EINVAL (%ld random ones)", nrandom);
	ok = 1;
	for (int op = -40; op < 200; op++) {
		if ((op >= 0 && op <= 16) || (op >= 20 && op <= 35))
			continue;
		if (!refused(mtop((short)op, 1), ENOSYS))
			ok = 0, check(0, "MTIOCTOP operation %d: %s, not ENOSYS", op, strerror(errno));
	}
	if (!refused(mtop(SHRT_MIN, 1), ENOSYS) || !refused(mtop(SHRT_MAX, 1), ENOSYS))
		ok = 0;
	check(ok, "unknown MTIOCTOP operations: ENOSYS");
}

static void counts(void)
{
	static const short motion[] = { MTFSF, MTBSF, MTFSR, MTBSR, MTFSFM, MTBSFM };
	static const int huge[] = { 0x800000, 0x7fffffff, -0x800001, INT_MIN, 0x1000000 };
	int ok = 1;
	long before = pos_now();

	for (size_t i = 0; i < sizeof(motion) / sizeof(motion[0]); i++)
		for (size_t j = 0; j < sizeof(huge) / sizeof(huge[0]); j++)
			if (!refused(mtop(motion[i], huge[j]), EINVAL))
				ok = 0, check(0, "MTIOCTOP %d count %d: %s, not EINVAL", motion[i], huge[j], strerror(errno));
	for (size_t j = 0; j < sizeof(huge) / sizeof(huge[0]); j++)
		if (!refused(mtop(MTWEOF, huge[j]), EINVAL))
			ok = 0, check(0, "MTWEOF %d: %s", huge[j], strerror(errno));
	if (!refused(mtop(MTWEOF, -1), EINVAL) || !refused(mtop(MTWSM, -5), EINVAL))
		ok = 0, check(0, "a negative filemark count: %s", strerror(errno));
	check(ok && pos_now() == before, "counts beyond 24 bits and negative filemark counts: EINVAL, nothing moved");
}

static void pointers(void)
{
	unsigned char *unmapped = edge + page;
	long before = pos_now();
	int ok = 1;

	/* Writes: refused, nothing written. */
	ok &= refused(xwrite(fd, NULL, 100), EFAULT);
	ok &= refused(xwrite(fd, unmapped, 100), EFAULT);
	ok &= refused(xwrite(fd, edge + page - 50, 100), EFAULT);
	ok &= refused(xwrite(fd, (void *)-4096L, 100), EFAULT);
	ok &= refused(xwrite(fd, edge, (size_t)-1), EFAULT) || errno == EINVAL;
	check(ok && pos_now() == before, "writes from NULL, unmapped and straddling buffers: EFAULT, nothing written");
	ok = 1;
	/* ioctls: every argument pointer checked. */
	ok &= refused(ioctl(fd, MTIOCTOP, NULL), EFAULT);
	ok &= refused(ioctl(fd, MTIOCTOP, unmapped), EFAULT);
	ok &= refused(ioctl(fd, MTIOCTOP, edge + page - 4), EFAULT);
	ok &= refused(ioctl(fd, MTIOCGET, NULL), EFAULT);
	ok &= refused(ioctl(fd, MTIOCGET, unmapped), EFAULT);
	ok &= refused(ioctl(fd, MTIOCGET, edge + page - 8), EFAULT);
	ok &= refused(ioctl(fd, MTIOCGET, ro), EFAULT);
	ok &= refused(ioctl(fd, MTIOCPOS, NULL), EFAULT);
	ok &= refused(ioctl(fd, MTIOCPOS, unmapped), EFAULT);
	ok &= refused(ioctl(fd, MTIOCPOS, edge + page - 2), EFAULT);
	ok &= refused(ioctl(fd, MTIOCPOS, ro), EFAULT);
	check(ok && pos_now() == before, "MTIOCTOP, MTIOCGET and MTIOCPOS with NULL, unmapped, straddling and read-only pointers: EFAULT");
}

/* Reads the next record, which must be `n` of `len` bytes, through bad
 * buffers first: each faults and leaves the record for the next read. */
static void read_back(uint32_t n, size_t len, unsigned char *buf, unsigned char *want)
{
	int ok = 1;
	ssize_t k;
	size_t more = len + 100 > 0xffffff ? 0xffffff : len + 100; /* at most a record */

	gen_record(seed, n, want, len);
	ok &= refused(xread(fd, NULL, more), EFAULT);
	ok &= refused(xread(fd, ro, len), EFAULT);
	if (len > 100)
		ok &= refused(xread(fd, edge + page - 50, len), EFAULT);
	k = read(fd, buf + 5, more); /* misaligned, larger than the record */
	check(ok && k == (ssize_t)len && memcmp(buf + 5, want, len) == 0,
	      "record %u (%zu bytes): reads into NULL, read-only and straddling buffers fault, the next read gets it whole (%zd)", n,
	      len, k);
}

int main(int argc, char **argv)
{
	char dev[64];
	long nrandom = 2000;
	int big = 0, unit;
	unsigned char *buf, *want;
	size_t sizes[] = { 1, 2, 511, 4096, 65537, 100003 };
	struct mtget g1, g2;
	ssize_t k;

	if (argc < 2)
		return 2;
	unit = atoi(argv[1]);
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--log") && i + 1 < argc)
			log_open(argv[++i]);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--random") && i + 1 < argc)
			nrandom = atol(argv[++i]);
		else if (!strcmp(argv[i], "--big"))
			big = 1;
		else
			return 2;
	}
	log_ev("S %u", seed);
	page = sysconf(_SC_PAGESIZE);
	ro = mmap(NULL, (size_t)page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	edge = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	buf = malloc((1u << 24) + 64);
	want = malloc((1u << 24) + 64);
	if (ro == MAP_FAILED || edge == MAP_FAILED || munmap(edge + page, (size_t)page) || !buf || !want)
		return 2;
	snprintf(dev, sizeof(dev), "/dev/npmtm%d", unit);
	fd = open(dev, O_RDWR);
	if (fd < 0) {
		printf("FAIL: open %s: %s\n", dev, strerror(errno));
		return 1;
	}
	printf("hostile_caller: %zu-bit, %s\n", sizeof(long) * 8, dev);
	unknown_ioctls(nrandom);
	counts();
	pointers();

	/* Zero-length transfers: nothing written, nothing moved. */
	k = write(fd, buf, 0);
	inputs++;
	check(k == 0 && pos_now() == 0, "a zero-length write returns 0 and writes nothing (%zd, at %ld)", k, pos_now());
	/* Records from misaligned buffers, one over the limit. */
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		check(put(buf + 1 + i * 2, sizes[i]) == 0, "a record of %zu bytes from a misaligned buffer", sizes[i]);
	k = write(fd, buf, 0x1000000);
	check(refused(k, EINVAL), "a record of 16 MiB (over the limit): EINVAL (%zd %s)", k, strerror(errno));
	if (big)
		check(put(buf, 0xffffff) == 0, "a record of 16 MiB - 1 bytes");
	weof();
	/* Fixed blocks: whole blocks only. */
	check(mtop(MTSETBLK, 512) == 0, "MTSETBLK 512");
	{
		size_t bad[] = { 1, 511, 513, 1000, 4095 };
		int ok = 1;
		long before = pos_now();

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			ok &= refused(xwrite(fd, buf, bad[i]), EINVAL);
		k = write(fd, buf, 0);
		check(ok && k == 0 && pos_now() == before, "fixed blocks: writes of 1, 511, 513, 1000, 4095 bytes: EINVAL");
		for (int b = 0; b < 3; b++)
			gen_record(seed, recno + (uint32_t)b, buf + 3 + 512 * b, 512);
		for (int b = 0; b < 3; b++)
			log_ev("W %u 512", recno + (uint32_t)b);
		k = write(fd, buf + 3, 1536);
		check(k == 1536, "a write of three blocks from a misaligned buffer (%zd)", k);
		if (k == 1536)
			for (int b = 0; b < 3; b++)
				log_ev("A %u", recno + (uint32_t)b);
		recno += 3;
	}
	weof();
	check(mtop(MTSETBLK, 0) == 0, "MTSETBLK 0");
	/* Misaligned structures work and agree with aligned ones. */
	{
		unsigned char raw[sizeof(struct mtget) + 16];
		struct mtop op = { MTNOP, 1 };
		unsigned char rop[sizeof(op) + 8];

		memcpy(rop + 3, &op, sizeof(op));
		check(ioctl(fd, MTIOCTOP, rop + 3) == 0, "MTIOCTOP from a misaligned structure");
		check(ioctl(fd, MTIOCGET, &g1) == 0 && ioctl(fd, MTIOCGET, raw + 5) == 0 &&
			      memcmp(&g1, raw + 5, sizeof(g1)) == 0 && g1.mt_fileno == 2 && g1.mt_blkno == 0,
		      "MTIOCGET into a misaligned structure agrees (file %d block %d)", g1.mt_fileno, g1.mt_blkno);
	}
	/* Read everything back, through bad buffers first. */
	check(mtop(MTREW, 1) == 0, "rewind");
	k = read(fd, buf, 0);
	check(k == 0 && pos_now() == 0, "a zero-length read returns 0 and moves nothing");
	{
		uint32_t n = 0;

		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			read_back(n++, sizes[i], buf, want);
		if (big) {
			/* Too small a buffer: ENOMEM, and the record is passed (st). */
			k = read(fd, buf, 1 << 20);
			check(refused(k, ENOMEM), "a 1 MiB read of the 16 MiB - 1 record: ENOMEM (%zd %s)", k, strerror(errno));
			check(mtop(MTBSR, 1) == 0, "back over it");
			read_back(n++, 0xffffff, buf, want);
		}
		k = read(fd, buf, 100);
		check(k == 0, "the filemark (%zd)", k);
		check(mtop(MTSETBLK, 512) == 0, "MTSETBLK 512");
		k = read(fd, buf + 1, 1536);
		for (int b = 0; b < 3; b++)
			gen_record(seed, n + (uint32_t)b, want + 512 * b, 512);
		check(k == 1536 && memcmp(buf + 1, want, 1536) == 0, "three blocks read back into a misaligned buffer (%zd)", k);
		check(mtop(MTSETBLK, 0) == 0, "MTSETBLK 0");
	}
	/* Negative counts within range move backward (as st) and break nothing. */
	check(mtop(MTREW, 1) == 0 && mtop(MTFSR, 3) == 0 && mtop(MTFSR, -2) == 0 && pos_now() == 1, "MTFSR -2 goes back two records");
	check(mtop(MTBSR, -1) == 0 && pos_now() == 2, "MTBSR -1 goes forward one");
	check(ioctl(fd, MTIOCGET, &g2) == 0 && g2.mt_fileno == 0 && g2.mt_blkno == 2, "status after them: file %d block %d",
	      g2.mt_fileno, g2.mt_blkno);
	read_back(2, sizes[2], buf, want);
	check(close(fd) == 0, "close");
	log_ev("C 0");
	log_ev("X 0 0 0");
	printf("CALLER inputs=%lu failed=%d\n", inputs, failed);
	return failed ? 1 : 0;
}
