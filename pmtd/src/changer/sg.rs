//! A changer on this host: SG_IO on its node (`/dev/sgN`, `/dev/schN`,
//! `/dev/pmcmN`), with `struct sg_io_hdr` as Linux's scsi/sg.h lays it out.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use pmt::abi::linux_sg::SG_IO;
use pmt::proto::scsi::SENSE_MAX;

use super::{Command, Dir, Outcome, ScsiPort};

/// `SG_DXFER_NONE`, `SG_DXFER_TO_DEV`, `SG_DXFER_FROM_DEV`.
const DXFER_NONE: i32 = -1;
const DXFER_TO_DEV: i32 = -2;
const DXFER_FROM_DEV: i32 = -3;
/// `DRIVER_SENSE`: the driver status bit that says sense was written.
const DRIVER_SENSE: u16 = 0x08;

/// `struct sg_io_hdr`.
#[repr(C)]
#[derive(Debug)]
struct SgIoHdr {
    interface_id: i32,
    dxfer_direction: i32,
    cmd_len: u8,
    mx_sb_len: u8,
    iovec_count: u16,
    dxfer_len: u32,
    dxferp: *mut u8,
    cmdp: *const u8,
    sbp: *mut u8,
    timeout: u32,
    flags: u32,
    pack_id: i32,
    usr_ptr: *mut u8,
    status: u8,
    masked_status: u8,
    msg_status: u8,
    sb_len_wr: u8,
    host_status: u16,
    driver_status: u16,
    resid: i32,
    duration: u32,
    info: u32,
}

nix::ioctl_readwrite_bad!(sg_io, SG_IO, SgIoHdr);

/// A changer node opened for SG_IO.
#[derive(Debug)]
pub struct SgPort {
    path: PathBuf,
    file: File,
}

impl SgPort {
    /// Opens `path` read-write (SG_IO of MOVE MEDIUM and READ ELEMENT
    /// STATUS needs it, and CAP_SYS_RAWIO, as mtx does).
    pub fn open(path: &Path) -> io::Result<SgPort> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(SgPort { path: path.to_owned(), file })
    }
}

impl ScsiPort for SgPort {
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    #[allow(unsafe_code)]
    fn execute(&mut self, cmd: &Command) -> io::Result<Outcome> {
        if cmd.cdb.is_empty() || cmd.cdb.len() > 16 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a command of 1 to 16 bytes"));
        }
        let mut data = match cmd.dir {
            Dir::FromDev => vec![0u8; cmd.alloc as usize],
            Dir::ToDev => cmd.data_out.clone(),
            Dir::None => Vec::new(),
        };
        let mut sense = [0u8; SENSE_MAX];
        let mut h = SgIoHdr {
            interface_id: i32::from(b'S'),
            dxfer_direction: match cmd.dir {
                Dir::None => DXFER_NONE,
                Dir::ToDev => DXFER_TO_DEV,
                Dir::FromDev => DXFER_FROM_DEV,
            },
            cmd_len: cmd.cdb.len() as u8,
            mx_sb_len: SENSE_MAX as u8,
            iovec_count: 0,
            dxfer_len: data.len() as u32,
            dxferp: if data.is_empty() { std::ptr::null_mut() } else { data.as_mut_ptr() },
            cmdp: cmd.cdb.as_ptr(),
            sbp: sense.as_mut_ptr(),
            timeout: u32::try_from(cmd.timeout.as_millis()).unwrap_or(u32::MAX).max(1),
            flags: 0,
            pack_id: 0,
            usr_ptr: std::ptr::null_mut(),
            status: 0,
            masked_status: 0,
            msg_status: 0,
            sb_len_wr: 0,
            host_status: 0,
            driver_status: 0,
            resid: 0,
            duration: 0,
            info: 0,
        };
        // SAFETY: the descriptor is open for the lifetime of `self.file`;
        // `h` is a valid `struct sg_io_hdr` whose pointers designate `data`
        // (`dxfer_len` bytes, or null with a length of 0), the command
        // (`cmd_len` bytes) and `sense` (`mx_sb_len` bytes), all of which
        // outlive the call, which is synchronous.
        unsafe { sg_io(self.file.as_raw_fd(), &mut h) }.map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("{}: SG_IO: {e}", self.path.display())))?;
        if h.host_status != 0 || h.driver_status & !DRIVER_SENSE != 0 {
            return Err(io::Error::other(format!(
                "{}: the command did not complete (host status {:#x}, driver status {:#x})",
                self.path.display(),
                h.host_status,
                h.driver_status
            )));
        }
        if cmd.dir == Dir::FromDev {
            let got = data.len().saturating_sub(usize::try_from(h.resid.max(0)).unwrap_or(0));
            data.truncate(got);
        } else {
            data.clear();
        }
        let n = usize::from(h.sb_len_wr).min(SENSE_MAX);
        Ok(Outcome { status: h.status, sense: sense[..n].to_vec(), data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_has_linuxs_layout() {
        if cfg!(target_pointer_width = "64") {
            assert_eq!(std::mem::size_of::<SgIoHdr>(), pmt::abi::linux_sg::SG_IO_HDR_SIZE);
            assert_eq!(std::mem::offset_of!(SgIoHdr, timeout), 40);
            assert_eq!(std::mem::offset_of!(SgIoHdr, status), 64);
            assert_eq!(std::mem::offset_of!(SgIoHdr, resid), 72);
        }
    }

    #[test]
    fn a_plain_file_takes_no_sg_io() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plain");
        std::fs::write(&p, b"x").unwrap();
        let mut port = SgPort::open(&p).unwrap();
        let e = port.execute(&Command::read(&[0x12, 0, 0, 0, 36, 0], 36, std::time::Duration::from_secs(1))).unwrap_err();
        assert!(e.to_string().contains("SG_IO"), "{e}");
    }
}
