// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * pmt: pseudo-tape device pairs. Linux glue.
 *
 * Each unit N is a pair, like a pty:
 *   /dev/pmtm<N>   master, rewinding: behaves like a SCSI tape (st)
 *   /dev/npmtm<N>  master, no-rewind (minor + 128, st's convention)
 *   /dev/pmts<N>   slave: a daemon reads drive requests, writes replies
 * and each changer N too:
 *   /dev/pmcm<N>   master: a SCSI media changer (SG_IO as sg, CHIO as ch)
 *   /dev/pmcs<N>   slave: the library daemon executes its commands
 *
 * The behaviour lives in the Rust core (include/pmt_core.h); this file only
 * registers the devices, holds the locks and wait queues, sleeps, copies to
 * and from user space, and wakes the other side. Two entry tables share one
 * softc per unit, NetBSD tty_pty.c style: pmtm_fops for the master,
 * pmts_fops for the slave.
 */
#include <linux/cdev.h>
#include <linux/compat.h>
#include <linux/capability.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/spinlock.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>

#include "pmt_core.h"
#include "pmt_proto.h"

#define PMT_MAXUNITS	128
#define PMT_MAXCHANGERS	32
#define PMT_NOREWIND	0x80	/* master minor bit: the no-rewind node */

/*
 * The kernel interfaces that changed between Debian 12's 6.1 and Debian
 * 13's 6.12 (both built and tested: scripts/test-all).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
/* 6.2 made the device of a class's devnode callback const. */
#define PMT_DEVNODE_DEV	const struct device
#else
#define PMT_DEVNODE_DEV	struct device
#endif
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
/* 6.4 dropped class_create()'s owner argument. */
#define pmt_class_create(name)	class_create(name)
#else
#define pmt_class_create(name)	class_create(THIS_MODULE, name)
#endif
/*
 * The changer master and the slaves have no llseek: their opens clear
 * FMODE_LSEEK (nonseekable_open, stream_open), so lseek fails with ESPIPE.
 * (no_llseek, which said so, has been NULL since 6.0 and is gone in 6.12.)
 */

static unsigned int nunits = 4;
module_param(nunits, uint, 0444);
MODULE_PARM_DESC(nunits, "Number of units (pairs), 1-128 (4)");

static unsigned int nchangers = 1;
module_param(nchangers, uint, 0444);
MODULE_PARM_DESC(nchangers, "Number of changers (pairs), 0-32 (1)");

static unsigned int window_kb = 4096;
module_param(window_kb, uint, 0444);
MODULE_PARM_DESC(window_kb, "Write-behind window per unit in KiB: the kernel memory a unit holds (4096)");

static unsigned int ring = 512;
module_param(ring, uint, 0444);
MODULE_PARM_DESC(ring, "Requests in flight per unit (512)");

static unsigned int timeout = 900;
module_param(timeout, uint, 0444);
MODULE_PARM_DESC(timeout, "Drive command timeout in seconds, as st's (900)");

struct pmt_softc {
	unsigned int		 sc_unit;
	unsigned int		 sc_kind;	/* PMT_KIND_TAPE or PMT_KIND_CHANGER */
	struct pmt_core_unit	*sc_core;	/* the Rust core's unit */
	/*
	 * sc_mlock serializes master system calls on the unit, as st's
	 * STp->lock does. It is held across sleeps (waiting for the daemon);
	 * the core's own state needs no other lock on the master side.
	 */
	struct mutex		 sc_mlock;
	/*
	 * sc_clock is the core's channel lock (pmt_os_lock): the requests and
	 * replies both sides share. Nothing sleeps under it; it is taken
	 * inside the wait conditions below, never around a copy to or from
	 * user space.
	 */
	spinlock_t		 sc_clock;
	/*
	 * Master waiters (a reply, room in the write-behind window) sleep on
	 * sc_mwait; every slave read, write and close wakes it.
	 */
	wait_queue_head_t	 sc_mwait;
	/*
	 * Slave readers and pollers sleep on sc_swait; the core wakes it
	 * (pmt_os_wake_slave) when it queues a request.
	 */
	wait_queue_head_t	 sc_swait;
	/*
	 * The data area (tapes): window_kb bytes the daemon maps from the
	 * slave, where payloads live by offset (see PMT_SIOCAREA). Allocated
	 * at the first mapping, under sc_mlock and sc_amap, and kept until the
	 * module goes, so the core's copies never meet freed memory; only its
	 * contents belong to the daemon. sc_amap serializes mappings.
	 */
	void			*sc_area;
	size_t			 sc_area_size;
	struct mutex		 sc_amap;
	/*
	 * Bit 0 is set while a tape master file is open: a second open fails
	 * with EBUSY at once, without waiting for sc_mlock (st's in_use). A
	 * changer master may be open many times, as sg's and ch's nodes.
	 */
	unsigned long		 sc_mbusy;
};

static struct pmt_softc *pmt_softc;	/* nunits tapes, then nchangers changers */
static dev_t pmtm_dev, pmts_dev, pmcm_dev, pmcs_dev;
static struct cdev pmtm_cdev, pmts_cdev, pmcm_cdev, pmcs_cdev;
static struct class *pmt_class;

/* ----- services for the core ------------------------------------------------- */

void *pmt_os_alloc(size_t size)
{
	return kvmalloc(size, GFP_KERNEL | __GFP_NOWARN);
}

void pmt_os_free(void *p, size_t size)
{
	kvfree(p);
}

/* The copy cookie is the user address of the system call's buffer. */
int pmt_os_copyin(void *ucookie, size_t off, void *dst, size_t n)
{
	return copy_from_user(dst, (const char __user *)ucookie + off, n) ? -EFAULT : 0;
}

int pmt_os_copyout(void *ucookie, size_t off, const void *src, size_t n)
{
	return copy_to_user((char __user *)ucookie + off, src, n) ? -EFAULT : 0;
}

int pmt_os_wait(void *host, unsigned int what, size_t arg, unsigned int how, unsigned int secs)
{
	struct pmt_softc *sc = host;
	long t = MAX_SCHEDULE_TIMEOUT, r;

	if (secs != 0 && secs < (MAX_SCHEDULE_TIMEOUT - 1) / HZ)
		t = (long)secs * HZ;
#define PMT_COND pmt_core_mcond(sc->sc_core, what, arg)
	switch (how) {
	case PMT_SLEEP_INTERRUPTIBLE:
		r = wait_event_interruptible_timeout(sc->sc_mwait, PMT_COND, t);
		break;
	case PMT_SLEEP_KILLABLE:
		r = wait_event_killable_timeout(sc->sc_mwait, PMT_COND, t);
		break;
	default:
		/* TASK_IDLE: no signal ends it, and it is not a hung task. */
		r = wait_event_idle_timeout(sc->sc_mwait, PMT_COND, t);
		break;
	}
#undef PMT_COND
	/* -ERESTARTSYS: the signal code restarts the call if SA_RESTART allows. */
	if (r < 0)
		return PMT_WAIT_RESTART;
	if (r == 0)
		return PMT_WAIT_TIMEDOUT;
	return PMT_WAITED;
}

void pmt_os_wake_slave(void *host)
{
	struct pmt_softc *sc = host;

	/* Most writes find the daemon busy: skip the wait queue lock then. */
	if (wq_has_sleeper(&sc->sc_swait))
		wake_up_interruptible(&sc->sc_swait);
}

/* Wakes master waiters, if any. */
static void pmt_wake_master(struct pmt_softc *sc)
{
	if (wq_has_sleeper(&sc->sc_mwait))
		wake_up(&sc->sc_mwait);
}

/* As st and the SCSI layer: the capabilities of the calling task (cred is
 * not used on Linux). */
bool pmt_os_privileged(void *host, void *cred, unsigned int what)
{
	return capable(what == PMT_PRIV_RAWIO ? CAP_SYS_RAWIO : CAP_SYS_ADMIN);
}

/* Whether [off, off + n) lies in the unit's area. */
static bool pmt_area_range(struct pmt_softc *sc, size_t off, size_t n)
{
	return sc->sc_area != NULL && off <= sc->sc_area_size && n <= sc->sc_area_size - off;
}

int pmt_os_area_read(void *host, size_t off, void *dst, size_t n)
{
	struct pmt_softc *sc = host;

	if (!pmt_area_range(sc, off, n))
		return -EINVAL;
	memcpy(dst, (char *)sc->sc_area + off, n);
	return 0;
}

int pmt_os_area_write(void *host, size_t off, const void *src, size_t n)
{
	struct pmt_softc *sc = host;

	if (!pmt_area_range(sc, off, n))
		return -EINVAL;
	memcpy((char *)sc->sc_area + off, src, n);
	return 0;
}

/* The master's buffer (the cookie is its user address) into the area: the
 * one copy a write takes in the kernel. */
int pmt_os_area_copyin(void *host, void *ucookie, size_t uoff, size_t aoff, size_t n)
{
	struct pmt_softc *sc = host;

	if (!pmt_area_range(sc, aoff, n))
		return -EINVAL;
	return copy_from_user((char *)sc->sc_area + aoff, (const char __user *)ucookie + uoff, n) ? -EFAULT : 0;
}

int pmt_os_area_copyout(void *host, void *ucookie, size_t uoff, size_t aoff, size_t n)
{
	struct pmt_softc *sc = host;

	if (!pmt_area_range(sc, aoff, n))
		return -EINVAL;
	return copy_to_user((char __user *)ucookie + uoff, (const char *)sc->sc_area + aoff, n) ? -EFAULT : 0;
}

int pmt_os_ucopyin(void *host, uint64_t uaddr, void *dst, size_t n)
{
	return copy_from_user(dst, u64_to_user_ptr(uaddr), n) ? -EFAULT : 0;
}

int pmt_os_ucopyout(void *host, uint64_t uaddr, const void *src, size_t n)
{
	return copy_to_user(u64_to_user_ptr(uaddr), src, n) ? -EFAULT : 0;
}

void pmt_os_lock(void *host)
{
	struct pmt_softc *sc = host;

	spin_lock(&sc->sc_clock);
}

void pmt_os_unlock(void *host)
{
	struct pmt_softc *sc = host;

	spin_unlock(&sc->sc_clock);
}

void pmt_os_panic(const char *msg, size_t len)
{
	pr_emerg("pmt: %.*s\n", (int)min_t(size_t, len, 200), msg);
	BUG();
}

/* A count or a core error (a positive errno) as a read/write result. */
static ssize_t pmt_result(int error, size_t done)
{
	return error ? -error : (ssize_t)done;
}

/* ----- master: /dev/pmtm<N>, /dev/npmtm<N> ------------------------------------- */

static int pmtm_open(struct inode *inode, struct file *filp)
{
	unsigned int minor = iminor(inode);
	unsigned int unit = minor & ~PMT_NOREWIND;
	struct pmt_softc *sc;
	unsigned int flags = 0;
	int error;

	if (unit >= nunits)
		return -ENXIO;
	sc = &pmt_softc[unit];
	/* Like st: no pread/pwrite, but lseek is accepted (tar calls it). */
	filp->f_mode &= ~(FMODE_PREAD | FMODE_PWRITE);
	switch (filp->f_flags & O_ACCMODE) {
	case O_RDONLY:
		flags |= PMT_MOPEN_READ;
		break;
	case O_WRONLY:
		flags |= PMT_MOPEN_WRITE;
		break;
	default:
		flags |= PMT_MOPEN_READ | PMT_MOPEN_WRITE;
		break;
	}
	if (filp->f_flags & O_NONBLOCK)
		flags |= PMT_MOPEN_NONBLOCK;
	if (minor & PMT_NOREWIND)
		flags |= PMT_MOPEN_NOREWIND;

	if (test_and_set_bit(0, &sc->sc_mbusy))
		return -EBUSY;
	if (mutex_lock_interruptible(&sc->sc_mlock)) {
		clear_bit(0, &sc->sc_mbusy);
		return -ERESTARTSYS;
	}
	error = -pmt_core_mopen(sc->sc_core, sc, flags);
	mutex_unlock(&sc->sc_mlock);
	if (error == 0)
		filp->private_data = sc;
	else
		clear_bit(0, &sc->sc_mbusy);
	return error;
}

/* The last close() of the file: st_flush (filemarks, rewind). */
static int pmtm_flush(struct file *filp, fl_owner_t id)
{
	struct pmt_softc *sc = filp->private_data;
	int error;

	if (file_count(filp) > 1)
		return 0;
	mutex_lock(&sc->sc_mlock);
	error = -pmt_core_mflush(sc->sc_core, sc);
	mutex_unlock(&sc->sc_mlock);
	return error;
}

static int pmtm_release(struct inode *inode, struct file *filp)
{
	struct pmt_softc *sc = filp->private_data;

	mutex_lock(&sc->sc_mlock);
	(void)pmt_core_mrelease(sc->sc_core, sc);
	mutex_unlock(&sc->sc_mlock);
	clear_bit(0, &sc->sc_mbusy);
	return 0;
}

static ssize_t pmtm_read(struct file *filp, char __user *buf, size_t len, loff_t *ppos)
{
	struct pmt_softc *sc = filp->private_data;
	size_t done;
	int error;

	if (mutex_lock_interruptible(&sc->sc_mlock))
		return -ERESTARTSYS;
	error = pmt_core_mread(sc->sc_core, sc, (void __force *)buf, len, &done);
	mutex_unlock(&sc->sc_mlock);
	return pmt_result(error, done);
}

static ssize_t pmtm_write(struct file *filp, const char __user *buf, size_t len, loff_t *ppos)
{
	struct pmt_softc *sc = filp->private_data;
	size_t done;
	int error;

	if (mutex_lock_interruptible(&sc->sc_mlock))
		return -ERESTARTSYS;
	error = pmt_core_mwrite(sc->sc_core, sc, (void __force *)buf, len, &done);
	mutex_unlock(&sc->sc_mlock);
	return pmt_result(error, done);
}

static long pmtm_do_ioctl(struct file *filp, unsigned int cmd, void __user *arg, unsigned int flags)
{
	struct pmt_softc *sc = filp->private_data;
	int error, retval = 0;

	if (filp->f_mode & FMODE_WRITE)
		flags |= PMT_IOCTL_WRITABLE;
	if (mutex_lock_interruptible(&sc->sc_mlock))
		return -ERESTARTSYS;
	error = pmt_core_mioctl(sc->sc_core, sc, NULL, cmd, (void __force *)arg, flags, &retval);
	mutex_unlock(&sc->sc_mlock);
	return error ? -error : retval;
}

static long pmtm_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	return pmtm_do_ioctl(filp, cmd, (void __user *)arg, 0);
}

