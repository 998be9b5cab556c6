/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hostile_daemon: plays the daemon on /dev/pmts<UNIT> with an honest drive
 * (tests/vm/cdrive.h) behind it, in two modes.
 *
 *   hostile_daemon attack UNIT --inputs N [--seed S] [--secs T]
 *     A master child runs cycles of real tape work on /dev/npmtm<UNIT>
 *     (open, records written and read back byte for byte, filemarks,
 *     spacing, status, close; variable and fixed blocks). Before the reply
 *     to each request the daemon sends malformed ones: wrong id, operation
 *     or version, bad lengths, truncated frames, data beyond the request or
 *     for a command that has none, residues and counts out of range, unknown
 *     sense keys and flags, spare fields set, drive status out of range,
 *     bad read-ahead runs, replies nobody asked for, duplicates, floods of
 *     frames and megabytes of garbage in one write, and bad pointers. Each
 *     must be refused (EINVAL; EFAULT for the pointers) and change nothing:
 *     the master's data must still be exactly right. Now and then the final
 *     reply is a well-formed drive error (MEDIUM ERROR, HARDWARE ERROR,
 *     ABORTED COMMAND) for a command the master waits on: that master call
 *     must fail with EIO. Request ids must follow each other (nothing
 *     lost, even when a slave read faults).
 *   hostile_daemon serve UNIT --records N [--seed S] [--len LO:HI]
 *                  [--layout LOG] [--run-delay-us D] [--runs-log FILE]
 *     An honest daemon serving a tape of N records and a filemark (logged
 *     to LOG in tests/vm/faults.h's format) with read-ahead answered, each
 *     run held back D microseconds so that runs are in flight; appends
 *     "R records" to FILE per run served. It serves until killed.
 *     --stall-after N: answers the first N requests, then goes on reading
 *     requests but never answers again (a drive that hangs).
 *
 * --area (either mode): the daemon maps the unit's data area, so write
 * data and read-ahead runs pass by offset; attack then also claims data in
 * the area where no slice was given, more than the slice, and data in the
 * frame besides.
 *
 * attack prints "HOSTILE key=value..." (inputs, refused, efault, eio,
 * wrong, ops, cycles, runs, hang) and exits 0 if every check held.
 */
#include "faults.h"
#include "cdrive.h"

#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mtio.h>
#include <sys/wait.h>

#define BATCH (8u << 20)
#define MAXOPS 400000

static unsigned char *inbuf;
static int sfd = -1;
static struct cdrive drv;
static struct rng R;
static int failed;
static long stall_after = -1; /* serve: requests answered before going silent */
static int want_area;		/* --area 1: map the data area */
static unsigned char *area;	/* the unit's data area, mapped (--area) */
static size_t area_size;

/* Maps the data area of the slave: its size from PMT_SIOCAREA. */
static int map_area(void)
{
	uint64_t size = 0;

	if (ioctl(sfd, PMT_SIOCAREA, &size) != 0 || size == 0)
		return -1;
	area = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
	if (area == MAP_FAILED) {
		area = NULL;
		return -1;
	}
	area_size = (size_t)size;
	return 0;
}

static void failx(const char *fmt, ...)
{
	va_list ap;

	failed++;
	if (failed > 20)
		return;
	printf("FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static struct pmt_req req_at(const unsigned char *b)
{
	struct pmt_req q;

	memcpy(&q, b, sizeof(q));
	return q;
}

static size_t align8(size_t n)
{
	return (n + PMT_FRAME_ALIGN - 1) & ~(size_t)(PMT_FRAME_ALIGN - 1);
}

/* Writes a whole reply; returns write()'s result. */
static ssize_t send_frame(const void *p, size_t n)
{
	return write(sfd, p, n);
}

static ssize_t send_reply(struct creply *r)
{
	static unsigned char *out;
	static size_t cap;
	size_t n = PMT_REP_SIZE + r->dlen;

	if (n > cap) {
		cap = n + 65536;
		out = realloc(out, cap);
		if (out == NULL)
			exit(2);
	}
	memcpy(out, &r->rep, PMT_REP_SIZE);
	if (r->dlen)
		memcpy(out + PMT_REP_SIZE, r->data, r->dlen);
	return send_frame(out, n);
}

/* ----- serve ------------------------------------------------------------------------ */

static int serve(int unit, long records, long lo, long hi, const char *layout, long run_delay, const char *runs_log)
{
	char path[64];
	unsigned char *rec = malloc((size_t)hi + 1);
	struct creply r = { 0 };
	int rl = -1, stalled = 0;
	long answered = 0;
	uint32_t seed = (uint32_t)R.s;

	cd_init(&drv);
	if (layout)
		log_open(layout);
	log_ev("S %u", seed);
	for (long i = 0; i < records; i++) {
		uint32_t len = (uint32_t)(lo + (long)rng_below(&R, (uint64_t)(hi - lo + 1)));

		gen_record(seed, (uint32_t)i, rec, len);
		log_ev("W %ld %u", i, len);
		log_ev("A %ld", i);
		if (cd_append(&drv, rec, len))
			return 2;
	}
	log_ev("F");
	log_ev("D");
	cd_append(&drv, NULL, 0);
	drv.pos = 0;
	if (runs_log)
		rl = open(runs_log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	snprintf(path, sizeof(path), "/dev/pmts%d", unit);
	sfd = open(path, O_RDWR);
	if (sfd >= 0 && want_area && map_area() != 0) {
		fprintf(stderr, "hostile_daemon: %s has no data area\n", path);
		return 2;
	}
	if (sfd < 0) {
		perror(path);
		return 2;
	}
	printf("serving %ld records\n", records);
	fflush(stdout);
	for (;;) {
		ssize_t n = read(sfd, inbuf, BATCH);
		size_t off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		while (off < (size_t)n) {
			struct pmt_req q = req_at(inbuf + off);

			if (stall_after >= 0 && answered >= stall_after) {
				if (!stalled++) {
					printf("stalled at request %llu\n", (unsigned long long)q.rq_hdr.h_id);
					fflush(stdout);
				}
				break; /* silent from now on */
			}
			answered++;
			cd_execute_area(&drv, &q, inbuf + off + PMT_REQ_SIZE, &r, area, area_size);
			if (q.rq_hdr.h_op == PMT_OP_READRUN && (r.dlen > 0 || r.rep.rp_dlen > 0)) {
				char line[32];
				int k = snprintf(line, sizeof(line), "R %lld\n", (long long)(q.rq_count - r.rep.rp_resid));

				if (rl >= 0 && write(rl, line, (size_t)k) != k)
					return 2;
				if (run_delay > 0)
					usleep((useconds_t)run_delay);
			}
			if (send_reply(&r) != (ssize_t)(PMT_REP_SIZE + r.dlen)) {
				perror("reply refused");
				return 1;
			}
			off += align8(q.rq_hdr.h_len);
		}
	}
}

/* ----- attack: the malformed replies -------------------------------------------------- */

enum junk {
	J_ID, J_OP, J_VERSION, J_LEN_SHORT, J_LEN_LONG, J_LEN_HUGE, J_TRUNC, J_DATA, J_BEYOND, J_RESID,
	J_SENSE, J_SFLAGS, J_SPARE, J_DSFLAGS, J_DSSPARE, J_BLKSIZE, J_LIMITS, J_RUN_FRAME, J_RUN_COUNT,
	J_RUN_ERRDATA, J_FIXED_PART, J_FLOOD, J_GARBAGE, J_NULL, J_UNMAPPED, J_CROSS, J_HUGE_COUNT,
	J_AREA_BEYOND, J_AREA_AND_FRAME, NJUNK
};

static const char *junk_name[NJUNK] = {
	"wrong-id", "wrong-op", "bad-version", "length-short", "length-long", "length-huge", "truncated",
	"data-for-no-read", "data-beyond-request", "residue-out-of-range", "unknown-sense-key", "unknown-sense-flag",
	"area-data-unasked", "unknown-drive-flag", "drive-spare-field", "block-size-beyond-24-bits", "inverted-block-limits",
	"run-bad-framing", "run-count-mismatch", "run-error-with-data", "fixed-partial-blocks", "flood-of-frames",
	"megabytes-of-garbage", "null-pointer", "unmapped-pointer", "pointer-into-unmapped-page", "count-beyond-memory",
	"area-data-beyond-slice", "area-data-and-frame-data",
};

static unsigned long inputs, refused, efaults, eio_surfaced, wrong, per_class[NJUNK];
static unsigned char *junkbuf, *guard; /* guard: a page, the next one unmapped */
static long pagesz;

static int is_read(const struct pmt_req *q)
{
	return q->rq_hdr.h_op == PMT_OP_READ || q->rq_hdr.h_op == PMT_OP_READRUN;
}

/* A residue that is out of range for q. */
static int64_t bad_resid(const struct pmt_req *q)
{
	int64_t c = q->rq_count, L = (int64_t)q->rq_length, x = 1 + (int64_t)rng_below(&R, 1000);
	int pick = (int)rng_below(&R, 4);

	if (pick == 2)
		return INT64_MIN;
	if (pick == 3)
		return INT64_MAX;
	switch (q->rq_hdr.h_op) {
	case PMT_OP_WRITE:
		if (q->rq_flags & PMT_RF_FIXED)
			return pick ? c + x : -x;
		return pick ? L + x : -x;
	case PMT_OP_WFM:
		return pick ? (c > 0 ? c : 0) + x : -x;
	case PMT_OP_SPACE:
		if (c > 0)
			return pick ? c + x : -x;
		if (c < 0)
			return pick ? c - x : x;
		return pick ? x : -x;
	case PMT_OP_READ:
		if (q->rq_flags & PMT_RF_FIXED)
			return pick ? c + x : -x;
		return pick ? L + x : L - (int64_t)PMT_MAX_RECORD - x;
	case PMT_OP_READRUN:
		return pick ? c + x : -x;
	default:
		return pick ? x : -x;
	}
}

/* A valid GOOD-shaped reply to q: the base every mutation starts from. */
static void base_reply(const struct pmt_req *q, struct creply *r)
{
	cr_begin(r, q, &drv);
	if (q->rq_hdr.h_op == PMT_OP_READ && (q->rq_flags & PMT_RF_FIXED))
		CD_FMK(r, q->rq_count);
	else if (q->rq_hdr.h_op == PMT_OP_READRUN)
		r->rep.rp_resid = q->rq_count;
	cr_end(r, &drv);
}

/* Builds junk of class j for q into junkbuf; returns its length, sets *ptr
 * and *want (the errno a refusal gives). 0 if the class does not apply. */
static size_t make_junk(int j, const struct pmt_req *q, const void **ptr, int *want)
{
	struct creply r = { 0 };
	struct pmt_rep *p = &r.rep;
	size_t dlen = 0, n;
	uint8_t rd = (uint8_t)rng_below(&R, 256);

	*ptr = junkbuf;
	*want = EINVAL;
	base_reply(q, &r);
	switch (j) {
	case J_ID:
		p->rp_hdr.h_id ^= 1 + rng_below(&R, UINT64_MAX - 1);
		break;
	case J_OP:
		do
			p->rp_hdr.h_op = (uint16_t)(rng_below(&R, 4) ? rng_below(&R, 20) : rng_next(&R));
		while (p->rp_hdr.h_op == q->rq_hdr.h_op);
		break;
	case J_VERSION:
		do
			p->rp_hdr.h_version = (uint16_t)rng_next(&R);
		while (p->rp_hdr.h_version == PMT_PROTO_VERSION);
		break;
	case J_LEN_SHORT:
		p->rp_hdr.h_len = (uint32_t)rng_below(&R, PMT_REP_SIZE);
		break;
	case J_LEN_LONG:
		dlen = rng_below(&R, 64);
		p->rp_hdr.h_len = (uint32_t)(PMT_REP_SIZE + dlen + 1 + rng_below(&R, 100000));
		memset(junkbuf + PMT_REP_SIZE, rd, dlen);
		memcpy(junkbuf, p, PMT_REP_SIZE);
		return PMT_REP_SIZE + dlen;
	case J_LEN_HUGE:
		p->rp_hdr.h_len = UINT32_MAX - (uint32_t)rng_below(&R, 100);
		break;
	case J_TRUNC:
		memcpy(junkbuf, p, PMT_REP_SIZE);
		return 1 + rng_below(&R, PMT_REP_SIZE - 1);
	case J_DATA:
		if (is_read(q))
			return 0;
		dlen = 1 + rng_below(&R, 4096);
		break;
	case J_BEYOND:
		if (!is_read(q) || q->rq_length > (1u << 20))
			return 0;
		dlen = q->rq_length + 1 + rng_below(&R, 100);
		break;
	case J_RESID:
		p->rp_resid = bad_resid(q);
		break;
	case J_SENSE: {
		static const uint8_t holes[] = { 0x9, 0xa, 0xc, 0xe, 0xf };

		p->rp_sense = rng_below(&R, 2) ? holes[rng_below(&R, 5)] : (uint8_t)(0x10 + rng_below(&R, 0xf0));
		break;
	}
	case J_SFLAGS:
		p->rp_sflags |= (uint8_t)(1 + rng_below(&R, 0x1f));
		if (q->rq_hdr.h_op == PMT_OP_READRUN && rng_below(&R, 2))
			p->rp_sflags = (uint8_t)(0x20u << rng_below(&R, 3));
		break;
	case J_SPARE:
		/* Data in the area for a request that named no slice. */
		if (q->rq_flags & PMT_RF_AREA)
			return 0;
		p->rp_dlen = (uint32_t)(1 + rng_below(&R, UINT32_MAX - 1));
		break;
	case J_AREA_BEYOND:
		/* More in the area than the slice holds. */
		if (!(q->rq_flags & PMT_RF_AREA))
			return 0;
		p->rp_dlen = (uint32_t)(q->rq_length + 1 + rng_below(&R, UINT32_MAX - q->rq_length - 1));
		break;
	case J_AREA_AND_FRAME:
		/* The slice's data, and data in the frame as well. */
		if (!(q->rq_flags & PMT_RF_AREA) || !is_read(q))
			return 0;
		p->rp_dlen = (uint32_t)rng_below(&R, q->rq_length + 1);
		dlen = 1 + rng_below(&R, 64);
		break;
	case J_DSFLAGS:
		p->rp_status.ds_flags |= (uint32_t)((1 + rng_below(&R, 0xffffff)) << 8);
		break;
	case J_DSSPARE:
		if (rng_below(&R, 2))
			p->rp_status.ds_spare0 = (uint16_t)(1 + rng_below(&R, 0xfffe));
		else
			p->rp_status.ds_spare1 = (uint32_t)(1 + rng_below(&R, UINT32_MAX - 1));
		break;
	case J_BLKSIZE:
		if (rng_below(&R, 2))
			p->rp_status.ds_blksize = PMT_MAX_RECORD + 1 + (uint32_t)rng_below(&R, 0xff000000u);
		else
			p->rp_status.ds_maxblk = PMT_MAX_RECORD + 1 + (uint32_t)rng_below(&R, 0xff000000u);
		break;
	case J_LIMITS:
		p->rp_status.ds_maxblk = 1 + (uint32_t)rng_below(&R, PMT_MAX_RECORD - 1);
		p->rp_status.ds_minblk = p->rp_status.ds_maxblk + 1 + (uint32_t)rng_below(&R, 1000);
		break;
	case J_RUN_FRAME:
	case J_RUN_COUNT: {
		/* k records, framed; then one thing wrong. */
		uint32_t k = 1, len = 1 + (uint32_t)rng_below(&R, 200), bad = (uint32_t)rng_below(&R, 4);
		unsigned char *d = junkbuf + PMT_REP_SIZE;

		if (q->rq_hdr.h_op != PMT_OP_READRUN || (q->rq_flags & PMT_RF_FIXED) || q->rq_length < 8 + 202 ||
		    q->rq_count < 2)
			return 0;
		dlen = 8 + len + (len & 1);
		memcpy(d, &len, 4);
		memset(d + 4, rd, len + (len & 1));
		memcpy(d + dlen - 4, &len, 4);
		if (j == J_RUN_COUNT) {
			/* A residue in range that does not count the record. */
			p->rp_resid = q->rq_count - k - 1 - (int64_t)rng_below(&R, (uint64_t)(q->rq_count - k));
			if (p->rp_resid < 0)
				p->rp_resid = q->rq_count;
		} else {
			p->rp_resid = q->rq_count - k;
			if (bad == 0) {
				uint32_t other = len + 1;

				memcpy(d + dlen - 4, &other, 4); /* lengths differ */
			} else if (bad == 1) {
				dlen -= 1 + rng_below(&R, 4); /* cut short */
			} else if (bad == 2) {
				uint32_t zero = 0;

				memcpy(d, &zero, 4); /* a zero-length record */
				memcpy(d + 4, &zero, 4);
				dlen = 8;
			} else {
				uint32_t big = PMT_MAX_RECORD + 1;

				memcpy(d, &big, 4); /* beyond a record */
			}
		}
		p->rp_hdr.h_len = (uint32_t)(PMT_REP_SIZE + dlen);
		memcpy(junkbuf, p, PMT_REP_SIZE);
		return PMT_REP_SIZE + dlen;
	}
	case J_RUN_ERRDATA:
		if (q->rq_hdr.h_op != PMT_OP_READRUN)
			return 0;
		p->rp_sense = PMT_SK_MEDIUM_ERROR;
		dlen = 1 + rng_below(&R, q->rq_length < 64 ? q->rq_length : 64);
		break;
	case J_FIXED_PART:
		if (q->rq_hdr.h_op != PMT_OP_READ || !(q->rq_flags & PMT_RF_FIXED) || q->rq_count < 1 ||
		    q->rq_length / (uint64_t)q->rq_count < 2)
			return 0;
		/* NO SENSE, FMK after some blocks, but not that many bytes. */
		p->rp_resid = (int64_t)rng_below(&R, (uint64_t)q->rq_count);
		dlen = (size_t)(q->rq_count - p->rp_resid) * (q->rq_length / (uint64_t)q->rq_count) - 1;
		break;
	case J_FLOOD: {
		size_t off = 0;
		int frames = 2 + (int)rng_below(&R, 63);

		for (int i = 0; i < frames; i++) {
			struct creply f = { 0 };

			base_reply(q, &f);
			f.rep.rp_sense = 0x9;
			if (i == 0)
				f.rep.rp_hdr.h_id ^= 0x1000;
			memcpy(junkbuf + off, &f.rep, PMT_REP_SIZE);
			off += PMT_REP_SIZE;
			free(f.data);
		}
		free(r.data);
		return off;
	}
	case J_GARBAGE:
		n = (1u << 20) + rng_below(&R, 3u << 20);
		for (size_t i = 0; i < n; i += 8) {
			uint64_t w = rng_next(&R);

			memcpy(junkbuf + i, &w, 8);
		}
		memcpy(junkbuf + 4, "\xad\xde", 2); /* never version 2 */
		free(r.data);
		return n;
	case J_NULL:
		*ptr = NULL;
		*want = EFAULT;
		free(r.data);
		return PMT_REP_SIZE;
	case J_UNMAPPED:
		*ptr = guard + pagesz;
		*want = EFAULT;
		free(r.data);
		return PMT_REP_SIZE + rng_below(&R, 100);
	case J_CROSS: {
		/* The frame starts in a mapped page and runs into an unmapped one:
		 * the data of a variable read, or the header itself. A request
		 * whose data goes by the area takes none in the frame: the header
		 * alone refuses such a frame (EINVAL) before any data is read, so
		 * there the header itself crosses. */
		int data = (q->rq_hdr.h_op == PMT_OP_READRUN || (q->rq_hdr.h_op == PMT_OP_READ && !(q->rq_flags & PMT_RF_FIXED))) &&
			   q->rq_length >= 64 && !(q->rq_flags & PMT_RF_AREA);
		size_t at = (size_t)pagesz - PMT_REP_SIZE;

		n = data ? PMT_REP_SIZE + 64 : PMT_REP_SIZE;
		p->rp_hdr.h_len = (uint32_t)n;
		if (!data)
			at += 1 + rng_below(&R, PMT_REP_SIZE - 1);
		memcpy(guard + at, p, (size_t)pagesz - at);
		*ptr = guard + at;
		*want = EFAULT;
		free(r.data);
		return n;
	}
	case J_HUGE_COUNT:
		*want = EFAULT;
		memcpy(junkbuf, p, PMT_REP_SIZE);
		free(r.data);
		return (size_t)SSIZE_MAX;
	}
	if (dlen) {
		p->rp_hdr.h_len = (uint32_t)(PMT_REP_SIZE + dlen);
		memset(junkbuf + PMT_REP_SIZE, rd, dlen);
	}
	memcpy(junkbuf, p, PMT_REP_SIZE);
	free(r.data);
	return PMT_REP_SIZE + dlen;
}

/* Sends one junk input for q (a random class that applies); checks it is
 * refused. */
static void send_junk(const struct pmt_req *q)
{
	const void *ptr;
	size_t n = 0;
	int j = 0, want;
	ssize_t k;

	while (n == 0) {
		j = (int)rng_below(&R, NJUNK);
		/* The expensive ones less often. */
		if ((j == J_GARBAGE || j == J_FLOOD) && rng_below(&R, 8))
			continue;
		n = make_junk(j, q, &ptr, &want);
	}
	k = send_frame(ptr, n);
	inputs++;
	per_class[j]++;
	if (k < 0 && errno == want) {
		if (want == EFAULT)
			efaults++;
		else
			refused++;
		return;
	}
	wrong++;
	failx("%s reply to op %u (id %llu) of %zu bytes: write returned %zd (errno %d %s), expected %s", junk_name[j],
	      q->rq_hdr.h_op, (unsigned long long)q->rq_hdr.h_id, n, k, k < 0 ? errno : 0, k < 0 ? strerror(errno) : "",
	      want == EFAULT ? "EFAULT" : "EINVAL");
}

/* ----- attack: the master ------------------------------------------------------------- */

struct opres {
	int32_t ret, err;
	uint16_t op, done;
};

struct shm {
	volatile uint32_t cur_k;
	volatile uint16_t cur_op;
	volatile int stop;
	volatile uint32_t nops, cycles;
	struct opres res[MAXOPS];
};

static struct shm *S;

static uint32_t begin(uint16_t op)
{
	uint32_t k = S->nops;

	if (k + 1 >= MAXOPS)
		S->stop = 1;
	S->res[k].op = op;
	S->cur_op = op;
	S->cur_k = k;
	__sync_synchronize();
	return k;
}

static void end(uint32_t k, int ret, int err)
{
	S->res[k].ret = ret;
	S->res[k].err = ret < 0 ? err : 0;
	S->res[k].done = 1;
	S->cur_op = 0;
	S->nops = k + 1;
}

static int mtop(int fd, short op, int count)
{
	struct mtop m = { .mt_op = op, .mt_count = count };

	return ioctl(fd, MTIOCTOP, &m);
}

/* One master operation: an ioctl or read/write with its result recorded.
 * -1 ends the cycle. */
#define OP(pop, expr)                                           \
	do {                                                    \
		uint32_t k_ = begin(pop);                       \
		int r_ = (expr);                                \
		end(k_, r_ < 0 ? -1 : 0, errno);                \
		if (r_ < 0)                                     \
			goto out;                               \
	} while (0)

/* A read that must return `len` bytes equal to `want` (-2: they differ). */
static int read_check(int fd, unsigned char *buf, size_t cap, const unsigned char *want, size_t len)
{
	ssize_t n = read(fd, buf, cap);

	if (n < 0)
		return -1;
	if ((size_t)n != len || (len && memcmp(buf, want, len) != 0)) {
		errno = 0;
		return -2;
	}
	return 0;
}

#define RD(fd, buf, cap, want, len)                                     \
	do {                                                            \
		uint32_t k_ = begin(PMT_OP_READ);                       \
		int r_ = read_check(fd, buf, cap, want, len);           \
		S->res[k_].ret = r_;                                    \
		S->res[k_].err = r_ == -1 ? errno : 0;                  \
		S->res[k_].done = 1;                                    \
		S->nops = k_ + 1;                                       \
		if (r_ < 0)                                             \
			goto out;                                       \
	} while (0)

static void master(int unit, uint32_t seed)
{
	char dev[64];
	static unsigned char recs[24][4096], buf[1 << 16];
	size_t lens[24];

	snprintf(dev, sizeof(dev), "/dev/npmtm%d", unit);
	for (uint32_t c = 0; !S->stop; c++) {
		struct rng r = { seed ^ (c * 2654435761u) };
		int fd = -1, fixed = c % 4 == 3, w = 1 + (int)rng_below(&r, 20);
		struct mtget g;
		struct mtpos pos;
		uint32_t k;

		S->cycles = c + 1;
		k = begin(PMT_OP_OPEN);
		fd = open(dev, O_RDWR);
		end(k, fd < 0 ? -1 : 0, errno);
		if (fd < 0)
			continue;
		OP(PMT_OP_REWIND, mtop(fd, MTREW, 1));
		/* The drive keeps its block size across opens: set it each time. */
		OP(0, mtop(fd, MTSETBLK, fixed ? 512 : 0));
		for (int i = 0; i < w; i++) {
			lens[i] = fixed ? 512 * (1 + rng_below(&r, 8)) : 1 + rng_below(&r, 4096);
			gen_record(seed + c, (uint32_t)i, recs[i], lens[i]);
			OP(0, write(fd, recs[i], lens[i]) == (ssize_t)lens[i] ? 0 : -1);
		}
		OP(PMT_OP_WFM, mtop(fd, MTWEOF, 1));
		OP(PMT_OP_REWIND, mtop(fd, MTREW, 1));
		for (int i = 0; i < w; i++)
			RD(fd, buf, fixed ? lens[i] : sizeof(buf), recs[i], lens[i]);
		RD(fd, buf, fixed ? 512 : sizeof(buf), NULL, 0); /* the filemark */
		OP(0, ioctl(fd, MTIOCGET, &g));
		if (!GMT_ONLINE(g.mt_gstat) || g.mt_fileno != 1 || g.mt_blkno != 0) {
			uint32_t kk = begin(0);

			end(kk, -1, 0);
			goto out;
		}
		if (!fixed && w >= 3) {
			OP(PMT_OP_REWIND, mtop(fd, MTREW, 1));
			OP(PMT_OP_SPACE, mtop(fd, MTFSR, 2));
			OP(PMT_OP_READPOS, ioctl(fd, MTIOCPOS, &pos));
			if (pos.mt_blkno != 2) {
				uint32_t kk = begin(0);

				end(kk, -1, 0);
				goto out;
			}
			RD(fd, buf, sizeof(buf), recs[2], lens[2]);
		}
out:
		k = begin(0xffff); /* close: its result is not judged */
		end(k, close(fd), errno);
	}
	_exit(0);
}

/* ----- attack: the daemon ------------------------------------------------------------- */

/* A well-formed drive error for q (the master must see EIO). */
static void error_reply(const struct pmt_req *q, struct creply *r)
{
	static const uint8_t keys[] = { PMT_SK_MEDIUM_ERROR, PMT_SK_HARDWARE_ERROR, PMT_SK_ABORTED };

	cr_begin(r, q, &drv);
	cr_sense(r, keys[rng_below(&R, 3)], 0, PMT_ASC_READ_ERROR, 0, 0);
	cr_end(r, &drv);
}

static uint64_t last_id;
static unsigned long requests, runs_seen;
static unsigned char inj[MAXOPS];

/* A reply for a request nobody made: must be refused. */
static void unasked(void)
{
	struct pmt_req q;

	memset(&q, 0, sizeof(q));
	q.rq_hdr.h_op = (uint16_t)(1 + rng_below(&R, PMT_OP_MAX));
	q.rq_hdr.h_id = last_id + rng_below(&R, 3);
	q.rq_hdr.h_len = PMT_REQ_SIZE;
	send_junk(&q);
}

/* Reads the next batch, sometimes through a buffer that is too small or
 * not mapped first (refused, and nothing may be lost). */
static ssize_t read_batch(void)
{
	ssize_t n;

	if (rng_below(&R, 16) == 0) {
		n = read(sfd, inbuf, 40);
		inputs++;
		if (n < 0 && errno == EMSGSIZE)
			refused++;
		else
			wrong++, failx("a 40-byte slave read returned %zd (errno %d), not EMSGSIZE", n, errno);
	}
	if (rng_below(&R, 16) == 0) {
		n = read(sfd, guard + pagesz, BATCH);
		inputs++;
		if (n < 0 && errno == EFAULT)
			efaults++;
		else
			wrong++, failx("a slave read into unmapped memory returned %zd (errno %d), not EFAULT", n, errno);
	}
	if (rng_below(&R, 16) == 0) {
		/* Room for the first frames only: the rest comes next time. */
		n = read(sfd, guard + pagesz - PMT_REQ_SIZE - 8, BATCH);
		if (n > 0) {
			memcpy(inbuf, guard + pagesz - PMT_REQ_SIZE - 8, (size_t)n);
			return n;
		}
	}
	return read(sfd, inbuf, BATCH);
}

static int attack(int unit, long budget, double secs)
{
	char path[64];
	pid_t child;
	struct creply r = { 0 };
	double t_end = now_s() + secs, t_last = now_s();
	int status = 0, child_done = 0;
	uint32_t seed = (uint32_t)R.s;

	cd_init(&drv);
	snprintf(path, sizeof(path), "/dev/pmts%d", unit);
	sfd = open(path, O_RDWR);
	if (sfd >= 0 && want_area && map_area() != 0) {
		fprintf(stderr, "hostile_daemon: %s has no data area\n", path);
		return 2;
	}
	if (sfd < 0) {
		perror(path);
		return 2;
	}
	S = mmap(NULL, sizeof(*S), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (S == MAP_FAILED)
		return 2;
	child = fork();
	if (child == 0) {
		close(sfd);
		master(unit, seed);
	}
	/* Before the master asks anything: nobody asked. */
	for (int i = 0; i < 20; i++)
		unasked();
	while (!child_done) {
		struct pollfd p = { .fd = sfd, .events = POLLIN };
		ssize_t n;
		size_t off = 0;

		if (waitpid(child, &status, WNOHANG) == child) {
			child_done = 1;
			break;
		}
		if (inputs >= (unsigned long)budget || now_s() > t_end)
			S->stop = 1;
		if (poll(&p, 1, 100) == 0) {
			if (now_s() - t_last > 20) {
				failx("hang: the master issued nothing for 20s (op %u of kind %u)", S->cur_k, S->cur_op);
				kill(child, SIGKILL);
				waitpid(child, &status, 0);
				printf("HOSTILE hang=1\n");
				return 1;
			}
			continue;
		}
		n = read_batch();
		if (n < 0) {
			failx("slave read: %s", strerror(errno));
			break;
		}
		t_last = now_s();
		while (off < (size_t)n) {
			struct pmt_req q = req_at(inbuf + off);
			uint32_t k = S->cur_k;
			int junk = S->stop ? 0 : (int)rng_below(&R, 7), err_inject = 0;
			ssize_t got;

			requests++;
			if (last_id && q.rq_hdr.h_id != last_id + 1)
				failx("request id %llu after %llu: a request was lost", (unsigned long long)q.rq_hdr.h_id,
				      (unsigned long long)last_id);
			last_id = q.rq_hdr.h_id;
			for (int j = 0; j < junk; j++)
				send_junk(&q);
			if (!S->stop && q.rq_hdr.h_op == S->cur_op && q.rq_hdr.h_op != 0 && k < MAXOPS && !inj[k] &&
			    rng_below(&R, 10) == 0) {
				inj[k] = 1;
				err_inject = 1;
				error_reply(&q, &r);
			} else {
				cd_execute_area(&drv, &q, inbuf + off + PMT_REQ_SIZE, &r, area, area_size);
			}
			if (q.rq_hdr.h_op == PMT_OP_READRUN && (r.dlen > 0 || r.rep.rp_dlen > 0))
				runs_seen++;
			if (!S->stop && rng_below(&R, 12) == 0) {
				/* The right reply with junk after it: a short write. */
				size_t len = PMT_REP_SIZE + r.dlen, al = align8(len), extra = 72 * (1 + rng_below(&R, 8));
				unsigned char *b = malloc(al + extra);

				memcpy(b, &r.rep, PMT_REP_SIZE);
				if (r.dlen)
					memcpy(b + PMT_REP_SIZE, r.data, r.dlen);
				memset(b + len, 0, al - len);
				for (size_t i = al; i < al + extra; i++)
					b[i] = (unsigned char)rng_next(&R);
				got = send_frame(b, al + extra);
				free(b);
				inputs++;
				if (got == (ssize_t)al)
					refused++;
				else
					wrong++, failx("a good reply followed by junk: write returned %zd, expected %zu", got, al);
			} else {
				got = send_reply(&r);
				if (got != (ssize_t)(PMT_REP_SIZE + r.dlen))
					failx("the right reply to op %u was refused: %zd (errno %d %s)", q.rq_hdr.h_op, got, errno,
					      strerror(errno));
			}
			if (err_inject)
				eio_surfaced++, inputs++;
			if (!S->stop && rng_below(&R, 10) == 0) {
				/* The same reply again: nobody asks for it now. */
				got = send_reply(&r);
				inputs++;
				if (got < 0 && errno == EINVAL)
					refused++;
				else
					wrong++, failx("a duplicate reply to op %u: %zd (errno %d)", q.rq_hdr.h_op, got, errno);
			}
			off += align8(q.rq_hdr.h_len);
		}
		if (!S->stop && rng_below(&R, 4) == 0)
			unasked();
	}
	if (!child_done)
		waitpid(child, &status, 0);
	close(sfd);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		failx("the master exited with status %#x", status);
	/* Every master operation: EIO where a drive error was injected,
	 * success everywhere else (data compared byte for byte). */
	for (uint32_t k = 0; k < S->nops && k < MAXOPS; k++) {
		struct opres *o = &S->res[k];

		if (o->op == 0xffff || !o->done)
			continue;
		if (inj[k] && !(o->ret == -1 && o->err == EIO))
			failx("op %u (kind %u) got a drive error but returned %d (errno %d), not EIO", k, o->op, o->ret, o->err);
		else if (!inj[k] && o->ret != 0)
			failx("op %u (kind %u) failed: %d (errno %d %s)%s", k, o->op, o->ret, o->err, strerror(o->err),
			      o->ret == -2 ? ": the data read back differs" : "");
	}
	printf("HOSTILE inputs=%lu refused=%lu efault=%lu eio=%lu wrong=%lu requests=%lu ops=%u cycles=%u runs=%lu hang=0\n",
	       inputs, refused, efaults, eio_surfaced, wrong, requests, S->nops, S->cycles, runs_seen);
	for (int j = 0; j < NJUNK; j++)
		printf("class %s: %lu\n", junk_name[j], per_class[j]);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	long budget = 10000, records = 2000, lo = 1, hi = 8192, run_delay = 0;
	double secs = 600;
	const char *layout = NULL, *runs_log = NULL;
	int unit;

	if (argc < 3) {
		fprintf(stderr, "usage: hostile_daemon attack|serve UNIT [options] (see the source)\n");
		return 2;
	}
	unit = atoi(argv[2]);
	R.s = 1;
	for (int i = 3; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];

		if (!strcmp(a, "--inputs"))
			budget = atol(v);
		else if (!strcmp(a, "--seed"))
			R.s = strtoul(v, NULL, 10);
		else if (!strcmp(a, "--secs"))
			secs = atof(v);
		else if (!strcmp(a, "--records"))
			records = atol(v);
		else if (!strcmp(a, "--len")) {
			char *e;

			lo = strtol(v, &e, 10);
			hi = *e == ':' ? strtol(e + 1, NULL, 10) : lo;
		} else if (!strcmp(a, "--layout"))
			layout = v;
		else if (!strcmp(a, "--run-delay-us"))
			run_delay = atol(v);
		else if (!strcmp(a, "--runs-log"))
			runs_log = v;
		else if (!strcmp(a, "--stall-after"))
			stall_after = atol(v);
		else if (!strcmp(a, "--area")) {
			want_area = atoi(v);
		}
		else {
			fprintf(stderr, "hostile_daemon: unknown option %s\n", a);
			return 2;
		}
	}
	if (lo < 1 || hi < lo || hi > (long)PMT_MAX_RECORD)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	pagesz = sysconf(_SC_PAGESIZE);
	inbuf = malloc(BATCH);
	junkbuf = malloc(8u << 20);
	/* A page and, after it, an unmapped one. */
	guard = mmap(NULL, 2 * (size_t)pagesz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (inbuf == NULL || junkbuf == NULL || guard == MAP_FAILED || munmap(guard + pagesz, (size_t)pagesz))
		return 2;
	if (!strcmp(argv[1], "serve"))
		return serve(unit, records, lo, hi, layout, run_delay, runs_log);
	if (!strcmp(argv[1], "attack"))
		return attack(unit, budget, secs);
	return 2;
}
