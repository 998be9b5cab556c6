/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * pmt NetBSD glue: the core's copy cookie is the system call's struct uio.
 * pmt_os_copyin()/pmt_os_copyout() move data with uiomove() at the offsets
 * the core asks for; pmt_uc_settle() then makes the uio tell exactly the
 * count the core reported, winding it back if more was moved. A cookie
 * covers at most the piece of the uio it was made for (pmt_uc_init's
 * maxlen): a master transfer goes through in MAXPHYS pieces, as physio(9)
 * gives st(4) its transfers.
 */

#include <sys/cdefs.h>
__KERNEL_RCSID(0, "pmt_netbsd_uio.c: pmt copy cookie");

#include <sys/param.h>
#include <sys/systm.h>
#include <sys/errno.h>
#include <sys/kmem.h>
#include <sys/uio.h>

#include "pmt_core.h"
#include "pmt_netbsd.h"

void
pmt_uc_init(struct pmt_ucookie *uc, struct uio *uio, size_t maxlen)
{
	int i;

	uc->uc_uio = uio;
	uc->uc_resid = uio->uio_resid;
	uc->uc_len = MIN(uc->uc_resid, maxlen);
	uc->uc_iov = uio->uio_iov;
	uc->uc_iovcnt = uio->uio_iovcnt;
	uc->uc_offset = uio->uio_offset;
	if (uio->uio_iovcnt <= PMT_UC_NSAVE) {
		uc->uc_save = uc->uc_small;
		uc->uc_savesz = 0;
	} else {
		/* readv(2) with many iovecs; at most IOV_MAX. */
		uc->uc_savesz = (size_t)uio->uio_iovcnt * sizeof(struct iovec);
		uc->uc_save = kmem_alloc(uc->uc_savesz, KM_SLEEP);
	}
	for (i = 0; i < uio->uio_iovcnt; i++)
		uc->uc_save[i] = uio->uio_iov[i];
}

void
pmt_uc_fini(struct pmt_ucookie *uc)
{

	if (uc->uc_savesz != 0)
		kmem_free(uc->uc_save, uc->uc_savesz);
}

static size_t
pmt_uc_moved(const struct pmt_ucookie *uc)
{

	return uc->uc_resid - uc->uc_uio->uio_resid;
}

/*
 * Moves the uio forward by n bytes through a scratch buffer: zeros to the
 * user on a read, discarded bytes on a write. uiomove() checks the user
 * addresses either way.
 */
static int
pmt_uc_skip(struct pmt_ucookie *uc, size_t n)
{
	char scratch[64];
	size_t k;
	int error;

	memset(scratch, 0, sizeof(scratch));
	while (n > 0) {
		k = MIN(n, sizeof(scratch));
		if ((error = uiomove(scratch, k, uc->uc_uio)) != 0)
			return error;
		n -= k;
	}
	return 0;
}

/*
 * Advances a uio by n bytes without copying, exactly as uiomove() would
 * (consumed iovecs are left with iov_len 0 and stepped over).
 */
static void
pmt_uio_advance(struct uio *uio, size_t n)
{
	struct iovec *iov;
	size_t cnt;

	while (n > 0 && uio->uio_resid > 0) {
		iov = uio->uio_iov;
		cnt = iov->iov_len;
		if (cnt == 0) {
			KASSERT(uio->uio_iovcnt > 0);
			uio->uio_iov++;
			uio->uio_iovcnt--;
			continue;
		}
		if (cnt > n)
			cnt = n;
		iov->iov_base = (char *)iov->iov_base + cnt;
		iov->iov_len -= cnt;
		uio->uio_resid -= cnt;
		uio->uio_offset += cnt;
		n -= cnt;
	}
}

/*
 * Makes the uio reflect exactly `done` bytes of transfer, the count the
 * core reported. If more was moved (a reply the core refused after
 * copying it, a short write at the end of the medium), the uio is wound
 * back: its iovecs are restored from the copy taken at entry (uiomove()
 * changed them in place: the array is the system call's own) and it is
 * advanced again by `done` without copying. If less was moved, it is
 * moved forward through the scratch buffer.
 */
int
pmt_uc_settle(struct pmt_ucookie *uc, size_t done)
{
	struct uio *uio = uc->uc_uio;
	size_t moved = pmt_uc_moved(uc);
	int i;

	if (done > uc->uc_len)
		done = uc->uc_len;
	if (done > moved)
		return pmt_uc_skip(uc, done - moved);
	if (done < moved) {
		for (i = 0; i < uc->uc_iovcnt; i++)
			uc->uc_iov[i] = uc->uc_save[i];
		uio->uio_iov = uc->uc_iov;
		uio->uio_iovcnt = uc->uc_iovcnt;
		uio->uio_offset = uc->uc_offset;
		uio->uio_resid = uc->uc_resid;
		pmt_uio_advance(uio, done);
	}
	KASSERT(pmt_uc_moved(uc) == done);
	return 0;
}

/* Checks one copy against the transfer and moves the uio up to `off`. */
static int
pmt_uc_seek(struct pmt_ucookie *uc, enum uio_rw rw, size_t off, size_t n)
{
	size_t moved = pmt_uc_moved(uc);

	if (uc->uc_uio->uio_rw != rw)
		return EFAULT;
	/* Offsets never go back within a call; a copy stays inside. */
	if (off < moved || off > uc->uc_len || n > uc->uc_len - off)
		return EFAULT;
	return pmt_uc_skip(uc, off - moved);
}

int
pmt_os_copyin(void *cookie, size_t off, void *dst, size_t n)
{
	struct pmt_ucookie *uc = cookie;
	int error;

	if ((error = pmt_uc_seek(uc, UIO_WRITE, off, n)) != 0)
		return error;
	return n == 0 ? 0 : uiomove(dst, n, uc->uc_uio);
}

int
pmt_os_copyout(void *cookie, size_t off, const void *src, size_t n)
{
	struct pmt_ucookie *uc = cookie;
	int error;

	if ((error = pmt_uc_seek(uc, UIO_READ, off, n)) != 0)
		return error;
	/* uiomove() takes a non-const buffer; a UIO_READ only reads it. */
	return n == 0 ? 0 : uiomove(__UNCONST(src), n, uc->uc_uio);
}

