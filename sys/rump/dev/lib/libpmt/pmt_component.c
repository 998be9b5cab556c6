/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * pmt in a rump kernel: rump_init() has run the module's init (MODULE(),
 * devsw_attach of "pmt" with a dynamic major); this makes the device nodes,
 * as the MAKEDEV lines of docs/NETBSD.md would on a NetBSD machine
 * (pmt_netbsd.h has the minor layout):
 *   /dev/rpmtmN    tape master, rewinding      (N << 4 | 0, as rst)
 *   /dev/nrpmtmN   tape master, no-rewind      (N << 4 | 1, as nrst)
 *   /dev/erpmtmN   tape master, eject at close (N << 4 | 2, as erst)
 *   /dev/enrpmtmN  tape master, control        (N << 4 | 3, st's mode 3)
 *   /dev/pmtsN     tape slave                  (0x10000 | N)
 *   /dev/pmcmN     changer master              (0x20000 | N)
 *   /dev/pmcsN     changer slave               (0x30000 | N)
 * and, for the tests, the mode-1 nodes of unit 0 (/dev/rpmtm0.1 and
 * /dev/enrpmtm0.1, minors 4 and 7) and nodes the driver must refuse: a
 * tape master and a changer master of pairs that do not exist.
 *
 * A rump kernel has no kill(2): pmt_rump_signal posts a signal to a
 * process as kill's kpsignal would, for the tests (with
 * RUMP_SIGMODEL_RECORD it stays pending in the process, where
 * sigispending() sees it; a rump kernel's condvars do not wake for it).
 */

#include <sys/param.h>
#include <sys/conf.h>
#include <sys/proc.h>
#include <sys/signalvar.h>
#include <sys/stat.h>
#include <sys/systm.h>

#include <rump-sys/kern.h>
#include <rump-sys/vfs.h>

#include "pmt_netbsd.h"

static void
pmt_mknod(const char *path, devmajor_t major, devminor_t minor)
{
	int error;

	if ((error = rump_vfs_makeonedevnode(S_IFCHR, path, major, minor)) != 0)
		panic("pmt: cannot create %s: %d", path, error);
}

RUMP_COMPONENT(RUMP_COMPONENT_POSTINIT)
{
	static const char *const tnames[] = {
		"rpmtm", "nrpmtm", "erpmtm", "enrpmtm"
	};
	devmajor_t major;
	char path[32];
	u_int u, n;

	major = devsw_name2chr("pmt", NULL, 0);
	if (major == NODEVMAJOR)
		panic("pmt: the module did not attach its devsw");
	for (u = 0; u < pmt_ntapes; u++) {
		for (n = 0; n < 4; n++) {
			snprintf(path, sizeof(path), "/dev/%s%u", tnames[n], u);
			pmt_mknod(path, major, u << 4 | n);
		}
		snprintf(path, sizeof(path), "/dev/pmts%u", u);
		pmt_mknod(path, major, PMT_MINOR_TSLAVE | u);
	}
	for (u = 0; u < pmt_nchangers; u++) {
		snprintf(path, sizeof(path), "/dev/pmcm%u", u);
		pmt_mknod(path, major, PMT_MINOR_CMASTER | u);
		snprintf(path, sizeof(path), "/dev/pmcs%u", u);
		pmt_mknod(path, major, PMT_MINOR_CSLAVE | u);
	}
	pmt_mknod("/dev/rpmtm0.1", major, 0 << 4 | 1 << 2 | PMTM_REWIND);
	pmt_mknod("/dev/enrpmtm0.1", major, 0 << 4 | 1 << 2 | PMTM_CONTROL);
	/* Pairs beyond the ones attached (and beyond a reload with fewer). */
	snprintf(path, sizeof(path), "/dev/rpmtm%u", pmt_ntapes);
	pmt_mknod(path, major, pmt_ntapes << 4);
	snprintf(path, sizeof(path), "/dev/pmcm%u", pmt_nchangers);
	pmt_mknod(path, major, PMT_MINOR_CMASTER | pmt_nchangers);
	snprintf(path, sizeof(path), "/dev/pmts%u", pmt_ntapes);
	pmt_mknod(path, major, PMT_MINOR_TSLAVE | pmt_ntapes);
	snprintf(path, sizeof(path), "/dev/pmcs%u", pmt_nchangers);
	pmt_mknod(path, major, PMT_MINOR_CSLAVE | pmt_nchangers);
}

int	pmt_rump_signal(int, int);

int
pmt_rump_signal(int pid, int sig)
{
	struct proc *p;

	mutex_enter(proc_lock);
	if ((p = proc_find(pid)) == NULL) {
		mutex_exit(proc_lock);
		return ESRCH;
	}
	psignal(p, sig);
	mutex_exit(proc_lock);
	return 0;
}
