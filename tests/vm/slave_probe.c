/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * slave_probe: plays a hand-written daemon on /dev/pmts<N> against the real
 * pmt.ko and checks the slave device and the protocol from the outside:
 * exclusive opens, blocking reads and poll, batching, EMSGSIZE, malformed
 * replies refused with EINVAL, the master's requests in order, the
 * write-behind window bounding what a writer can queue, a drive command in
 * flight not abandoned for a signal the caller handles (only SIGKILL ends
 * its wait), and EIO at once when the daemon goes away.
 *
 *   slave_probe UNIT
 *
 * Prints "ok: ..." per check and "FAIL: ..." on the first failure (exit 1).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mtio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pmt_proto.h"

static char master[64], nmaster[64], slave[64];
/* The daemon's end, closed in children: a forked copy would keep the slave
 * open after the daemon closes it. */
static int slave_fd = -1;
static unsigned char buf[1 << 20];

static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("FAIL: ");
	vprintf(fmt, ap);
	printf(" (errno %d %s)\n", errno, strerror(errno));
	va_end(ap);
	fflush(stdout);
	exit(1);
}

static void ok(const char *what)
{
	printf("ok: %s\n", what);
	fflush(stdout);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Reads one batch; returns its length. */
static ssize_t read_batch(int s, double timeout)
{
	struct pollfd p = { .fd = s, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, (int)(timeout * 1000)) != 1 || !(p.revents & POLLIN))
		fail("no request within %.1fs", timeout);
	n = read(s, buf, sizeof(buf));
	if (n < (ssize_t)sizeof(struct pmt_req))
		fail("slave read returned %zd", n);
	return n;
}

static struct pmt_req req_at(size_t off)
{
	struct pmt_req r;

	memcpy(&r, buf + off, sizeof(r));
	return r;
}

static void status_ready(struct pmt_status *st)
{
	memset(st, 0, sizeof(*st));
	st->ds_flags = PMT_DS_READY | PMT_DS_BOP;
	st->ds_minblk = 1;
	st->ds_maxblk = PMT_MAX_RECORD;
	st->ds_room = PMT_ROOM_UNLIMITED;
}

static struct pmt_rep reply_to(const struct pmt_req *r)
{
	struct pmt_rep p;

	memset(&p, 0, sizeof(p));
	p.rp_hdr.h_len = sizeof(p);
	p.rp_hdr.h_version = PMT_PROTO_VERSION;
	p.rp_hdr.h_op = r->rq_hdr.h_op;
	p.rp_hdr.h_id = r->rq_hdr.h_id;
	status_ready(&p.rp_status);
	return p;
}

static int send_rep(int s, const struct pmt_rep *p)
{
	return write(s, p, sizeof(*p)) == (ssize_t)sizeof(*p) ? 0 : -1;
}

/* Answers every request of one batch GOOD; returns how many, and sets
 * *closed if a CLOSE was among them. */
static int answer_batch(int s, ssize_t n, int *closed)
{
	size_t off = 0;
	int k = 0;

	while (off < (size_t)n) {
		struct pmt_req r = req_at(off);
		struct pmt_rep p = reply_to(&r);

		if (r.rq_hdr.h_op == PMT_OP_CLOSE)
			*closed = 1;
		k++;
		if (send_rep(s, &p))
			fail("reply to op %u refused", r.rq_hdr.h_op);
		off += (r.rq_hdr.h_len + PMT_FRAME_ALIGN - 1) & ~(size_t)(PMT_FRAME_ALIGN - 1);
	}
	return k;
}

static pid_t spawn(void (*fn)(void))
{
	pid_t pid = fork();

	if (pid < 0)
		fail("fork");
	if (pid == 0) {
		if (slave_fd >= 0)
			close(slave_fd);
		fn();
		_exit(0);
	}
	return pid;
}

static int child_status(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		fail("waitpid");
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Child: open the master, write three records, close. */
static void writer(void)
{
	char rec[1000];
	int i, m = open(master, O_WRONLY);

	if (m < 0)
		_exit(10);
	for (i = 0; i < 3; i++) {
		memset(rec, 'a' + i, sizeof(rec));
		if (write(m, rec, 100 + 300 * i) != 100 + 300 * i)
			_exit(11);
	}
	if (close(m) != 0)
		_exit(12);
	_exit(0);
}

static int report_fd = -1;

static void on_alarm(int sig)
{
	(void)sig;
}

/* Child: write 10 KiB records until a write blocks (the window is full),
 * report through report_fd how many went through, then close. */
static void flooder(void)
{
	static char rec[10240];
	struct sigaction sa;
	int n, m = open(nmaster, O_WRONLY);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART: the blocked write returns */
	sigaction(SIGALRM, &sa, NULL);
	if (m < 0)
		_exit(10);
	for (n = 0; n < 100000; n++) {
		alarm(2);
		if (write(m, rec, sizeof(rec)) != (ssize_t)sizeof(rec))
			break;
	}
	alarm(0);
	if (errno != EINTR)
		n = -1;
	if (write(report_fd, &n, sizeof(n)) != sizeof(n))
		_exit(11);
	/* The close waits until the daemon has every queued record. */
	if (close(m) != 0)
		_exit(12);
	_exit(0);
}

static long sysparam(const char *name)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/pmt/parameters/%s", name);
	f = fopen(path, "r");
	if (f == NULL || fscanf(f, "%ld", &v) != 1)
		fail("cannot read %s", path);
	fclose(f);
	return v;
}

