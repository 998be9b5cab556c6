/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * pmt: pseudo-tape device pairs. NetBSD glue.
 *
 * Each unit N is a pair, like a pty (sys/kern/tty_pty.c):
 *   pmtm: master, an st(4)-compatible tape. Minors as st's: the mode in the
 *         low two bits (0 rewinding, 1 no-rewind), the unit from bit 4 on,
 *         so /dev/rpmtm0 is minor 0 and /dev/nrpmtm0 minor 1, as rst0/nrst0.
 *   pmts: slave, minor N: a daemon reads drive requests, writes replies
 *         (include/pmt_proto.h).
 *
 * The behaviour lives in the Rust core (include/pmt_core.h), created with
 * NetBSD's ABI and policy: NetBSD's mtio numbers, its errno values, early
 * warning reported as EIO on the next transfer once MTEWARN is set, two
 * filemarks at close. This file registers the two cdevsw tables over one
 * softc per unit, serialises master calls, sleeps and wakes, and moves data
 * with uiomove() through the core's copy cookie.
 */

#include <sys/cdefs.h>
__KERNEL_RCSID(0, "pmt_netbsd.c: pmt pseudo-tape pairs");

#include <sys/param.h>
#include <sys/systm.h>
#include <sys/conf.h>
#include <sys/condvar.h>
#include <sys/errno.h>
#include <sys/event.h>
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
#include <sys/select.h>
#include <sys/uio.h>
#include <sys/vnode.h>

#include "pmt_core.h"
#include "pmt_netbsd.h"

/* Limits of each unit: as the Linux module's defaults. */
#define PMT_RING	512		/* requests in flight */
#define PMT_WINDOW	(4 << 20)	/* bytes of write-behind data held */
#define PMT_TIMEOUT	900		/* drive command timeout, s (st's) */

/* Master minors, laid out as st's (sys/dev/scsipi/st.c). */
#define PMTM_MODE(dev)	(minor(dev) & 0x3)
#define PMTM_UNIT(dev)	(minor(dev) >> 4)
#define PMTM_REWIND	0		/* rewind at close */
#define PMTM_NOREWIND	1		/* leave the tape where it is */
/* Modes 2 (eject at close) and 3 (control) are not provided: ENXIO.
 * The density bits (minor >> 2) & 3 are ignored: the drive has one. */
#define PMTS_UNIT(dev)	minor(dev)

/* sc_flags */
#define PMT_MOPEN	0x01		/* a master file is open */
#define PMT_SOPEN	0x02		/* a daemon holds the slave */
#define PMT_MLOCKED	0x04		/* the master lock is held */
#define PMT_DYING	0x08		/* the module is being unloaded */

struct pmt_softc {
	u_int			 sc_unit;
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
	 * and replies both sides share. Nothing sleeps under it. It is taken
	 * after sc_lock when a waiter tests the core's state, never before it.
	 */
	kmutex_t		 sc_clock;
	/*
	 * The master lock, PMT_MLOCKED: serialises master system calls on
	 * the unit as st's does, and is held across sleeps for the daemon
	 * (a sleep lock, not a kmutex, so that it can be held for a whole
	 * drive command and waited for interruptibly). Master calls that
	 * find it held sleep on sc_lockcv; pmt_mlock_exit broadcasts.
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
	 * Blocking slave reads sleep on sc_scv until pmt_core_readable;
	 * pmt_os_wake_slave broadcasts it when the core queues a request.
	 */
	kcondvar_t		 sc_scv;
	/*
	 * Slave pollers and EVFILT_READ knotes; selnotify() with sc_lock
	 * held, wherever sc_scv is broadcast.
	 */
	struct selinfo		 sc_rsel;
	int			 sc_flags;	/* PMT_*, under sc_lock */
};

static struct pmt_softc *pmt_softcs;	/* PMT_NUNITS of them, kmem */

