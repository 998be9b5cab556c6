/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * pmt in a rump kernel: rump_init() has run the module's init (MODULE(),
 * devsw_attach with dynamic majors); this makes the device nodes, as
 * MAKEDEV would on a NetBSD machine:
 *   /dev/rpmtmN   master, rewinding       (minor N << 4 | 0, as rst)
 *   /dev/nrpmtmN  master, no-rewind       (minor N << 4 | 1, as nrst)
 *   /dev/pmtsN    slave                   (minor N)
 * and two nodes the driver must refuse, for the tests: /dev/erpmtm0
 * (mode 2, eject at close, not provided) and a master of a unit that does
 * not exist.
 */

#include <sys/param.h>
#include <sys/conf.h>
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
	devmajor_t mmajor, smajor;
	char path[32];
	u_int u;

	mmajor = devsw_name2chr("pmtm", NULL, 0);
	smajor = devsw_name2chr("pmts", NULL, 0);
	if (mmajor == NODEVMAJOR || smajor == NODEVMAJOR)
		panic("pmt: the module did not attach its devsw");
	for (u = 0; u < PMT_NUNITS; u++) {
		snprintf(path, sizeof(path), "/dev/rpmtm%u", u);
		pmt_mknod(path, mmajor, u << 4 | 0);
		snprintf(path, sizeof(path), "/dev/nrpmtm%u", u);
		pmt_mknod(path, mmajor, u << 4 | 1);
		snprintf(path, sizeof(path), "/dev/pmts%u", u);
		pmt_mknod(path, smajor, u);
	}
	pmt_mknod("/dev/erpmtm0", mmajor, 0 << 4 | 2);
	snprintf(path, sizeof(path), "/dev/rpmtm%u", PMT_NUNITS);
	pmt_mknod(path, mmajor, PMT_NUNITS << 4);
}
