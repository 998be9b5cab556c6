/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The pmt core's C interface: what an OS glue calls in the Rust core
 * (pmt_core_*) and what the glue provides to it (pmt_os_*). One interface
 * for every kernel: the Linux glue (sys/dev/pmt/pmt_linux.c) and the NetBSD
 * glue (sys/dev/pmt/pmt_netbsd.c) both speak it.
 *
 * Host. A unit is created for one host ABI (PMT_ABI_*): its ioctl numbers,
 * struct mtget layout, st conventions (early warning, filemarks at close)
 * and errno values. Every error the core returns is a nonzero errno value
 * of that host (NetBSD's ERESTART is negative, so "nonzero", not
 * "positive"); counts come back through a size_t pointer.
 *
 * User memory. The core never touches it. It hands the glue's cookie back
 * to pmt_os_copyin()/pmt_os_copyout() with an offset: on Linux the cookie is
 * the user address, on NetBSD the struct uio of the system call. Within one
 * call of a read, write or user-argument ioctl entry the offsets never
 * decrease (they may skip forward), and the count the core reports may be
 * smaller than what it copied (a refused reply, a short write at the end of
 * medium): a glue that moves data with a uio sets it to the count reported.
 *
 * Locking. Master entry points (pmt_core_m*) are called with the unit's
 * master lock held, one at a time per unit; they may sleep, but only through
 * pmt_os_wait(). Slave entry points never sleep. The unit's channel lock
 * is the glue's (pmt_os_lock/pmt_os_unlock on the context given to
 * pmt_core_unit_new: a spinlock on Linux, a kmutex on NetBSD, so that the
 * kernel's lock checkers see it); pmt_core_mcond() and pmt_core_readable()
 * only take that lock and may be called from a wait condition, with other
 * glue locks held. The core never sleeps, allocates, frees or copies user
 * memory with it held.
 */
#ifndef PMT_CORE_H
#define PMT_CORE_H

#if defined(__linux__) && defined(__KERNEL__)
#include <linux/types.h>
#elif defined(_KERNEL)
/* A BSD kernel (NetBSD, or its rump kernel): bool, size_t, uint32_t. */
#include <sys/types.h>
#else
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#endif

struct pmt_core_unit;

/* Host ABIs (struct pmt_core_params, p_abi). */
#define PMT_ABI_LINUX		0
#define PMT_ABI_NETBSD		1

/* Kinds of pair (struct pmt_core_params, p_kind). */
#define PMT_KIND_TAPE		0	/* the master is a tape drive (st) */
#define PMT_KIND_CHANGER	1	/* the master is a media changer (sg, ch) */

/* A unit's kind and limits. */
struct pmt_core_params {
	uint32_t p_abi;		/* PMT_ABI_* */
	uint32_t p_ring;	/* requests in flight at once */
	uint32_t p_window;	/* bytes of write-behind (and read-ahead) data held */
	uint32_t p_timeout;	/* command timeout, seconds; 0: st's 900 */
	uint32_t p_kind;	/* PMT_KIND_* */
	uint32_t p_spare;	/* zero */
};

/* pmt_core_mopen() flags. */
#define PMT_MOPEN_READ		1
#define PMT_MOPEN_WRITE		2
#define PMT_MOPEN_NONBLOCK	4
#define PMT_MOPEN_NOREWIND	8
#define PMT_MOPEN_EJECT		16	/* unload at close (NetBSD st's eject node) */
#define PMT_MOPEN_CONTROL	32	/* NetBSD st's control node: opens without a medium */
#define PMT_MOPEN_MODE_SHIFT	8	/* bits 8-9: the minor's mode (NetBSD st's bits 2-3) */

/* pmt_core_mioctl() flags. */
#define PMT_IOCTL_COMPAT32	1	/* a 32-bit caller on a 64-bit Linux kernel */
#define PMT_IOCTL_WRITABLE	2	/* the caller's file is open for writing (SG_IO's filter) */

/* Privileges (pmt_os_privileged). */
#define PMT_PRIV_ADMIN		0	/* driver-wide settings (Linux: CAP_SYS_ADMIN) */
#define PMT_PRIV_RAWIO		1	/* any SCSI command through SG_IO (Linux: CAP_SYS_RAWIO) */

/* What a master waits for (pmt_os_wait, pmt_core_mcond). */
#define PMT_WAIT_FRONT		0	/* the oldest request completed, or none left */
#define PMT_WAIT_SPACE		1	/* room for arg bytes of write-behind */

/* How it sleeps. */
#define PMT_SLEEP_INTERRUPTIBLE	0	/* any signal (nothing of the caller's is in flight) */
#define PMT_SLEEP_KILLABLE	1	/* fatal signals (a drive command is in flight) */
#define PMT_SLEEP_UNINTERRUPTIBLE 2	/* nothing but the timeout (close paths) */

/* What pmt_os_wait() returns. */
#define PMT_WAITED		0	/* the condition holds */
#define PMT_WAIT_TIMEDOUT	1	/* the timeout expired */
#define PMT_WAIT_INTR		2	/* a signal: fail with EINTR */
#define PMT_WAIT_RESTART	3	/* a signal: restart the call if the handler allows */

