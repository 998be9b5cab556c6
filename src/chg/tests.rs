//! The changer engine against a small scripted library: SG_IO's fields and
//! buffers, the sg ioctls, the command filter, CHIO's translation into SMC
//! and ch's errnos, in both hosts' numberings, and a daemon that lies.

extern crate std;

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use super::*;
use crate::abi::linux_changer as lx;
use crate::abi::linux_sg as sg;
use crate::abi::netbsd_changer as nb;
use crate::host::KernelBuf;
use crate::proto::scsi::{sense, status, ScsiRep};
use crate::testing::LOCK;

/// Element addresses of the test library: one picker, four slots, one
/// portal, two drives.
const MT: u16 = 0x001;
const ST: u16 = 0x400;
const IE: u16 = 0x200;
const DT: u16 = 0x100;
const COUNTS: [u16; 4] = [1, 4, 1, 2];
const FIRSTS: [u16; 4] = [MT, ST, IE, DT];

/// A library: which elements hold which tape, and where each came from.
struct Library {
    full: BTreeMap<u16, ([u8; 8], u16)>,
    voltags: bool,
    /// Commands seen (opcodes).
    seen: Vec<u8>,
    /// Sends a rewritten reply before the next honest one (a hostile daemon).
    tamper: Option<fn(&mut ScsiRep, &mut Vec<u8>)>,
    /// Rewritten replies the unit refused.
    refused: usize,
    /// Page 0x1F's move (and exchange) bits from each type.
    moves: [u8; 4],
    /// INITIALIZE ELEMENT STATUS is refused (ILLEGAL REQUEST).
    ielem_refused: bool,
    /// A UNIT ATTENTION for the next command (asc, ascq).
    attention: Option<(u8, u8)>,
    /// The last CDB of each opcode.
    cdbs: BTreeMap<u8, Vec<u8>>,
    /// The data of the last SEND VOLUME TAG.
    voltag_sent: Option<Vec<u8>>,
    /// Vendor-specific bytes in each element descriptor.
    vendor: usize,
}

fn check(k: u8, asc: u8, ascq: u8) -> (u8, Vec<u8>) {
    (status::CHECK_CONDITION, sense::fixed(k, asc, ascq).to_vec())
}

impl Library {
    fn new() -> Library {
        let mut full = BTreeMap::new();
        for (i, tag) in [b"AAA001L6", b"AAA002L6", b"AAA003L6"].iter().enumerate() {
            full.insert(ST + i as u16, (**tag, ST + i as u16));
        }
        Library {
            full,
            voltags: true,
            seen: Vec::new(),
            tamper: None,
            refused: 0,
            moves: [0x0f; 4],
            ielem_refused: false,
            attention: None,
            cdbs: BTreeMap::new(),
            voltag_sent: None,
            vendor: 0,
        }
    }

    fn valid(a: u16) -> bool {
        (0..4).any(|t| a >= FIRSTS[t] && a < FIRSTS[t] + COUNTS[t])
    }

