//! The sg ioctls every Linux SCSI node takes (include/scsi/sg.h,
//! include/scsi/scsi_ioctl.h), with `struct sg_io_hdr` in its 64- and
//! 32-bit layouts: the changer master and the tape master both answer them.

use crate::errno::{Errno, Result};
use crate::host::{UserIn, UserOut};
use crate::sgio::{Address, SgAnswer, SgIo, SgIoctl, SgResult};

/// `SG_IO`.
pub const SG_IO: u32 = 0x2285;
/// `SG_GET_VERSION_NUM`.
pub const SG_GET_VERSION_NUM: u32 = 0x2282;
/// `SG_SET_TIMEOUT`.
pub const SG_SET_TIMEOUT: u32 = 0x2201;
/// `SG_GET_TIMEOUT`.
pub const SG_GET_TIMEOUT: u32 = 0x2202;
/// `SG_EMULATED_HOST`.
pub const SG_EMULATED_HOST: u32 = 0x2203;
/// `SG_GET_RESERVED_SIZE`.
pub const SG_GET_RESERVED_SIZE: u32 = 0x2272;
/// `SG_SET_RESERVED_SIZE`.
pub const SG_SET_RESERVED_SIZE: u32 = 0x2275;
/// `SG_GET_SCSI_ID`.
pub const SG_GET_SCSI_ID: u32 = 0x2276;
/// `SCSI_IOCTL_GET_IDLUN`.
pub const SCSI_IOCTL_GET_IDLUN: u32 = 0x5382;
/// `SCSI_IOCTL_GET_BUS_NUMBER`.
pub const SCSI_IOCTL_GET_BUS_NUMBER: u32 = 0x5386;

/// `sizeof(struct sg_io_hdr)` on x86_64 and for 32-bit processes.
pub const SG_IO_HDR_SIZE: usize = 88;
/// See [`SG_IO_HDR_SIZE`].
pub const SG_IO_HDR32_SIZE: usize = 64;
/// SCSI peripheral type of a medium changer (`TYPE_MEDIUM_CHANGER`).
pub const TYPE_MEDIUM_CHANGER: i32 = 8;

/// Bytes of the argument of sg ioctl `cmd` (their numbers encode no
/// size); None for a command that is not an sg ioctl.
pub fn arg_size(cmd: u32, compat32: bool) -> Option<usize> {
    Some(match cmd {
        SG_IO if compat32 => SG_IO_HDR32_SIZE,
        SG_IO => SG_IO_HDR_SIZE,
        SG_GET_VERSION_NUM | SG_SET_TIMEOUT | SG_EMULATED_HOST | SG_GET_RESERVED_SIZE | SG_SET_RESERVED_SIZE
        | SCSI_IOCTL_GET_BUS_NUMBER => 4,
        SCSI_IOCTL_GET_IDLUN => 8,
        SG_GET_SCSI_ID => 32,
        SG_GET_TIMEOUT => 0,
        _ => return None,
    })
}


fn int(arg: &mut dyn UserIn, at: usize) -> Result<i32> {
    Ok(i32::from_ne_bytes(super::read_arg::<4>(arg, at)?))
}

/// Decodes `struct sg_io_hdr`'s input fields.
fn sg_io_hdr(arg: &mut dyn UserIn, compat32: bool) -> Result<SgIo> {
    let mut b = [0u8; SG_IO_HDR_SIZE];
    let n = if compat32 { SG_IO_HDR32_SIZE } else { SG_IO_HDR_SIZE };
    arg.read(0, b.get_mut(..n).ok_or(Errno::Inval)?)?;
    let u32_at = |i: usize| u32::from_ne_bytes(b.get(i..i + 4).and_then(|s| s.try_into().ok()).unwrap_or([0; 4]));
    let ptr = |i: usize| {
        if compat32 {
            u64::from(u32_at(i))
        } else {
            u64::from_ne_bytes(b.get(i..i + 8).and_then(|s| s.try_into().ok()).unwrap_or([0; 8]))
        }
    };
    let byte = |i: usize| b.get(i).copied().unwrap_or(0);
    let (dxferp, cmdp, sbp, timeout, flags) = if compat32 { (16, 20, 24, 28, 32) } else { (16, 24, 32, 40, 44) };
    Ok(SgIo {
        interface_id: u32_at(0) as i32,
        dxfer_direction: u32_at(4) as i32,
        cmd_len: byte(8),
        mx_sb_len: byte(9),
        iovec_count: u16::from_ne_bytes([byte(10), byte(11)]),
        dxfer_len: u32_at(12),
        dxferp: ptr(dxferp),
        cmdp: ptr(cmdp),
        sbp: ptr(sbp),
        timeout: u32_at(timeout),
        flags: u32_at(flags),
    })
}

