/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * pmt: pseudo-tape device pairs. NetBSD glue.
 *
 * Each tape pair N is, like a pty (sys/kern/tty_pty.c), a master and a
 * slave:
 *   master: an st(4)-compatible tape, with st's minors (rpmtmN rewinding,
 *           nrpmtmN no-rewind, erpmtmN eject, enrpmtmN control; the mode
 *           in bits 2-3);
 *   slave:  pmtsN, where a daemon reads drive requests and writes
 *           replies (include/pmt_proto.h).
 * Each changer pair N: a master that answers ch(4)'s CHIO ioctls (pmcmN)
 * and a slave the library daemon serves (pmcsN). pmt_netbsd.h has the
 * minor layout: one cdevsw, named after the module, so that specfs
 * autoloads the module from any node.
 *
 * The behaviour lives in the Rust core (include/pmt_core.h), created with
 * NetBSD's ABI and policy: NetBSD's mtio and CHIO numbers, its errno
 * values, st's rules (st_check_eod's filemarks, MTEWARN, the latched
 * sense, a mount per rewinding close) and ch's (its argument checks, page
 * 0x1F). This file attaches the pairs, serialises master calls, sleeps and
 * wakes, and moves data with uiomove() through the core's copy cookie.
 *
 * Locks, in the order they are taken:
 *   the master lock (PMT_MLOCKED, a sleep lock held across a call),
 *   sc_lock (a kmutex: flags, condvars' interlock, the knote list),
 *   sc_clock (the core's channel lock, pmt_os_lock).
 * A process's p_lock is taken only with neither kmutex held
 * (pmt_sigstate); selnotify() runs with sc_lock held, and the knote
 * filters, called from it with NOTE_SUBMIT, take only sc_clock.
 */

#include <sys/cdefs.h>
__KERNEL_RCSID(0, "pmt_netbsd.c: pmt pseudo-tape pairs");

#ifdef _KERNEL_OPT
#include "opt_pmt.h"
#endif

#include <sys/param.h>
#include <sys/systm.h>
#include <sys/chio.h>
#include <sys/conf.h>
#include <sys/condvar.h>
#include <sys/errno.h>
#include <sys/event.h>
#include <sys/evcnt.h>
#include <sys/fcntl.h>
#include <sys/filio.h>
#include <sys/kauth.h>
#include <sys/kernel.h>
#include <sys/kmem.h>
#include <sys/lwp.h>
#include <sys/module.h>
#include <sys/mtio.h>
#include <sys/mutex.h>
#include <sys/poll.h>
#include <sys/proc.h>
#include <sys/select.h>
#include <sys/signalvar.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/vnode.h>

#include <prop/proplib.h>

#include "pmt_core.h"
#include "pmt_netbsd.h"

/* Default limits of each pair: as the Linux module's. */
#define PMT_RING	512		/* requests in flight */
#define PMT_WINDOW_KB	4096		/* KiB of write-behind data */
#define PMT_TIMEOUT	900		/* drive command timeout, s */

/*
 * A wait a signal may end looks at the signals pending at least this
 * often. A killable wait (a drive command in flight) needs it: while a
 * non-fatal signal is pending a cv_timedwait_sig would return at once, so
 * it sleeps in cv_timedwait, which a later SIGKILL does not wake. For an
 * interruptible wait the kernel's wakeup at a signal comes first; the
 * slice is what a rump kernel, whose condvars never wake for a signal,
 * has instead. A wakeup a second per sleeping caller is the cost.
 */
#define PMT_SIGSLICE	(hz)

/* sc_flags */
#define PMT_MOPEN	0x01		/* a master file is open */
#define PMT_SOPEN	0x02		/* a daemon holds the slave */
#define PMT_MLOCKED	0x04		/* the master lock is held */
#define PMT_DYING	0x08		/* the module is being unloaded */
#define PMT_SCANCEL	0x10		/* the slave goes away */

struct pmt_softc {
	u_int			 sc_index;	/* unit of its kind */
	u_int			 sc_kind;	/* PMT_KIND_* */
	struct pmt_core_unit	*sc_core;	/* the Rust core's unit */
	/*
	 * sc_lock guards sc_flags and the klist of sc_rsel, and is the
	 * interlock of the three condvars below, so that a wakeup cannot
	 * fall between a waiter's test of the core's state and its sleep
	 * (the core keeps its own state under sc_clock; wakers change that
	 * state first, then broadcast under sc_lock).
	 */
	kmutex_t		 sc_lock;
	/*
	 * sc_clock is the core's channel lock (pmt_os_lock): the requests
	 * and replies both sides share. Nothing sleeps, allocates or frees
	 * under it. It is taken after sc_lock when a waiter or a knote
	 * filter tests the core's state, never before it.
	 */
	kmutex_t		 sc_clock;
	/*
	 * The master lock, PMT_MLOCKED: serialises master system calls on
	 * the pair as st's and ch's periph lock do, and is held across
	 * sleeps for the daemon (a sleep lock, not a kmutex, so that it can
	 * be held for a whole drive command and waited for interruptibly).
	 * Master calls that find it held sleep on sc_lockcv;
	 * pmt_mlock_exit broadcasts.
	 */
	kcondvar_t		 sc_lockcv;
	/*
	 * The master holding the master lock sleeps on sc_mcv for the
	 * daemon (a reply, room in the write-behind window: pmt_os_wait,
	 * testing pmt_core_mcond); a slave read that takes requests, every
	 * slave write and the slave's close broadcast it.
	 */
	kcondvar_t		 sc_mcv;
	/*
	 * Blocking slave reads sleep on sc_scv until pmt_core_readable or
	 * PMT_SCANCEL; pmt_os_wake_slave broadcasts it when the core queues
	 * a request, the slave's cancel and close when it goes.
	 */
	kcondvar_t		 sc_scv;
	/*
	 * Slave pollers and EVFILT_READ knotes; selnotify() with sc_lock
	 * held, wherever sc_scv is broadcast.
	 */
	struct selinfo		 sc_rsel;
	int			 sc_flags;	/* PMT_*, under sc_lock */
	/*
	 * Killable waits (a drive command in flight) that found a signal
	 * other than a fatal one and went on waiting, and those a fatal one
	 * ended (vmstat -e; counted under sc_lock).
	 */
	struct evcnt		 sc_ev_sigkept;
	struct evcnt		 sc_ev_sigfatal;
	char			 sc_name[16];	/* their group */
};

/*
 * The pairs: pmt_ntapes tape pairs, then pmt_nchangers changer pairs. Set
 * at attachment and cleared at detachment, when no node is open (and no
 * open can start: PMT_DYING); read without a lock in between.
 */
static struct pmt_softc *pmt_softcs;
u_int pmt_ntapes, pmt_nchangers;
static size_t pmt_nsoftcs;

void	pmtattach(int);

static dev_type_open(pmtopen);
static dev_type_close(pmtclose);
static dev_type_read(pmtread);
static dev_type_write(pmtwrite);
static dev_type_ioctl(pmtioctl);
static dev_type_poll(pmtpoll);
static dev_type_kqfilter(pmtkqfilter);
#if __NetBSD_Version__ >= 1000000000
static dev_type_cancel(pmtcancel);
#endif

/*
 * One table for every node (pmt_netbsd.h): config(1) names it from
 * `device-major pmt char N pmt', and devsw_attach gives its name to
 * specfs, which autoloads module pmt when a node without a driver is
 * opened. The entry points dispatch by minor to the master (pmtm*,
 * pmcm*) and slave (pmts*) ones, as tty_pty.c has ptc and pts.
 */
const struct cdevsw pmt_cdevsw = {
	.d_open = pmtopen,
#if __NetBSD_Version__ >= 1000000000
	.d_cancel = pmtcancel,
#endif
	.d_close = pmtclose,
	.d_read = pmtread,
	.d_write = pmtwrite,
	.d_ioctl = pmtioctl,
	.d_stop = nostop,
	.d_tty = notty,
	.d_poll = pmtpoll,
	.d_mmap = nommap,
	.d_kqfilter = pmtkqfilter,
	.d_discard = nodiscard,
	.d_flag = D_OTHER | D_MPSAFE,
};

/* ----- services for the core ---------------------------------------------- */

/*
 * Every allocation a master call makes is bounded: a transfer reaches the
 * core in MAXPHYS pieces (pmtmrw), so a record's buffer is at most
 * MAXPHYS; the rest are fixed sizes. Replies the daemon writes are bounded
 * by what was asked (a record, a read-ahead run within the window).
 */
void *
pmt_os_alloc(size_t size)
{

	/* kmem_alloc(0) is not allowed; the core never asks for it. */
	if (size == 0)
		return NULL;
	return kmem_alloc(size, KM_SLEEP);
}

void
pmt_os_free(void *p, size_t size)
{

	if (p != NULL)
		kmem_free(p, size);
}

/* Ticks since `start' (getmicrouptime), for a timeout across wakeups. */
static int64_t
pmt_ticks_since(const struct timeval *start)
{
	struct timeval now;

	getmicrouptime(&now);
	return ((int64_t)now.tv_sec - start->tv_sec) * hz +
	    ((int64_t)now.tv_usec - start->tv_usec) * hz / 1000000;
}

/* What a pending signal means to a wait. */
#define PMT_SIG_NONE	0
#define PMT_SIG_OTHER	1	/* ends an interruptible wait */
#define PMT_SIG_FATAL	2	/* SIGKILL, exit: a killable one too */

/*
 * Fatal: SIGKILL pending, or the process exits or dumps core (exit1 and
 * the core dump set PS_WEXIT, PS_WCORE under p_lock before they stop the
 * other LWPs). Called with no pmt kmutex held: it takes p_lock.
 */
static int
pmt_sigstate(struct lwp *l)
{
	struct proc *p = l->l_proc;
	int state = PMT_SIG_NONE;

	mutex_enter(p->p_lock);
	if ((p->p_sflag & (PS_WEXIT | PS_WCORE)) != 0 ||
	    sigispending(l, SIGKILL) != 0)
		state = PMT_SIG_FATAL;
	else if (sigispending(l, 0) != 0)
		state = PMT_SIG_OTHER;
	mutex_exit(p->p_lock);
	return state;
}

/*
 * One sleep on cv (sc_lock held, its interlock) of a wait of kind `how'
 * (PMT_SLEEP_*), for at most `timo' ticks (0: no limit). Returns 0 to
 * re-test the condition, PMT_WAIT_INTR or PMT_WAIT_RESTART when a signal
 * ends the wait:
 *   - uninterruptible: cv_timedwait; only the timeout and wakeups;
 *   - interruptible (nothing of the caller's in flight): any signal, as
 *     cv_timedwait_sig reports it (EINTR or ERESTART as the handler asks;
 *     a signal still pending after a sleep that did not report it, as in
 *     a rump kernel, whose condvars do not look at signals, is EINTR);
 *   - killable (a drive command in flight): only SIGKILL or the process
 *     exiting; any other signal waits for the return to user space. With
 *     none pending it sleeps in cv_timedwait_sig, with one in cv_timedwait
 *     (a sleep with a signal pending would return at once).
 * Both sleep in slices of at most PMT_SIGSLICE and look at the signals
 * after each.
 * *pend keeps, across the sleeps of one wait, whether a signal was
 * pending before the last one.
 */
static int
pmt_sleep(struct pmt_softc *sc, kcondvar_t *cv, u_int how, int timo, bool *pend)
{
	int error, sig, slice;

	KASSERT(mutex_owned(&sc->sc_lock));
	if (how == PMT_SLEEP_UNINTERRUPTIBLE) {
		(void)cv_timedwait(cv, &sc->sc_lock, timo);
		return 0;
	}
	mutex_exit(&sc->sc_lock);
	sig = pmt_sigstate(curlwp);
	mutex_enter(&sc->sc_lock);
	if (sig == PMT_SIG_FATAL) {
		if (how == PMT_SLEEP_KILLABLE)
			sc->sc_ev_sigfatal.ev_count++;
		return PMT_WAIT_INTR;
	}
	if (how == PMT_SLEEP_INTERRUPTIBLE && sig == PMT_SIG_OTHER && *pend)
		return PMT_WAIT_INTR;
	if (how == PMT_SLEEP_KILLABLE && sig == PMT_SIG_OTHER && !*pend)
		sc->sc_ev_sigkept.ev_count++;
	*pend = sig != PMT_SIG_NONE;
	slice = timo == 0 ? PMT_SIGSLICE : MIN(timo, PMT_SIGSLICE);
	if (how == PMT_SLEEP_KILLABLE && sig != PMT_SIG_NONE) {
		(void)cv_timedwait(cv, &sc->sc_lock, slice);
		return 0;
	}
	error = cv_timedwait_sig(cv, &sc->sc_lock, slice);
	if (how == PMT_SLEEP_INTERRUPTIBLE && error == ERESTART)
		return PMT_WAIT_RESTART;
	if (how == PMT_SLEEP_INTERRUPTIBLE && error == EINTR)
		return PMT_WAIT_INTR;
	/* Killable: a signal woke it; pmt_sigstate decides next time. */
	return 0;
}

/*
 * Sleeps until the core's condition holds, re-testing it after every
 * wakeup, a signal ends the wait as `how' allows (pmt_sleep), or the
 * timeout (one deadline across wakeups) passes. Called with the master
 * lock held.
 */
int
pmt_os_wait(void *host, unsigned int what, size_t arg, unsigned int how,
    unsigned int secs)
{
	struct pmt_softc *sc = host;
	struct timeval start;
	int64_t timo = 0, spent;
	int left, r = PMT_WAITED;
	bool pend = false;

	if (secs != 0)
		timo = MIN((int64_t)secs * hz, INT_MAX);
	getmicrouptime(&start);
	mutex_enter(&sc->sc_lock);
	while (!pmt_core_mcond(sc->sc_core, what, arg)) {
		left = 0;			/* no timeout */
		if (timo != 0) {
			spent = pmt_ticks_since(&start);
			if (spent >= timo) {
				r = PMT_WAIT_TIMEDOUT;
				break;
			}
			left = (int)MAX(timo - spent, 1);
		}
		if ((r = pmt_sleep(sc, &sc->sc_mcv, how, left, &pend)) != 0) {
			/* A signal, but the wait may be over anyway. */
			if (pmt_core_mcond(sc->sc_core, what, arg))
				r = PMT_WAITED;
			break;
		}
	}
	mutex_exit(&sc->sc_lock);
	return r;
}

void
pmt_os_wake_slave(void *host)
{
	struct pmt_softc *sc = host;

	mutex_enter(&sc->sc_lock);
	cv_broadcast(&sc->sc_scv);
	selnotify(&sc->sc_rsel, POLLIN | POLLRDNORM, NOTE_SUBMIT);
	mutex_exit(&sc->sc_lock);
}

/* The daemon acted: the master waiter, if any, re-tests its condition. */
static void
pmt_wake_master(struct pmt_softc *sc)
{

	mutex_enter(&sc->sc_lock);
	cv_broadcast(&sc->sc_mcv);
	mutex_exit(&sc->sc_lock);
}

/* The superuser, for any privilege (NetBSD's st and ch ask for no other). */
bool
pmt_os_privileged(void *host, void *cred, unsigned int what)
{

	if (cred == NULL)
		return false;
	return kauth_authorize_generic(cred, KAUTH_GENERIC_ISSUSER, NULL) == 0;
}

/*
 * No data area on NetBSD: payloads travel in the frames (the core never
 * asks for these without one).
 */
int
pmt_os_area_read(void *host, size_t off, void *dst, size_t n)
{

	return EINVAL;
}

int
pmt_os_area_write(void *host, size_t off, const void *src, size_t n)
{

	return EINVAL;
}

int
pmt_os_area_copyin(void *host, void *ucookie, size_t uoff, size_t aoff,
    size_t n)
{

	return EINVAL;
}

int
pmt_os_area_copyout(void *host, void *ucookie, size_t uoff, size_t aoff,
    size_t n)
{

	return EINVAL;
}

/* Pointers an ioctl's argument holds (CHIOGSTATUS's arrays). */
int
pmt_os_ucopyin(void *host, uint64_t uaddr, void *dst, size_t n)
{

	return copyin((const void *)(uintptr_t)uaddr, dst, n);
}

int
pmt_os_ucopyout(void *host, uint64_t uaddr, const void *src, size_t n)
{

	return copyout(src, (void *)(uintptr_t)uaddr, n);
}

/* The core's channel lock: a kmutex, so LOCKDEBUG and lockstat see it. */
void
pmt_os_lock(void *host)
{
	struct pmt_softc *sc = host;

	mutex_enter(&sc->sc_clock);
}

void
pmt_os_unlock(void *host)
{
	struct pmt_softc *sc = host;

	mutex_exit(&sc->sc_clock);
}

void
pmt_os_panic(const char *msg, size_t len)
{

	panic("pmt: %.*s", (int)MIN(len, 200), msg);
}

/* ----- the master lock ---------------------------------------------------- */

/*
 * Takes the master lock: nothing of the caller's is in flight, so an
 * interruptible wait (how) gives way to a signal (EINTR or ERESTART); the
 * close paths wait uninterruptibly.
 */
static int
pmt_mlock_enter(struct pmt_softc *sc, u_int how)
{
	int r = 0;
	bool pend = false;

	mutex_enter(&sc->sc_lock);
	while ((sc->sc_flags & PMT_MLOCKED) != 0) {
		if ((r = pmt_sleep(sc, &sc->sc_lockcv, how, 0, &pend)) != 0)
			break;
	}
	if (r == 0)
		sc->sc_flags |= PMT_MLOCKED;
	mutex_exit(&sc->sc_lock);
	if (r == 0)
		return 0;
	return r == PMT_WAIT_RESTART ? ERESTART : EINTR;
}

static void
pmt_mlock_exit(struct pmt_softc *sc)
{

	mutex_enter(&sc->sc_lock);
	KASSERT((sc->sc_flags & PMT_MLOCKED) != 0);
	sc->sc_flags &= ~PMT_MLOCKED;
	cv_broadcast(&sc->sc_lockcv);
	mutex_exit(&sc->sc_lock);
}

/* ----- nodes -------------------------------------------------------------- */

/* The pair a node belongs to, or NULL. */
static struct pmt_softc *
pmt_lookup(dev_t dev)
{
	u_int m = minor(dev), i = PMT_MINOR_INDEX(m);

	if (pmt_softcs == NULL || (m & ~(PMT_MINOR_CSLAVE | 0xffff)) != 0)
		return NULL;
	switch (PMT_MINOR_KIND(m)) {
	case PMT_MINOR_TMASTER:
		i = PMTM_UNIT(m);
		/* FALLTHROUGH */
	case PMT_MINOR_TSLAVE:
		return i < pmt_ntapes ? &pmt_softcs[i] : NULL;
	default:
		return i < pmt_nchangers ? &pmt_softcs[pmt_ntapes + i] : NULL;
	}
}

static bool
pmt_is_slave(dev_t dev)
{
	u_int k = PMT_MINOR_KIND(minor(dev));

	return k == PMT_MINOR_TSLAVE || k == PMT_MINOR_CSLAVE;
}

/* Marks an end open (PMT_MOPEN or PMT_SOPEN): EBUSY if it is, ENXIO
 * while the module goes. */
static int
pmt_claim(struct pmt_softc *sc, int which)
{
	int error = 0;

	mutex_enter(&sc->sc_lock);
	if (sc->sc_flags & PMT_DYING)
		error = ENXIO;
	else if (sc->sc_flags & which)
		error = EBUSY;
	else {
		sc->sc_flags |= which;
		/* A new daemon: the slave's cancel is over. */
		if (which == PMT_SOPEN)
			sc->sc_flags &= ~PMT_SCANCEL;
	}
	mutex_exit(&sc->sc_lock);
	return error;
}

static void
pmt_unclaim(struct pmt_softc *sc, int which)
{

	mutex_enter(&sc->sc_lock);
	sc->sc_flags &= ~which;
	mutex_exit(&sc->sc_lock);
}

/* ----- master: the tape device, the changer ------------------------------- */

/*
 * A master open: one at a time, as st's and ch's (a second is EBUSY at
 * once). A tape node passes the minor's node and mode to the core; a
 * changer's open asks the library what ch asks at open.
 */
static int
pmtmopen(struct pmt_softc *sc, dev_t dev, int flag)
{
	u_int m = minor(dev);
	unsigned int flags = 0;
	int error;

	if (sc->sc_kind == PMT_KIND_TAPE) {
		switch (PMTM_NODE(m)) {
		case PMTM_NOREWIND:
			flags |= PMT_MOPEN_NOREWIND;
			break;
		case PMTM_EJECT:
			flags |= PMT_MOPEN_EJECT;
			break;
		case PMTM_CONTROL:
			flags |= PMT_MOPEN_NOREWIND | PMT_MOPEN_CONTROL;
			break;
		}
		flags |= PMTM_MODE(m) << PMT_MOPEN_MODE_SHIFT;
	}
	if (flag & FREAD)
		flags |= PMT_MOPEN_READ;
	if (flag & FWRITE)
		flags |= PMT_MOPEN_WRITE;
	if (flag & FNONBLOCK)
		flags |= PMT_MOPEN_NONBLOCK;
	if ((error = pmt_claim(sc, PMT_MOPEN)) != 0)
		return error;
	if ((error = pmt_mlock_enter(sc, PMT_SLEEP_INTERRUPTIBLE)) == 0) {
		error = pmt_core_mopen(sc->sc_core, sc, flags);
		pmt_mlock_exit(sc);
	}
	if (error != 0)
		pmt_unclaim(sc, PMT_MOPEN);
	return error;
}

/*
 * The last close of a master (specfs calls d_close once, when the last
 * reference goes): the filemarks, rewind or unload st's close does, then
 * the daemon gets the close. The core waits uninterruptibly here.
 */
static int
pmtmclose(struct pmt_softc *sc)
{
	int error, error2;

	(void)pmt_mlock_enter(sc, PMT_SLEEP_UNINTERRUPTIBLE);
	error = pmt_core_mflush(sc->sc_core, sc);
	error2 = pmt_core_mrelease(sc->sc_core, sc);
	pmt_mlock_exit(sc);
	pmt_unclaim(sc, PMT_MOPEN);
	return error != 0 ? error : error2;
}

/*
 * A master read or write, in pieces of at most MAXPHYS as physio(9) gives
 * st(4) its transfers: each piece one record (or its fixed blocks), the
 * next piece only after a whole one. A changer's read is ch's event word.
 */
static int
pmtmrw(struct pmt_softc *sc, struct uio *uio)
{
	struct pmt_ucookie uc;
	size_t done;
	int error, error2;

	if ((error = pmt_mlock_enter(sc, PMT_SLEEP_INTERRUPTIBLE)) != 0)
		return error;
	do {
		pmt_uc_init(&uc, uio, MAXPHYS);
		done = 0;
		if (uio->uio_rw == UIO_READ)
			error = pmt_core_mread(sc->sc_core, sc, &uc, uc.uc_len,
			    &done);
		else
			error = pmt_core_mwrite(sc->sc_core, sc, &uc, uc.uc_len,
			    &done);
		/* A count reported with an error: a partial transfer. */
		error2 = pmt_uc_settle(&uc, done);
		pmt_uc_fini(&uc);
		if (error == 0)
			error = error2;
	} while (error == 0 && done == uc.uc_len && done != 0 &&
	    uio->uio_resid > 0 && sc->sc_kind == PMT_KIND_TAPE);
	pmt_mlock_exit(sc);
	return error;
}

/*
 * NetBSD's mtio and CHIO ioctls. The kernel has copied the argument in
 * (data, IOCPARM_LEN(cmd) bytes) and copies it out afterwards.
 */
static int
pmtmioctl(struct pmt_softc *sc, u_long cmd, void *data, int flag, struct lwp *l)
{
	int error;

	/* fcntl(F_SETFL, O_NONBLOCK): the flag is the file's. */
	if (cmd == FIONBIO)
		return 0;
	if (sc->sc_kind == PMT_KIND_TAPE) {
		switch (cmd) {
		case MTIOCTOP:
		case MTIOCGET:
		case MTIOCIEOT:
		case MTIOCEEOT:
		case MTIOCRDSPOS:
		case MTIOCRDHPOS:
		case MTIOCSLOCATE:
		case MTIOCHLOCATE:
			break;
		default:
			return ENOTTY;
		}
	} else {
		switch (cmd) {
		case CHIOMOVE:
		case CHIOEXCHANGE:
		case CHIOPOSITION:
		case CHIOGPICKER:
		case CHIOSPICKER:
		case CHIOGPARAMS:
		case CHIOIELEM:
		case OCHIOGSTATUS:
		case CHIOGSTATUS:
		case CHIOSVOLTAG:
			break;
		default:
			return ENOTTY;
		}
	}
	if ((error = pmt_mlock_enter(sc, PMT_SLEEP_INTERRUPTIBLE)) != 0)
		return error;
	error = pmt_core_mioctl_data(sc->sc_core, sc, l->l_cred, cmd, data,
	    (flag & FWRITE) ? PMT_IOCTL_WRITABLE : 0);
	pmt_mlock_exit(sc);
	return error;
}

/* ----- slave: the daemon's end -------------------------------------------- */

/* Node permissions decide who may serve a pair (the slave sees all data). */
static int
pmtsopen(struct pmt_softc *sc)
{
	int error;

	if ((error = pmt_claim(sc, PMT_SOPEN)) != 0)
		return error;
	if ((error = pmt_core_sopen(sc->sc_core)) != 0)
		pmt_unclaim(sc, PMT_SOPEN);
	return error;
}

/*
 * The slave is going (its last close, or revoke): every wait on it ends
 * now (blocked reads return EIO), pollers see POLLHUP, knotes EV_EOF.
 */
static void
pmtscancel(struct pmt_softc *sc)
{

	mutex_enter(&sc->sc_lock);
	sc->sc_flags |= PMT_SCANCEL;
	cv_broadcast(&sc->sc_scv);
	selnotify(&sc->sc_rsel, POLLHUP, NOTE_SUBMIT);
	mutex_exit(&sc->sc_lock);
}

/* The daemon is gone: every pending request fails, every master waiter
 * wakes now and gets an error. */
static int
pmtsclose(struct pmt_softc *sc)
{

	/* Without d_cancel (before NetBSD 10), the close ends the reads. */
	pmtscancel(sc);
	pmt_core_sclose(sc->sc_core);
	mutex_enter(&sc->sc_lock);
	sc->sc_flags &= ~PMT_SOPEN;
	cv_broadcast(&sc->sc_mcv);
	mutex_exit(&sc->sc_lock);
	return 0;
}

/*
 * Reads queued requests (whole frames); blocks until there is one unless
 * the file is non-blocking (EWOULDBLOCK, which is EAGAIN). A wait ends at
 * a signal and when the slave is cancelled (EIO).
 */
static int
pmtsread(struct pmt_softc *sc, struct uio *uio, int ioflag)
{
	struct pmt_ucookie uc;
	size_t done;
	int error, r;
	bool pend = false;

	pmt_uc_init(&uc, uio, uio->uio_resid);
	for (;;) {
		done = 0;
		error = pmt_core_sread(sc->sc_core, &uc, uc.uc_len, &done);
		if (pmt_uc_settle(&uc, done) != 0 && error == 0)
			error = EFAULT;
		if (error != EAGAIN || (ioflag & IO_NDELAY) != 0)
			break;
		r = 0;
		mutex_enter(&sc->sc_lock);
		while (!pmt_core_readable(sc->sc_core) &&
		    (sc->sc_flags & PMT_SCANCEL) == 0) {
			r = pmt_sleep(sc, &sc->sc_scv, PMT_SLEEP_INTERRUPTIBLE,
			    0, &pend);
			if (r != 0)
				break;
		}
		if (r == 0 && (sc->sc_flags & PMT_SCANCEL) != 0)
			error = EIO;
		else if (r != 0)
			error = r == PMT_WAIT_RESTART ? ERESTART : EINTR;
		else
			error = 0;
		mutex_exit(&sc->sc_lock);
		if (error != 0)
			break;
	}
	pmt_uc_fini(&uc);
	/* Requests left the window: a writer may go on. */
	if (done > 0)
		pmt_wake_master(sc);
	return error;
}

/* Takes replies; a malformed one is refused (EINVAL, or a short count). */
static int
pmtswrite(struct pmt_softc *sc, struct uio *uio)
{
	struct pmt_ucookie uc;
	size_t done = 0;
	int error, error2;

	pmt_uc_init(&uc, uio, uio->uio_resid);
	error = pmt_core_swrite(sc->sc_core, &uc, uc.uc_len, &done);
	error2 = pmt_uc_settle(&uc, done);
	pmt_uc_fini(&uc);
	pmt_wake_master(sc);
	return error != 0 ? error : error2;
}

/*
 * Readable when a request is queued; POLLHUP (and no POLLOUT) once the
 * slave is cancelled, otherwise always writable (replies are taken at
 * once).
 */
static int
pmtspoll(struct pmt_softc *sc, int events, struct lwp *l)
{
	int revents = 0;

	mutex_enter(&sc->sc_lock);
	if ((sc->sc_flags & PMT_SCANCEL) != 0) {
		revents = POLLHUP;
	} else {
		revents = events & (POLLOUT | POLLWRNORM);
		if ((events & (POLLIN | POLLRDNORM)) != 0) {
			if (pmt_core_readable(sc->sc_core))
				revents |= events & (POLLIN | POLLRDNORM);
			else
				selrecord(l, &sc->sc_rsel);
		}
	}
	mutex_exit(&sc->sc_lock);
	return revents;
}

static void
filt_pmtsrdetach(struct knote *kn)
{
	struct pmt_softc *sc = kn->kn_hook;

	mutex_enter(&sc->sc_lock);
#if __NetBSD_Version__ >= 1000000000
	selremove_knote(&sc->sc_rsel, kn);
#else
	SLIST_REMOVE(&sc->sc_rsel.sel_klist, kn, knote, kn_selnext);
#endif
	mutex_exit(&sc->sc_lock);
}

/*
 * The bytes a read would return now (whole frames), and EV_EOF once the
 * slave is cancelled. From selnotify (NOTE_SUBMIT) sc_lock is held.
 */
static int
filt_pmtsread(struct knote *kn, long hint)
{
	struct pmt_softc *sc = kn->kn_hook;
	int ready;

	if (hint != NOTE_SUBMIT)
		mutex_enter(&sc->sc_lock);
	kn->kn_data = (int64_t)pmt_core_spending(sc->sc_core);
	ready = kn->kn_data > 0;
	if ((sc->sc_flags & PMT_SCANCEL) != 0) {
#if __NetBSD_Version__ >= 1000000000
		/* kn_flags is the kqueue's (its lock) since NetBSD 10. */
		knote_set_eof(kn, 0);
#else
		kn->kn_flags |= EV_EOF;
#endif
		ready = 1;
	}
	if (hint != NOTE_SUBMIT)
		mutex_exit(&sc->sc_lock);
	return ready;
}

static const struct filterops pmts_read_filtops = {
#if __NetBSD_Version__ >= 1000000000
	.f_flags = FILTEROP_ISFD | FILTEROP_MPSAFE,
#else
	.f_isfd = 1,
#endif
	.f_attach = NULL,
	.f_detach = filt_pmtsrdetach,
	.f_event = filt_pmtsread,
};

static int
pmtskqfilter(struct pmt_softc *sc, dev_t dev, struct knote *kn)
{

	switch (kn->kn_filter) {
	case EVFILT_READ:
		kn->kn_fop = &pmts_read_filtops;
		kn->kn_hook = sc;
		mutex_enter(&sc->sc_lock);
#if __NetBSD_Version__ >= 1000000000
		selrecord_knote(&sc->sc_rsel, kn);
#else
		SLIST_INSERT_HEAD(&sc->sc_rsel.sel_klist, kn, kn_selnext);
#endif
		mutex_exit(&sc->sc_lock);
		return 0;
	case EVFILT_WRITE:
		/* Replies are taken at once: always writable. */
		return seltrue_kqfilter(dev, kn);
	default:
		return EINVAL;
	}
}

/* ----- the cdevsw: dispatch by minor -------------------------------------- */

static int
pmtopen(dev_t dev, int flag, int mode, struct lwp *l)
{
	struct pmt_softc *sc = pmt_lookup(dev);

	if (sc == NULL)
		return ENXIO;
	return pmt_is_slave(dev) ? pmtsopen(sc) : pmtmopen(sc, dev, flag);
}

#if __NetBSD_Version__ >= 1000000000
/*
 * NetBSD 10's specfs calls d_cancel at the last close and at revoke,
 * before it waits for the calls inside the driver and calls d_close: a
 * slave's blocked reads must end. A master's drive command in flight is
 * waited for (until it completes, the daemon goes or the timeout), as
 * st's.
 */
static int
pmtcancel(dev_t dev, int flag, int mode, struct lwp *l)
{
	struct pmt_softc *sc = pmt_lookup(dev);

	if (sc != NULL && pmt_is_slave(dev))
		pmtscancel(sc);
	return 0;
}
#endif

static int
pmtclose(dev_t dev, int flag, int mode, struct lwp *l)
{
	struct pmt_softc *sc = pmt_lookup(dev);

	if (sc == NULL)
		return ENXIO;
	return pmt_is_slave(dev) ? pmtsclose(sc) : pmtmclose(sc);
}

static int
pmtread(dev_t dev, struct uio *uio, int ioflag)
{
	struct pmt_softc *sc = pmt_lookup(dev);

	if (sc == NULL)
		return ENXIO;
	return pmt_is_slave(dev) ? pmtsread(sc, uio, ioflag) : pmtmrw(sc, uio);
}

static int
pmtwrite(dev_t dev, struct uio *uio, int ioflag)
{
	struct pmt_softc *sc = pmt_lookup(dev);

	if (sc == NULL)
		return ENXIO;
	if (pmt_is_slave(dev))
		return pmtswrite(sc, uio);
	/* ch's d_write is nowrite. */
	if (sc->sc_kind == PMT_KIND_CHANGER)
		return ENODEV;
	return pmtmrw(sc, uio);
}

static int
pmtioctl(dev_t dev, u_long cmd, void *data, int flag, struct lwp *l)
{
	struct pmt_softc *sc = pmt_lookup(dev);

	if (sc == NULL)
		return ENXIO;
	if (pmt_is_slave(dev)) {
		/* The daemon's O_NONBLOCK reaches pmtsread as IO_NDELAY. */
		return cmd == FIONBIO ? 0 : ENOTTY;
	}
	return pmtmioctl(sc, cmd, data, flag, l);
}

static int
pmtpoll(dev_t dev, int events, struct lwp *l)
{
	struct pmt_softc *sc = pmt_lookup(dev);

	if (sc == NULL)
		return POLLERR;
	if (pmt_is_slave(dev))
		return pmtspoll(sc, events, l);
	/* Masters are always ready, as st's. */
	return seltrue(dev, events, l);
}

static int
pmtkqfilter(dev_t dev, struct knote *kn)
{
	struct pmt_softc *sc = pmt_lookup(dev);

	if (sc == NULL)
		return ENXIO;
	if (pmt_is_slave(dev))
		return pmtskqfilter(sc, dev, kn);
	return seltrue_kqfilter(dev, kn);
}

/* ----- attachment and module ---------------------------------------------- */

MODULE(MODULE_CLASS_DRIVER, pmt, NULL);

static void
pmt_free_units(size_t n)
{
	struct pmt_softc *sc;
	size_t i;

	for (i = 0; i < n; i++) {
		sc = &pmt_softcs[i];
		pmt_core_unit_free(sc->sc_core);
		evcnt_detach(&sc->sc_ev_sigfatal);
		evcnt_detach(&sc->sc_ev_sigkept);
		seldestroy(&sc->sc_rsel);
		cv_destroy(&sc->sc_scv);
		cv_destroy(&sc->sc_mcv);
		cv_destroy(&sc->sc_lockcv);
		mutex_destroy(&sc->sc_clock);
		mutex_destroy(&sc->sc_lock);
	}
	kmem_free(pmt_softcs, pmt_nsoftcs * sizeof(*pmt_softcs));
	pmt_softcs = NULL;
	pmt_ntapes = pmt_nchangers = 0;
	pmt_nsoftcs = 0;
}

/* The pairs' limits (modload properties, or the defaults). */
struct pmt_limits {
	uint32_t	l_nunits;	/* tape pairs, 1-PMT_MAXUNITS */
	uint32_t	l_nchangers;	/* changer pairs, 0-32 */
	uint32_t	l_window_kb;	/* write-behind window, KiB */
	uint32_t	l_ring;		/* requests in flight */
	uint32_t	l_timeout;	/* command timeout, s (0: st's) */
};

/* Makes the pairs; ENOMEM or EINVAL (a limit out of range) otherwise. */
static int
pmt_make_units(const struct pmt_limits *lim)
{
	struct pmt_core_params p = {
		.p_abi = PMT_ABI_NETBSD,
		.p_ring = lim->l_ring,
		.p_timeout = lim->l_timeout,
	};
	struct pmt_softc *sc;
	size_t i, n;

	if (lim->l_nunits < 1 || lim->l_nunits > PMT_MAXUNITS ||
	    lim->l_nchangers > PMT_MAXCHANGERS ||
	    lim->l_window_kb < 4 || lim->l_window_kb > (1U << 20))
		return EINVAL;
	p.p_window = lim->l_window_kb * 1024;
	n = (size_t)lim->l_nunits + lim->l_nchangers;
	pmt_softcs = kmem_zalloc(n * sizeof(*pmt_softcs), KM_SLEEP);
	pmt_nsoftcs = n;
	for (i = 0; i < n; i++) {
		sc = &pmt_softcs[i];
		sc->sc_kind = i < lim->l_nunits ?
		    PMT_KIND_TAPE : PMT_KIND_CHANGER;
		sc->sc_index = i < lim->l_nunits ? i : i - lim->l_nunits;
		mutex_init(&sc->sc_lock, MUTEX_DEFAULT, IPL_NONE);
		mutex_init(&sc->sc_clock, MUTEX_DEFAULT, IPL_NONE);
		cv_init(&sc->sc_lockcv, "pmtmlock");
		cv_init(&sc->sc_mcv, "pmtm");
		cv_init(&sc->sc_scv, "pmts");
		selinit(&sc->sc_rsel);
		snprintf(sc->sc_name, sizeof(sc->sc_name), "%s%u",
		    sc->sc_kind == PMT_KIND_TAPE ? "pmt" : "pmch",
		    sc->sc_index);
		evcnt_attach_dynamic(&sc->sc_ev_sigkept, EVCNT_TYPE_MISC, NULL,
		    sc->sc_name, "signal kept pending");
		evcnt_attach_dynamic(&sc->sc_ev_sigfatal, EVCNT_TYPE_MISC, NULL,
		    sc->sc_name, "fatal signal");
		p.p_kind = sc->sc_kind;
		sc->sc_core = pmt_core_unit_new(sc->sc_index, &p, sc);
		if (sc->sc_core == NULL) {
			pmt_free_units(i + 1);
			return ENOMEM;
		}
	}
	pmt_ntapes = lim->l_nunits;
	pmt_nchangers = lim->l_nchangers;
	return 0;
}

/*
 * A kernel's pseudo-device: `pseudo-device pmt N' makes N tape pairs and
 * PMT_NCHANGERS changer pairs (config(1) calls this at boot; the devsw is
 * config's, from the majors line).
 */
void
pmtattach(int n)
{
	struct pmt_limits lim = {
		.l_nunits = n > 0 ? MIN((u_int)n, PMT_MAXUNITS) : PMT_NUNITS,
		.l_nchangers = PMT_NCHANGERS,
		.l_window_kb = PMT_WINDOW_KB,
		.l_ring = PMT_RING,
		.l_timeout = PMT_TIMEOUT,
	};
	int error;

	if ((error = pmt_make_units(&lim)) != 0)
		aprint_error("pmt: cannot attach %d pairs: error %d\n",
		    n, error);
}

#ifdef _MODULE
/* Clears the dying mark of the first n pairs: the unload did not happen. */
static void
pmt_revive(size_t n)
{
	struct pmt_softc *sc;
	size_t i;

	for (i = 0; i < n; i++) {
		sc = &pmt_softcs[i];
		mutex_enter(&sc->sc_lock);
		sc->sc_flags &= ~PMT_DYING;
		mutex_exit(&sc->sc_lock);
	}
}

/*
 * A modload(8) property: an integer (modload -i) or a decimal string
 * (modload -s). Absent: *v is left alone; anything else is EINVAL.
 */
static int
pmt_prop(prop_dictionary_t props, const char *key, uint32_t *v)
{
	const char *str;
	char *end;
	u_long n;

	if (prop_dictionary_get_uint32(props, key, v))
		return 0;
	if (prop_dictionary_get_cstring_nocopy(props, key, &str)) {
		n = strtoul(str, &end, 10);
		if (*str == '\0' || *end != '\0' || n > UINT32_MAX)
			return EINVAL;
		*v = (uint32_t)n;
		return 0;
	}
	return prop_dictionary_get(props, key) == NULL ? 0 : EINVAL;
}

/*
 * modload(8) properties: nunits, nchangers, window_kb, ring, timeout
 * (`modload -i nunits=8 pmt'), as the Linux module's parameters.
 */
static int
pmt_init(prop_dictionary_t props)
{
	struct pmt_limits lim = {
		.l_nunits = PMT_NUNITS,
		.l_nchangers = PMT_NCHANGERS,
		.l_window_kb = PMT_WINDOW_KB,
		.l_ring = PMT_RING,
		.l_timeout = PMT_TIMEOUT,
	};
	devmajor_t bmajor = NODEVMAJOR, cmajor = NODEVMAJOR;
	int error;

	if (props != NULL &&
	    ((error = pmt_prop(props, "nunits", &lim.l_nunits)) != 0 ||
	    (error = pmt_prop(props, "nchangers", &lim.l_nchangers)) != 0 ||
	    (error = pmt_prop(props, "window_kb", &lim.l_window_kb)) != 0 ||
	    (error = pmt_prop(props, "ring", &lim.l_ring)) != 0 ||
	    (error = pmt_prop(props, "timeout", &lim.l_timeout)) != 0))
		return error;
	if ((error = pmt_make_units(&lim)) != 0)
		return error;
	/* The kernel's major if its majors file has one, else a dynamic one. */
	error = devsw_attach("pmt", NULL, &bmajor, &pmt_cdevsw, &cmajor);
	if (error != 0)
		pmt_free_units(pmt_nsoftcs);
	return error;
}

/*
 * Unloading is refused while any node is open: every pair is marked dying
 * under its lock first, so no open can slip in between the check and the
 * detach. (NetBSD 10's devsw_detach also waits for calls in progress.)
 */
static int
pmt_fini(void)
{
	struct pmt_softc *sc;
	size_t i;

	for (i = 0; i < pmt_nsoftcs; i++) {
		sc = &pmt_softcs[i];
		mutex_enter(&sc->sc_lock);
		if ((sc->sc_flags & (PMT_MOPEN | PMT_SOPEN)) != 0) {
			mutex_exit(&sc->sc_lock);
			pmt_revive(i);
			return EBUSY;
		}
		sc->sc_flags |= PMT_DYING;
		mutex_exit(&sc->sc_lock);
	}
#if __NetBSD_Version__ >= 1000000000
	devsw_detach(NULL, &pmt_cdevsw);
#else
	{
		int error;

		if ((error = devsw_detach(NULL, &pmt_cdevsw)) != 0) {
			pmt_revive(pmt_nsoftcs);
			return error;
		}
	}
#endif
	pmt_free_units(pmt_nsoftcs);
	return 0;
}
#endif /* _MODULE */

static int
pmt_modcmd(modcmd_t cmd, void *arg)
{

#ifdef _MODULE
	switch (cmd) {
	case MODULE_CMD_INIT:
		return pmt_init(arg);
	case MODULE_CMD_FINI:
		return pmt_fini();
	default:
		return ENOTTY;
	}
#else
	/* Built in: pmtattach made the pairs, config(1) the devsw. */
	if (cmd == MODULE_CMD_INIT)
		return 0;
	return ENOTTY;
#endif
}