    /// Executes one command: status, sense, data.
    fn exec(&mut self, cdb: &[u8], out: &[u8], alloc: usize) -> (u8, Vec<u8>, Vec<u8>) {
        self.seen.push(cdb[0]);
        self.cdbs.insert(cdb[0], cdb.to_vec());
        if let Some((asc, ascq)) = self.attention.take() {
            let (s, k) = check(6, asc, ascq);
            return (s, k, vec![]);
        }
        let w = |i: usize| u16::from_be_bytes([cdb[i], cdb[i + 1]]);
        match cdb[0] {
            0x00 => (0, vec![], vec![]),
            0x12 => {
                let mut d = vec![0u8; 56];
                d[0] = 0x08;
                d[8..16].copy_from_slice(b"PMT     ");
                (0, vec![], d)
            }
            0x1a if cdb[2] & 0x3f == 0x1d => {
                let mut d = vec![0x17, 0, 0, 0, 0x1d, 0x12];
                for t in 0..4 {
                    d.extend_from_slice(&FIRSTS[t].to_be_bytes());
                    d.extend_from_slice(&COUNTS[t].to_be_bytes());
                }
                d.extend_from_slice(&[0, 0]);
                (0, vec![], d)
            }
            0x1a if cdb[2] & 0x3f == 0x1f => {
                // Device capabilities: moves from each type to each type,
                // exchanges likewise (MOVE_TO_* bits), as `moves` says.
                let mut d = vec![0x17, 0, 0, 0, 0x1f, 0x12, 0x0f, 0];
                d.extend_from_slice(&self.moves);
                d.extend_from_slice(&[0; 4]);
                d.extend_from_slice(&self.moves);
                d.extend_from_slice(&[0; 4]);
                (0, vec![], d)
            }
            0x07 if self.ielem_refused => {
                let (s, k) = check(5, 0x20, 0);
                (s, k, vec![])
            }
            0xb8 => {
                let tags = cdb[1] & 0x10 != 0;
                if tags && !self.voltags {
                    let (s, k) = check(5, 0x24, 0);
                    return (s, k, vec![]);
                }
                let ty = usize::from(cdb[1] & 0x0f) - 1;
                let (start, n) = (w(2), w(4));
                let std: u16 = if tags { 12 + 36 } else { 12 };
                // Vendor-specific bytes come after four reserved ones.
                let dlen = if self.vendor > 0 { std + 4 + self.vendor as u16 } else { std };
                let mut page = Vec::new();
                let mut count = 0u16;
                for a in start..start.saturating_add(n).min(FIRSTS[ty] + COUNTS[ty]) {
                    let mut d = vec![0u8; usize::from(dlen)];
                    d[0..2].copy_from_slice(&a.to_be_bytes());
                    d[2] = 0x08;
                    if let Some((tag, src)) = self.full.get(&a) {
                        d[2] |= 0x01;
                        d[9] = 0x80;
                        d[10..12].copy_from_slice(&src.to_be_bytes());
                        if tags {
                            d[12..20].copy_from_slice(tag);
                            d[20..44].fill(b' ');
                        }
                    }
                    if ty == 3 {
                        d[6] = 0x20;
                        d[7] = (a - DT) as u8 + 1;
                    }
                    for (i, b) in d.iter_mut().skip(usize::from(std) + 4).enumerate() {
                        *b = 0xa0 + i as u8;
                    }
                    page.extend_from_slice(&d);
                    count += 1;
                }
                let mut r = vec![0u8; 8];
                r[0..2].copy_from_slice(&start.to_be_bytes());
                r[2..4].copy_from_slice(&count.to_be_bytes());
                let body = 8 + page.len() as u32;
                r[5..8].copy_from_slice(&body.to_be_bytes()[1..]);
                r.extend_from_slice(&[(ty + 1) as u8, if tags { 0x80 } else { 0 }]);
                r.extend_from_slice(&dlen.to_be_bytes());
                r.push(0);
                r.extend_from_slice(&(page.len() as u32).to_be_bytes()[1..]);
                r.extend_from_slice(&page);
                r.truncate(alloc);
                (0, vec![], r)
            }
            0xa5 => {
                let (src, dst) = (w(4), w(6));
                if !Self::valid(src) || !Self::valid(dst) {
                    let (s, k) = check(5, 0x21, 0x01);
                    return (s, k, vec![]);
                }
                let Some((tag, _)) = self.full.get(&src).copied() else {
                    let (s, k) = check(5, 0x3b, 0x0e);
                    return (s, k, vec![]);
                };
                if self.full.contains_key(&dst) {
                    let (s, k) = check(5, 0x3b, 0x0d);
                    return (s, k, vec![]);
                }
                self.full.remove(&src);
                self.full.insert(dst, (tag, src));
                (0, vec![], vec![])
            }
            0x07 | 0x2b => (0, vec![], vec![]),
            0xb6 => {
                self.voltag_sent = Some(out.to_vec());
                if let (Some(e), true) = (self.full.get_mut(&w(2)), out.len() >= 8) {
                    e.0.copy_from_slice(&out[..8]);
                }
                (0, vec![], vec![])
            }
            _ => {
                let (s, k) = check(5, 0x20, 0);
                (s, k, vec![])
            }
        }
    }
}

/// A host whose waits run the library, with a little address space for
/// the buffers ioctls point to.
struct TestHost<'a> {
    unit: &'a ChangerUnit,
    lib: &'a RefCell<Library>,
    mem: &'a RefCell<Vec<u8>>,
    raw: bool,
}

const BASE: u64 = 0x1000_0000;

