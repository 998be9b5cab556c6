/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * compat32: built as a 32-bit program, asks a tape for MTIOCGET and MTIOCPOS
 * (through the kernel's compat_ioctl, with the 28-byte struct mtget and the
 * 4-byte struct mtpos) and does an MTIOCTOP, printing what it gets:
 *   compat32 DEVICE
 *   -> "file=F block=B type=T dsreg=D gstat=G pos=P"
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mtio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct mtget g;
	struct mtpos p;
	struct mtop op = { MTNOP, 1 };
	int fd;

	if (argc < 2 || sizeof(long) != 4) {
		fprintf(stderr, "compat32: needs a device, and a 32-bit build\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || ioctl(fd, MTIOCTOP, &op) < 0 || ioctl(fd, MTIOCGET, &g) < 0 || ioctl(fd, MTIOCPOS, &p) < 0) {
		perror("compat32");
		return 1;
	}
	printf("file=%d block=%d type=%#lx dsreg=%#lx gstat=%#lx pos=%ld\n", g.mt_fileno, g.mt_blkno, g.mt_type,
	       g.mt_dsreg, g.mt_gstat, p.mt_blkno);
	close(fd);
	return 0;
}
