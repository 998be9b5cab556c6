//! Vectored writes and reads into spare capacity, on the image file.

use std::fs::File;
use std::io;
use std::os::unix::io::AsRawFd;

/// Iovecs per pwritev: Linux's IOV_MAX.
pub(super) const IOV_CHUNK: usize = 1024;

/// pwritev(2) until every part is written.
pub(super) fn write_all_vectored_at(file: &File, parts: &[&[u8]], mut off: u64) -> io::Result<()> {
    let mut iov: Vec<libc::iovec> = parts
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| libc::iovec { iov_base: p.as_ptr() as *mut libc::c_void, iov_len: p.len() })
        .collect();
    let mut first = 0;
    while first < iov.len() {
        let Ok(fileoff) = libc::off_t::try_from(off) else {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        };
        let rest = iov.get(first..).unwrap_or_default();
        // SAFETY: every iovec points into a live slice of `parts` (or into
        // one after advancing), with its length; pwritev only reads them.
        let n = unsafe { libc::pwritev(file.as_raw_fd(), rest.as_ptr(), rest.len() as libc::c_int, fileoff) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::WriteZero));
        }
        let mut n = n as usize;
        off += n as u64;
        while n > 0 {
            let Some(v) = iov.get_mut(first) else { break };
            if n >= v.iov_len {
                n -= v.iov_len;
                first += 1;
            } else {
                // SAFETY: n < iov_len, so the advanced pointer stays in the slice.
                v.iov_base = unsafe { v.iov_base.cast::<u8>().add(n) }.cast();
                v.iov_len -= n;
                n = 0;
            }
        }
    }
    Ok(())
}

/// Reads exactly `len` bytes at `off` of `file` into the spare capacity of
/// `out` (reserved by the caller) and extends `out` over them.
pub(super) fn pread_append(file: &File, out: &mut Vec<u8>, len: usize, mut off: u64) -> io::Result<()> {
    if out.capacity() - out.len() < len {
        out.try_reserve(len).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
    }
    let mut done = 0usize;
    while done < len {
        let Ok(fileoff) = libc::off_t::try_from(off) else {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        };
        let spare = out.spare_capacity_mut();
        // SAFETY: `spare` has at least len - done bytes past `done`
        // (reserved above); pread writes at most that many there, and only
        // what it reports as read is then counted as initialised.
        let n = unsafe { libc::pread(file.as_raw_fd(), spare.as_mut_ptr().add(done).cast(), len - done, fileoff) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        done += n as usize;
        off += n as u64;
    }
    // SAFETY: pread initialised the `len` bytes after the old length.
    unsafe { out.set_len(out.len() + len) };
    Ok(())
}

