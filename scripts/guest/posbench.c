/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * posbench: positioning on a tape of many files, through the whole stack
 * (st policy in the core, slave channel, pmtd's index).
 *
 *   posbench write DEVICE FILES   writes FILES files of one 1 KiB record
 *                                 each, each closed by MTWEOF
 *   posbench seek DEVICE FILES    times MTFSF/MTBSF/MTEOM/MTSEEK/MTREW on
 *                                 that tape against a round trip to pmtd
 *                                 that moves nothing (MTIOCGET),
 *                                 checking the position after each
 *
 * DEVICE is the no-rewind node. Prints "posbench: OP MS" lines (median of
 * several runs, milliseconds) and exits non-zero if a position is wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mtio.h>
#include <time.h>
#include <unistd.h>

#define RUNS 9

static int fd;

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void die(const char *what)
{
	fprintf(stderr, "posbench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Runs one mt operation and returns how long it took, in milliseconds. */
static double op(short kind, int count)
{
	struct mtop o = { .mt_op = kind, .mt_count = count };
	double t0 = now_ms();

	if (ioctl(fd, MTIOCTOP, &o) < 0)
		die("MTIOCTOP");
	return now_ms() - t0;
}

static void expect_file(const char *after, int file)
{
	struct mtget g;

	if (ioctl(fd, MTIOCGET, &g) < 0)
		die("MTIOCGET");
	if (g.mt_fileno != file) {
		fprintf(stderr, "posbench: after %s: file %d, expected %d\n", after, g.mt_fileno, file);
		exit(1);
	}
}

static void expect_block(const char *after, long block)
{
	struct mtpos p;

	if (ioctl(fd, MTIOCPOS, &p) < 0)
		die("MTIOCPOS");
	if (p.mt_blkno != block) {
		fprintf(stderr, "posbench: after %s: block %ld, expected %ld\n", after, p.mt_blkno, block);
		exit(1);
	}
}

/* A round trip to the daemon that moves nothing: the status query. */
static double status_trip(void)
{
	struct mtget g;
	double t0 = now_ms();

	if (ioctl(fd, MTIOCGET, &g) < 0)
		die("MTIOCGET");
	return now_ms() - t0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void report(const char *name, double *t)
{
	qsort(t, RUNS, sizeof(*t), cmp);
	printf("posbench: %s %.3f\n", name, t[RUNS / 2]);
}

static int write_tape(int files)
{
	static char rec[1024];
	double t0 = now_ms();
	int i;

	for (i = 0; i < files; i++) {
		snprintf(rec, sizeof(rec), "file %d", i);
		if (write(fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec))
			die("write");
		op(MTWEOF, 1);
	}
	printf("posbench: write %.3f\n", now_ms() - t0);
	expect_file("writing", files);
	return 0;
}

static int seek_tape(int files)
{
	double get[RUNS], fsf[RUNS], bsf[RUNS], eom[RUNS], seek[RUNS], rew[RUNS];
	/* Each file is a record and a filemark: two logical blocks. */
	long target = 2L * (files / 4);
	int r;

	for (r = 0; r < RUNS; r++) {
		op(MTREW, 1);
		get[r] = status_trip();
		fsf[r] = op(MTFSF, files - 1);
		expect_file("MTFSF", files - 1);
		bsf[r] = op(MTBSF, files / 2);
		expect_file("MTBSF", files - 1 - files / 2);
		eom[r] = op(MTEOM, 1);
		expect_file("MTEOM", files);
		seek[r] = op(MTSEEK, (int)target);
		expect_block("MTSEEK", target);
		rew[r] = op(MTREW, 1);
		expect_file("MTREW", 0);
	}
	report("status", get);
	report("fsf", fsf);
	report("bsf", bsf);
	report("eom", eom);
	report("seek", seek);
	report("rewind", rew);
	return 0;
}

int main(int argc, char **argv)
{
	int files;

	if (argc != 4 || (files = atoi(argv[3])) < 4) {
		fprintf(stderr, "usage: posbench write|seek DEVICE FILES\n");
		return 2;
	}
	fd = open(argv[2], O_RDWR);
	if (fd < 0)
		die(argv[2]);
	if (!strcmp(argv[1], "write"))
		return write_tape(files);
	if (!strcmp(argv[1], "seek"))
		return seek_tape(files);
	fprintf(stderr, "posbench: unknown mode %s\n", argv[1]);
	return 2;
}