impl TestHost<'_> {
    fn serve(&mut self) {
        let mut buf = vec![0u8; 2 << 20];
        let len = buf.len();
        let Ok(n) = self.unit.sread(&mut &mut buf[..], len) else { return };
        let mut off = 0;
        while off < n {
            let q = ScsiReq::from_bytes(&buf[off..]);
            let flen = q.hdr.len as usize;
            let out = buf[off + scsi::REQ_SIZE..off + flen].to_vec();
            let (st, sn, mut data) = self.lib.borrow_mut().exec(q.command(), &out, q.xfer_len as usize);
            let mut r = ScsiRep::good(&q);
            r.status = st;
            r.sense[..sn.len()].copy_from_slice(&sn);
            r.sense_len = sn.len() as u8;
            if q.direction() == Some(Dir::FromDev) {
                data.truncate(q.xfer_len as usize);
                r.resid = q.xfer_len - data.len() as u32;
            } else {
                data.clear();
                r.resid = 0;
            }
            let frame = |mut r: ScsiRep, data: &[u8]| {
                r.hdr.len = (scsi::REP_SIZE + data.len()) as u32;
                let mut f = r.to_bytes().to_vec();
                f.extend_from_slice(data);
                f
            };
            let tamper = self.lib.borrow_mut().tamper.take();
            if let Some(f) = tamper {
                // The lie first: it must be refused, and change nothing.
                let (mut lr, mut ld) = (r, data.clone());
                f(&mut lr, &mut ld);
                let lie = frame(lr, &ld);
                let refused = self.unit.swrite(&mut &lie[..], lie.len()) == Err(Errno::Inval);
                self.lib.borrow_mut().refused += usize::from(refused);
            }
            let honest = frame(r, &data);
            let _ = self.unit.swrite(&mut &honest[..], honest.len());
            off += crate::proto::align_frame(flen);
        }
    }
}

impl Host for TestHost<'_> {
    fn wait(&mut self, what: Wait, _how: Sleep, _t: u32) -> core::result::Result<(), WaitError> {
        for _ in 0..4 {
            if self.unit.cond(what) {
                return Ok(());
            }
            self.serve();
        }
        // A daemon that did not answer: as a timeout.
        Err(WaitError::TimedOut)
    }

    fn wake_slave(&mut self) {}

    fn privileged(&self) -> bool {
        self.raw
    }

    fn copyin_addr(&mut self, addr: u64, dst: &mut [u8]) -> Result<()> {
        let at = addr.checked_sub(BASE).ok_or(Errno::Fault)? as usize;
        let m = self.mem.borrow();
        dst.copy_from_slice(m.get(at..at + dst.len()).ok_or(Errno::Fault)?);
        Ok(())
    }

    fn copyout_addr(&mut self, addr: u64, src: &[u8]) -> Result<()> {
        let at = addr.checked_sub(BASE).ok_or(Errno::Fault)? as usize;
        let mut m = self.mem.borrow_mut();
        m.get_mut(at..at + src.len()).ok_or(Errno::Fault)?.copy_from_slice(src);
        Ok(())
    }
}

/// A changer unit with its library and address space.
struct Rig {
    unit: ChangerUnit,
    lib: RefCell<Library>,
    mem: RefCell<Vec<u8>>,
    raw: bool,
}

impl Rig {
    fn new(abi: Abi) -> Rig {
        let unit = ChangerUnit::new(3, abi, 10, LOCK).unwrap();
        unit.sopen().unwrap();
        Rig { unit, lib: RefCell::new(Library::new()), mem: RefCell::new(vec![0u8; 1 << 16]), raw: true }
    }

    fn ioctl(&self, cmd: u32, arg: &mut [u8], compat: bool, write: bool) -> Result<i32> {
        let mut h = TestHost { unit: &self.unit, lib: &self.lib, mem: &self.mem, raw: self.raw };
        self.unit.ioctl(&mut h, u64::from(cmd), &mut KernelBuf(arg), compat, OpenMode { write })
    }

    fn poke(&self, at: usize, b: &[u8]) -> u64 {
        self.mem.borrow_mut()[at..at + b.len()].copy_from_slice(b);
        BASE + at as u64
    }

    fn peek(&self, at: usize, n: usize) -> Vec<u8> {
        self.mem.borrow()[at..at + n].to_vec()
    }