#ifdef CONFIG_COMPAT
static long pmtm_compat_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	return pmtm_do_ioctl(filp, cmd, compat_ptr(arg), PMT_IOCTL_COMPAT32);
}
#endif

static const struct file_operations pmtm_fops = {
	.owner		= THIS_MODULE,
	.open		= pmtm_open,
	.flush		= pmtm_flush,
	.release	= pmtm_release,
	.read		= pmtm_read,
	.write		= pmtm_write,
	.unlocked_ioctl	= pmtm_ioctl,
#ifdef CONFIG_COMPAT
	.compat_ioctl	= pmtm_compat_ioctl,
#endif
	.llseek		= noop_llseek,
};

/* ----- changer master: /dev/pmcm<N> --------------------------------------------- */

static int pmcm_open(struct inode *inode, struct file *filp)
{
	unsigned int unit = iminor(inode);

	if (unit >= nchangers)
		return -ENXIO;
	filp->private_data = &pmt_softc[nunits + unit];
	return nonseekable_open(inode, filp);
}

static int pmcm_release(struct inode *inode, struct file *filp)
{
	return 0;
}

static const struct file_operations pmcm_fops = {
	.owner		= THIS_MODULE,
	.open		= pmcm_open,
	.release	= pmcm_release,
	.unlocked_ioctl	= pmtm_ioctl,
#ifdef CONFIG_COMPAT
	.compat_ioctl	= pmtm_compat_ioctl,
#endif
};

