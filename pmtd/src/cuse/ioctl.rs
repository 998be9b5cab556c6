//! Unrestricted CUSE ioctls: which regions of the caller's memory an ioctl
//! reads and writes, asked for with FUSE_IOCTL_RETRY until the kernel has
//! brought all of them, and that memory served to the core as the ioctl's
//! argument and as the addresses inside it (SG_IO's command, data and
//! sense buffers, CHIOGSTATUS's array).
//!
//! The kernel calls the server again for every retry, each time with the
//! in-regions' current contents; the plan is a pure function of the
//! command and those contents, so the call that brings every region the
//! plan names is the one that runs the command, and it runs once.

use pmt::abi::{linux_changer, linux_sg};
use pmt::sgio::{DXFER_FROM_DEV, DXFER_TO_DEV, DXFER_TO_FROM_DEV};
use pmt::{Errno, Pair, UserIn, UserOut};

use std::cell::RefCell;

/// A region of the caller's memory. Every region is brought in (so the
/// bytes the core does not write go back unchanged); `out` ones are
/// written back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// The caller's address.
    pub addr: u64,
    /// Bytes.
    pub len: usize,
    /// Written back to the caller.
    pub out: bool,
}

/// What to do with an ioctl request.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// Every region is here: run the command.
    Run(Vec<Region>),
    /// Ask the kernel again for these regions.
    Retry(Vec<Region>),
}

