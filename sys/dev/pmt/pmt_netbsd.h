/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * pmt NetBSD glue: the minor layout, the limits, and the copy cookie
 * (pmt_netbsd_uio.c) the entry points in pmt_netbsd.c use.
 */
#ifndef PMT_NETBSD_H
#define PMT_NETBSD_H

#include <sys/types.h>
#include <sys/uio.h>

/*
 * One cdevsw, named "pmt" after the module so that specfs autoloads the
 * module when any of its nodes is opened. Bits 16-17 of the minor say
 * which end of which kind of pair a node is:
 *
 *   tape master     unit << 4 | mode << 2 | node, as st(4)'s minors:
 *                   node 0 rewinding (rpmtmN), 1 no-rewind (nrpmtmN),
 *                   2 eject at close (erpmtmN), 3 control (enrpmtmN);
 *                   mode 0-3 selects the block size and density the
 *                   control node set for a mount
 *   tape slave      0x10000 | unit (pmtsN)
 *   changer master  0x20000 | unit (pmcmN), as ch(4)
 *   changer slave   0x30000 | unit (pmcsN)
 */
#define PMT_MINOR_TMASTER	0x00000
#define PMT_MINOR_TSLAVE	0x10000
#define PMT_MINOR_CMASTER	0x20000
#define PMT_MINOR_CSLAVE	0x30000
#define PMT_MINOR_KIND(m)	((m) & 0x30000)
#define PMT_MINOR_INDEX(m)	((m) & 0x0ffff)

#define PMTM_NODE(m)		((m) & 0x3)		/* st's STMODE */
#define PMTM_MODE(m)		(((m) >> 2) & 0x3)	/* st's STDSTY */
#define PMTM_UNIT(m)		(PMT_MINOR_INDEX(m) >> 4)
#define PMTM_REWIND		0	/* rewind at close */
#define PMTM_NOREWIND		1	/* leave the tape where it is */
#define PMTM_EJECT		2	/* rewind and unload at close */
#define PMTM_CONTROL		3	/* no medium needed; sets modes */

/* Default limits; a module takes modload(8) properties, a kernel config
 * the pseudo-device count (tape pairs) and these options. */
#ifndef PMT_NUNITS
#define PMT_NUNITS	4		/* tape pairs */
#endif
#ifndef PMT_NCHANGERS
#define PMT_NCHANGERS	1		/* changer pairs */
#endif
#define PMT_MAXUNITS	128
#define PMT_MAXCHANGERS	32

/* The pairs attached (tape pairs, then changer pairs). */
extern u_int pmt_ntapes, pmt_nchangers;

/*
 * The core addresses a transfer by offset from its start; the uio only
 * moves forward. The core's offsets never decrease within a call but may
 * skip forward, and the count it reports may be smaller than what it
 * moved, so the uio is made to reflect exactly that count afterwards
 * (pmt_uc_settle). A cookie covers at most `maxlen` bytes of the uio from
 * where it stands (physio's MAXPHYS pieces); the bytes moved so far are
 * uc_resid - uio_resid.
 */
#define PMT_UC_NSAVE	4		/* iovecs saved in place */

struct pmt_ucookie {
	struct uio	*uc_uio;
	size_t		 uc_len;	/* bytes the cookie covers */
	size_t		 uc_resid;	/* uio_resid at entry */
	/* The uio at entry, to wind it back. */
	struct iovec	*uc_iov;	/* uio_iov at entry */
	int		 uc_iovcnt;
	off_t		 uc_offset;
	struct iovec	*uc_save;	/* uc_iov[] as at entry */
	size_t		 uc_savesz;	/* its bytes, if allocated */
	struct iovec	 uc_small[PMT_UC_NSAVE];
};

/* Takes up to maxlen bytes of a read's or write's uio; may allocate
 * (KM_SLEEP, at most IOV_MAX iovecs) for readv(2). */
void	pmt_uc_init(struct pmt_ucookie *, struct uio *, size_t);
/* Makes the uio reflect exactly the count the core reported. */
int	pmt_uc_settle(struct pmt_ucookie *, size_t);
void	pmt_uc_fini(struct pmt_ucookie *);

#endif /* PMT_NETBSD_H */
