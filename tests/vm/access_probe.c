/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * access_probe: who may open what, and that nothing uninitialised reaches
 * user space. Built as a 64-bit and as a 32-bit program.
 *
 *   access_probe SERVED FREE
 *
 * SERVED is a unit pmtd serves (its tape is rewritten here), FREE a unit
 * with no daemon (this probe plays the daemon there).
 *   - every node: slaves 0600 root:root, masters 0660 root:root;
 *   - a second open of either end: EBUSY, at once;
 *   - a process without privilege (uid and gid 65534) cannot open a slave
 *     or a master; in group tape with the masters given to that group it
 *     opens a master but still not a slave; with a master fd kept from root
 *     it may ask the status but not MTSETDRVBUFFER (EPERM, as st);
 *   - fill patterns: every byte past what a master read, a slave read,
 *     MTIOCGET and MTIOCPOS return keeps the caller's fill, and the
 *     structures are written whole (the same bytes whatever the fill); the
 *     padding between slave frames is zero; a refused slave read (EMSGSIZE)
 *     writes nothing.
 * Prints "ok: ..." / "FAIL: ..." lines and "ACCESS checks=N failed=F".
 */
#include "faults.h"

#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mtio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "pmt_proto.h"

static int failed, checks;

static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	checks++;
	va_start(ap, fmt);
	printf(ok ? "ok: " : "FAIL: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	failed += !ok;
}

static int filled(const unsigned char *p, size_t n, unsigned char c)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != c)
			return 0;
	return 1;
}

static void node(const char *path, unsigned mode)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		check(0, "stat %s: %s", path, strerror(errno));
		return;
	}
	if (!S_ISCHR(st.st_mode) || (st.st_mode & 07777) != mode || st.st_uid != 0 || st.st_gid != 0)
		check(0, "%s: mode %o uid %u gid %u, expected a character device %o root:root", path, st.st_mode & 07777,
		      (unsigned)st.st_uid, (unsigned)st.st_gid, mode);
}

/* Runs fn in a child with uid 65534 and gid `gid`; returns its exit status. */
static int as_nobody(gid_t gid, int (*fn)(void *), void *arg)
{
	pid_t p = fork();
	int st;

	if (p == 0) {
		if (setgroups(0, NULL) || setgid(gid) || setuid(65534))
			_exit(100);
		_exit(fn(arg));
	}
	waitpid(p, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 200;
}

/* 0 if open(path) fails with EACCES. */
static int open_refused(void *path)
{
	int fd = open(path, O_RDWR | O_NONBLOCK);

	return fd < 0 && errno == EACCES ? 0 : 1;
}

static int open_allowed(void *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK);

	return fd >= 0 ? (close(fd), 0) : 1;
}

static int kept_fd_limits(void *arg)
{
	int fd = *(int *)arg;
	struct mtget g;
	struct mtop op = { MTSETDRVBUFFER, MT_ST_SETBOOLEANS | MT_ST_TWO_FM };

	if (ioctl(fd, MTIOCGET, &g) < 0)
		return 1;
	if (ioctl(fd, MTIOCTOP, &op) == 0 || errno != EPERM)
		return 2;
	return 0;
}

static int mtop(int fd, short op, int count)
{
	struct mtop m = { .mt_op = op, .mt_count = count };

	return ioctl(fd, MTIOCTOP, &m);
}

