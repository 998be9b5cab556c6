/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * pmt NetBSD glue: the number of units, and the copy cookie
 * (pmt_netbsd_uio.c) the entry points in pmt_netbsd.c use.
 */
#ifndef PMT_NETBSD_H
#define PMT_NETBSD_H

#include <sys/types.h>
#include <sys/uio.h>

/*
 * Units are fixed at module load (a kernel config or the module's build
 * may set PMT_NUNITS): NetBSD modules take no parameters, and four pairs
 * are what the Linux module makes by default.
 */
#ifndef PMT_NUNITS
#define PMT_NUNITS	4
#endif

/*
 * The core addresses the transfer by offset from its start; the uio only
 * moves forward. The core's offsets never decrease within a call but may
 * skip forward, and the count it reports may be smaller than what it
 * moved, so the uio is made to reflect exactly that count afterwards
 * (pmt_uc_settle). The bytes moved so far are always uc_len - uio_resid.
 */
#define PMT_UC_NSAVE	4		/* iovecs saved without allocating */

struct pmt_ucookie {
	struct uio	*uc_uio;
	size_t		 uc_len;	/* uio_resid at entry */
	/* The uio at entry, to wind it back. */
	struct iovec	*uc_iov;	/* uio_iov at entry */
	int		 uc_iovcnt;
	off_t		 uc_offset;
	struct iovec	*uc_save;	/* the entry contents of uc_iov[] */
	size_t		 uc_savesz;	/* bytes of uc_save if allocated, else 0 */
	struct iovec	 uc_small[PMT_UC_NSAVE];
};

/* Takes the uio of a read or write; may allocate (KM_SLEEP) for readv(2). */
void	pmt_uc_init(struct pmt_ucookie *, struct uio *);
/* Makes the uio reflect exactly the count the core reported. */
int	pmt_uc_settle(struct pmt_ucookie *, size_t);
void	pmt_uc_fini(struct pmt_ucookie *);

#endif /* PMT_NETBSD_H */
