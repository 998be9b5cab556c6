/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * fault_io: one tape operation on a pmt master, with a process SIGKILLed at
 * a random moment during it, and what the caller saw.
 *
 *   fault_io MODE DEVICE [options]
 *
 * Modes:
 *   write    numbered records (content from the seed, tests/vm/faults.h),
 *            MTWEOF every --weof-every LO:HI records, until --records or an
 *            error; then close
 *   close    --records records (MTWEOF after the first half), then close():
 *            the kill is armed when close() begins
 *   offline  --records records and MTWEOF on the first volume, MTOFFL (armed
 *            there), close and open again, --records more after what the
 *            second volume holds, and close
 *   read     reads the objects of --layout LOG (a writer's log) and compares
 *            every byte (--volume V: the objects of the V-th volume); --objects
 *            M: only the first M are on the tape;
 *            --append K then writes K records at the end and logs the whole
 *            tape to --newlog
 *            (--rewind: from the beginning of the tape)
 *   space    on a tape of many files (--layout): random MTFSF/MTBSF/MTREW/
 *            MTEOM, checking file and block numbers and the first record of
 *            the file reached
 *   status   MTIOCGET (and MTIOCPOS) in a loop until the drive goes offline
 *
 * Kill options: --kill PID (the daemon) or --kill-self (this process: the
 * writer or reader killed), --delay-us LO:HI (a random delay, from the seed,
 * after the arming point), --kill-after-writes LO:HI (half the kills instead
 * come once the daemon made that many more write system calls, counted in
 * /proc/PID/io), --deadline SECS (no error within it after the
 * kill: a hang). The stream modes arm once the first operation succeeded.
 *
 * Prints one line "RESULT key=value..." (mode, killed, hit: the kill landed
 * during the operation, latency_us: from the kill to the caller's error,
 * close_us, hang, records, acked, why) and exits 0 if the caller saw what it
 * must (1 otherwise; 2 for bad usage).
 */
#include "faults.h"

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mtio.h>
#include <sys/wait.h>

struct shared {
	volatile int killed;
	volatile double t_arm, t_kill;
	volatile long writes_at_arm;
	volatile int realtime;
	volatile double t_wake;
	volatile int how;
	volatile int hang;
};

static struct shared *sh;
static int arm_fd[2] = { -1, -1 }, done_fd[2] = { -1, -1 };
static pid_t killer = -1;
static int armed;
static char why[200];
static int bad;

/* Options. */
static const char *mode, *dev, *layout_path, *newlog;
static uint32_t seed = 1, first = 0;
static long records, objects = -1, append_k;
static int volume = 1, rewind_first;
static uint32_t min_len = 1, max_len = 65536;
static long weof_lo, weof_hi;
static pid_t kill_pid;
static int kill_self;
static long delay_lo, delay_hi = 200000;
static double deadline = 10.0;
static long writes_lo, writes_hi;
static double loop_secs;

static void failf(const char *fmt, ...)
{
	va_list ap;

	if (bad++)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	for (char *p = why; *p; p++)
		if (*p == ' ')
			*p = '_';
}

/* The killer: waits to be armed, sleeps the delay, kills, then watches for
 * the caller to finish within the deadline. */
/* The victim's count of write system calls (/proc/PID/io), -1 if unknown. */
static long writes_of(pid_t pid)
{
	char path[64], buf[512], *p;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strstr(buf, "syscw:");
	return p ? strtol(p + 6, NULL, 10) : -1;
}

/* Waits until the victim made `n` more write system calls than at the
 * arming point (its image, its index, its replies), at most 2 s. */
static void wait_writes(pid_t victim, long n)
{
	double t_end = now_s() + 2.0;

	while (now_s() < t_end) {
		long w = writes_of(victim);

		if (w < 0 || w - sh->writes_at_arm >= n)
			return;
		/* A real-time spinner would starve the daemon on its CPU. */
		nanosleep(&(struct timespec){ .tv_nsec = 20000 }, NULL);
	}
}

static void start_killer(struct rng *r)
{
	long delay = delay_lo + (long)rng_below(r, (uint64_t)(delay_hi - delay_lo + 1));
	/* With --kill-after-writes, half the kills come once the daemon has made
	 * that many write system calls since the arming point (the image, its
	 * index, the replies): the steps a close or a volume change is made of. */
	int by_writes = writes_hi > 0 && rng_below(r, 2);
	long nwrites = writes_lo + (long)rng_below(r, (uint64_t)(writes_hi - writes_lo + 1));
	pid_t parent = getpid();

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || pipe(arm_fd) || pipe(done_fd)) {
		perror("fault_io: setup");
		exit(2);
	}
	memset((void *)sh, 0, sizeof(*sh));
	killer = fork();
	if (killer < 0) {
		perror("fork");
		exit(2);
	}
	if (killer == 0) {
		char c;
		struct pollfd p = { .fd = done_fd[0], .events = POLLIN };
		pid_t victim = kill_self ? parent : kill_pid;

		close(arm_fd[1]);
		close(done_fd[1]);
		/* Milliseconds matter (a volume change takes one or two): the
		 * killer runs at real-time priority, so it runs the moment it is
		 * woken or its delay is over, whatever the others do. */
		if (sched_setscheduler(0, SCHED_FIFO, &(struct sched_param){ .sched_priority = 10 }) == 0)
			sh->realtime = 1;
		if (read(arm_fd[0], &c, 1) != 1)
			_exit(0); /* never armed: the caller finished first */
		sh->t_wake = now_s();
		sh->how = by_writes ? (int)nwrites : -(int)(delay / 1000) - 1;
		if (by_writes) {
			wait_writes(victim, nwrites);
		} else if (delay > 0) {
			double until = sh->t_arm + (double)delay / 1e6;
			struct timespec ts;

			ts.tv_sec = (time_t)until;
			ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
		sh->t_kill = now_s();
		if (kill(victim, SIGKILL) == 0)
			sh->killed = 1;
		if (kill_self)
			_exit(0);
		if (poll(&p, 1, (int)(deadline * 1000)) == 0) {
			/* No end in sight: a hang. Say so, then free the caller. */
			sh->hang = 1;
			printf("RESULT mode=%s killed=1 hit=1 hang=1 why=no_error_within_%.0fs_of_the_kill\n", mode, deadline);
			fflush(stdout);
			kill(parent, SIGKILL);
		}
		_exit(0);
	}
	close(arm_fd[0]);
	close(done_fd[0]);
}

static void arm(void)
{
	if (killer > 0 && !armed) {
		armed = 1;
		sh->writes_at_arm = kill_pid > 0 ? writes_of(kill_pid) : -1;
		sh->t_arm = now_s();
		if (write(arm_fd[1], "k", 1) != 1)
			exit(2);
	}
}

static int killed(void)
{
	return sh != NULL && sh->killed;
}

/* Microseconds since the kill, or -1 if there was none. */
static long since_kill(double t)
{
	return killed() ? (long)((t - sh->t_kill) * 1e6) : -1;
}

static void finish_killer(void)
{
	if (killer <= 0)
		return;
	close(arm_fd[1]);
	if (write(done_fd[1], "d", 1) != 1) {
		/* the killer is gone already */
	}
	waitpid(killer, NULL, 0);
	killer = -1;
}

static unsigned char *xalloc(size_t n)
{
	unsigned char *p = malloc(n ? n : 1);

	if (p == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	return p;
}

static int mtop(int fd, short op, int count)
{
	struct mtop m = { .mt_op = op, .mt_count = count };

	return ioctl(fd, MTIOCTOP, &m);
}

/* The first error after the kill, with its latency. */
static long first_err_us = -1;
static const char *first_err_what = "";
static int first_err_no;

static void first_error(const char *what, int e, double t)
{
	if (first_err_what[0])
		return;
	first_err_what = what;
	first_err_no = e;
	first_err_us = since_kill(t);
	log_ev("E %s %d %ld", what, e, first_err_us);
}

/* ----- writers ----------------------------------------------------------------- */

struct wstate {
	int fd;
	struct rng r;
	uint32_t n;		/* next record number */
	long written, acked;
	int writing;		/* records since the last tape operation */
	unsigned char *buf;
};

static int write_one(struct wstate *w)
{
	uint32_t len = min_len + (uint32_t)rng_below(&w->r, max_len - min_len + 1);
	ssize_t k;
	double t;

	gen_record(seed, w->n, w->buf, len);
	log_ev("W %u %u", w->n, len);
	w->written++;
	k = write(w->fd, w->buf, len);
	t = now_s();
	if (k != (ssize_t)len) {
		if (k >= 0)
			failf("short write of record %u: %zd of %u", w->n, k, len);
		first_error("write", k < 0 ? errno : 0, t);
		return -1;
	}
	log_ev("A %u", w->n);
	w->acked++;
	w->writing = 1;
	w->n++;
	return 0;
}

static int weof(struct wstate *w)
{
	double t;

	log_ev("F");
	if (mtop(w->fd, MTWEOF, 1) < 0) {
		t = now_s();
		first_error("weof", errno, t);
		return -1;
	}
	log_ev("D");
	w->writing = 0;
	return 0;
}

/* close(): its result and how long it took; how long the armed operation
 * (close, MTOFFL) took. */
static int close_rc, close_errno;
static long close_us = -1, op_us = -1;

static void do_close(struct wstate *w)
{
	double t0, t1;

	log_ev("C %d", w->writing);
	t0 = now_s();
	close_rc = close(w->fd);
	close_errno = close_rc ? errno : 0;
	t1 = now_s();
	close_us = (long)((t1 - t0) * 1e6);
	if (!strcmp(mode, "close"))
		op_us = close_us;
	log_ev("X %d %d %ld", close_rc, close_errno, close_us);
	if (close_rc)
		first_error("close", close_errno, t1);
}

static void writer(struct wstate *w)
{
	long next_fm = weof_hi > 0 ? weof_lo + (long)rng_below(&w->r, (uint64_t)(weof_hi - weof_lo + 1)) : -1;
	long in_file = 0;

	while (records == 0 || w->written < records) {
		if (write_one(w))
			break;
		arm();
		if (next_fm > 0 && ++in_file >= next_fm) {
			if (weof(w))
				break;
			in_file = 0;
			next_fm = weof_lo + (long)rng_below(&w->r, (uint64_t)(weof_hi - weof_lo + 1));
		}
	}
	if (first_err_what[0]) {
		/* Everything after the first error fails at once. */
		double t0 = now_s();

		if (write(w->fd, w->buf, 10) >= 0)
			failf("a write after the error succeeded");
		else if (errno != EIO && killed() && !kill_self)
			failf("a write after the error: errno %d, not EIO", errno);
		if (now_s() - t0 > 1.0)
			failf("a write after the error took %.2fs", now_s() - t0);
	}
	do_close(w);
}

static void closer(struct wstate *w)
{
	while (w->written < records) {
		if (write_one(w))
			break;
		if (w->written == records / 2 && weof(w))
			break;
	}
	if (!first_err_what[0])
		arm();
	do_close(w);
}

static void offliner(struct wstate *w)
{
	int rc;
	double t, t0;

	while (w->written < records)
		if (write_one(w))
			goto out;
	if (weof(w))
		goto out;
	arm();
	log_ev("O");
	t0 = now_s();
	rc = mtop(w->fd, MTOFFL, 0);
	t = now_s();
	op_us = (long)((t - t0) * 1e6);
	log_ev("o %d", rc);
	if (rc < 0) {
		first_error("offline", errno, t);
		goto out;
	}
	/* As st: the unloaded drive is not ready until the next open. */
	do_close(w);
	w->fd = open(dev, O_RDWR);
	if (w->fd < 0) {
		first_error("reopen", errno, now_s());
		return;
	}
	/* The second volume may hold data already: append after it. */
	if (mtop(w->fd, MTEOM, 1) < 0) {
		first_error("eom", errno, now_s());
		goto out;
	}
	while (w->written < 2 * records)
		if (write_one(w))
			break;
out:
	do_close(w);
}

/* ----- readers ------------------------------------------------------------------- */

static struct layout lay;

static size_t layout_max(void)
{
	size_t m = 16;

	for (size_t i = 0; i < lay.n; i++)
		if (lay.o[i].len > m)
			m = lay.o[i].len;
	return m;
}

/* Reads object i of the layout and compares it. 0 if it matched. */
static int read_obj(int fd, size_t i, unsigned char *buf, unsigned char *want, size_t cap)
{
	struct obj *o = &lay.o[i];
	ssize_t k = read(fd, buf, cap);
	double t = now_s();

	if (k < 0) {
		first_error("read", errno, t);
		return -1;
	}
	if (o->n == OBJ_FM) {
		if (k != 0) {
			failf("object %zu: %zd bytes where a filemark is", i, k);
			return -1;
		}
		return 0;
	}
	if ((size_t)k != o->len) {
		failf("object %zu (record %u): %zd bytes, expected %u", i, o->n, k, o->len);
		return -1;
	}
	gen_record(o->seed, o->n, want, o->len);
	if (memcmp(buf, want, o->len) != 0) {
		failf("record %u differs", o->n);
		return -1;
	}
	return 0;
}

static long objs_read, bytes_read;

static void reader(int fd)
{
	size_t cap = layout_max() < 0xffffff ? layout_max() + 1 : 0xffffff;
	size_t m = objects >= 0 && (size_t)objects < lay.n ? (size_t)objects : lay.n;
	unsigned char *buf = xalloc(cap), *want = xalloc(cap);
	double t_end = now_s() + loop_secs;
	int pass = 0;

	do {
		if ((pass++ || rewind_first) && mtop(fd, MTREW, 1) < 0) {
			first_error("rewind", errno, now_s());
			break;
		}
		for (size_t i = 0; i < m; i++) {
			if (read_obj(fd, i, buf, want, cap))
				goto out;
			objs_read++;
			bytes_read += lay.o[i].len;
			arm();
		}
	} while (now_s() < t_end && !killed());
	if (killer <= 0 && !bad) {
		/* Nothing beyond what the tape should hold. */
		ssize_t k = read(fd, buf, cap);

		if (k > 0)
			failf("%zd bytes of data after the last expected object", k);
	}
out:
	free(buf);
	free(want);
}

/* After reading the tape: K records at its end, and the whole tape logged. */
static void appender(int fd)
{
	size_t m = objects >= 0 && (size_t)objects < lay.n ? (size_t)objects : lay.n;
	struct wstate w = { .fd = fd, .r = { seed * 7919u + 17 }, .n = first };

	log_open(newlog);
	log_ev("S %u", seed);
	for (size_t i = 0; i < m; i++) {
		if (lay.o[i].n == OBJ_FM) {
			log_ev("F");
			log_ev("D");
		} else {
			log_ev("W %u %u %u", lay.o[i].n, lay.o[i].len, lay.o[i].seed);
			log_ev("A %u", lay.o[i].n);
		}
	}
	if (mtop(fd, MTEOM, 1) < 0) {
		failf("MTEOM before appending: %s", strerror(errno));
		return;
	}
	w.buf = xalloc(max_len);
	for (long k = 0; k < append_k; k++)
		if (write_one(&w)) {
			failf("append: write %ld: %s", k, strerror(first_err_no));
			break;
		}
	do_close(&w);
	if (close_rc)
		failf("append: close: %s", strerror(close_errno));
	free(w.buf);
}

/* ----- spacing and status ----------------------------------------------------------- */

static long ops_done;

static int where(int fd, int *file, int *block, int *online)
{
	struct mtget g;

	if (ioctl(fd, MTIOCGET, &g) < 0)
		return -1;
	*file = g.mt_fileno;
	*block = g.mt_blkno;
	*online = GMT_ONLINE(g.mt_gstat) != 0;
	return 0;
}

static void spacer(int fd, struct rng *r)
{
	/* Files: the index of each file's first object, and the mark count. */
	size_t nfiles = 0, *start = calloc(lay.n + 1, sizeof(size_t)), cap = layout_max() + 1;
	unsigned char *buf = xalloc(cap), *want = xalloc(cap);
	int cur = 0, f, b, on;

	start[0] = 0;
	for (size_t i = 0; i < lay.n; i++)
		if (lay.o[i].n == OBJ_FM)
			start[++nfiles] = i + 1;
	if (nfiles < 2) {
		failf("the layout has %zu files", nfiles);
		return;
	}
	if (mtop(fd, MTREW, 1) < 0) {
		failf("rewind: %s", strerror(errno));
		return;
	}
	for (;;) {
		int k = (int)rng_below(r, nfiles), e;
		unsigned long what = rng_below(r, 8);
		const char *op;

		if (what == 0) {
			op = "eom";
			e = mtop(fd, MTEOM, 1);
			k = (int)nfiles;
		} else if (what == 1 || k == cur || k == 0) {
			op = "rewind+fsf";
			e = mtop(fd, MTREW, 1);
			if (e == 0 && k > 0)
				e = mtop(fd, MTFSF, k);
		} else if (k > cur) {
			op = "fsf";
			e = mtop(fd, MTFSF, k - cur);
		} else {
			op = "bsf+fsf";
			e = mtop(fd, MTBSF, cur - k + 1);
			if (e == 0)
				e = mtop(fd, MTFSF, 1);
		}
		if (e < 0) {
			first_error(op, errno, now_s());
			break;
		}
		if (where(fd, &f, &b, &on) < 0) {
			first_error("status", errno, now_s());
			break;
		}
		if (f != k || (k < (int)nfiles && b != 0)) {
			/* The kill came during the status query: st's answer for a
			 * drive that went away is a status, offline or with the
			 * position lost. That is the caller seeing the kill. */
			if (killed() && (!on || f < 0)) {
				first_error(on ? "position-lost" : "offline-status", 0, now_s());
				break;
			}
			failf("after %s to file %d: at %d,%d%s", op, k, f, b, killed() ? ", online, after the kill" : "");
			break;
		}
		cur = k;
		if (k < (int)nfiles && lay.o[start[k]].n != OBJ_FM) {
			/* The file's first record, read from there. */
			if (read_obj(fd, start[k], buf, want, cap))
				break;
			/* Back to the start of the file, as the model counts. */
			if (mtop(fd, MTBSR, 1) < 0) {
				first_error("bsr", errno, now_s());
				break;
			}
		}
		ops_done++;
		arm();
		if (records > 0 && ops_done >= records)
			break;
	}
	free(buf);
	free(want);
	free(start);
}

static void poller(int fd)
{
	struct mtget g;
	struct mtpos p;

	for (;;) {
		double t;
		int e = ioctl(fd, MTIOCGET, &g);

		t = now_s();
		if (e < 0) {
			first_error("mtiocget", errno, t);
			break;
		}
		if (!GMT_ONLINE(g.mt_gstat)) {
			/* st's answer for a drive that went away: offline. */
			first_error("offline-status", 0, t);
			break;
		}
		if (ops_done % 8 == 7 && ioctl(fd, MTIOCPOS, &p) < 0) {
			first_error("mtiocpos", errno, now_s());
			break;
		}
		ops_done++;
		arm();
		if (records > 0 && ops_done >= records)
			break;
	}
	if (killed() && ioctl(fd, MTIOCPOS, &p) == 0)
		failf("MTIOCPOS succeeded with the daemon gone");
}

/* ----- main ------------------------------------------------------------------------- */

static void range(const char *s, long *lo, long *hi)
{
	char *end;

	*lo = strtol(s, &end, 10);
	*hi = *end == ':' ? strtol(end + 1, NULL, 10) : *lo;
}

static void usage(void)
{
	fprintf(stderr, "usage: fault_io write|close|offline|read|space|status DEVICE [options] (see the source)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct rng r;
	int fd, flags;
	long lo, hi, acked = 0;

	if (argc < 3)
		usage();
	mode = argv[1];
	dev = argv[2];
	for (int i = 3; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--kill-self")) {
			kill_self = 1;
			continue;
		}
		if (!strcmp(a, "--rewind")) {
			rewind_first = 1;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (!strcmp(a, "--log"))
			log_open(v);
		else if (!strcmp(a, "--seed"))
			seed = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--first"))
			first = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--records"))
			records = strtol(v, NULL, 10);
		else if (!strcmp(a, "--len")) {
			range(v, &lo, &hi);
			min_len = (uint32_t)lo;
			max_len = (uint32_t)hi;
		} else if (!strcmp(a, "--weof-every"))
			range(v, &weof_lo, &weof_hi);
		else if (!strcmp(a, "--layout"))
			layout_path = v;
		else if (!strcmp(a, "--volume"))
			volume = atoi(v);
		else if (!strcmp(a, "--objects"))
			objects = strtol(v, NULL, 10);
		else if (!strcmp(a, "--append"))
			append_k = strtol(v, NULL, 10);
		else if (!strcmp(a, "--newlog"))
			newlog = v;
		else if (!strcmp(a, "--kill"))
			kill_pid = (pid_t)strtol(v, NULL, 10);
		else if (!strcmp(a, "--kill-after-writes"))
			range(v, &writes_lo, &writes_hi);
		else if (!strcmp(a, "--delay-us"))
			range(v, &delay_lo, &delay_hi);
		else if (!strcmp(a, "--deadline"))
			deadline = strtod(v, NULL);
		else if (!strcmp(a, "--loop"))
			loop_secs = strtod(v, NULL);
		else
			usage();
	}
	if (min_len < 1 || max_len < min_len || max_len > 0xffffff || delay_hi < delay_lo)
		usage();
	r.s = seed;
	log_ev("S %u", seed);
	if (layout_path && layout_read(layout_path, volume, &lay)) {
		fprintf(stderr, "fault_io: cannot read %s\n", layout_path);
		return 2;
	}
	if ((!strcmp(mode, "read") || !strcmp(mode, "space")) && layout_path == NULL)
		usage();
	if (append_k > 0 && newlog == NULL)
		usage();
	if (kill_pid > 0 || kill_self)
		start_killer(&r);
	flags = !strcmp(mode, "read") && append_k == 0 ? O_RDONLY : !strcmp(mode, "space") || !strcmp(mode, "status") ? O_RDONLY : O_RDWR;
	fd = open(dev, flags);
	if (fd < 0) {
		first_error("open", errno, now_s());
		if (!killed())
			failf("open %s: %s", dev, strerror(errno));
	} else {
		struct wstate w = { .fd = fd, .r = r, .n = first };

		if (!strcmp(mode, "write") || !strcmp(mode, "close") || !strcmp(mode, "offline"))
			w.buf = xalloc(max_len);
		if (!strcmp(mode, "write"))
			writer(&w);
		else if (!strcmp(mode, "close"))
			closer(&w);
		else if (!strcmp(mode, "offline"))
			offliner(&w);
		else {
			if (!strcmp(mode, "read"))
				reader(fd);
			else if (!strcmp(mode, "space"))
				spacer(fd, &r);
			else if (!strcmp(mode, "status"))
				poller(fd);
			else
				usage();
			if (append_k > 0 && !bad && !first_err_what[0])
				appender(fd);
			else
				do_close(&w);
		}
		free(w.buf);
		records = w.written;
		acked = w.acked;
	}
	{
		int k = killed(), hit;
		long lat = first_err_us;

		/* hit: the kill came while the operation ran, and the caller saw
		 * it fail. A stream never ends by itself, so a kill must be seen;
		 * close and MTOFFL may have finished before the kill. */
		if (!strcmp(mode, "close") || !strcmp(mode, "offline"))
			hit = k && !strcmp(first_err_what, mode);
		else
			hit = k && first_err_what[0];
		if (kill_self)
			hit = 0;
		if (k && !kill_self && !first_err_what[0] && strcmp(mode, "close") && strcmp(mode, "offline"))
			failf("the daemon was killed but the caller saw no error");
		if (!k && first_err_what[0] && !bad)
			failf("%s failed without a kill: %s", first_err_what, strerror(first_err_no));
		if (hit && first_err_no != EIO && first_err_no != 0)
			failf("%s after the kill: errno %d (%s), not EIO", first_err_what, first_err_no, strerror(first_err_no));
		if (hit && lat > 1000000)
			failf("the error came %ldus after the kill", lat);
		if (k && close_us > 1000000)
			failf("close took %ldus after the kill", close_us);
		finish_killer();
		printf("RESULT mode=%s killed=%d kill_rt=%d wake_us=%ld how=%d kill_at_us=%ld hit=%d latency_us=%ld err=%s errno=%d close_rc=%d close_us=%ld op_us=%ld hang=0 "
		       "records=%ld acked=%ld ops=%ld objects=%ld bytes=%ld why=%s\n",
		       mode, k, sh ? sh->realtime : 0, sh && sh->t_wake > 0 ? (long)((sh->t_wake - sh->t_arm) * 1e6) : -1, sh ? sh->how : 0, k ? (long)((sh->t_kill - sh->t_arm) * 1e6) : -1, hit, hit ? lat : -1, first_err_what[0] ? first_err_what : "-", first_err_no, close_rc,
		       close_us, op_us, records, acked, ops_done, objs_read, bytes_read, bad ? why : "-");
	}
	return bad ? 1 : 0;
}