/* ----- slave: /dev/pmts<N>, /dev/pmcs<N> ------------------------------------------ */

static int pmt_slave_open(struct inode *inode, struct file *filp, struct pmt_softc *sc)
{
	int error;

	error = pmt_core_sopen(sc->sc_core);
	if (error)
		return -error;
	filp->private_data = sc;
	return stream_open(inode, filp);
}

static int pmts_open(struct inode *inode, struct file *filp)
{
	unsigned int unit = iminor(inode);

	if (unit >= nunits)
		return -ENXIO;
	return pmt_slave_open(inode, filp, &pmt_softc[unit]);
}

static int pmcs_open(struct inode *inode, struct file *filp)
{
	unsigned int unit = iminor(inode);

	if (unit >= nchangers)
		return -ENXIO;
	return pmt_slave_open(inode, filp, &pmt_softc[nunits + unit]);
}

/* The daemon is gone: every master waiter gets EIO now. */
static int pmts_release(struct inode *inode, struct file *filp)
{
	struct pmt_softc *sc = filp->private_data;

	pmt_core_sclose(sc->sc_core);
	wake_up_all(&sc->sc_mwait);
	return 0;
}

static ssize_t pmts_read(struct file *filp, char __user *buf, size_t len, loff_t *ppos)
{
	struct pmt_softc *sc = filp->private_data;
	size_t done = 0;
	int error;

	for (;;) {
		error = pmt_core_sread(sc->sc_core, (void __force *)buf, len, &done);
		if (error != EAGAIN || (filp->f_flags & O_NONBLOCK))
			break;
		if (wait_event_interruptible(sc->sc_swait, pmt_core_readable(sc->sc_core)))
			return -ERESTARTSYS;
	}
	/* Requests left the window: a writer may go on. */
	if (error == 0 && done > 0)
		pmt_wake_master(sc);
	return pmt_result(error, done);
}

