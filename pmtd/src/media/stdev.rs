//! What a tape medium needs from an st-compatible device: one record per
//! read(2)/write(2), MTIOCTOP, MTIOCGET, MTIOCPOS. [`FdDevice`] is the real
//! device node; the rmt client ([`crate::media::rmt::RmtDevice`]) and the
//! tests' simulated master implement the same trait.
//!
//! Errors are `io::Error`s carrying the device's errno (`raw_os_error`),
//! so ENOSPC, EIO, EACCES... keep their meaning whatever the transport.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Linux MTIOCTOP operation numbers (include/uapi/linux/mtio.h).
pub mod op {
    /// Forward space over filemarks.
    pub const FSF: i16 = 1;
    /// Backward space over filemarks.
    pub const BSF: i16 = 2;
    /// Forward space records.
    pub const FSR: i16 = 3;
    /// Backward space records.
    pub const BSR: i16 = 4;
    /// Write filemarks (0: flush the buffer).
    pub const WEOF: i16 = 5;
    /// Rewind.
    pub const REW: i16 = 6;
    /// Rewind and unload.
    pub const OFFL: i16 = 7;
    /// No operation (st flushes its buffer).
    pub const NOP: i16 = 8;
    /// Space to the end of recorded data.
    pub const EOM: i16 = 12;
    /// Erase (0: short erase, end of data at the position).
    pub const ERASE: i16 = 13;
    /// Set the block size (0: variable).
    pub const SETBLK: i16 = 20;
    /// Locate a logical object address.
    pub const SEEK: i16 = 22;
}

/// `mt_gstat` bits (Linux).
pub mod gmt {
    /// Just after a filemark.
    pub const EOF: u32 = 0x8000_0000;
    /// At the beginning of tape.
    pub const BOT: u32 = 0x4000_0000;
    /// Past early warning.
    pub const EOT: u32 = 0x2000_0000;
    /// At the end of recorded data.
    pub const EOD: u32 = 0x0800_0000;
    /// Write protected.
    pub const WR_PROT: u32 = 0x0400_0000;
    /// A medium is loaded and ready.
    pub const ONLINE: u32 = 0x0100_0000;
    /// No medium (door open).
    pub const DR_OPEN: u32 = 0x0004_0000;
}

/// What MTIOCGET says, decoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MtStatus {
    /// `mt_gstat` ([`gmt`] bits).
    pub gstat: u32,
    /// `mt_fileno` (-1: unknown).
    pub fileno: i32,
    /// `mt_blkno` (-1: unknown).
    pub blkno: i32,
    /// `mt_dsreg`: block size and density.
    pub dsreg: i64,
}

impl MtStatus {
    /// True if all of `bits` are set.
    pub fn has(&self, bits: u32) -> bool {
        self.gstat & bits == bits
    }
}

/// An st-compatible tape device.
pub trait StDevice: fmt::Debug + Send {
    /// The device's name for logs and errors.
    fn name(&self) -> String;
    /// True if it was opened read only (the medium is write protected).
    fn opened_readonly(&self) -> bool;
    /// One write(2): one record.
    fn write(&mut self, data: &[u8]) -> io::Result<usize>;
    /// One read(2): one record (or 0 at a filemark or the end of data).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// MTIOCTOP with Linux operation numbers ([`op`]).
    fn mtop(&mut self, op: i16, count: i32) -> io::Result<()>;
    /// MTIOCGET. `ErrorKind::Unsupported` if the device cannot tell.
    fn mtget(&mut self) -> io::Result<MtStatus>;
    /// MTIOCPOS: the logical object address. `ErrorKind::Unsupported` if
    /// the device cannot tell.
    fn mtpos(&mut self) -> io::Result<u64>;
}

/// Opens a device: how a volume sequence gets its volumes.
pub trait StOpener: fmt::Debug + Send {
    /// The device type.
    type Device: StDevice;
    /// Opens it; with `probe`, without waiting for a medium (O_NONBLOCK),
    /// only to ask whether one is there.
    fn open(&mut self, probe: bool) -> io::Result<Self::Device>;
    /// The device's name.
    fn name(&self) -> String;
}

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

nix::ioctl_write_ptr!(mtioctop, b'm', 1, RawMtop);
nix::ioctl_read!(mtiocget, b'm', 2, RawMtget);
nix::ioctl_read!(mtiocpos, b'm', 3, RawMtpos);

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

    fn mtop(&mut self, op: i16, count: i32) -> io::Result<()> {
        let arg = RawMtop { mt_op: op, mt_count: count };
        // SAFETY: the descriptor is open for the lifetime of `self.file`,
        // and `arg` is a valid `struct mtop` that outlives the call.
        unsafe { mtioctop(self.file.as_raw_fd(), &arg) }.map(drop).map_err(io::Error::from)
    }

    // c_long is i32 on 32-bit targets: the conversion is not useless there.
    #[allow(clippy::useless_conversion)]
    fn mtget(&mut self) -> io::Result<MtStatus> {
        let mut g = RawMtget::default();
        // SAFETY: as in `mtop`; `g` is a writable `struct mtget` of the
        // size the request code encodes.
        unsafe { mtiocget(self.file.as_raw_fd(), &mut g) }.map_err(io::Error::from)?;
        Ok(MtStatus { gstat: g.mt_gstat as u32, fileno: g.mt_fileno, blkno: g.mt_blkno, dsreg: i64::from(g.mt_dsreg) })
    }

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
    fn ioctl_request_codes_are_linux_s() {
        assert_eq!(nix::request_code_write!(b'm', 1, std::mem::size_of::<RawMtop>()) as u64, 0x4008_6d01);
        if cfg!(target_pointer_width = "64") {
            assert_eq!(nix::request_code_read!(b'm', 2, std::mem::size_of::<RawMtget>()) as u64, 0x8030_6d02);
            assert_eq!(nix::request_code_read!(b'm', 3, std::mem::size_of::<RawMtpos>()) as u64, 0x8008_6d03);
        }
    }

    #[test]
    fn a_regular_file_is_not_a_tape() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plain");
        std::fs::write(&p, b"x").unwrap();
        let mut d = FdDevice::open(&p, false).unwrap();
        let e = d.mtop(op::NOP, 1).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTTY));
        assert_eq!(d.mtget().unwrap_err().raw_os_error(), Some(libc::ENOTTY));
    }
}
