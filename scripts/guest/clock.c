/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* clock: prints the monotonic clock in seconds, to the microsecond (the
 * benchmark's timer; /proc/uptime only has hundredths). */
#include <stdio.h>
#include <time.h>

int main(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	printf("%ld.%06ld\n", (long)t.tv_sec, t.tv_nsec / 1000);
	return 0;
}
