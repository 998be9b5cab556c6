/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * ew_probe: writes 10 KiB records to a tape until the end of medium and
 * checks the sequence a Linux SCSI tape gives at early warning:
 *
 *   count, count, ..., count (the write that meets early warning; status
 *   now shows GMT_EOT), ENOSPC, count, ENOSPC, count, ... (alternating until
 *   the physical end), then ENOSPC only.
 *
 *   ew_probe DEVICE   prints the sequence (W = written, E = ENOSPC) and exits
 *                     0 if it has that shape.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mtio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static char rec[10240];
	char seq[512];
	int fd, i, n = 0, tail_e = 0, eot_at = -1, first_e = -1;
	struct mtget g;

	if (argc < 2)
		return 2;
	fd = open(argv[1], O_RDWR);
	if (fd < 0) {
		perror("open");
		return 1;
	}
	memset(rec, 0x5a, sizeof(rec));
	for (i = 0; i < (int)sizeof(seq) - 1 && tail_e < 6; i++) {
		ssize_t r = write(fd, rec, sizeof(rec));

		if (r == (ssize_t)sizeof(rec)) {
			seq[n++] = 'W';
			tail_e = 0;
		} else if (r < 0 && errno == ENOSPC) {
			seq[n++] = 'E';
			tail_e++;
			if (first_e < 0)
				first_e = n - 1;
		} else {
			printf("write %d: %zd (%s)\n", i, r, strerror(errno));
			return 1;
		}
		if (ioctl(fd, MTIOCGET, &g) < 0) {
			perror("MTIOCGET");
			return 1;
		}
		if (GMT_EOT(g.mt_gstat) && eot_at < 0)
			eot_at = n - 1;
	}
	seq[n] = '\0';
	printf("sequence: %s\n", seq);
	printf("first ENOSPC at write %d, GMT_EOT first seen after write %d\n", first_e, eot_at);
	if (close(fd) != 0)
		printf("close: %s\n", strerror(errno));
	/* Shape: W+ then (E W)* then E+; EOT right after the last W before the first E. */
	if (first_e < 1 || eot_at != first_e - 1) {
		printf("FAIL: early warning not reported on the write before the first ENOSPC\n");
		return 1;
	}
	for (i = first_e; i < n; i++) {
		int alt = (i - first_e) % 2;	/* 0: E expected, 1: W or the final run of E */

		if (alt == 0 && seq[i] != 'E') {
			printf("FAIL: expected ENOSPC at write %d\n", i);
			return 1;
		}
		if (alt == 1 && seq[i] == 'E') {
			/* The physical end: only ENOSPC from here on. */
			for (; i < n; i++)
				if (seq[i] != 'E') {
					printf("FAIL: a write succeeded after the end of medium at %d\n", i);
					return 1;
				}
			break;
		}
	}
	if (strchr(seq + first_e, 'W') == NULL) {
		printf("FAIL: no write allowed after early warning\n");
		return 1;
	}
	printf("ew_probe: st's early-warning sequence\n");
	return 0;
}
