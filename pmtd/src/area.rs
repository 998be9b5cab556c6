//! A unit's data area, on pmtd's side: the memory the driver and pmtd
//! share, where a write's data waits to be stored and a read-ahead run is
//! read into (requests with `PMT_RF_AREA` name a slice by offset and
//! length). With the Linux driver it is the slave's mapping ([`Area::map`]);
//! in-process tests share plain memory with the core ([`Area::simulated`]).
//!
//! The driver hands a slice to pmtd with a request and does not touch it
//! until pmtd has replied; pmtd touches only the slices of the requests it
//! is answering. So the slices pmtd borrows are never written by anyone
//! else while it holds them.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::AsFd;
use std::ptr::NonNull;
use std::sync::Mutex;

use pmt::HostArea;

/// A data area shared with the driver.
#[derive(Debug)]
pub struct Area {
    ptr: NonNull<u8>,
    len: usize,
    mapped: bool,
}

// SAFETY: the area is plain memory; who touches which slice when is the
// protocol's (module documentation), not the thread's.
unsafe impl Send for Area {}

impl Area {
    /// Maps the data area of the slave `fd`, whose size the driver gave
    /// (PMT_SIOCAREA).
    pub fn map(fd: impl AsFd, size: usize) -> io::Result<Area> {
        let len = std::num::NonZeroUsize::new(size).ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: a new shared mapping of the device, not aliased by any
        // Rust object; it lives until Drop unmaps it.
        let p = unsafe {
            nix::sys::mman::mmap(
                None,
                len,
                nix::sys::mman::ProtFlags::PROT_READ | nix::sys::mman::ProtFlags::PROT_WRITE,
                nix::sys::mman::MapFlags::MAP_SHARED,
                fd,
                0,
            )
        }
        .map_err(io::Error::from)?;
        Ok(Area { ptr: p.cast(), len: size, mapped: true })
    }

    /// The data area of the slave `fd`: its size from the driver
    /// (PMT_SIOCAREA), mapped. None if the driver has none (a changer, a
    /// driver that does not know the ioctl).
    pub fn of_slave(fd: &std::fs::File) -> io::Result<Option<Area>> {
        nix::ioctl_read!(area_size, b'p', 1, u64);
        let mut size = 0u64;
        // SAFETY: the ioctl writes one u64 to `size`, which outlives it.
        match unsafe { area_size(std::os::fd::AsRawFd::as_raw_fd(fd), &mut size) } {
            Ok(_) if size > 0 => Area::map(fd, usize::try_from(size).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?).map(Some),
            Ok(_) | Err(nix::errno::Errno::ENOTTY) | Err(nix::errno::Errno::EINVAL) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// An area of `size` bytes in this process, shared with an in-process
    /// core through the [`HostArea`] returned with it (tests, simulations).
    pub fn simulated(size: usize) -> (Area, HostArea) {
        let mem: Box<[u8]> = vec![0u8; size].into_boxed_slice();
        let len = mem.len();
        let ptr = NonNull::from(Box::leak(mem)).cast::<u8>();
        let mut reg = SIMULATED.lock().unwrap_or_else(|e| e.into_inner());
        reg.push((ptr.as_ptr() as usize, len));
        let host = HostArea::new(sim_read, sim_write, reg.len() - 1);
        (Area { ptr, len, mapped: false }, host)
    }

    /// Its size.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slice of `len` bytes at `off`, if it lies in the area.
    pub fn slice(&self, off: usize, len: usize) -> Option<&[u8]> {
        let end = off.checked_add(len)?;
        (end <= self.len).then(|| {
            // SAFETY: in bounds; the driver does not write a slice pmtd is
            // answering for (module documentation).
            unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(off), len) }
        })
    }

    /// The slice of `len` bytes at `off` to write into, if it lies in the area.
    pub fn slice_mut(&mut self, off: usize, len: usize) -> Option<&mut [u8]> {
        let end = off.checked_add(len)?;
        (end <= self.len).then(|| {
            // SAFETY: in bounds, and &mut self: no other slice of pmtd's is
            // alive; the driver does not read it before pmtd replies.
            unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().add(off), len) }
        })
    }
}

impl Drop for Area {
    fn drop(&mut self) {
        if self.mapped {
            // SAFETY: the mapping made in map(), no longer borrowed.
            let _ = unsafe { nix::sys::mman::munmap(self.ptr.cast(), self.len) };
        }
        // A simulated area stays: the in-process core may still reach it.
    }
}

/// Simulated areas: where each starts and its length, by index.
static SIMULATED: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());

fn sim_range(i: usize, off: usize, n: usize) -> Option<*mut u8> {
    let reg = SIMULATED.lock().unwrap_or_else(|e| e.into_inner());
    let &(p, len) = reg.get(i)?;
    (off.checked_add(n)? <= len).then_some((p + off) as *mut u8)
}

fn sim_read(i: usize, off: usize, dst: &mut [u8]) -> bool {
    let Some(p) = sim_range(i, off, dst.len()) else { return false };
    // SAFETY: in bounds of a leaked allocation; a byte copy.
    unsafe { std::ptr::copy_nonoverlapping(p, dst.as_mut_ptr(), dst.len()) };
    true
}

fn sim_write(i: usize, off: usize, src: &[u8]) -> bool {
    let Some(p) = sim_range(i, off, src.len()) else { return false };
    // SAFETY: as in sim_read.
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), p, src.len()) };
    true
}