static dev_type_open(pmtmopen);
static dev_type_close(pmtmclose);
static dev_type_read(pmtmread);
static dev_type_write(pmtmwrite);
static dev_type_ioctl(pmtmioctl);

static dev_type_open(pmtsopen);
static dev_type_close(pmtsclose);
static dev_type_read(pmtsread);
static dev_type_write(pmtswrite);
static dev_type_ioctl(pmtsioctl);
static dev_type_poll(pmtspoll);
static dev_type_kqfilter(pmtskqfilter);

/*
 * NetBSD 10's cdevsw also has d_cancel, d_devtounit and d_cfdriver: the
 * designated initialisers leave them NULL (no cancel hook, not an
 * autoconf driver).
 */
static const struct cdevsw pmtm_cdevsw = {
	.d_open = pmtmopen,
	.d_close = pmtmclose,
	.d_read = pmtmread,
	.d_write = pmtmwrite,
	.d_ioctl = pmtmioctl,
	.d_stop = nostop,
	.d_tty = notty,
	.d_poll = nopoll,
	.d_mmap = nommap,
	.d_kqfilter = nokqfilter,
	.d_discard = nodiscard,
	.d_flag = D_TAPE | D_MPSAFE,
};

static const struct cdevsw pmts_cdevsw = {
	.d_open = pmtsopen,
	.d_close = pmtsclose,
	.d_read = pmtsread,
	.d_write = pmtswrite,
	.d_ioctl = pmtsioctl,
	.d_stop = nostop,
	.d_tty = notty,
	.d_poll = pmtspoll,
	.d_mmap = nommap,
	.d_kqfilter = pmtskqfilter,
	.d_discard = nodiscard,
	.d_flag = D_OTHER | D_MPSAFE,
};

/* ----- services for the core ------------------------------------------------ */

void *
pmt_os_alloc(size_t size)
{

	/* kmem_alloc(0) is not allowed; the core never asks for it. */
	if (size == 0)
		return NULL;
	/* KM_SLEEP waits for memory rather than fail: callers may sleep. */
	return kmem_alloc(size, KM_SLEEP);
}

void
pmt_os_free(void *p, size_t size)
{

	if (p != NULL)
		kmem_free(p, size);
}

/* The tick counter, for a timeout that spans several wakeups. */
#if __NetBSD_Version__ >= 1000000000
#define pmt_ticks()	((u_int)getticks())
#else
#define pmt_ticks()	((u_int)hardclock_ticks)
#endif

/*
 * Sleeps until the core's condition holds, re-testing it after every
 * wakeup: cv_timedwait_sig for interruptible and killable sleeps (NetBSD
 * has no sleep only fatal signals end), cv_timedwait otherwise. Called
 * with the master lock held.
 */