    /// SG_IO of `cdb` reading up to `len` bytes; the header comes back.
    fn sg(&self, cdb: &[u8], len: u32, compat: bool) -> (Result<i32>, Vec<u8>) {
        let cmdp = self.poke(0, cdb);
        let (dxferp, sbp) = (BASE + 0x100, BASE + 0x8000);
        let mut h = vec![0u8; if compat { 64 } else { 88 }];
        h[0..4].copy_from_slice(&i32::from(b'S').to_ne_bytes());
        h[4..8].copy_from_slice(&(if len > 0 { crate::sgio::DXFER_FROM_DEV } else { crate::sgio::DXFER_NONE }).to_ne_bytes());
        h[8] = cdb.len() as u8;
        h[9] = 18;
        h[12..16].copy_from_slice(&len.to_ne_bytes());
        if compat {
            h[16..20].copy_from_slice(&(dxferp as u32).to_ne_bytes());
            h[20..24].copy_from_slice(&(cmdp as u32).to_ne_bytes());
            h[24..28].copy_from_slice(&(sbp as u32).to_ne_bytes());
        } else {
            h[16..24].copy_from_slice(&dxferp.to_ne_bytes());
            h[24..32].copy_from_slice(&cmdp.to_ne_bytes());
            h[32..40].copy_from_slice(&sbp.to_ne_bytes());
        }
        let r = self.ioctl(sg::SG_IO, &mut h, compat, true);
        (r, h)
    }
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_ne_bytes(b[at..at + 4].try_into().unwrap())
}

#[test]
fn sg_io_as_mtx_sends_it() {
    for compat in [false, true] {
        let r = Rig::new(Abi::Linux);
        let mut v = [0u8; 4];
        r.ioctl(sg::SG_GET_VERSION_NUM, &mut v, compat, true).unwrap();
        assert_eq!(i32::from_ne_bytes(v), 30527);
        r.ioctl(sg::SG_SET_TIMEOUT, &mut 600i32.to_ne_bytes(), compat, true).unwrap();
        assert_eq!(r.ioctl(sg::SG_GET_TIMEOUT, &mut [], compat, true), Ok(600));
        let mut idlun = [0u8; 8];
        r.ioctl(sg::SCSI_IOCTL_GET_IDLUN, &mut idlun, compat, true).unwrap();
        assert_eq!(i32_at(&idlun, 0) & 0xff, 3, "the unit is the target id");
        let mut id = [0u8; 32];
        r.ioctl(sg::SG_GET_SCSI_ID, &mut id, compat, true).unwrap();
        assert_eq!((i32_at(&id, 8), i32_at(&id, 16)), (3, 8), "id, and a medium changer");

        let (res, h) = r.sg(&[0x12, 0, 0, 0, 56, 0], 56, compat);
        res.unwrap();
        let o = if compat { 44 } else { 64 };
        assert_eq!((h[o], h[o + 1], i32_at(&h, o + 8)), (0, 0, 0), "GOOD, all of it");
        assert_eq!(r.peek(0x100, 1), vec![0x08]);
        assert_eq!(&r.peek(0x108, 8), b"PMT     ");

        // A command the library does not know: CHECK CONDITION, sense at sbp.
        let (res, h) = r.sg(&[0xe7, 0, 0, 0, 0, 0], 0, compat);
        res.unwrap();
        assert_eq!((h[o], h[o + 1], h[o + 3]), (2, 1, 18), "status, masked status, sense written");
        assert_eq!(u16::from_ne_bytes([h[o + 6], h[o + 7]]), crate::sgio::DRIVER_SENSE);
        assert_eq!(sense::decode(&r.peek(0x8000, 18)), Some((5, 0x20, 0)));
    }
}

#[test]
fn sg_io_refuses_what_sg_refuses() {
    let r = Rig::new(Abi::Linux);
    let (res, _) = r.sg(&[0x12, 0, 0], 56, false);
    assert_eq!(res, Err(Errno::MsgSize), "a command shorter than 6 bytes");
    let mut h = vec![0u8; 88];
    h[0] = b'Q';
    assert_eq!(r.ioctl(sg::SG_IO, &mut h, false, true), Err(Errno::Inval), "not interface 'S'");
    let (res, _) = r.sg(&[0x12, 0, 0, 0, 0, 0], scsi::XFER_MAX + 1, false);
    assert_eq!(res, Err(Errno::Io), "more than the device can move");
    assert_eq!(r.ioctl(0x1234, &mut [0u8; 4], false, true), Err(Errno::NoTty));
}

