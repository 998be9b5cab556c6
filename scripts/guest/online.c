/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* online DEVICE: waits until the tape device reports a loaded tape
 * (MTIOCGET's GMT_ONLINE, what mt status prints as ONLINE), looking again
 * at once, at most a million times; prints how many looks it took. The
 * benchmark's end of "mtx load until the drive is ONLINE", without the
 * cost of starting mt and grep in the emulator. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mtio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct mtget g;
	long looks;

	if (argc != 2)
		return 2;
	for (looks = 1; looks <= 1000000; looks++) {
		int fd = open(argv[1], O_RDONLY | O_NONBLOCK), on;

		if (fd < 0) {
			perror(argv[1]);
			return 1;
		}
		on = ioctl(fd, MTIOCGET, &g) == 0 && GMT_ONLINE(g.mt_gstat);
		close(fd);
		if (on) {
			printf("%ld\n", looks);
			return 0;
		}
	}
	return 1;
}