int
pmt_os_wait(void *host, unsigned int what, size_t arg, unsigned int how, unsigned int secs)
{
	struct pmt_softc *sc = host;
	u_int timo = 0, start, spent;
	int error, left, r = PMT_WAITED;

	if (secs != 0)
		timo = secs <= (u_int)INT_MAX / (u_int)hz ? secs * (u_int)hz : (u_int)INT_MAX;
	start = pmt_ticks();
	mutex_enter(&sc->sc_lock);
	while (!pmt_core_mcond(sc->sc_core, what, arg)) {
		left = 0;			/* no timeout */
		if (timo != 0) {
			spent = pmt_ticks() - start;
			if (spent >= timo) {
				r = PMT_WAIT_TIMEDOUT;
				break;
			}
			left = (int)(timo - spent);
		}
		if (how == PMT_SLEEP_UNINTERRUPTIBLE)
			error = cv_timedwait(&sc->sc_mcv, &sc->sc_lock, left);
		else
			error = cv_timedwait_sig(&sc->sc_mcv, &sc->sc_lock, left);
		if (error == 0 || error == EWOULDBLOCK)
			continue;	/* re-test; the clock decides a timeout */
		if (pmt_core_mcond(sc->sc_core, what, arg))
			break;		/* a signal, but the wait is over anyway */
		r = error == ERESTART ? PMT_WAIT_RESTART : PMT_WAIT_INTR;
		break;
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
pmt_os_area_copyin(void *host, void *ucookie, size_t uoff, size_t aoff, size_t n)
{

	return EINVAL;
}

int
pmt_os_area_copyout(void *host, void *ucookie, size_t uoff, size_t aoff, size_t n)
{

	return EINVAL;
}

/* Pointers an ioctl's argument holds (CHIOGSTATUS's array). */
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

/* ----- the master lock ------------------------------------------------------ */

/* Takes the master lock; with `sig`, a signal ends the wait (EINTR/ERESTART). */
static int
pmt_mlock_enter(struct pmt_softc *sc, bool sig)
{
	int error = 0;

	mutex_enter(&sc->sc_lock);
	while ((sc->sc_flags & PMT_MLOCKED) != 0) {
		if (sig)
			error = cv_wait_sig(&sc->sc_lockcv, &sc->sc_lock);
		else
			cv_wait(&sc->sc_lockcv, &sc->sc_lock);
		if (error != 0)
			break;
	}
	if (error == 0)
		sc->sc_flags |= PMT_MLOCKED;
	mutex_exit(&sc->sc_lock);
	return error;
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

/* ----- master: the tape device ---------------------------------------------- */

static struct pmt_softc *
pmt_lookup(u_int unit)
{

	if (pmt_softcs == NULL || unit >= PMT_NUNITS)
		return NULL;
	return &pmt_softcs[unit];
}

static int
pmtmopen(dev_t dev, int flag, int mode, struct lwp *l)
{
	struct pmt_softc *sc = pmt_lookup(PMTM_UNIT(dev));
	unsigned int flags = 0;
	int error = 0;

	if (sc == NULL)
		return ENXIO;
	switch (PMTM_MODE(dev)) {
	case PMTM_REWIND:
		break;
	case PMTM_NOREWIND:
		flags |= PMT_MOPEN_NOREWIND;
		break;
	default:
		return ENXIO;
	}
	if (flag & FREAD)
		flags |= PMT_MOPEN_READ;
	if (flag & FWRITE)
		flags |= PMT_MOPEN_WRITE;
	if (flag & FNONBLOCK)
		flags |= PMT_MOPEN_NONBLOCK;

	/* A second open fails at once, without waiting for the lock. */
	mutex_enter(&sc->sc_lock);
	if (sc->sc_flags & PMT_DYING)
		error = ENXIO;
	else if (sc->sc_flags & PMT_MOPEN)
		error = EBUSY;
	else
		sc->sc_flags |= PMT_MOPEN;
	mutex_exit(&sc->sc_lock);
	if (error != 0)
		return error;

	if ((error = pmt_mlock_enter(sc, true)) == 0) {
		error = pmt_core_mopen(sc->sc_core, sc, flags);
		pmt_mlock_exit(sc);
	}
	if (error != 0) {
		mutex_enter(&sc->sc_lock);
		sc->sc_flags &= ~PMT_MOPEN;
		mutex_exit(&sc->sc_lock);
	}
	return error;
}

/*
 * The last close of the master (specfs calls d_close once, when the last
 * reference goes): filemarks and rewind as NetBSD's st writes them, then
 * the daemon gets the close. The core sleeps uninterruptibly here.
 */
static int
pmtmclose(dev_t dev, int flag, int mode, struct lwp *l)
{
	struct pmt_softc *sc = pmt_lookup(PMTM_UNIT(dev));
	int error, error2;

	if (sc == NULL)
		return ENXIO;
	(void)pmt_mlock_enter(sc, false);
	error = pmt_core_mflush(sc->sc_core, sc);
	error2 = pmt_core_mrelease(sc->sc_core, sc);
	pmt_mlock_exit(sc);
	mutex_enter(&sc->sc_lock);
	sc->sc_flags &= ~PMT_MOPEN;
	mutex_exit(&sc->sc_lock);
	return error != 0 ? error : error2;
}

static int
pmtmrw(dev_t dev, struct uio *uio)
{
	struct pmt_softc *sc = pmt_lookup(PMTM_UNIT(dev));
	struct pmt_ucookie uc;
	size_t done = 0;
	int error, error2;

	if (sc == NULL)
		return ENXIO;
	if ((error = pmt_mlock_enter(sc, true)) != 0)
		return error;
	pmt_uc_init(&uc, uio);
	if (uio->uio_rw == UIO_READ)
		error = pmt_core_mread(sc->sc_core, sc, &uc, uc.uc_len, &done);
	else
		error = pmt_core_mwrite(sc->sc_core, sc, &uc, uc.uc_len, &done);
	/* A count reported with an error is a partial transfer: keep it. */
	error2 = pmt_uc_settle(&uc, done);
	pmt_uc_fini(&uc);
	pmt_mlock_exit(sc);
	return error != 0 ? error : error2;
}

static int
pmtmread(dev_t dev, struct uio *uio, int ioflag)
{

	return pmtmrw(dev, uio);
}

static int
pmtmwrite(dev_t dev, struct uio *uio, int ioflag)
{

	return pmtmrw(dev, uio);
}

/*
 * NetBSD's mtio ioctls. The kernel has copied the argument in (data,
 * IOCPARM_LEN(cmd) bytes) and copies it out afterwards.
 */
static int
pmtmioctl(dev_t dev, u_long cmd, void *data, int flag, struct lwp *l)
{
	struct pmt_softc *sc = pmt_lookup(PMTM_UNIT(dev));
	int error;

	if (sc == NULL)
		return ENXIO;
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
	case FIONBIO:
		/* fcntl(F_SETFL, O_NONBLOCK): the flag is the file's. */
		return 0;
	default:
		return ENOTTY;
	}
	if ((error = pmt_mlock_enter(sc, true)) != 0)
		return error;
	error = pmt_core_mioctl_data(sc->sc_core, sc, l->l_cred, cmd, data,
	    (flag & FWRITE) ? PMT_IOCTL_WRITABLE : 0);
	pmt_mlock_exit(sc);
	return error;
}

/* ----- slave: the daemon's end ----------------------------------------------- */

/* Node permissions decide who may serve a unit (the slave sees all data). */
static int
pmtsopen(dev_t dev, int flag, int mode, struct lwp *l)
{
	struct pmt_softc *sc = pmt_lookup(PMTS_UNIT(dev));
	int error = 0;

	if (sc == NULL)
		return ENXIO;
	mutex_enter(&sc->sc_lock);
	if (sc->sc_flags & PMT_DYING)
		error = ENXIO;
	else if (sc->sc_flags & PMT_SOPEN)
		error = EBUSY;
	else
		sc->sc_flags |= PMT_SOPEN;
	mutex_exit(&sc->sc_lock);
	if (error != 0)
		return error;
	if ((error = pmt_core_sopen(sc->sc_core)) != 0) {
		mutex_enter(&sc->sc_lock);
		sc->sc_flags &= ~PMT_SOPEN;
		mutex_exit(&sc->sc_lock);
	}
	return error;
}

/* The daemon is gone: every pending request fails, every master waiter
 * wakes now and gets an error. */
static int
pmtsclose(dev_t dev, int flag, int mode, struct lwp *l)
{
	struct pmt_softc *sc = pmt_lookup(PMTS_UNIT(dev));

	if (sc == NULL)
		return ENXIO;
	pmt_core_sclose(sc->sc_core);
	mutex_enter(&sc->sc_lock);
	sc->sc_flags &= ~PMT_SOPEN;
	cv_broadcast(&sc->sc_mcv);
	cv_broadcast(&sc->sc_scv);
	selnotify(&sc->sc_rsel, POLLIN | POLLRDNORM, NOTE_SUBMIT);
	mutex_exit(&sc->sc_lock);
	return 0;
}

/*
 * Reads queued requests (whole frames); blocks until there is one unless
 * the file is non-blocking (EWOULDBLOCK, which is EAGAIN).
 */
static int
pmtsread(dev_t dev, struct uio *uio, int ioflag)
{
	struct pmt_softc *sc = pmt_lookup(PMTS_UNIT(dev));
	struct pmt_ucookie uc;
	size_t done;
	int error;

	if (sc == NULL)
		return ENXIO;
	pmt_uc_init(&uc, uio);
	for (;;) {
		done = 0;
		error = pmt_core_sread(sc->sc_core, &uc, uc.uc_len, &done);
		if (pmt_uc_settle(&uc, done) != 0 && error == 0)
			error = EFAULT;
		if (error != EAGAIN || (ioflag & IO_NDELAY) != 0)
			break;
		mutex_enter(&sc->sc_lock);
		while (!pmt_core_readable(sc->sc_core)) {
			if ((error = cv_wait_sig(&sc->sc_scv, &sc->sc_lock)) != 0)
				break;
		}
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
pmtswrite(dev_t dev, struct uio *uio, int ioflag)
{
	struct pmt_softc *sc = pmt_lookup(PMTS_UNIT(dev));
	struct pmt_ucookie uc;
	size_t done = 0;
	int error, error2;

	if (sc == NULL)
		return ENXIO;
	pmt_uc_init(&uc, uio);
	error = pmt_core_swrite(sc->sc_core, &uc, uc.uc_len, &done);
	error2 = pmt_uc_settle(&uc, done);
	pmt_uc_fini(&uc);
	pmt_wake_master(sc);
	return error != 0 ? error : error2;
}

static int
pmtsioctl(dev_t dev, u_long cmd, void *data, int flag, struct lwp *l)
{

	switch (cmd) {
	case FIONBIO:
		/* The daemon's O_NONBLOCK reaches pmtsread as IO_NDELAY. */
		return 0;
	default:
		return ENOTTY;
	}
}

static int
pmtspoll(dev_t dev, int events, struct lwp *l)
{
	struct pmt_softc *sc = pmt_lookup(PMTS_UNIT(dev));
	int revents = events & (POLLOUT | POLLWRNORM);

	if (sc == NULL)
		return POLLERR;
	if ((events & (POLLIN | POLLRDNORM)) != 0) {
		mutex_enter(&sc->sc_lock);
		if (pmt_core_readable(sc->sc_core))
			revents |= events & (POLLIN | POLLRDNORM);
		else
			selrecord(l, &sc->sc_rsel);
		mutex_exit(&sc->sc_lock);
	}
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

/* Readable when a request is queued; the core's test takes its own lock. */
static int
filt_pmtsread(struct knote *kn, long hint)
{
	struct pmt_softc *sc = kn->kn_hook;
	bool readable = pmt_core_readable(sc->sc_core);

	kn->kn_data = readable ? 1 : 0;
	return readable;
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
pmtskqfilter(dev_t dev, struct knote *kn)
{
	struct pmt_softc *sc = pmt_lookup(PMTS_UNIT(dev));

	if (sc == NULL)
		return ENXIO;
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

/* ----- module ------------------------------------------------------------------ */

MODULE(MODULE_CLASS_DRIVER, pmt, NULL);

static void
pmt_free_units(u_int n)
{
	struct pmt_softc *sc;
	u_int i;

	for (i = 0; i < n; i++) {
		sc = &pmt_softcs[i];
		pmt_core_unit_free(sc->sc_core);
		seldestroy(&sc->sc_rsel);
		cv_destroy(&sc->sc_scv);
		cv_destroy(&sc->sc_mcv);
		cv_destroy(&sc->sc_lockcv);
		mutex_destroy(&sc->sc_clock);
		mutex_destroy(&sc->sc_lock);
	}
	kmem_free(pmt_softcs, PMT_NUNITS * sizeof(*pmt_softcs));
	pmt_softcs = NULL;
}

static int
pmt_init(void)
{
	struct pmt_core_params p = {
		.p_abi = PMT_ABI_NETBSD,
		.p_ring = PMT_RING,
		.p_window = PMT_WINDOW,
		.p_timeout = PMT_TIMEOUT,
		.p_kind = PMT_KIND_TAPE,
	};
	devmajor_t bmajor = NODEVMAJOR, mmajor = NODEVMAJOR, smajor = NODEVMAJOR;
	struct pmt_softc *sc;
	u_int i;
	int error;

	pmt_softcs = kmem_zalloc(PMT_NUNITS * sizeof(*pmt_softcs), KM_SLEEP);
	for (i = 0; i < PMT_NUNITS; i++) {
		sc = &pmt_softcs[i];
		sc->sc_unit = i;
		mutex_init(&sc->sc_lock, MUTEX_DEFAULT, IPL_NONE);
		mutex_init(&sc->sc_clock, MUTEX_DEFAULT, IPL_NONE);
		cv_init(&sc->sc_lockcv, "pmtmlock");
		cv_init(&sc->sc_mcv, "pmtm");
		cv_init(&sc->sc_scv, "pmts");
		selinit(&sc->sc_rsel);
		if ((sc->sc_core = pmt_core_unit_new(i, &p, sc)) == NULL) {
			pmt_free_units(i + 1);
			return ENOMEM;
		}
	}

	/* Dynamic majors; the nodes are made by whoever loads the module. */
	error = devsw_attach("pmtm", NULL, &bmajor, &pmtm_cdevsw, &mmajor);
	if (error != 0)
		goto fail;
	bmajor = NODEVMAJOR;
	error = devsw_attach("pmts", NULL, &bmajor, &pmts_cdevsw, &smajor);
	if (error != 0) {
		(void)devsw_detach(NULL, &pmtm_cdevsw);
		goto fail;
	}
	return 0;
fail:
	pmt_free_units(PMT_NUNITS);
	return error;
}

/* Clears the dying mark of the first n units: the unload did not happen. */
static void
pmt_revive(u_int n)
{
	struct pmt_softc *sc;
	u_int i;

	for (i = 0; i < n; i++) {
		sc = &pmt_softcs[i];
		mutex_enter(&sc->sc_lock);
		sc->sc_flags &= ~PMT_DYING;
		mutex_exit(&sc->sc_lock);
	}
}

/*
 * Unloading is refused while any node is open: every unit is marked dying
 * under its lock first, so no open can slip in between the check and the
 * detach. (NetBSD 10's devsw_detach also waits for calls in progress.)
 */
static int
pmt_fini(void)
{
	struct pmt_softc *sc;
	u_int i;

	for (i = 0; i < PMT_NUNITS; i++) {
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
	devsw_detach(NULL, &pmts_cdevsw);
	devsw_detach(NULL, &pmtm_cdevsw);
#else
	{
		devmajor_t bmajor = NODEVMAJOR, smajor = NODEVMAJOR;
		int error;

		if ((error = devsw_detach(NULL, &pmts_cdevsw)) != 0) {
			pmt_revive(PMT_NUNITS);
			return error;
		}
		if ((error = devsw_detach(NULL, &pmtm_cdevsw)) != 0) {
			/* Put the slave table back: its name keeps its major. */
			(void)devsw_attach("pmts", NULL, &bmajor, &pmts_cdevsw, &smajor);
			pmt_revive(PMT_NUNITS);
			return error;
		}
	}
#endif
	pmt_free_units(PMT_NUNITS);
	return 0;
}

static int
pmt_modcmd(modcmd_t cmd, void *arg)
{

	switch (cmd) {
	case MODULE_CMD_INIT:
		return pmt_init();
	case MODULE_CMD_FINI:
		return pmt_fini();
	default:
		return ENOTTY;
	}
}