#[test]
fn the_filter_without_cap_sys_rawio() {
    let mut r = Rig::new(Abi::Linux);
    r.raw = false;
    assert!(r.sg(&[0x12, 0, 0, 0, 56, 0], 56, false).0.is_ok(), "INQUIRY passes");
    let (res, _) = r.sg(&[0xb8, 0x12, 0x04, 0, 0, 4, 0, 0, 0xff, 0, 0, 0], 255, false);
    assert_eq!(res, Err(Errno::Perm), "READ ELEMENT STATUS needs CAP_SYS_RAWIO");
    let (res, _) = r.sg(&[0xa5, 0, 0, 1, 4, 0, 1, 0, 0, 0, 0, 0], 0, false);
    assert_eq!(res, Err(Errno::Perm), "MOVE MEDIUM needs CAP_SYS_RAWIO");
    assert!(!r.lib.borrow().seen.contains(&0xa5), "nothing reached the library");
}

fn mv(from: (i32, i32), to: (i32, i32)) -> [u8; 20] {
    let mut a = [0u8; 20];
    for (i, v) in [from.0, from.1, to.0, to.1, 0].iter().enumerate() {
        a[i * 4..i * 4 + 4].copy_from_slice(&v.to_ne_bytes());
    }
    a
}

#[test]
fn chio_on_linux_as_ch_answers() {
    let r = Rig::new(Abi::Linux);
    let mut p = [0u8; 20];
    r.ioctl(lx::CHIOGPARAMS, &mut p, false, true).unwrap();
    assert_eq!((1..5).map(|i| i32_at(&p, i * 4)).collect::<Vec<_>>(), vec![1, 4, 1, 2]);
    // Slot 0 to drive 1, then again: the slot is empty now (EBADE), the
    // drive full (EXFULL), an element beyond the library (EBADSLT).
    r.ioctl(lx::CHIOMOVE, &mut mv((1, 0), (3, 1)), false, true).unwrap();
    assert_eq!(r.lib.borrow().full.get(&(DT + 1)).map(|e| e.1), Some(ST));
    assert_eq!(r.ioctl(lx::CHIOMOVE, &mut mv((1, 0), (3, 0)), false, true), Err(Errno::BadE));
    assert_eq!(r.ioctl(lx::CHIOMOVE, &mut mv((1, 1), (3, 1)), false, true), Err(Errno::XFull));
    assert_eq!(r.ioctl(lx::CHIOMOVE, &mut mv((1, 4), (3, 0)), false, true), Err(Errno::BadSlt));
    assert_eq!(Abi::Linux.errno(Errno::XFull), 54);
    // CHIOGSTATUS: one byte per slot at ces_data.
    let mut ces = [0u8; 16];
    ces[8..16].copy_from_slice(&(BASE + 0x200).to_ne_bytes());
    ces[0..4].copy_from_slice(&1i32.to_ne_bytes());
    r.ioctl(lx::CHIOGSTATUS, &mut ces, false, true).unwrap();
    assert_eq!(r.peek(0x200, 4), vec![0x08, 0x09, 0x09, 0x08]);
    // 32-bit: the pointer after the int.
    let mut ces32 = [0u8; 8];
    ces32[4..8].copy_from_slice(&((BASE + 0x300) as u32).to_ne_bytes());
    ces32[0..4].copy_from_slice(&3i32.to_ne_bytes());
    r.ioctl(lx::CHIOGSTATUS32, &mut ces32, true, true).unwrap();
    assert_eq!(r.peek(0x300, 2), vec![0x08, 0x09]);
    // CHIOGELEM of drive 1: its tape, where it came from, its id.
    let mut ge = [0u8; 108];
    ge[0..4].copy_from_slice(&3i32.to_ne_bytes());
    ge[4..8].copy_from_slice(&1i32.to_ne_bytes());
    r.ioctl(lx::CHIOGELEM, &mut ge, false, true).unwrap();
    assert_eq!(i32_at(&ge, 8) & 1, 1, "full");
    assert_eq!((i32_at(&ge, 16), i32_at(&ge, 20)), (1, 0), "from slot 0");
    assert_eq!(&ge[32..40], b"AAA001L6");
    assert_eq!(i32_at(&ge, 104) & 0x14, 0x14, "CGE_SRC and CGE_PVOLTAG");
    // A library without volume tags: asked again without them.
    r.lib.borrow_mut().voltags = false;
    r.ioctl(lx::CHIOGELEM, &mut ge, false, true).unwrap();
    assert_eq!(i32_at(&ge, 104) & 0x10, 0);
}