/* Units. host is the glue's context for the unit (its softc), passed back
 * to pmt_os_lock() and pmt_os_unlock(); it must outlive the unit.
 * pmt_core_unit_new() returns NULL when memory is short or a parameter is
 * out of range. */
struct pmt_core_unit *pmt_core_unit_new(unsigned int index, const struct pmt_core_params *p, void *host);
void pmt_core_unit_free(struct pmt_core_unit *u);

/*
 * Master (the tape device, or the changer). host is the glue's context for
 * the call (its softc): the core hands it back to pmt_os_wait,
 * pmt_os_wake_slave, pmt_os_privileged and the copies. cred names the
 * caller as the host does (NetBSD: its kauth_cred_t; Linux: unused,
 * capable() looks at the calling task). A changer master has no write
 * (EINVAL); its read is NetBSD ch's event word (Linux: EINVAL); its open
 * asks the library what NetBSD's ch asks at open (Linux: nothing); its
 * flush does nothing and its release clears the events.
 */
int pmt_core_mopen(struct pmt_core_unit *u, void *host, unsigned int flags);
int pmt_core_mflush(struct pmt_core_unit *u, void *host);	/* last close: filemarks, rewind */
int pmt_core_mrelease(struct pmt_core_unit *u, void *host);	/* the file is gone */
int pmt_core_mread(struct pmt_core_unit *u, void *host, void *ucookie, size_t len, size_t *done);
int pmt_core_mwrite(struct pmt_core_unit *u, void *host, void *ucookie, size_t len, size_t *done);
/* An ioctl whose argument is still in user memory (Linux): the core copies
 * the argument in and out through the cookie, sized by the command; *retval
 * gets the ioctl's return value (0 but for SG_GET_TIMEOUT). Pointers the
 * argument holds (SG_IO's buffers, CHIOGSTATUS's array) are reached with
 * pmt_os_ucopyin/pmt_os_ucopyout. */
int pmt_core_mioctl(struct pmt_core_unit *u, void *host, void *cred, unsigned long cmd,
    void *ucookie, unsigned int flags, int *retval);
/* An ioctl whose argument the kernel already copied in (NetBSD's data,
 * IOCPARM_LEN(cmd) bytes, copied out by the kernel afterwards). */
int pmt_core_mioctl_data(struct pmt_core_unit *u, void *host, void *cred, unsigned long cmd, void *data,
    unsigned int flags);
bool pmt_core_mcond(struct pmt_core_unit *u, unsigned int what, size_t arg);

/* Slave (the daemon's end). */
int pmt_core_sopen(struct pmt_core_unit *u);			/* EBUSY if a daemon holds it */
void pmt_core_sclose(struct pmt_core_unit *u);			/* pending requests fail */
int pmt_core_sread(struct pmt_core_unit *u, void *ucookie, size_t len, size_t *done);	/* EAGAIN: none queued */
int pmt_core_swrite(struct pmt_core_unit *u, void *ucookie, size_t len, size_t *done);
bool pmt_core_readable(struct pmt_core_unit *u);
size_t pmt_core_spending(struct pmt_core_unit *u);	/* bytes a read with room for all would return */
/* The daemon mapped the unit's data area, size bytes (0: it has none or
 * its mapping went). A glue without an area never calls it. */
void pmt_core_sarea(struct pmt_core_unit *u, size_t size);

/* Provided by the glue. */
void *pmt_os_alloc(size_t size);			/* may sleep; NULL when short */
void pmt_os_free(void *p, size_t size);			/* size as allocated */
int pmt_os_copyin(void *ucookie, size_t off, void *dst, size_t n);	/* 0 or nonzero: fault */
int pmt_os_copyout(void *ucookie, size_t off, const void *src, size_t n);
int pmt_os_wait(void *host, unsigned int what, size_t arg, unsigned int how, unsigned int timeout_secs);
void pmt_os_wake_slave(void *host);
bool pmt_os_privileged(void *host, void *cred, unsigned int what);	/* PMT_PRIV_* */
/* Copies to and from a user address an ioctl's argument holds: 0 or nonzero. */
int pmt_os_ucopyin(void *host, uint64_t uaddr, void *dst, size_t n);
int pmt_os_ucopyout(void *host, uint64_t uaddr, const void *src, size_t n);
void pmt_os_lock(void *host);				/* the unit's channel lock */
/* The unit's data area (see PMT_SIOCAREA in pmt_proto.h): copies between
 * it and kernel memory, and between it and the user buffer of a master
 * read or write (the cookie, at uoff). 0, or nonzero: a range outside the
 * area, or a fault. A glue without an area returns nonzero. */
int pmt_os_area_read(void *host, size_t off, void *dst, size_t n);
int pmt_os_area_write(void *host, size_t off, const void *src, size_t n);
int pmt_os_area_copyin(void *host, void *ucookie, size_t uoff, size_t aoff, size_t n);
int pmt_os_area_copyout(void *host, void *ucookie, size_t uoff, size_t aoff, size_t n);
void pmt_os_unlock(void *host);
void pmt_os_panic(const char *msg, size_t len);		/* does not return */

#endif /* PMT_CORE_H */