const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// Whether the argument of `cmd` goes back to the caller.
fn arg_is_out(cmd: u32) -> bool {
    let encoded = (cmd >> 16) & 0x3fff;
    if encoded != 0 {
        return (cmd >> 30) & IOC_READ != 0;
    }
    // The sg ioctls encode nothing: only the setters are in-only.
    !matches!(cmd, linux_sg::SG_SET_TIMEOUT | linux_sg::SG_SET_RESERVED_SIZE)
        && (cmd >> 30) & IOC_WRITE == 0
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn ptr_at(b: &[u8], at: usize, compat32: bool) -> Option<u64> {
    if compat32 {
        u32_at(b, at).map(u64::from)
    } else {
        Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
    }
}

/// Elements of CHIO type `ty`, from a CHIOGPARAMS answer
/// (`struct changer_params`: the current picker, then the counts).
pub fn count_in_params(params: &[u8; 20], ty: i32) -> Option<usize> {
    let i = usize::try_from(ty).ok().filter(|t| *t < 4)?;
    u32_at(params, 4 * (i + 1)).map(|c| c as usize)
}

/// The plan for ioctl `cmd` with argument `arg`, the kernel having brought
/// `have` (the in-regions asked for last time, in order). `count_of` gives
/// the number of elements of a CHIO type (asked only before the array is
/// here).
pub fn plan(pair: &Pair, cmd: u32, arg: u64, compat32: bool, have: &[u8], count_of: &mut dyn FnMut(i32) -> Option<usize>) -> Plan {
    let size = pair.ioctl_size(u64::from(cmd), compat32);
    let mut regions = Vec::new();
    if size == 0 {
        return Plan::Run(regions);
    }
    regions.push(Region { addr: arg, len: size, out: arg_is_out(cmd) });
    let Some(head) = have.get(..size) else {
        return Plan::Retry(regions);
    };
    if cmd == linux_sg::SG_IO {
        if let Ok(Some(pmt::sgio::SgIoctl::Io(h))) = linux_sg::decode(cmd, &mut &head[..], compat32) {
            regions.push(Region { addr: h.cmdp, len: usize::from(h.cmd_len), out: false });
            if h.iovec_count == 0 {
                let out = matches!(h.dxfer_direction, DXFER_FROM_DEV | DXFER_TO_FROM_DEV);
                if out || h.dxfer_direction == DXFER_TO_DEV {
                    regions.push(Region { addr: h.dxferp, len: h.dxfer_len as usize, out });
                }
            }
            regions.push(Region { addr: h.sbp, len: usize::from(h.mx_sb_len), out: true });
        }
    } else if matches!(pair, Pair::Changer(_))
        && ((cmd == linux_changer::CHIOGSTATUS && !compat32) || (cmd == linux_changer::CHIOGSTATUS32 && compat32))
    {
        let ty = u32_at(head, 0).map(|t| t as i32);
        let data = ptr_at(head, if compat32 { 4 } else { 8 }, compat32);
        if let (Some(ty), Some(data)) = (ty, data) {
            // Before the array is here, the changer says how long it is;
            // once it is, its length is what the kernel brought.
            let count = if have.len() > size { Some(have.len() - size) } else { count_of(ty) };
            if let Some(len) = count {
                regions.push(Region { addr: data, len, out: true });
            }
        }
    }
    // The argument stays first; empty or null extra regions go.
    let mut i = 0;
    regions.retain(|r| {
        i += 1;
        i == 1 || (r.len > 0 && r.addr != 0)
    });
    let wanted: usize = regions.iter().map(|r| r.len).sum();
    if have.len() == wanted {
        Plan::Run(regions)
    } else {
        Plan::Retry(regions)
    }
}

/// The caller memory of one ioctl, as the kernel brought it.
#[derive(Debug)]
pub struct IoctlMem {
    regions: Vec<(Region, usize)>,
    buf: Vec<u8>,
}

impl IoctlMem {
    /// The regions of a [`Plan::Run`] over the bytes the kernel brought.
    pub fn new(regions: &[Region], have: &[u8]) -> IoctlMem {
        let mut off = 0;
        let regions = regions
            .iter()
            .map(|r| {
                let at = off;
                off += r.len;
                (*r, at)
            })
            .collect();
        IoctlMem { regions, buf: have.to_vec() }
    }

    fn find(&self, addr: u64, len: usize, out: bool) -> pmt::Result<std::ops::Range<usize>> {
        let end = addr.checked_add(len as u64).ok_or(Errno::Fault)?;
        self.regions
            .iter()
            .find(|(r, _)| addr >= r.addr && end <= r.addr + r.len as u64 && (r.out || !out))
            .map(|(r, at)| {
                let s = at + (addr - r.addr) as usize;
                s..s + len
            })
            .ok_or(Errno::Fault)
    }

    /// Copies caller memory at `addr` (as it is now, with what the core
    /// wrote) into `dst`.
    pub fn copyin(&self, addr: u64, dst: &mut [u8]) -> pmt::Result<()> {
        let r = self.find(addr, dst.len(), false)?;
        dst.copy_from_slice(self.buf.get(r).ok_or(Errno::Fault)?);
        Ok(())
    }

    /// Writes `src` to caller memory at `addr` (an out region).
    pub fn copyout(&mut self, addr: u64, src: &[u8]) -> pmt::Result<()> {
        let r = self.find(addr, src.len(), true)?;
        self.buf.get_mut(r).ok_or(Errno::Fault)?.copy_from_slice(src);
        Ok(())
    }

    /// The bytes of the out regions, in order: the reply.
    pub fn out(&self) -> Vec<u8> {
        let mut v = Vec::new();
        for (r, at) in &self.regions {
            if r.out {
                v.extend_from_slice(self.buf.get(*at..at + r.len).unwrap_or_default());
            }
        }
        v
    }

    fn arg(&self) -> Option<Region> {
        self.regions.first().map(|(r, _)| *r)
    }
}

/// The ioctl's argument (its first region), for the core.
pub struct Arg<'a>(pub &'a RefCell<IoctlMem>);

impl UserIn for Arg<'_> {
    fn read(&mut self, at: usize, dst: &mut [u8]) -> pmt::Result<()> {
        let m = self.0.borrow();
        let a = m.arg().ok_or(Errno::Fault)?;
        if at.checked_add(dst.len()).is_none_or(|e| e > a.len) {
            return Err(Errno::Fault);
        }
        m.copyin(a.addr + at as u64, dst)
    }
}

