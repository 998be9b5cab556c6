//! A tape device node (`tape:`): read(2), write(2) and the mtio ioctls on
//! an open file, with the request numbers of Linux's mtio from the core
//! ([`pmt::abi::linux`]).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use pmt::abi::linux;

use super::{MtStatus, StDevice, StOpener};

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct RawMtop {
    mt_op: i16,
    mt_count: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct RawMtget {
    mt_type: libc::c_long,
    mt_resid: libc::c_long,
    mt_dsreg: libc::c_long,
    mt_gstat: libc::c_long,
    mt_erreg: libc::c_long,
    mt_fileno: libc::c_int,
    mt_blkno: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct RawMtpos {
    mt_blkno: libc::c_long,
}

/// MTIOCGET and MTIOCPOS for this target's `long`.
const MTIOCGET: u32 = if cfg!(target_pointer_width = "64") { linux::MTIOCGET } else { linux::MTIOCGET32 };
const MTIOCPOS: u32 = if cfg!(target_pointer_width = "64") { linux::MTIOCPOS } else { linux::MTIOCPOS32 };

nix::ioctl_write_ptr_bad!(mtioctop, linux::MTIOCTOP, RawMtop);
nix::ioctl_read_bad!(mtiocget, MTIOCGET, RawMtget);
nix::ioctl_read_bad!(mtiocpos, MTIOCPOS, RawMtpos);

/// A tape device node opened read-write, or read only when the medium is
/// write protected.
#[derive(Debug)]
pub struct FdDevice {
    path: PathBuf,
    file: File,
    readonly: bool,
}

impl FdDevice {
    /// Opens `path` O_RDWR, falling back to O_RDONLY if the medium is write
    /// protected (EROFS, EACCES). With `nonblock`, O_NONBLOCK: the open
    /// succeeds with no medium (st), to ask the status.
    pub fn open(path: &Path, nonblock: bool) -> io::Result<FdDevice> {
        let flags = if nonblock { libc::O_NONBLOCK } else { 0 };
        let rw = OpenOptions::new().read(true).write(true).custom_flags(flags).open(path);
        match rw {
            Ok(file) => Ok(FdDevice { path: path.to_owned(), file, readonly: false }),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EROFS) | Some(libc::EACCES)) => {
                let file = OpenOptions::new().read(true).custom_flags(flags).open(path)?;
                Ok(FdDevice { path: path.to_owned(), file, readonly: true })
            }
            Err(e) => Err(e),
        }
    }
}

impl StDevice for FdDevice {
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn opened_readonly(&self) -> bool {
        self.readonly
    }

    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        loop {
            match self.file.write(data) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.file.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }

    #[allow(unsafe_code)]
    fn mtop(&mut self, op: i16, count: i32) -> io::Result<()> {
        let arg = RawMtop { mt_op: op, mt_count: count };
        // SAFETY: the descriptor is open for the lifetime of `self.file`,
        // and `arg` is a valid `struct mtop` that outlives the call.
        unsafe { mtioctop(self.file.as_raw_fd(), &arg) }.map(drop).map_err(io::Error::from)
    }

    // c_long is i32 on 32-bit targets: the conversion is not useless there.
    #[allow(clippy::useless_conversion, unsafe_code)]
    fn mtget(&mut self) -> io::Result<MtStatus> {
        let mut g = RawMtget::default();
        // SAFETY: as in `mtop`; `g` is a writable `struct mtget` of the
        // size the request code encodes.
        unsafe { mtiocget(self.file.as_raw_fd(), &mut g) }.map_err(io::Error::from)?;
        Ok(MtStatus { gstat: g.mt_gstat as u32, fileno: g.mt_fileno, blkno: g.mt_blkno, dsreg: i64::from(g.mt_dsreg) })
    }

    #[allow(unsafe_code)]
    fn mtpos(&mut self) -> io::Result<u64> {
        let mut p = RawMtpos::default();
        // SAFETY: as in `mtget`, for a `struct mtpos`.
        unsafe { mtiocpos(self.file.as_raw_fd(), &mut p) }.map_err(io::Error::from)?;
        u64::try_from(p.mt_blkno).map_err(|_| io::Error::other("MTIOCPOS: position unknown"))
    }
}

/// Opens a device node by path.
#[derive(Clone, Debug)]
pub struct FdOpener {
    /// The node.
    pub path: PathBuf,
}

impl StOpener for FdOpener {
    type Device = FdDevice;

    fn open(&mut self, probe: bool) -> io::Result<FdDevice> {
        FdDevice::open(&self.path, probe)
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_structures_have_the_linux_sizes() {
        assert_eq!(std::mem::size_of::<RawMtop>(), 8);
        assert_eq!(std::mem::size_of::<RawMtget>(), if cfg!(target_pointer_width = "64") { 48 } else { 28 });
        assert_eq!(std::mem::size_of::<RawMtpos>(), std::mem::size_of::<libc::c_long>());
    }

    #[test]
    fn ioctl_request_codes_are_the_cores() {
        // The codes the structures' sizes give are the ones the core defines.
        assert_eq!(nix::request_code_write!(b'm', 1, std::mem::size_of::<RawMtop>()) as u64, u64::from(linux::MTIOCTOP));
        assert_eq!(nix::request_code_read!(b'm', 2, std::mem::size_of::<RawMtget>()) as u64, u64::from(MTIOCGET));
        assert_eq!(nix::request_code_read!(b'm', 3, std::mem::size_of::<RawMtpos>()) as u64, u64::from(MTIOCPOS));
        if cfg!(target_pointer_width = "64") {
            assert_eq!(std::mem::size_of::<RawMtget>(), linux::MTGET_SIZE);
        }
    }

    #[test]
    fn a_regular_file_is_not_a_tape() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plain");
        std::fs::write(&p, b"x").unwrap();
        let mut d = FdDevice::open(&p, false).unwrap();
        let e = d.mtop(linux::op::NOP, 1).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTTY));
        assert_eq!(d.mtget().unwrap_err().raw_os_error(), Some(libc::ENOTTY));
    }
}
