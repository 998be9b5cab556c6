//! SG_IO and the sg ioctls, as Linux's SCSI ioctls answer them
//! (drivers/scsi/scsi_ioctl.c) on any SCSI device node: a changer master
//! passes every command to the library daemon, a tape master passes the
//! commands that do not move the medium to the drive daemon. The device
//! side is an [`Executor`]; the command, its data and sense buffers are in
//! the caller's memory (reached through the host), and callers without
//! CAP_SYS_RAWIO get only what Linux's command filter ([`filter`]) allows.

pub mod filter;

use alloc::vec::Vec;

use crate::errno::{Errno, Result};
use crate::host::Host;
use crate::proto::scsi::{self, status, Dir, ScsiRep};

/// What SG_GET_VERSION_NUM answers (sg 3.5.27, as Linux's).
pub const VERSION_NUM: i32 = 30527;
/// `SG_DXFER_NONE`.
pub const DXFER_NONE: i32 = -1;
/// `SG_DXFER_TO_DEV`.
pub const DXFER_TO_DEV: i32 = -2;
/// `SG_DXFER_FROM_DEV`.
pub const DXFER_FROM_DEV: i32 = -3;
/// `SG_DXFER_TO_FROM_DEV`: treated as FROM_DEV.
pub const DXFER_TO_FROM_DEV: i32 = -4;
/// `SG_INFO_CHECK`: something other than GOOD happened.
pub const INFO_CHECK: u32 = 1;
/// `DRIVER_SENSE` in `driver_status`.
pub const DRIVER_SENSE: u16 = 0x08;
/// Clock ticks per second of the sg timeout ioctls (Linux's USER_HZ).
pub const USER_HZ: i32 = 100;
/// sg's default timeout (`SG_DEFAULT_TIMEOUT_USER`), in USER_HZ ticks.
pub const DEFAULT_TIMEOUT: i32 = 60 * USER_HZ;
/// sg's default reserved buffer size (`SG_DEF_RESERVED_SIZE`).
pub const RESERVED_SIZE: i32 = 32 * 1024;

/// The input fields of `struct sg_io_hdr`, decoded from either layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SgIo {
    /// `interface_id`: 'S'.
    pub interface_id: i32,
    /// `dxfer_direction` (`SG_DXFER_*`).
    pub dxfer_direction: i32,
    /// `cmd_len`.
    pub cmd_len: u8,
    /// `mx_sb_len`: room for sense data at `sbp`.
    pub mx_sb_len: u8,
    /// `iovec_count`: pmt takes plain buffers only.
    pub iovec_count: u16,
    /// `dxfer_len`.
    pub dxfer_len: u32,
    /// `dxferp`.
    pub dxferp: u64,
    /// `cmdp`.
    pub cmdp: u64,
    /// `sbp`.
    pub sbp: u64,
    /// `timeout`, milliseconds (0: the unit's SG_SET_TIMEOUT value).
    pub timeout: u32,
    /// `flags`.
    pub flags: u32,
}

/// The output fields of `struct sg_io_hdr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SgResult {
    /// `status`: the SCSI status.
    pub status: u8,
    /// `masked_status`: the status shifted right one bit.
    pub masked_status: u8,
    /// `sb_len_wr`: sense bytes written at `sbp`.
    pub sb_len_wr: u8,
    /// `host_status`.
    pub host_status: u16,
    /// `driver_status`: DRIVER_SENSE with CHECK CONDITION.
    pub driver_status: u16,
    /// `resid`: bytes not moved.
    pub resid: i32,
    /// `duration`: milliseconds (pmt does not time commands: 0).
    pub duration: u32,
    /// `info`: SG_INFO_CHECK when anything is not GOOD.
    pub info: u32,
}

/// An sg ioctl, whatever unit it reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SgIoctl {
    /// SG_IO: one SCSI command with its buffers in the caller's memory.
    Io(SgIo),
    /// SG_GET_VERSION_NUM.
    Version,
    /// SG_SET_TIMEOUT, in USER_HZ ticks.
    SetTimeout(i32),
    /// SG_GET_TIMEOUT (the value is the ioctl's return value).
    GetTimeout,
    /// SG_GET_RESERVED_SIZE.
    GetReserved,
    /// SG_SET_RESERVED_SIZE.
    SetReserved(i32),
    /// SG_EMULATED_HOST.
    EmulatedHost,
    /// SG_GET_SCSI_ID.
    ScsiId,
    /// SCSI_IOCTL_GET_IDLUN.
    IdLun,
    /// SCSI_IOCTL_GET_BUS_NUMBER.
    BusNumber,
}

/// What an sg ioctl answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SgAnswer {
    /// Nothing to copy out.
    Done,
    /// An int to copy out.
    Int(i32),
    /// A value the ioctl returns (SG_GET_TIMEOUT).
    Return(i32),
    /// SG_IO's output fields.
    Io(SgResult),
    /// The device's address (SG_GET_SCSI_ID, SCSI_IOCTL_GET_IDLUN, the bus).
    Address(Address),
}

/// Where a unit sits on its pseudo SCSI bus, as the sg ioctls report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Address {
    /// The host adapter number.
    pub host: u32,
    /// The target id (the unit number).
    pub id: u32,
    /// The SCSI peripheral type (1 tape, 8 medium changer).
    pub kind: u8,
}

/// The sg settings of a device node (SG_SET_TIMEOUT, SG_SET_RESERVED_SIZE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SgState {
    /// The timeout, USER_HZ ticks.
    pub timeout: i32,
    /// The reserved buffer size.
    pub reserved: i32,
}