static ssize_t pmts_write(struct file *filp, const char __user *buf, size_t len, loff_t *ppos)
{
	struct pmt_softc *sc = filp->private_data;
	size_t done;
	int error;

	error = pmt_core_swrite(sc->sc_core, (void __force *)buf, len, &done);
	pmt_wake_master(sc);
	return pmt_result(error, done);
}

/* PMT_SIOCAREA: the size of the tape's data area (0 for a changer). */
static long pmts_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct pmt_softc *sc = filp->private_data;
	u64 size;

	if (cmd != PMT_SIOCAREA)
		return -ENOTTY;
	size = sc->sc_kind == PMT_KIND_TAPE ? PAGE_ALIGN((size_t)window_kb * 1024) : 0;
	return put_user(size, (u64 __user *)arg);
}

/*
 * The daemon maps the data area: all of it, from offset 0, shared. The
 * area is made at the first mapping and kept; the core uses it from now
 * on. When the daemon goes (the slave's release), the core forgets it.
 */
static int pmts_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct pmt_softc *sc = filp->private_data;
	size_t size = PAGE_ALIGN((size_t)window_kb * 1024);
	int error;

	if (sc->sc_kind != PMT_KIND_TAPE)
		return -ENODEV;
	if (vma->vm_pgoff != 0 || vma->vm_end - vma->vm_start != size || !(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	mutex_lock(&sc->sc_amap);
	if (sc->sc_area == NULL) {
		sc->sc_area = vmalloc_user(size);
		if (sc->sc_area != NULL)
			sc->sc_area_size = size;
	}
	error = sc->sc_area == NULL ? -ENOMEM : remap_vmalloc_range(vma, sc->sc_area, 0);
	/* remap_vmalloc_range() marks the mapping VM_DONTEXPAND | VM_DONTDUMP. */
	if (error == 0)
		pmt_core_sarea(sc->sc_core, size);
	mutex_unlock(&sc->sc_amap);
	return error;
}

static __poll_t pmts_poll(struct file *filp, poll_table *wait)
{
	struct pmt_softc *sc = filp->private_data;
	__poll_t mask = EPOLLOUT | EPOLLWRNORM;

	poll_wait(filp, &sc->sc_swait, wait);
	if (pmt_core_readable(sc->sc_core))
		mask |= EPOLLIN | EPOLLRDNORM;
	return mask;
}

static const struct file_operations pmts_fops = {
	.owner		= THIS_MODULE,
	.open		= pmts_open,
	.release	= pmts_release,
	.read		= pmts_read,
	.write		= pmts_write,
	.poll		= pmts_poll,
	.unlocked_ioctl	= pmts_ioctl,
	.mmap		= pmts_mmap,
};

static const struct file_operations pmcs_fops = {
	.owner		= THIS_MODULE,
	.open		= pmcs_open,
	.release	= pmts_release,
	.read		= pmts_read,
	.write		= pmts_write,
	.poll		= pmts_poll,
};

/* ----- module --------------------------------------------------------------------- */

/* Masters are 0660 (a udev rule may hand them to group tape); slaves stay 0600. */
static char *pmt_devnode(PMT_DEVNODE_DEV *dev, umode_t *mode)
{
	if (mode != NULL && (MAJOR(dev->devt) == MAJOR(pmtm_dev) || MAJOR(dev->devt) == MAJOR(pmcm_dev)))
		*mode = 0660;
	return NULL;
}

/* Destroys the nodes of the first `tapes` tape units and `changers` changers. */
static void pmt_teardown(unsigned int tapes, unsigned int changers)
{
	unsigned int i;

	for (i = 0; i < tapes; i++) {
		device_destroy(pmt_class, MKDEV(MAJOR(pmts_dev), i));
		device_destroy(pmt_class, MKDEV(MAJOR(pmtm_dev), i | PMT_NOREWIND));
		device_destroy(pmt_class, MKDEV(MAJOR(pmtm_dev), i));
	}
	for (i = 0; i < changers; i++) {
		device_destroy(pmt_class, MKDEV(MAJOR(pmcs_dev), i));
		device_destroy(pmt_class, MKDEV(MAJOR(pmcm_dev), i));
	}
}

static void pmt_free_units(void)
{
	unsigned int i;

	for (i = 0; i < nunits + nchangers; i++) {
		pmt_core_unit_free(pmt_softc[i].sc_core);
		vfree(pmt_softc[i].sc_area);
	}
	kfree(pmt_softc);
}

/* A character device region and its cdev. */
static int pmt_cdev_add(dev_t *dev, struct cdev *cdev, const struct file_operations *fops,
    unsigned int count, const char *name)
{
	int error;

	error = alloc_chrdev_region(dev, 0, count, name);
	if (error)
		return error;
	cdev_init(cdev, fops);
	cdev->owner = THIS_MODULE;
	error = cdev_add(cdev, *dev, count);
	if (error)
		unregister_chrdev_region(*dev, count);
	return error;
}

static void pmt_cdev_del(dev_t dev, struct cdev *cdev, unsigned int count)
{
	cdev_del(cdev);
	unregister_chrdev_region(dev, count);
}

static int __init pmt_init(void)
{
	struct pmt_core_params p = { .p_abi = PMT_ABI_LINUX };
	unsigned int i, tapes = 0, changers = 0;
	struct device *d;
	int error;

	if (nunits < 1 || nunits > PMT_MAXUNITS || nchangers > PMT_MAXCHANGERS) {
		pr_err("pmt: nunits must be 1-%d, nchangers 0-%d\n", PMT_MAXUNITS, PMT_MAXCHANGERS);
		return -EINVAL;
	}
	if (window_kb < 64 || window_kb > 1024 * 1024 || ring < 2 || ring > 65536) {
		pr_err("pmt: window_kb must be 64-1048576 and ring 2-65536\n");
		return -EINVAL;
	}
	p.p_ring = ring;
	p.p_window = window_kb * 1024;
	p.p_timeout = timeout;

	pmt_softc = kcalloc(nunits + nchangers, sizeof(*pmt_softc), GFP_KERNEL);
	if (pmt_softc == NULL)
		return -ENOMEM;
	for (i = 0; i < nunits + nchangers; i++) {
		struct pmt_softc *sc = &pmt_softc[i];

		sc->sc_kind = i < nunits ? PMT_KIND_TAPE : PMT_KIND_CHANGER;
		sc->sc_unit = i < nunits ? i : i - nunits;
		mutex_init(&sc->sc_mlock);
		mutex_init(&sc->sc_amap);
		spin_lock_init(&sc->sc_clock);
		init_waitqueue_head(&sc->sc_mwait);
		init_waitqueue_head(&sc->sc_swait);
		p.p_kind = sc->sc_kind;
		sc->sc_core = pmt_core_unit_new(sc->sc_unit, &p, sc);
		if (sc->sc_core == NULL) {
			error = -ENOMEM;
			goto out_units;
		}
	}

	error = pmt_cdev_add(&pmtm_dev, &pmtm_cdev, &pmtm_fops, 2 * PMT_MAXUNITS, "pmtm");
	if (error)
		goto out_units;
	error = pmt_cdev_add(&pmts_dev, &pmts_cdev, &pmts_fops, PMT_MAXUNITS, "pmts");
	if (error)
		goto out_pmtm;
	error = pmt_cdev_add(&pmcm_dev, &pmcm_cdev, &pmcm_fops, PMT_MAXCHANGERS, "pmcm");
	if (error)
		goto out_pmts;
	error = pmt_cdev_add(&pmcs_dev, &pmcs_cdev, &pmcs_fops, PMT_MAXCHANGERS, "pmcs");
	if (error)
		goto out_pmcm;

	pmt_class = pmt_class_create("pmt");
	if (IS_ERR(pmt_class)) {
		error = PTR_ERR(pmt_class);
		goto out_pmcs;
	}
	pmt_class->devnode = pmt_devnode;
	for (tapes = 0; tapes < nunits; tapes++) {
		unsigned int u = tapes;

		d = device_create(pmt_class, NULL, MKDEV(MAJOR(pmtm_dev), u), NULL, "pmtm%u", u);
		if (!IS_ERR(d))
			d = device_create(pmt_class, NULL, MKDEV(MAJOR(pmtm_dev), u | PMT_NOREWIND), NULL, "npmtm%u", u);
		if (!IS_ERR(d))
			d = device_create(pmt_class, NULL, MKDEV(MAJOR(pmts_dev), u), NULL, "pmts%u", u);
		if (IS_ERR(d)) {
			error = PTR_ERR(d);
			pmt_teardown(tapes + 1, 0);
			goto out_class;
		}
	}
	for (changers = 0; changers < nchangers; changers++) {
		unsigned int u = changers;

		d = device_create(pmt_class, NULL, MKDEV(MAJOR(pmcm_dev), u), NULL, "pmcm%u", u);
		if (!IS_ERR(d))
			d = device_create(pmt_class, NULL, MKDEV(MAJOR(pmcs_dev), u), NULL, "pmcs%u", u);
		if (IS_ERR(d)) {
			error = PTR_ERR(d);
			pmt_teardown(nunits, changers + 1);
			goto out_class;
		}
	}
	pr_info("pmt: %u units, %u changers, window %u KiB, protocol %d\n", nunits, nchangers, window_kb,
	    PMT_PROTO_VERSION);
	return 0;

out_class:
	class_destroy(pmt_class);
out_pmcs:
	pmt_cdev_del(pmcs_dev, &pmcs_cdev, PMT_MAXCHANGERS);
out_pmcm:
	pmt_cdev_del(pmcm_dev, &pmcm_cdev, PMT_MAXCHANGERS);
out_pmts:
	pmt_cdev_del(pmts_dev, &pmts_cdev, PMT_MAXUNITS);
out_pmtm:
	pmt_cdev_del(pmtm_dev, &pmtm_cdev, 2 * PMT_MAXUNITS);
out_units:
	pmt_free_units();
	return error;
}

/* The module is only unloaded with no device open (fops.owner pins it). */
static void __exit pmt_exit(void)
{
	pmt_teardown(nunits, nchangers);
	class_destroy(pmt_class);
	pmt_cdev_del(pmcs_dev, &pmcs_cdev, PMT_MAXCHANGERS);
	pmt_cdev_del(pmcm_dev, &pmcm_cdev, PMT_MAXCHANGERS);
	pmt_cdev_del(pmts_dev, &pmts_cdev, PMT_MAXUNITS);
	pmt_cdev_del(pmtm_dev, &pmtm_cdev, 2 * PMT_MAXUNITS);
	pmt_free_units();
}

module_init(pmt_init);
module_exit(pmt_exit);

MODULE_DESCRIPTION("pmt: pseudo-tape device pairs (st-compatible master, daemon-served slave)");
MODULE_LICENSE("Dual BSD/GPL");
