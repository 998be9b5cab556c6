/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The pmt core's C interface: what the OS glue calls in the Rust core
 * (pmt_core_*) and what the glue provides to it (pmt_os_*).
 *
 * Locking contract. Master entry points (pmt_core_m*) are called with the
 * unit's master mutex held, one at a time per unit; they may sleep, but only
 * through pmt_os_wait(). Slave entry points never sleep. pmt_core_mcond() and
 * pmt_core_readable() only take the core's channel spinlock (with preemption
 * off, through pmt_os_atomic_enter/exit) and may be called from a wait
 * condition. The core never allocates or frees with that lock held.
 *
 * Return values are 0 or a count on success, a negative errno on failure.
 */
#ifndef PMT_CORE_H
#define PMT_CORE_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/compiler.h>
#else
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#define __user
#endif

struct pmt_core_unit;

/* Limits of a unit. */
struct pmt_core_params {
	uint32_t ring;		/* requests in flight at once */
	uint32_t window;	/* bytes of write-behind data held */
	uint32_t timeout;	/* command timeout, seconds */
};

/* pmt_core_mopen() flags. */
#define PMT_MOPEN_READ		1
#define PMT_MOPEN_WRITE		2
#define PMT_MOPEN_NONBLOCK	4
#define PMT_MOPEN_NOREWIND	8

/* What a master waits for (pmt_os_wait, pmt_core_mcond). */
#define PMT_WAIT_FRONT		0	/* the oldest request completed, or none left */
#define PMT_WAIT_SPACE		1	/* room for arg bytes of write-behind */

/* How it sleeps. */
#define PMT_SLEEP_INTERRUPTIBLE	0	/* any signal */
#define PMT_SLEEP_KILLABLE	1	/* fatal signals only */
#define PMT_SLEEP_UNINTERRUPTIBLE 2	/* nothing but the timeout (close paths) */

struct pmt_core_unit *pmt_core_unit_new(unsigned int index, const struct pmt_core_params *p);
void pmt_core_unit_free(struct pmt_core_unit *u);

int pmt_core_mopen(struct pmt_core_unit *u, void *host, unsigned int flags);
int pmt_core_mflush(struct pmt_core_unit *u, void *host);
int pmt_core_mrelease(struct pmt_core_unit *u, void *host);
ssize_t pmt_core_mread(struct pmt_core_unit *u, void *host, void __user *buf, size_t len);
ssize_t pmt_core_mwrite(struct pmt_core_unit *u, void *host, const void __user *buf, size_t len);
ssize_t pmt_core_mioctl(struct pmt_core_unit *u, void *host, unsigned int cmd, unsigned long arg, int compat);
bool pmt_core_mcond(struct pmt_core_unit *u, unsigned int what, size_t arg);

int pmt_core_sopen(struct pmt_core_unit *u);
void pmt_core_sclose(struct pmt_core_unit *u);
ssize_t pmt_core_sread(struct pmt_core_unit *u, void __user *buf, size_t len);
ssize_t pmt_core_swrite(struct pmt_core_unit *u, const void __user *buf, size_t len);
bool pmt_core_readable(struct pmt_core_unit *u);

/* Provided by the glue. */
void *pmt_os_alloc(size_t size);
void pmt_os_free(void *p);
unsigned long pmt_os_copy_from_user(void *dst, const void __user *src, unsigned long n);
unsigned long pmt_os_copy_to_user(void __user *dst, const void *src, unsigned long n);
int pmt_os_wait(void *host, unsigned int what, size_t arg, unsigned int how, unsigned int timeout_secs);
void pmt_os_wake_slave(void *host);
bool pmt_os_privileged(void *host);
void pmt_os_atomic_enter(void);
void pmt_os_atomic_exit(void);
void pmt_os_panic(const char *msg, size_t len);

#endif /* PMT_CORE_H */