impl Default for SgState {
    fn default() -> SgState {
        SgState { timeout: DEFAULT_TIMEOUT, reserved: RESERVED_SIZE }
    }
}

/// A completed command: status, sense and the data it returned.
#[derive(Debug)]
pub struct Done {
    /// The reply (status, sense, residue).
    pub rep: ScsiRep,
    /// Data from the device.
    pub data: Vec<u8>,
}

impl Done {
    /// Sense key, ASC and ASCQ of a CHECK CONDITION.
    pub fn sense(&self) -> Option<(u8, u8, u8)> {
        if self.rep.status == status::CHECK_CONDITION {
            scsi::sense::decode(self.rep.sense_data())
        } else {
            None
        }
    }
}

/// The device side of SG_IO: executes a command for the caller.
pub trait Executor {
    /// The host of the call (user memory, privileges).
    fn host(&mut self) -> &mut dyn Host;
    /// Executes `cdb`, sending `data` (to the device) or receiving at most
    /// `xfer` bytes (from it), within `timeout_ms`.
    fn execute(&mut self, cdb: &[u8], dir: Dir, data: Vec<u8>, xfer: u32, timeout_ms: u32) -> Result<Done>;
}

/// Runs an sg ioctl for a device at `address`, whose file was opened for
/// writing if `writable`.
pub fn run(st: &mut SgState, ex: &mut dyn Executor, what: SgIoctl, writable: bool, address: Address) -> Result<SgAnswer> {
    match what {
        SgIoctl::Io(h) => sg_io(st, ex, &h, writable).map(SgAnswer::Io),
        SgIoctl::Version => Ok(SgAnswer::Int(VERSION_NUM)),
        SgIoctl::SetTimeout(t) => {
            st.timeout = t.max(0);
            Ok(SgAnswer::Done)
        }
        SgIoctl::GetTimeout => Ok(SgAnswer::Return(st.timeout)),
        SgIoctl::GetReserved => Ok(SgAnswer::Int(st.reserved)),
        SgIoctl::SetReserved(n) if n < 0 => Err(Errno::Inval),
        SgIoctl::SetReserved(n) => {
            st.reserved = n.min(scsi::XFER_MAX as i32);
            Ok(SgAnswer::Done)
        }
        SgIoctl::EmulatedHost => Ok(SgAnswer::Int(0)),
        SgIoctl::ScsiId | SgIoctl::IdLun | SgIoctl::BusNumber => Ok(SgAnswer::Address(address)),
    }
}

/// SG_IO (sg_io and scsi_complete_sghdr_rq).
fn sg_io(st: &SgState, ex: &mut dyn Executor, h: &SgIo, writable: bool) -> Result<SgResult> {
    if h.interface_id != i32::from(b'S') {
        return Err(Errno::Inval);
    }
    if h.dxfer_len > scsi::XFER_MAX {
        return Err(Errno::Io);
    }
    let dir = match (h.dxfer_len, h.dxfer_direction) {
        (0, _) => Dir::None,
        (_, DXFER_TO_DEV) => Dir::ToDev,
        (_, DXFER_FROM_DEV | DXFER_TO_FROM_DEV) => Dir::FromDev,
        _ => return Err(Errno::Inval),
    };
    if h.iovec_count != 0 {
        return Err(Errno::Inval);
    }
    let len = usize::from(h.cmd_len);
    if len > scsi::CDB_MAX {
        return Err(Errno::Inval);
    }
    if len < 6 {
        return Err(Errno::MsgSize);
    }
    let mut cdb = [0u8; scsi::CDB_MAX];
    let cdb = cdb.get_mut(..len).ok_or(Errno::Inval)?;
    ex.host().copyin_addr(h.cmdp, cdb)?;
    let raw = ex.host().raw_io();
    if !filter::allowed(cdb, writable, raw) {
        return Err(Errno::Perm);
    }
    let mut data = Vec::new();
    if dir == Dir::ToDev {
        let n = h.dxfer_len as usize;
        data.try_reserve_exact(n).map_err(|_| Errno::NoMem)?;
        data.resize(n, 0);
        ex.host().copyin_addr(h.dxferp, &mut data)?;
    }
    let ms = if h.timeout != 0 { h.timeout } else { u32::try_from(st.timeout).unwrap_or(0).saturating_mul(1000 / USER_HZ as u32) };
    let d = ex.execute(cdb, dir, data, h.dxfer_len, ms)?;
    if dir == Dir::FromDev && !d.data.is_empty() {
        ex.host().copyout_addr(h.dxferp, &d.data)?;
    }
    let s = d.rep.status;
    let mut r = SgResult { status: s, masked_status: (s >> 1) & 0x7f, resid: i32::try_from(d.rep.resid).unwrap_or(i32::MAX), ..SgResult::default() };
    if s == status::CHECK_CONDITION {
        r.driver_status = DRIVER_SENSE;
    }
    let sense = d.rep.sense_data();
    if !sense.is_empty() && h.sbp != 0 {
        let n = sense.len().min(usize::from(h.mx_sb_len));
        ex.host().copyout_addr(h.sbp, sense.get(..n).unwrap_or_default())?;
        r.sb_len_wr = n as u8;
    }
    if r.masked_status != 0 || r.host_status != 0 || r.driver_status != 0 {
        r.info |= INFO_CHECK;
    }
    Ok(r)
}