/* Child: open, then wait in read for a daemon that will vanish. */
static void stranded_reader(void)
{
	char b[100];
	int m = open(nmaster, O_RDONLY);
	double t0;

	if (m < 0)
		_exit(10);
	t0 = now();
	if (read(m, b, sizeof(b)) >= 0 || errno != EIO)
		_exit(11);
	if (now() - t0 > 3)
		_exit(12);
	_exit(0);
}

/* Child: MTIOCGET (a STATUS command to the daemon) with handlers for
 * SIGALRM and SIGWINCH that do not restart calls; reports the ioctl's
 * errno (0: it succeeded) through report_fd. */
static void status_under_signals(void)
{
	struct sigaction sa;
	struct mtget mg;
	int m, e;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	m = open(nmaster, O_RDONLY);
	if (m < 0)
		_exit(10);
	e = ioctl(m, MTIOCGET, &mg) < 0 ? errno : 0;
	if (write(report_fd, &e, sizeof(e)) != sizeof(e))
		_exit(11);
	close(m);
	_exit(0);
}

/* The state letter of process pid (/proc/PID/stat): S, D, ... */
static char proc_state(pid_t pid)
{
	char path[64], line[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return '?';
	p = fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
	fclose(f);
	return p && p[1] == ' ' ? p[2] : '?';
}

/* Whether signal sig is pending for process pid (/proc/PID/status). */
static int sig_pending(pid_t pid, int sig)
{
	char path[64], line[256];
	unsigned long long mask;
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "ShdPnd: %llx", &mask) == 1)
			found = (mask >> (sig - 1)) & 1;
	fclose(f);
	return found;
}

/* Answers requests until the master's CLOSE. */
static void drain_to_close(int s)
{
	int closed = 0;

	while (!closed)
		answer_batch(s, read_batch(s, 10), &closed);
}

/* The daemon answers OPEN with a unit attention (a new medium). */
static void answer_open(int s)
{
	ssize_t n = read_batch(s, 5);
	struct pmt_req r = req_at(0);
	struct pmt_rep p = reply_to(&r);

	if (n != sizeof(struct pmt_req) || r.rq_hdr.h_op != PMT_OP_OPEN)
		fail("expected one OPEN, got op %u in %zd bytes", r.rq_hdr.h_op, n);
	p.rp_sense = PMT_SK_UNIT_ATTENTION;
	p.rp_asc = PMT_ASC_MEDIUM_CHANGED;
	if (send_rep(s, &p))
		fail("OPEN reply refused");
}