/// NetBSD's `struct changer_element_status_request` asking for `count`
/// elements of `ty` from `unit`, its array at `at` in the rig's memory.
fn cesr(ty: i32, unit: i32, count: i32, flags: i32, at: usize, vendor: u64) -> [u8; 32] {
    let mut req = [0u8; 32];
    for (i, v) in [ty, unit, count, flags].iter().enumerate() {
        req[i * 4..i * 4 + 4].copy_from_slice(&v.to_ne_bytes());
    }
    req[16..24].copy_from_slice(&(BASE + at as u64).to_ne_bytes());
    req[24..32].copy_from_slice(&vendor.to_ne_bytes());
    req
}

#[test]
fn chio_on_netbsd_as_its_ch_answers() {
    let r = Rig::new(Abi::NetBsd);
    // The open asks TEST UNIT READY and reads pages 0x1D and 0x1F.
    let mut h = TestHost { unit: &r.unit, lib: &r.lib, mem: &r.mem, raw: true };
    r.unit.open(&mut h).unwrap();
    assert_eq!(r.lib.borrow().seen, vec![0x00, 0x1a, 0x1a]);
    assert_eq!(r.lib.borrow().cdbs[&0x1a][..3], [0x1a, 0x08, 0x1f], "page 0x1F without block descriptors");
    let mut p = [0u8; 20];
    r.ioctl(nb::CHIOGPARAMS, &mut p, false, false).unwrap();
    assert_eq!((0..5).map(|i| i32_at(&p, i * 4)).collect::<Vec<_>>(), vec![0, 1, 4, 1, 2]);

    // ch's argument checks: a type beyond CHET_DT is EINVAL, a unit
    // beyond the changer's ENODEV (19), a command that changes the
    // changer on a file not open for writing EBADF.
    assert_eq!(r.ioctl(nb::CHIOMOVE, &mut mv((4, 0), (3, 0)), false, true), Err(Errno::Inval));
    assert_eq!(r.ioctl(nb::CHIOMOVE, &mut mv((1, 9), (3, 0)), false, true), Err(Errno::NoDev));
    assert_eq!(Abi::NetBsd.errno(Errno::NoDev), 19);
    assert_eq!(r.ioctl(nb::CHIOMOVE, &mut mv((1, 0), (3, 0)), false, false), Err(Errno::BadF));
    assert_eq!(r.ioctl(nb::CHIOGSTATUS, &mut cesr(1, 0, 1, 0, 0x400, 0), false, false), Err(Errno::BadF));
    // The library's own refusals: ILLEGAL REQUEST is EINVAL.
    assert_eq!(r.ioctl(nb::CHIOMOVE, &mut mv((1, 3), (3, 0)), false, true), Err(Errno::Inval), "slot 3 is empty");
    r.ioctl(nb::CHIOMOVE, &mut mv((1, 2), (3, 0)), false, true).unwrap();
    let cdb = r.lib.borrow().cdbs[&0xa5].clone();
    assert_eq!((&cdb[2..4], &cdb[4..6], &cdb[6..8]), (&MT.to_be_bytes()[..], &(ST + 2).to_be_bytes()[..], &DT.to_be_bytes()[..]));

    // Page 0x1F: a move the changer cannot make is refused before it is sent.
    r.lib.borrow_mut().moves = [0x0f, 0x0a, 0x0f, 0x0f];
    r.unit.open(&mut h).unwrap();
    let before = r.lib.borrow().seen.len();
    assert_eq!(r.ioctl(nb::CHIOMOVE, &mut mv((1, 0), (2, 0)), false, true), Err(Errno::NoDev), "slot to portal");
    assert_eq!(r.lib.borrow().seen.len(), before, "nothing sent");

    // CHIOGSTATUS with volume tags: drives 0-1, each at its place.
    r.ioctl(nb::CHIOGSTATUS, &mut cesr(3, 0, 2, 1, 0x400, 0), false, true).unwrap();
    let d0 = r.peek(0x400, nb::CES_SIZE);
    let flags = i32_at(&d0, 0);
    assert_eq!(flags & 0x0d01, 0x0d01, "status, from, primary tag valid; full");
    assert_eq!((i32_at(&d0, 20), i32_at(&d0, 24)), (1, 2), "from slot 2");
    assert_eq!(&d0[28..37], b"AAA003L6\0");
    assert_eq!((flags & 0x2000, d0[114]), (0x2000, 1), "target of drive 0");
    assert_eq!(u64::from_ne_bytes(d0[104..112].try_into().unwrap()), 0, "no vendor bytes");
    let d1 = r.peek(0x400 + nb::CES_SIZE, nb::CES_SIZE);
    assert_eq!(i32_at(&d1, 0) & 0x0101, 0x0100, "drive 1 valid and empty");
    // Entries beyond the type's elements stay zero (ch: count up to the
    // type's count plus the unit); more is EINVAL; a unit beyond ENODEV;
    // no count EIO.
    r.mem.borrow_mut()[0x400..0x400 + 3 * nb::CES_SIZE].fill(0xee);
    r.ioctl(nb::CHIOGSTATUS, &mut cesr(3, 1, 3, 0, 0x400, 0), false, true).unwrap();
    assert_eq!(i32_at(&r.peek(0x400, nb::CES_SIZE), 0) & 0x0100, 0x0100);
    assert!(r.peek(0x400 + nb::CES_SIZE, 2 * nb::CES_SIZE).iter().all(|b| *b == 0), "unreported entries zeroed");
    assert_eq!(r.ioctl(nb::CHIOGSTATUS, &mut cesr(3, 1, 4, 0, 0x400, 0), false, true), Err(Errno::Inval));
    assert_eq!(r.ioctl(nb::CHIOGSTATUS, &mut cesr(3, 2, 1, 0, 0x400, 0), false, true), Err(Errno::NoDev));
    assert_eq!(r.ioctl(nb::CHIOGSTATUS, &mut cesr(3, 0, 0, 0, 0x400, 0), false, true), Err(Errno::Io));
    assert_eq!(r.ioctl(nb::CHIOGSTATUS, &mut cesr(5, 0, 1, 0, 0x400, 0), false, true), Err(Errno::Inval));
    // OCHIOGSTATUS: one flags byte per element, on a read-only file.
    let mut o = [0u8; 16];
    o[0..4].copy_from_slice(&1i32.to_ne_bytes());
    o[8..16].copy_from_slice(&(BASE + 0x300).to_ne_bytes());
    r.ioctl(nb::OCHIOGSTATUS, &mut o, false, false).unwrap();
    assert_eq!(r.peek(0x300, 4), vec![0x09, 0x09, 0x08, 0x08]);

    // The picker: CHIOSPICKER beyond the changer's is EINVAL.
    let mut v = [0u8; 4];
    r.ioctl(nb::CHIOGPICKER, &mut v, false, false).unwrap();
    assert_eq!(i32::from_ne_bytes(v), 0);
    assert_eq!(r.ioctl(nb::CHIOSPICKER, &mut 1i32.to_ne_bytes(), false, true), Err(Errno::Inval));
    r.ioctl(nb::CHIOSPICKER, &mut 0i32.to_ne_bytes(), false, true).unwrap();

    // CHIOSVOLTAG: SET asserts (0x08), REPLACE replaces (0x0a), CLEAR sends
    // no data; the tag blank-padded with its sequence number; only 0-9,
    // A-Z and _ (EINVAL).
    let svt = |flags: i32, tag: &[u8], serial: u16| {
        let mut a = [0u8; 48];
        a[0..4].copy_from_slice(&1i32.to_ne_bytes());
        a[4..8].copy_from_slice(&0i32.to_ne_bytes());
        a[8..12].copy_from_slice(&flags.to_ne_bytes());
        a[12..12 + tag.len()].copy_from_slice(tag);
        a[46..48].copy_from_slice(&serial.to_ne_bytes());
        a
    };
    r.ioctl(nb::CHIOSVOLTAG, &mut svt(0, b"NEW_01", 3), false, true).unwrap();
    let sent = r.lib.borrow().voltag_sent.clone().unwrap();
    assert_eq!(r.lib.borrow().cdbs[&0xb6][5], 0x08);
    assert_eq!(sent.len(), 36);
    assert_eq!(&sent[..8], b"NEW_01  ");
    assert_eq!(&sent[32..36], &[b' ', b' ', 0, 3]);
    r.ioctl(nb::CHIOSVOLTAG, &mut svt(1 | 0x10, b"X", 0), false, true).unwrap();
    assert_eq!(r.lib.borrow().cdbs[&0xb6][5], 0x0b, "replace the alternate");
    r.ioctl(nb::CHIOSVOLTAG, &mut svt(2, b"", 0), false, true).unwrap();
    assert_eq!((r.lib.borrow().cdbs[&0xb6][5], r.lib.borrow().voltag_sent.as_ref().map(Vec::len)), (0x0c, Some(0)));
    assert_eq!(r.ioctl(nb::CHIOSVOLTAG, &mut svt(0, b"lower", 0), false, true), Err(Errno::Inval));
    assert_eq!(r.ioctl(nb::CHIOSVOLTAG, &mut svt(3, b"A", 0), false, true), Err(Errno::Inval), "no such mode");

    // CHIOIELEM: a library that refuses it is no error for NetBSD's ch.
    r.lib.borrow_mut().ielem_refused = true;
    r.ioctl(nb::CHIOIELEM, &mut [], false, true).unwrap();

    // A UNIT ATTENTION saying the contents may have changed is an event
    // the master's read returns (and clears); the command is retried.
    r.lib.borrow_mut().attention = Some((0x28, 0));
    r.ioctl(nb::CHIOGSTATUS, &mut cesr(1, 0, 1, 0, 0x400, 0), false, true).unwrap();
    let mut ev = [0u8; 4];
    assert_eq!(r.unit.read(&mut &mut ev[..], 4), Ok(4));
    assert_eq!(u32::from_ne_bytes(ev), CHEV_ELEMENT_STATUS_CHANGED);
    assert_eq!(r.unit.read(&mut &mut ev[..], 4), Ok(4));
    assert_eq!(u32::from_ne_bytes(ev), 0);
    assert_eq!(r.unit.read(&mut &mut ev[..], 8), Err(Errno::Inval));
}