/* Master reads, MTIOCGET and MTIOCPOS under fill patterns. */
static void fills_master(int unit)
{
	static const size_t sizes[] = { 1, 7, 512, 4095, 65536 };
	static unsigned char buf[70000], want[70000];
	char dev[64];
	int fd, ok = 1;

	snprintf(dev, sizeof(dev), "/dev/npmtm%d", unit);
	fd = open(dev, O_RDWR);
	if (fd < 0) {
		check(0, "open %s: %s", dev, strerror(errno));
		return;
	}
	for (size_t i = 0; i < 5; i++) {
		gen_record(9, (uint32_t)i, want, sizes[i]);
		ok &= write(fd, want, sizes[i]) == (ssize_t)sizes[i];
	}
	ok &= mtop(fd, MTWEOF, 1) == 0 && mtop(fd, MTREW, 1) == 0;
	check(ok, "records written for the read fill checks");
	for (int pass = 0; pass < 2; pass++) {
		unsigned char c = pass ? 0x5a : 0xa5;

		ok = 1;
		for (size_t i = 0; i < 5; i++) {
			ssize_t k;

			memset(buf, c, sizeof(buf));
			if (i == 2)
				(void)syscall(SYS_read, fd, NULL, sizes[i]); /* faults; the record stays */
			k = read(fd, buf, sizes[i] + 256);
			gen_record(9, (uint32_t)i, want, sizes[i]);
			ok &= k == (ssize_t)sizes[i] && memcmp(buf, want, sizes[i]) == 0 && filled(buf + sizes[i], 256, c);
		}
		check(ok, "master reads of 1..65536-byte records: the bytes past each record keep the fill %#x", c);
		mtop(fd, MTREW, 1);
	}
	{
		unsigned char a[sizeof(struct mtget) + 64], b[sizeof(a)];

		memset(a, 0x00, sizeof(a));
		memset(b, 0xff, sizeof(b));
		ok = ioctl(fd, MTIOCGET, a) == 0 && ioctl(fd, MTIOCGET, b) == 0;
		check(ok && memcmp(a, b, sizeof(struct mtget)) == 0 && filled(a + sizeof(struct mtget), 64, 0) &&
			      filled(b + sizeof(struct mtget), 64, 0xff),
		      "MTIOCGET writes its %zu bytes whole and nothing past them", sizeof(struct mtget));
	}
	{
		unsigned char a[sizeof(struct mtpos) + 64], b[sizeof(a)];

		memset(a, 0x00, sizeof(a));
		memset(b, 0xff, sizeof(b));
		ok = ioctl(fd, MTIOCPOS, a) == 0 && ioctl(fd, MTIOCPOS, b) == 0;
		check(ok && memcmp(a, b, sizeof(struct mtpos)) == 0 && filled(a + sizeof(struct mtpos), 64, 0) &&
			      filled(b + sizeof(struct mtpos), 64, 0xff),
		      "MTIOCPOS writes its %zu bytes whole and nothing past them", sizeof(struct mtpos));
	}
	{
		/* Fixed blocks: a read of 1000 bytes of 512-byte blocks. */
		ssize_t k;

		ok = mtop(fd, MTSETBLK, 512) == 0;
		gen_record(10, 0, want, 1536);
		ok &= write(fd, want, 1536) == 1536 && mtop(fd, MTWEOF, 1) == 0 && mtop(fd, MTBSF, 1) == 0 &&
		      mtop(fd, MTBSR, 3) == 0;
		memset(buf, 0xa5, 2000);
		k = read(fd, buf, 1000);
		check(ok && k == 1000 && memcmp(buf, want, 1000) == 0 && filled(buf + 1000, 1000, 0xa5),
		      "a fixed-block read of 1000 bytes: the rest keeps the fill (%zd)", k);
		mtop(fd, MTSETBLK, 0);
	}
	close(fd);
}

/* The free unit's slave, with this probe as the daemon. */
static void fills_slave(int unit)
{
	static unsigned char buf[1 << 20];
	char sdev[64], mdev[64];
	int s, done = 0, ok = 1, pads = 0, frames = 0;
	pid_t child;

	snprintf(sdev, sizeof(sdev), "/dev/pmts%d", unit);
	snprintf(mdev, sizeof(mdev), "/dev/npmtm%d", unit);
	s = open(sdev, O_RDWR);
	check(s >= 0, "open %s", sdev);
	if (s < 0)
		return;
	check(open(sdev, O_RDWR) < 0 && errno == EBUSY, "a second open of a slave: EBUSY");
	{
		struct mtget g;

		check(ioctl(s, MTIOCGET, &g) < 0 && errno == ENOTTY && ioctl(s, 0x12345678, NULL) < 0 && errno == ENOTTY,
		      "ioctls on a slave: ENOTTY");
	}
	child = fork();
	if (child == 0) {
		unsigned char rec[13];
		int m;

		close(s);
		m = open(mdev, O_RDWR);
		if (m < 0)
			_exit(1);
		for (int i = 0; i < 3; i++)
			if (write(m, rec, (size_t)(1 + 6 * i)) != 1 + 6 * i)
				_exit(2);
		_exit(close(m) ? 3 : 0);
	}
	while (!done) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		ssize_t n;
		size_t off = 0;

		if (poll(&p, 1, 5000) != 1) {
			check(0, "no request from the master within 5s");
			break;
		}
		memset(buf, 0xa5, sizeof(buf));
		n = read(s, buf, 40);
		ok &= n < 0 && errno == EMSGSIZE && filled(buf, sizeof(buf), 0xa5);
		n = read(s, buf, sizeof(buf));
		if (n <= 0) {
			check(0, "slave read: %zd (%s)", n, strerror(errno));
			break;
		}
		ok &= filled(buf + n, sizeof(buf) - (size_t)n, 0xa5);
		while (off < (size_t)n) {
			struct pmt_req q;
			struct pmt_rep r;
			size_t flen, al;

			memcpy(&q, buf + off, sizeof(q));
			flen = q.rq_hdr.h_len;
			al = (flen + 7) & ~(size_t)7;
			frames++;
			ok &= q.rq_hdr.h_version == PMT_PROTO_VERSION && q.rq_spare == 0 && flen >= PMT_REQ_SIZE &&
			      off + flen <= (size_t)n;
			if (al > flen && off + al <= (size_t)n) {
				pads++;
				ok &= filled(buf + off + flen, al - flen, 0);
			}
			memset(&r, 0, sizeof(r));
			r.rp_hdr.h_len = sizeof(r);
			r.rp_hdr.h_version = PMT_PROTO_VERSION;
			r.rp_hdr.h_op = q.rq_hdr.h_op;
			r.rp_hdr.h_id = q.rq_hdr.h_id;
			r.rp_status.ds_flags = PMT_DS_READY;
			r.rp_status.ds_minblk = 1;
			r.rp_status.ds_maxblk = PMT_MAX_RECORD;
			r.rp_status.ds_room = PMT_ROOM_UNLIMITED;
			if (q.rq_hdr.h_op == PMT_OP_OPEN) {
				r.rp_sense = PMT_SK_UNIT_ATTENTION;
				r.rp_asc = PMT_ASC_MEDIUM_CHANGED;
			}
			if (write(s, &r, sizeof(r)) != sizeof(r))
				ok = 0;
			if (q.rq_hdr.h_op == PMT_OP_CLOSE)
				done = 1;
			off += al;
		}
	}
	{
		int st;

		waitpid(child, &st, 0);
		check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the master's writes and close (status %#x)", st);
	}
	check(ok && pads > 0,
	      "slave reads: %d frames, zero padding in %d, the rest of the buffer keeps the fill; EMSGSIZE writes nothing",
	      frames, pads);
	close(s);
}

