/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * faults.h: what the fault-suite probes share (tests/vm/fault_*.c,
 * hostile_*.c, access_probe.c): the clock, a seeded generator, the content
 * of numbered records, the event log of a writer, and the parser of the
 * event log that the checker and the reader both use.
 *
 * Record n of a run with seed S has a length chosen by the writer (logged)
 * and content gen_record(S, n, len): anyone who knows S, n and len knows
 * every byte, so images and reads are compared byte for byte.
 *
 * The event log, one line per event, written with write(2) (a killed
 * process loses nothing it logged):
 *   W n len [seed]  a record is about to be written (attempted); its
 *              content comes from `seed` if given, else from the log's
 *   A n        its write() returned the whole length (acknowledged)
 *   F          a filemark is about to be written (MTWEOF)
 *   D          MTWEOF returned 0: a durability point
 *   O          MTOFFL is about to be called (a volume change)
 *   o rc       MTOFFL returned (0: the next volume is loaded)
 *   C fm       close() begins; fm=1 if st writes a filemark there
 *   X rc errno us   close() returned after us microseconds
 *   E what errno us  the first error, us after the daemon was killed
 *   K addr     (fault_midrecord) the copy of the record stopped on a fault
 * A last record without its "A" (the write failed, or the writer died in
 * it) may or may not be on the medium: it is optional.
 */
#ifndef FAULTS_H
#define FAULTS_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A seeded generator: rng_below(r, n) in [0, n). */
struct rng {
	uint64_t s;
};

static inline uint64_t rng_next(struct rng *r)
{
	return splitmix64(&r->s);
}

static inline uint64_t rng_below(struct rng *r, uint64_t n)
{
	return n ? rng_next(r) % n : 0;
}

/* The content of record n of a run with seed `seed`. */
static inline void gen_record(uint32_t seed, uint32_t n, unsigned char *buf, size_t len)
{
	uint64_t s = ((uint64_t)seed << 32) ^ n ^ 0x5a5a5a5a00000000ull;
	size_t i = 0;

	while (i < len) {
		uint64_t w = splitmix64(&s);
		size_t k = len - i < 8 ? len - i : 8;

		memcpy(buf + i, &w, k);
		i += k;
	}
	/* A readable header where there is room: "PMTF", n, len. */
	if (len >= 12) {
		uint32_t l = (uint32_t)len;

		memcpy(buf, "PMTF", 4);
		memcpy(buf + 4, &n, 4);
		memcpy(buf + 8, &l, 4);
	}
}

/* The event log. */
static int log_fd = -1;

static inline void log_open(const char *path)
{
	log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0644);
	if (log_fd < 0) {
		fprintf(stderr, "cannot open log %s: %s\n", path, strerror(errno));
		exit(2);
	}
}

static inline void log_ev(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	if (log_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(log_fd, line, (size_t)n) != n)
		_exit(2);
}

/* An object of a tape as the log says it was attempted. */
struct obj {
	uint32_t n;	/* record number; UINT32_MAX for a filemark */
	uint32_t len;	/* record length; 0 for a filemark */
	uint32_t seed;	/* the seed of its content */
	int acked;	/* the write returned (records), MTWEOF returned 0 (marks) */
	int optional;	/* a last record whose write() failed or never returned:
			 * it may or may not have reached the drive */
};

#define OBJ_FM UINT32_MAX

/* A parsed log: the objects attempted on one volume, and what is durable. */
struct layout {
	struct obj *o;
	size_t n, cap;
	size_t durable;		/* objects [0, durable) must be on the medium */
	uint32_t seed;
	int closed_ok;		/* close() returned 0 */
};

static inline void layout_push(struct layout *l, uint32_t n, uint32_t len)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 1024;
		l->o = realloc(l->o, l->cap * sizeof(*l->o));
		if (l->o == NULL) {
			fprintf(stderr, "out of memory\n");
			exit(2);
		}
	}
	l->o[l->n++] = (struct obj){ .n = n, .len = len, .seed = l->seed, .acked = 0, .optional = 0 };
}

/* The writer stopped: a last record it never saw written is optional. */
static inline void layout_stop(struct layout *l)
{
	if (l->n && l->o[l->n - 1].n != OBJ_FM && !l->o[l->n - 1].acked)
		l->o[l->n - 1].optional = 1;
}

/*
 * Reads the log at `path` for volume `vol` (1 = before the first MTOFFL that
 * returned 0, 2 = after it, and so on). Returns 0, or -1 if the log cannot be
 * read. The seed comes from the line "S seed" at its top.
 */
static inline int layout_read(const char *path, int vol, struct layout *l)
{
	char line[256];
	int cur = 1;
	FILE *f = fopen(path, "r");

	memset(l, 0, sizeof(*l));
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a = 0, b = 0, c = 0;
		long rc = 0;

		switch (line[0]) {
		case 'S':
			if (sscanf(line + 1, "%lu", &a) == 1)
				l->seed = (uint32_t)a;
			break;
		case 'W':
			if (cur == vol && sscanf(line + 1, "%lu %lu %lu", &a, &b, &c) >= 2) {
				layout_push(l, (uint32_t)a, (uint32_t)b);
				if (sscanf(line + 1, "%lu %lu %lu", &a, &b, &c) == 3)
					l->o[l->n - 1].seed = (uint32_t)c;
			}
			break;
		case 'A':
			if (cur == vol && sscanf(line + 1, "%lu", &a) == 1 && l->n && l->o[l->n - 1].n == a)
				l->o[l->n - 1].acked = 1;
			break;
		case 'F':
			if (cur == vol)
				layout_push(l, OBJ_FM, 0);
			break;
		case 'D':
			if (cur == vol && l->n) {
				l->o[l->n - 1].acked = 1;
				l->durable = l->n;
			}
			break;
		case 'o':
			if (sscanf(line + 1, "%ld", &rc) == 1 && rc == 0) {
				/* The unload synced what the volume had. */
				if (cur == vol)
					l->durable = l->n;
				cur++;
			}
			break;
		case 'C':
			if (cur == vol)
				layout_stop(l);
			if (cur == vol && sscanf(line + 1, "%lu", &a) == 1 && a == 1)
				layout_push(l, OBJ_FM, 0);
			break;
		case 'X':
			if (cur == vol && sscanf(line + 1, "%ld", &rc) == 1 && rc == 0) {
				l->closed_ok = 1;
				l->durable = l->n;
			}
			break;
		}
	}
	fclose(f);
	if (cur == vol)
		layout_stop(l);
	return 0;
}

#endif /* FAULTS_H */