int main(int argc, char **argv)
{
	int unit = argc > 1 ? atoi(argv[1]) : 2;
	int s, s2, m, k, i;
	ssize_t n;
	pid_t pid;
	struct pollfd pfd;
	struct pmt_req r;
	struct pmt_rep p;

	snprintf(master, sizeof(master), "/dev/pmtm%d", unit);
	snprintf(nmaster, sizeof(nmaster), "/dev/npmtm%d", unit);
	snprintf(slave, sizeof(slave), "/dev/pmts%d", unit);

	/* Exclusive slave; non-blocking read and poll with nothing queued. */
	s = open(slave, O_RDWR);
	if (s < 0)
		fail("open %s", slave);
	slave_fd = s;
	s2 = open(slave, O_RDWR);
	if (s2 >= 0 || errno != EBUSY)
		fail("second slave open: %d", s2);
	ok("a second open of the slave is EBUSY");
	fcntl(s, F_SETFL, O_NONBLOCK);
	if (read(s, buf, sizeof(buf)) >= 0 || errno != EAGAIN)
		fail("O_NONBLOCK read with nothing queued");
	pfd = (struct pollfd){ .fd = s, .events = POLLIN | POLLOUT };
	if (poll(&pfd, 1, 0) != 1 || (pfd.revents & POLLIN) || !(pfd.revents & POLLOUT))
		fail("poll with nothing queued: revents %#x", pfd.revents);
	fcntl(s, F_SETFL, 0);
	ok("nothing queued: EAGAIN, poll says writable only");

	/* A master open reaches the daemon as OPEN; bad replies are refused. */
	pid = spawn(writer);
	n = read_batch(s, 5);
	r = req_at(0);
	if (r.rq_hdr.h_op != PMT_OP_OPEN || r.rq_hdr.h_version != PMT_PROTO_VERSION || r.rq_hdr.h_len != sizeof(r) ||
	    !(r.rq_flags & PMT_RF_OPEN_WRITE) || (r.rq_flags & PMT_RF_OPEN_NOREWIND) || r.rq_arg != (uint64_t)unit)
		fail("OPEN request: op %u version %u len %u flags %#x arg %llu", r.rq_hdr.h_op, r.rq_hdr.h_version,
		     r.rq_hdr.h_len, r.rq_flags, (unsigned long long)r.rq_arg);
	ok("master open arrives as OPEN with its flags");
	p = reply_to(&r);
	p.rp_hdr.h_id++;
	if (send_rep(s, &p) == 0 || errno != EINVAL)
		fail("reply with a wrong id accepted");
	p = reply_to(&r);
	p.rp_hdr.h_version = PMT_PROTO_VERSION + 1;
	if (send_rep(s, &p) == 0 || errno != EINVAL)
		fail("reply with a bad version accepted");
	p = reply_to(&r);
	p.rp_hdr.h_op = PMT_OP_READ;
	if (send_rep(s, &p) == 0 || errno != EINVAL)
		fail("reply with a wrong op accepted");
	p = reply_to(&r);
	p.rp_hdr.h_len = sizeof(p) + 10;
	if (send_rep(s, &p) == 0 || errno != EINVAL)
		fail("reply with an impossible length accepted");
	p = reply_to(&r);
	p.rp_sense = 0x9;
	if (send_rep(s, &p) == 0 || errno != EINVAL)
		fail("reply with an unknown sense key accepted");
	if (write(s, &p, 20) >= 0 || errno != EINVAL)
		fail("a short reply accepted");
	ok("wrong id, version, op, length, sense and short replies: EINVAL");
	p = reply_to(&r);
	p.rp_sense = PMT_SK_UNIT_ATTENTION;
	p.rp_asc = PMT_ASC_MEDIUM_CHANGED;
	if (send_rep(s, &p))
		fail("good OPEN reply refused");

	/* Three writes (write-behind: they may come in one batch), then the
	 * close: WFM 1, REWIND, CLOSE, in order. */
	{
		int seen = 0, lens[3] = { 0 }, wfm = 0, rew = 0, cls = 0;

		while (seen < 3 + 3) {
			size_t off = 0;

			n = read_batch(s, 5);
			while (off < (size_t)n) {
				r = req_at(off);
				if (r.rq_hdr.h_op == PMT_OP_WRITE) {
					if (seen >= 3 || wfm)
						fail("WRITE after the close began");
					lens[seen] = (int)r.rq_length;
					for (i = 0; i < (int)r.rq_length; i++)
						if (buf[off + sizeof(r) + i] != 'a' + seen)
							fail("record %d byte %d", seen, i);
				} else if (r.rq_hdr.h_op == PMT_OP_WFM) {
					if (seen != 3 || r.rq_count != 1)
						fail("WFM after %d records, count %d", seen, r.rq_count);
					wfm = 1;
				} else if (r.rq_hdr.h_op == PMT_OP_REWIND) {
					if (!wfm)
						fail("REWIND before the filemark");
					rew = 1;
				} else if (r.rq_hdr.h_op == PMT_OP_CLOSE) {
					if (!rew)
						fail("CLOSE before REWIND");
					cls = 1;
				} else
					fail("unexpected op %u", r.rq_hdr.h_op);
				seen++;
				p = reply_to(&r);
				if (send_rep(s, &p))
					fail("reply refused");
				off += (r.rq_hdr.h_len + PMT_FRAME_ALIGN - 1) & ~(size_t)(PMT_FRAME_ALIGN - 1);
			}
		}
		if (lens[0] != 100 || lens[1] != 400 || lens[2] != 700 || !cls)
			fail("records %d %d %d", lens[0], lens[1], lens[2]);
	}
	if ((k = child_status(pid)) != 0)
		fail("writer exited %d", k);
	ok("records, then WFM 1, REWIND and CLOSE at close, in order");

	/* The master is exclusive; a writer stops once the write-behind window
	 * is full (that is the kernel memory bound of a unit); a batch read
	 * needs room for a whole frame. */
	{
		int fds[2], count, closed = 0;
		long window = sysparam("window_kb") * 1024, ring = sysparam("ring");
		long most = window / 10240 < ring ? window / 10240 : ring;

		if (pipe(fds))
			fail("pipe");
		report_fd = fds[1];
		pid = spawn(flooder);
		close(fds[1]);
		answer_open(s);
		m = open(nmaster, O_RDONLY | O_NONBLOCK);
		if (m >= 0 || errno != EBUSY)
			fail("second master open: %d", m);
		ok("a second open of the master is EBUSY, at once");
		if (read(fds[0], &count, sizeof(count)) != sizeof(count))
			fail("no count from the flooder");
		printf("flooder: %d records of 10 KiB queued before a write blocked (window %ld KiB, ring %ld)\n", count,
		       window / 1024, ring);
		if (count < 0 || count > most || count < most - 1)
			fail("%d records queued, expected %ld", count, most);
		ok("a writer blocks once the write-behind window is full");
		if (read(s, buf, 100) >= 0 || errno != EMSGSIZE)
			fail("read into a buffer smaller than a frame");
		ok("EMSGSIZE when the first frame does not fit");
		k = 0;
		while (!closed) {
			n = read_batch(s, 10);
			k += answer_batch(s, n, &closed);
		}
		if ((i = child_status(pid)) != 0)
			fail("flooder exited %d", i);
		if (k != count + 2)
			fail("%d requests after OPEN, expected %d writes, WFM and CLOSE", k, count);
		printf("drained %d requests in batches\n", k);
	}

	/* A drive command in flight is waited for until it completes: a signal
	 * the caller handles stays pending (the wait is killable, the process
	 * in D state), SIGKILL ends it. */
	{
		int fds[2], e, seen = 0;
		double t0;

		if (pipe(fds))
			fail("pipe");
		report_fd = fds[1];
		pid = spawn(status_under_signals);
		close(fds[1]);
		answer_open(s);
		n = read_batch(s, 5);
		r = req_at(0);
		if (r.rq_hdr.h_op != PMT_OP_STATUS)
			fail("expected STATUS, got op %u", r.rq_hdr.h_op);
		kill(pid, SIGALRM);
		kill(pid, SIGWINCH);
		for (t0 = now(); !seen; usleep(1000)) {
			if (now() - t0 > 5)
				fail("the caller is in state %c", proc_state(pid));
			seen = sig_pending(pid, SIGALRM) && sig_pending(pid, SIGWINCH) && proc_state(pid) == 'D';
		}
		ok("SIGALRM and SIGWINCH stay pending while MTIOCGET waits for the drive");
		p = reply_to(&r);
		if (send_rep(s, &p))
			fail("STATUS reply refused");
		if (read(fds[0], &e, sizeof(e)) != sizeof(e))
			fail("no result from the caller");
		close(fds[0]);
		if (e != 0)
			fail("MTIOCGET ended with errno %d under handled signals", e);
		drain_to_close(s);
		if ((k = child_status(pid)) != 0)
			fail("caller exited %d", k);
		ok("the command completed; the handlers ran after it");

		if (pipe(fds))
			fail("pipe");
		report_fd = fds[1];
		pid = spawn(status_under_signals);
		close(fds[1]);
		answer_open(s);
		n = read_batch(s, 5);
		if (req_at(0).rq_hdr.h_op != PMT_OP_STATUS)
			fail("expected STATUS");
		for (t0 = now(); proc_state(pid) != 'D'; usleep(1000))
			if (now() - t0 > 5)
				fail("the caller is in state %c", proc_state(pid));
		kill(pid, SIGKILL);
		/* The killed caller's file is closed in its exit, which waits
		 * (idle, I) for the abandoned command: the wait for the drive
		 * ended, the close's has begun. */
		for (t0 = now(); proc_state(pid) != 'I' && proc_state(pid) != 'Z'; usleep(1000))
			if (now() - t0 > 3)
				fail("after SIGKILL the caller is in state %c", proc_state(pid));
		ok("SIGKILL ends a wait for the drive at once");
		close(fds[0]);
		r = req_at(0);
		p = reply_to(&r);
		if (send_rep(s, &p))
			fail("STATUS reply refused");
		drain_to_close(s);
		if ((k = child_status(pid)) != 128 + SIGKILL)
			fail("caller exited %d after SIGKILL", k);
	}

	/* The daemon vanishes while a reader waits: EIO at once. */
	pid = spawn(stranded_reader);
	answer_open(s);
	n = read_batch(s, 5);
	r = req_at(0);
	if (r.rq_hdr.h_op != PMT_OP_READ)
		fail("expected READ, got %u", r.rq_hdr.h_op);
	close(s);
	if ((k = child_status(pid)) != 0)
		fail("reader: exit %d (no prompt EIO when the daemon left)", k);
	ok("daemon gone: the waiting read fails with EIO at once");

	/* The unit serves the next daemon. */
	s = open(slave, O_RDWR);
	if (s < 0)
		fail("reopen slave");
	close(s);
	ok("the slave opens again for the next daemon");
	printf("slave_probe: all checks passed\n");
	return 0;
}