int main(int argc, char **argv)
{
	int served, freeu, nunits = 0, fd, fd2;
	char path[64], slave[64], master[64], nmaster[64];
	FILE *f;
	double t0;

	if (argc < 3)
		return 2;
	served = atoi(argv[1]);
	freeu = atoi(argv[2]);
	printf("access_probe: %zu-bit\n", sizeof(long) * 8);
	f = fopen("/sys/module/pmt/parameters/nunits", "r");
	if (f == NULL || fscanf(f, "%d", &nunits) != 1)
		return 2;
	fclose(f);
	for (int u = 0; u < nunits; u++) {
		int before = failed;

		snprintf(path, sizeof(path), "/dev/pmts%d", u);
		node(path, 0600);
		snprintf(path, sizeof(path), "/dev/pmtm%d", u);
		node(path, 0660);
		snprintf(path, sizeof(path), "/dev/npmtm%d", u);
		node(path, 0660);
		failed = before + (failed != before);
	}
	check(1, "the nodes of %d units checked (slaves 0600, masters 0660, root:root)", nunits);
	snprintf(slave, sizeof(slave), "/dev/pmts%d", served);
	snprintf(master, sizeof(master), "/dev/pmtm%d", served);
	snprintf(nmaster, sizeof(nmaster), "/dev/npmtm%d", served);

	/* Exclusive ends. */
	check(open(slave, O_RDWR) < 0 && errno == EBUSY, "the slave of a served unit: EBUSY");
	fd = open(master, O_RDWR);
	check(fd >= 0, "open %s", master);
	t0 = now_s();
	fd2 = open(nmaster, O_RDONLY);
	check(fd2 < 0 && errno == EBUSY, "a second master open (the other node): EBUSY");
	fd2 = open(master, O_RDWR | O_NONBLOCK);
	check(fd2 < 0 && errno == EBUSY && now_s() - t0 < 0.5, "a second master open, O_NONBLOCK: EBUSY, at once");

	/* Without privilege. */
	check(as_nobody(65534, open_refused, slave) == 0, "uid 65534 cannot open a slave (EACCES)");
	check(as_nobody(65534, open_refused, nmaster) == 0, "uid 65534 cannot open a master (EACCES)");
	check(as_nobody(65534, kept_fd_limits, &fd) == 0, "a master fd kept after dropping root: MTIOCGET works, MTSETDRVBUFFER is EPERM");
	close(fd);
	snprintf(path, sizeof(path), "/dev/npmtm%d", served);
	if (chown(path, 0, 26) == 0) {
		check(as_nobody(26, open_allowed, path) == 0, "group tape opens a master handed to it (0660)");
		check(as_nobody(26, open_refused, slave) == 0, "group tape still cannot open a slave");
		if (chown(path, 0, 0))
			check(0, "chown back: %s", strerror(errno));
	} else {
		check(0, "chown %s: %s", path, strerror(errno));
	}
	fills_master(served);
	fills_slave(freeu);
	printf("ACCESS checks=%d failed=%d\n", checks, failed);
	return failed ? 1 : 0;
}
