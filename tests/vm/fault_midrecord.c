/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * fault_midrecord: a writer SIGKILLed in the middle of a record, while
 * write(2) copies it into the kernel.
 *
 *   fault_midrecord DEVICE --log LOG [--seed S] [--records K]
 *
 * Writes K numbered records (logged as tests/vm/faults.h says), then one
 * record of 16 MiB - 1 bytes whose last page is registered with
 * userfaultfd and never filled: the kernel's copy of the record stops on
 * that page, a child watching the userfaultfd sees the fault and SIGKILLs
 * the writer there, mid-copy, every time. The record must never reach the
 * tape, and st's close (the process exit) writes its filemark after the K
 * records. Exits with the signal on success; 1 with a message if the copy
 * was never caught.
 */
#include "faults.h"

#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define BIG 0xffffffu

int main(int argc, char **argv)
{
	uint32_t seed = 1;
	long k = 20;
	struct rng r;
	unsigned char *rec, *big;
	long page = sysconf(_SC_PAGESIZE);
	size_t span = ((size_t)BIG + (size_t)page - 1) / (size_t)page * (size_t)page;
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg;
	int fd, uffd;
	pid_t parent = getpid(), watcher;

	if (argc < 2)
		return 2;
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--log"))
			log_open(argv[i + 1]);
		else if (!strcmp(argv[i], "--seed"))
			seed = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--records"))
			k = atol(argv[i + 1]);
		else
			return 2;
	}
	r.s = seed;
	log_ev("S %u", seed);
	fd = open(argv[1], O_WRONLY);
	if (fd < 0) {
		printf("FAIL: open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	rec = malloc(20000);
	for (long i = 0; i < k; i++) {
		uint32_t len = 1 + (uint32_t)rng_below(&r, 20000);

		gen_record(seed, (uint32_t)i, rec, len);
		log_ev("W %ld %u", i, len);
		if (write(fd, rec, len) != (ssize_t)len) {
			printf("FAIL: write of record %ld: %s\n", i, strerror(errno));
			return 1;
		}
		log_ev("A %ld", i);
	}
	/* The big record: every page there but the last one. */
	big = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (big == MAP_FAILED)
		return 2;
	/* Small pages only: a transparent huge page would bring the last page
	 * in with the others, and the copy would never stop there. A kernel
	 * without transparent huge pages (the debug kernel) refuses the advice
	 * with EINVAL: it has only small pages anyway. */
	if (madvise(big, span, MADV_NOHUGEPAGE) && errno != EINVAL) {
		printf("FAIL: madvise: %s\n", strerror(errno));
		return 2;
	}
	gen_record(seed, (uint32_t)k, big, span - (size_t)page);
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) < 0) {
		printf("FAIL: userfaultfd: %s\n", strerror(errno));
		return 1;
	}
	reg.range.start = (unsigned long)(big + span - (size_t)page);
	reg.range.len = (unsigned long)page;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
		printf("FAIL: UFFDIO_REGISTER: %s\n", strerror(errno));
		return 1;
	}
	{
		unsigned char in = 0;

		if (mincore(big + span - (size_t)page, (size_t)page, &in) || (in & 1)) {
			printf("FAIL: the last page of the record is already in memory: no fault to stop the copy\n");
			return 2;
		}
	}
	watcher = fork();
	if (watcher == 0) {
		struct uffd_msg msg;
		struct pollfd p = { .fd = uffd, .events = POLLIN };

		close(fd);
		if (poll(&p, 1, 20000) == 1 && read(uffd, &msg, sizeof(msg)) == sizeof(msg) &&
		    msg.event == UFFD_EVENT_PAGEFAULT) {
			/* The kernel is inside the copy of the record, on its last page. */
			log_ev("K %llu", (unsigned long long)msg.arg.pagefault.address);
			kill(parent, SIGKILL);
			_exit(0);
		}
		printf("FAIL: no fault on the last page of the record within 20s\n");
		fflush(stdout);
		kill(parent, SIGKILL);
		_exit(1);
	}
	log_ev("W %ld %u", k, BIG);
	if (write(fd, big, BIG) == (ssize_t)BIG)
		log_ev("A %ld", k);
	printf("FAIL: the write of the record returned (%s)\n", strerror(errno));
	return 1;
}