#[test]
fn netbsd_element_status_copies_vendor_bytes() {
    let r = Rig::new(Abi::NetBsd);
    r.lib.borrow_mut().vendor = 6;
    // The array of pointers: one per entry.
    let ptrs: Vec<u8> = [BASE + 0x900, BASE + 0x940].iter().flat_map(|p| p.to_ne_bytes()).collect();
    let va = r.poke(0x800, &ptrs);
    r.ioctl(nb::CHIOGSTATUS, &mut cesr(1, 0, 2, 1, 0x400, va), false, true).unwrap();
    let d0 = r.peek(0x400, nb::CES_SIZE);
    assert_eq!(u64::from_ne_bytes(d0[104..112].try_into().unwrap()), 6);
    assert_eq!(r.peek(0x900, 6), vec![0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5]);
    assert_eq!(r.peek(0x940, 6), vec![0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5]);
}

#[test]
fn netbsd_open_fails_without_a_library() {
    let r = Rig::new(Abi::NetBsd);
    r.unit.sclose();
    let mut h = TestHost { unit: &r.unit, lib: &r.lib, mem: &r.mem, raw: true };
    assert_eq!(r.unit.open(&mut h), Err(Errno::Io));
}

#[test]
fn a_lying_daemon_is_refused_and_the_call_fails() {
    let r = Rig::new(Abi::Linux);
    // GOOD with sense data, more data than asked, an unknown status: each
    // lie is refused at the boundary and changes nothing; the honest reply
    // that follows answers the command, and nothing of the lie reaches the
    // caller.
    let lies: [fn(&mut ScsiRep, &mut Vec<u8>); 3] = [
        |r, _| {
            r.sense_len = 4;
            r.sense[0] = 0x70;
        },
        |r, d| {
            d.extend_from_slice(&[0xee; 64]);
            r.resid = 0;
        },
        |r, _| r.status = 0x7f,
    ];
    for (i, lie) in lies.into_iter().enumerate() {
        r.lib.borrow_mut().tamper = Some(lie);
        r.mem.borrow_mut()[0x100..0x200].fill(0);
        let (res, h) = r.sg(&[0x12, 0, 0, 0, 56, 0], 56, false);
        res.unwrap();
        assert_eq!((h[64], i32_at(&h, 72)), (0, 0));
        assert_eq!(r.lib.borrow().refused, i + 1, "lie {i} was refused");
        assert!(r.peek(0x100, 0x100).iter().all(|b| *b != 0xee));
        assert_eq!(r.peek(0x100, 1), vec![0x08]);
    }
}

#[test]
fn no_daemon_is_an_error_at_once() {
    let r = Rig::new(Abi::Linux);
    r.unit.sclose();
    let (res, _) = r.sg(&[0x00, 0, 0, 0, 0, 0], 0, false);
    assert_eq!(res, Err(Errno::Io));
    assert_eq!(r.ioctl(lx::CHIOGPARAMS, &mut [0u8; 20], false, true), Err(Errno::Io));
}