impl UserOut for Arg<'_> {
    fn write(&mut self, at: usize, src: &[u8]) -> pmt::Result<()> {
        let mut m = self.0.borrow_mut();
        let a = m.arg().ok_or(Errno::Fault)?;
        if at.checked_add(src.len()).is_none_or(|e| e > a.len) {
            return Err(Errno::Fault);
        }
        m.copyout(a.addr + at as u64, src)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pmt::abi::linux;
    use pmt::{Abi, Config, HostArea, HostLock, Kind};

    fn tape() -> Pair {
        Pair::new(Kind::Tape, 0, Config::default(), Abi::Linux, HostLock::NONE, HostArea::NONE).unwrap()
    }

    fn never(_: i32) -> Option<usize> {
        panic!("not a changer")
    }

    #[test]
    fn mtio_arguments_by_their_encoding() {
        let p = tape();
        // MTIOCTOP: in only, 8 bytes; runs once they are here.
        let r = vec![Region { addr: 0x100, len: 8, out: false }];
        assert_eq!(plan(&p, linux::MTIOCTOP, 0x100, false, &[], &mut never), Plan::Retry(r.clone()));
        assert_eq!(plan(&p, linux::MTIOCTOP, 0x100, false, &[0; 8], &mut never), Plan::Run(r));
        // MTIOCGET: 48 bytes back (28 for a 32-bit caller).
        assert_eq!(plan(&p, 0x8030_6d02, 0x100, false, &[], &mut never), Plan::Retry(vec![Region { addr: 0x100, len: 48, out: true }]));
        assert_eq!(plan(&p, 0x801c_6d02, 0x100, true, &[], &mut never), Plan::Retry(vec![Region { addr: 0x100, len: 28, out: true }]));
        // An sg setter is in only, a getter out; SG_GET_TIMEOUT has no
        // argument and runs at once.
        assert_eq!(plan(&p, linux_sg::SG_SET_TIMEOUT, 0x100, false, &[], &mut never), Plan::Retry(vec![Region { addr: 0x100, len: 4, out: false }]));
        assert_eq!(plan(&p, linux_sg::SG_GET_RESERVED_SIZE, 0x100, false, &[], &mut never), Plan::Retry(vec![Region { addr: 0x100, len: 4, out: true }]));
        assert_eq!(plan(&p, linux_sg::SG_GET_TIMEOUT, 0x100, false, &[], &mut never), Plan::Run(vec![]));
    }

    #[test]
    fn sg_io_regions_from_the_header() {
        let p = tape();
        let mut h = [0u8; 88];
        h[0..4].copy_from_slice(&i32::from(b'S').to_ne_bytes());
        h[4..8].copy_from_slice(&DXFER_TO_DEV.to_ne_bytes());
        h[8] = 10;
        h[9] = 0;
        h[12..16].copy_from_slice(&512u32.to_ne_bytes());
        h[16..24].copy_from_slice(&0x2000u64.to_ne_bytes());
        h[24..32].copy_from_slice(&0x3000u64.to_ne_bytes());
        let want = vec![
            Region { addr: 0x100, len: 88, out: true },
            Region { addr: 0x3000, len: 10, out: false },
            Region { addr: 0x2000, len: 512, out: false },
        ];
        assert_eq!(plan(&p, linux_sg::SG_IO, 0x100, false, &h, &mut never), Plan::Retry(want.clone()), "no sense buffer asked");
        let mut all = h.to_vec();
        all.extend_from_slice(&[0; 522]);
        assert_eq!(plan(&p, linux_sg::SG_IO, 0x100, false, &all, &mut never), Plan::Run(want.clone()));
        let mem = IoctlMem::new(&want, &all);
        let mut cdb = [1u8; 10];
        mem.copyin(0x3000, &mut cdb).unwrap();
        assert_eq!(cdb, [0; 10]);
        assert_eq!(mem.copyin(0x2000 + 500, &mut [0; 13]), Err(Errno::Fault), "beyond the region");
        let mut mem = mem;
        assert_eq!(mem.copyout(0x2000, &[1]), Err(Errno::Fault), "data out is not written back");
        mem.copyout(0x100 + 64, &[2]).unwrap();
        assert_eq!(mem.out().len(), 88);
        assert_eq!(mem.out()[64], 2);
    }
}