/// Writes `struct sg_io_hdr`'s output fields.
fn sg_io_out(r: &SgResult, compat32: bool, arg: &mut dyn UserOut) -> Result<()> {
    let at = if compat32 { 44 } else { 64 };
    let mut b = [0u8; 24];
    b[0] = r.status;
    b[1] = r.masked_status;
    b[2] = 0; // msg_status: COMMAND COMPLETE
    b[3] = r.sb_len_wr;
    b[4..6].copy_from_slice(&r.host_status.to_ne_bytes());
    b[6..8].copy_from_slice(&r.driver_status.to_ne_bytes());
    b[8..12].copy_from_slice(&r.resid.to_ne_bytes());
    b[12..16].copy_from_slice(&r.duration.to_ne_bytes());
    b[16..20].copy_from_slice(&r.info.to_ne_bytes());
    arg.write(at, &b[..20])
}

/// Decodes an sg ioctl; None if `cmd` is not one.
pub fn decode(cmd: u32, arg: &mut dyn UserIn, compat32: bool) -> Result<Option<SgIoctl>> {
    Ok(Some(match cmd {
        SG_IO => SgIoctl::Io(sg_io_hdr(arg, compat32)?),
        SG_GET_VERSION_NUM => SgIoctl::Version,
        SG_SET_TIMEOUT => SgIoctl::SetTimeout(int(arg, 0)?),
        SG_GET_TIMEOUT => SgIoctl::GetTimeout,
        SG_GET_RESERVED_SIZE => SgIoctl::GetReserved,
        SG_SET_RESERVED_SIZE => SgIoctl::SetReserved(int(arg, 0)?),
        SG_EMULATED_HOST => SgIoctl::EmulatedHost,
        SG_GET_SCSI_ID => SgIoctl::ScsiId,
        SCSI_IOCTL_GET_IDLUN => SgIoctl::IdLun,
        SCSI_IOCTL_GET_BUS_NUMBER => SgIoctl::BusNumber,
        _ => return Ok(None),
    }))
}

/// Lays an sg ioctl's answer out as Linux does.
pub fn encode(cmd: u32, answer: SgAnswer, compat32: bool, arg: &mut dyn UserOut) -> Result<()> {
    match answer {
        SgAnswer::Done | SgAnswer::Return(_) => Ok(()),
        SgAnswer::Int(v) => arg.write(0, &v.to_ne_bytes()),
        SgAnswer::Io(r) => sg_io_out(&r, compat32, arg),
        SgAnswer::Address(a) => address(cmd, a, arg),
    }
}


fn address(cmd: u32, a: Address, arg: &mut dyn UserOut) -> Result<()> {
    match cmd {
        SG_GET_SCSI_ID => {
            let mut b = [0u8; 32];
            let ints = [a.host as i32, 0, a.id as i32, 0, i32::from(a.kind)];
            for (d, v) in b.chunks_exact_mut(4).zip(ints) {
                d.copy_from_slice(&v.to_ne_bytes());
            }
            // h_cmd_per_lun, d_queue_depth: one command at a time.
            b[20..22].copy_from_slice(&1i16.to_ne_bytes());
            b[22..24].copy_from_slice(&1i16.to_ne_bytes());
            arg.write(0, &b)
        }
        SCSI_IOCTL_GET_IDLUN => {
            let dev_id = (a.id & 0xff) | ((a.host & 0xff) << 24);
            let mut b = [0u8; 8];
            b[0..4].copy_from_slice(&dev_id.to_ne_bytes());
            b[4..8].copy_from_slice(&(a.host as i32).to_ne_bytes());
            arg.write(0, &b)
        }
        _ => arg.write(0, &(a.host as i32).to_ne_bytes()),
    }
}

