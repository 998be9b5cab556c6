//! The changer pair as NetBSD's ch(4) presents it, through the glue: CHIO
//! ioctls in NetBSD's numbering from a program on /dev/pmcm0, every SMC
//! command served on /dev/pmcs0 by a small scripted library in this
//! process (one picker, four slots, a portal, two drives, volume tags).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use pmt::abi::netbsd_changer::{self as nb, CES_SIZE};
use pmt::proto::scsi::{self, sense, status, Dir, ScsiRep, ScsiReq};

use crate::sys::{errno::*, Fd, O_RDONLY, O_RDWR, POLLIN};
use crate::{ensure, eq, Ctx, Outcome, Scenario};

/// The scenarios of this file.
pub const SCENARIOS: &[Scenario] = &[
    ("rump-changer-params-move-and-status-with-volume-tags", params_move_and_status),
    ("rump-changer-argument-checks-and-library-errors", argument_checks_and_errors),
    ("rump-changer-voltags-picker-ielem-and-events", voltags_picker_ielem_events),
];

const MT: u16 = 0x001;
const ST: u16 = 0x400;
const IE: u16 = 0x200;
const DT: u16 = 0x100;
const FIRSTS: [u16; 4] = [MT, ST, IE, DT];
const COUNTS: [u16; 4] = [1, 4, 1, 2];

/// The library's state, shared with the test.
struct Library {
    /// Element address: (volume tag, where it came from).
    full: BTreeMap<u16, ([u8; 8], u16)>,
    /// Page 0x1F: moves (and exchanges) from each type, MOVE_TO_* bits.
    moves: [u8; 4],
    /// A UNIT ATTENTION for the next command.
    attention: Option<(u8, u8)>,
    /// The last SEND VOLUME TAG: action code and data.
    voltag: Option<(u8, Vec<u8>)>,
    /// Opcodes seen.
    seen: Vec<u8>,
}

fn check(k: u8, asc: u8, ascq: u8) -> (u8, Vec<u8>, Vec<u8>) {
    (status::CHECK_CONDITION, sense::fixed(k, asc, ascq).to_vec(), Vec::new())
}

impl Library {
    fn new() -> Library {
        let mut full = BTreeMap::new();
        for (i, tag) in [b"ABC001L6", b"ABC002L6", b"ABC003L6"].iter().enumerate() {
            full.insert(ST + i as u16, (**tag, ST + i as u16));
        }
        Library { full, moves: [0x0f; 4], attention: None, voltag: None, seen: Vec::new() }
    }

    fn valid(a: u16) -> bool {
        (0..4).any(|t| a >= FIRSTS[t] && a < FIRSTS[t] + COUNTS[t])
    }

    /// Runs one command: status, sense, data.
    fn exec(&mut self, cdb: &[u8], out: &[u8], alloc: usize) -> (u8, Vec<u8>, Vec<u8>) {
        self.seen.push(cdb[0]);
        if let Some((asc, ascq)) = self.attention.take() {
            return check(6, asc, ascq);
        }
        let w = |i: usize| u16::from_be_bytes([cdb[i], cdb[i + 1]]);
        match cdb[0] {
            0x00 | 0x2b | 0x07 => (0, vec![], vec![]),
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
                let mut d = vec![0x17, 0, 0, 0, 0x1f, 0x12, 0x0f, 0];
                d.extend_from_slice(&self.moves);
                d.extend_from_slice(&[0; 4]);
                d.extend_from_slice(&self.moves);
                d.extend_from_slice(&[0; 4]);
                (0, vec![], d)
            }
            0xb8 => {
                let tags = cdb[1] & 0x10 != 0;
                let ty = usize::from(cdb[1] & 0x0f).saturating_sub(1).min(3);
                let (start, n) = (w(2), w(4));
                let dlen: u16 = if tags { 12 + 36 } else { 12 };
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
                        // Drives: ID valid, the pair's unit as the SCSI id.
                        d[6] = 0x30;
                        d[7] = (a - DT) as u8;
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
                    return check(5, 0x21, 0x01);
                }
                let Some((tag, _)) = self.full.get(&src).copied() else { return check(5, 0x3b, 0x0e) };
                if self.full.contains_key(&dst) {
                    return check(5, 0x3b, 0x0d);
                }
                self.full.remove(&src);
                self.full.insert(dst, (tag, src));
                (0, vec![], vec![])
            }
            0xb6 => {
                self.voltag = Some((cdb[5], out.to_vec()));
                (0, vec![], vec![])
            }
            _ => check(5, 0x20, 0),
        }
    }
}

/// The library, serving /dev/pmcs0 from its own thread.
struct Served {
    lib: Arc<Mutex<Library>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl Served {
    fn start() -> Result<Served, String> {
        let slave = Fd::open("/dev/pmcs0", O_RDWR).at("open /dev/pmcs0")?;
        let lib = Arc::new(Mutex::new(Library::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (l, s) = (Arc::clone(&lib), Arc::clone(&stop));
        let thread = std::thread::spawn(move || serve(slave, &l, &s));
        Ok(Served { lib, stop, thread: Some(thread) })
    }

    fn lib(&self) -> std::sync::MutexGuard<'_, Library> {
        self.lib.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stop(mut self) -> Outcome {
        self.finish()
    }

    fn finish(&mut self) -> Outcome {
        self.stop.store(true, Ordering::SeqCst);
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| "the library's thread panicked".to_string())?,
            None => Ok(()),
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

fn serve(slave: Fd, lib: &Mutex<Library>, stop: &AtomicBool) -> Result<(), String> {
    let mut buf = vec![0u8; 2 << 20];
    while !stop.load(Ordering::SeqCst) {
        match slave.poll(POLLIN, 20) {
            Ok(r) if r & POLLIN != 0 => {}
            Ok(_) => continue,
            Err(e) => return Err(format!("poll: errno {e}")),
        }
        let n = slave.read_into(&mut buf).map_err(|e| format!("slave read: errno {e}"))?;
        let mut off = 0;
        while off < n {
            let q = ScsiReq::from_bytes(&buf[off..]);
            let flen = q.hdr.len as usize;
            let out = buf[off + scsi::REQ_SIZE..off + flen].to_vec();
            let (st, sn, mut data) = lib.lock().unwrap_or_else(|e| e.into_inner()).exec(q.command(), &out, q.xfer_len as usize);
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
            r.hdr.len = (scsi::REP_SIZE + data.len()) as u32;
            let mut f = r.to_bytes().to_vec();
            f.extend_from_slice(&data);
            let k = slave.write(&f).map_err(|e| format!("slave write: errno {e}"))?;
            ensure!(k == f.len(), "the driver took {k} of {} bytes", f.len());
            off += pmt::proto::align_frame(flen);
        }
    }
    slave.close().map_err(|e| format!("slave close: errno {e}"))
}

fn ints(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|i| i.to_ne_bytes()).collect()
}

fn int_at(b: &[u8], at: usize) -> i32 {
    i32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn mv(c: &Fd, from: (i32, i32), to: (i32, i32)) -> Result<(), crate::sys::Errno> {
    c.ioctl(nb::CHIOMOVE, &mut ints(&[from.0, from.1, to.0, to.1, 0]))
}

/// CHIOGSTATUS of `count` elements of `ty` from `unit`, with volume tags:
/// the caller's array of `changer_element_status` (in this process's
/// memory, which is the rump process's user memory).
fn gstatus(c: &Fd, ty: i32, unit: i32, count: i32) -> Result<Vec<u8>, crate::sys::Errno> {
    let mut out = vec![0xeeu8; CES_SIZE * usize::try_from(count).unwrap_or(0).max(1)];
    let mut req = ints(&[ty, unit, count, nb::CESR_VOLTAGS]);
    req.extend_from_slice(&(out.as_mut_ptr() as u64).to_ne_bytes());
    req.extend_from_slice(&0u64.to_ne_bytes());
    c.ioctl(nb::CHIOGSTATUS, &mut req)?;
    Ok(out)
}

fn params_move_and_status() -> Outcome {
    let lib = Served::start()?;
    let c = Fd::open("/dev/pmcm0", O_RDWR).at("open /dev/pmcm0")?;
    // chopen asked TEST UNIT READY and pages 0x1D and 0x1F.
    eq!(lib.lib().seen, vec![0x00, 0x1a, 0x1a]);
    let mut p = [0u8; 20];
    c.ioctl(nb::CHIOGPARAMS, &mut p).at("CHIOGPARAMS")?;
    eq!((0..5).map(|i| int_at(&p, i * 4)).collect::<Vec<_>>(), vec![0, 1, 4, 1, 2]);
    // Slot 1 into drive 0.
    mv(&c, (1, 1), (3, 0)).at("CHIOMOVE")?;
    // The drives: drive 0 full with ABC002L6 from slot 1, drive 1 empty.
    let s = gstatus(&c, 3, 0, 2).at("CHIOGSTATUS")?;
    let d0 = &s[..CES_SIZE];
    let f = int_at(d0, nb::ces_off::FLAGS);
    eq!(f & 0x01, 0x01);
    ensure!(f & nb::ces::STATUS_VALID != 0 && f & nb::ces::FROM_VALID != 0 && f & nb::ces::PVOL_VALID != 0, "flags {f:#x}");
    eq!((int_at(d0, nb::ces_off::FROM_TYPE), int_at(d0, nb::ces_off::FROM_UNIT)), (1, 1));
    eq!(&d0[nb::ces_off::PVOLTAG..nb::ces_off::PVOLTAG + 9], b"ABC002L6\0");
    eq!((f & nb::ces::TARGET_VALID, f & nb::ces::LUN_VALID, d0[nb::ces_off::TARGET]), (nb::ces::TARGET_VALID, nb::ces::LUN_VALID, 0));
    let d1 = &s[CES_SIZE..];
    eq!(int_at(d1, nb::ces_off::FLAGS) & 0x0101, 0x0100);
    // The slots: 1 empty now, 3 never held one.
    let s = gstatus(&c, 1, 0, 4).at("CHIOGSTATUS")?;
    let full: Vec<i32> = (0..4).map(|i| int_at(&s[i * CES_SIZE..], 0) & 1).collect();
    eq!(full, vec![1, 0, 1, 0]);
    // OCHIOGSTATUS: one flags byte per element.
    let mut bytes = [0xeeu8; 4];
    let mut o = ints(&[1, 0]);
    o.extend_from_slice(&(bytes.as_mut_ptr() as u64).to_ne_bytes());
    c.ioctl(nb::OCHIOGSTATUS, &mut o).at("OCHIOGSTATUS")?;
    eq!(bytes, [0x09, 0x08, 0x09, 0x08]);
    // And back.
    mv(&c, (3, 0), (1, 1)).at("CHIOMOVE")?;
    c.close().at("close")?;
    lib.stop()
}

fn argument_checks_and_errors() -> Outcome {
    // No library: the open fails (chopen's TEST UNIT READY).
    eq!(Fd::open("/dev/pmcm0", O_RDWR).map(|_| ()), Err(EIO));
    let lib = Served::start()?;
    let c = Fd::open("/dev/pmcm0", O_RDWR).at("open /dev/pmcm0")?;
    // One open at a time, as ch's; pairs that do not exist.
    eq!(Fd::open("/dev/pmcm0", O_RDWR).map(|_| ()), Err(EBUSY));
    eq!(Fd::open("/dev/pmcm1", O_RDWR).map(|_| ()), Err(ENXIO));
    // A type beyond CHET_DT: EINVAL; a unit beyond the changer's: ENODEV.
    eq!(mv(&c, (4, 0), (3, 0)), Err(EINVAL));
    eq!(mv(&c, (1, 4), (3, 0)), Err(ENODEV));
    eq!(gstatus(&c, 3, 2, 1).map(|_| ()), Err(ENODEV));
    // ch's check: a count up to the type's count plus the unit.
    eq!(gstatus(&c, 3, 1, 3).map(|s| int_at(&s[CES_SIZE..], 0)), Ok(0), "entries it does not report are zero");
    eq!(gstatus(&c, 3, 1, 4).map(|_| ()), Err(EINVAL));
    // The library's refusals (ILLEGAL REQUEST): EINVAL.
    eq!(mv(&c, (1, 3), (3, 0)), Err(EINVAL), "an empty source");
    mv(&c, (1, 0), (3, 0)).at("CHIOMOVE")?;
    eq!(mv(&c, (1, 1), (3, 0)), Err(EINVAL), "a full destination");
    // What the changer cannot do (page 0x1F, read at open): ENODEV, not sent.
    lib.lib().moves = [0x0f, 0x0a, 0x0f, 0x0f];
    c.close().at("close")?;
    let c = Fd::open("/dev/pmcm0", O_RDWR).at("open /dev/pmcm0")?;
    let n = lib.lib().seen.len();
    eq!(mv(&c, (1, 2), (2, 0)), Err(ENODEV), "slot to portal");
    eq!(lib.lib().seen.len(), n);
    mv(&c, (3, 0), (1, 0)).at("CHIOMOVE")?;
    // An ioctl ch does not have; ch has no write.
    eq!(c.ioctl(crate::sys::UNKNOWN_IOCTL, &mut [0u8; 4]), Err(ENOTTY));
    eq!(c.write(&[0u8; 4]).map(|_| ()), Err(ENODEV));
    c.close().at("close")?;
    // Read-only: the parameters, nothing that changes the changer.
    let c = Fd::open("/dev/pmcm0", O_RDONLY).at("open /dev/pmcm0")?;
    c.ioctl(nb::CHIOGPARAMS, &mut [0u8; 20]).at("CHIOGPARAMS")?;
    eq!(mv(&c, (1, 0), (3, 0)), Err(EBADF));
    eq!(gstatus(&c, 1, 0, 1).map(|_| ()), Err(EBADF));
    c.close().at("close")?;
    lib.stop()
}

fn voltags_picker_ielem_events() -> Outcome {
    let lib = Served::start()?;
    let c = Fd::open("/dev/pmcm0", O_RDWR).at("open /dev/pmcm0")?;
    // CHIOSVOLTAG: SET is SEND VOLUME TAG's assert (0x08), the tag
    // blank-padded, its sequence number after two blanks.
    let svt = |flags: i32, tag: &[u8], serial: u16| {
        let mut a = ints(&[1, 2, flags]);
        let mut t = [0u8; 36];
        t[..tag.len()].copy_from_slice(tag);
        t[34..36].copy_from_slice(&serial.to_ne_bytes());
        a.extend_from_slice(&t);
        a
    };
    c.ioctl(nb::CHIOSVOLTAG, &mut svt(nb::csvr::MODE_SET, b"NEW_007", 5)).at("CHIOSVOLTAG")?;
    let (action, data) = lib.lib().voltag.clone().ok_or("no SEND VOLUME TAG")?;
    eq!(action, 0x08);
    eq!(data.len(), 36);
    eq!(&data[..9], b"NEW_007  ");
    eq!(&data[32..36], &[b' ', b' ', 0, 5]);
    eq!(c.ioctl(nb::CHIOSVOLTAG, &mut svt(nb::csvr::MODE_SET, b"new", 0)), Err(EINVAL), "lower case");
    // The picker: one.
    let mut v = [0u8; 4];
    c.ioctl(nb::CHIOGPICKER, &mut v).at("CHIOGPICKER")?;
    eq!(i32::from_ne_bytes(v), 0);
    eq!(c.ioctl(nb::CHIOSPICKER, &mut 1i32.to_ne_bytes()), Err(EINVAL));
    c.ioctl(nb::CHIOIELEM, &mut []).at("CHIOIELEM")?;
    // An import through the portal: the library's UNIT ATTENTION (not
    // ready to ready) is an event for chread, and the command is retried.
    lib.lib().attention = Some((0x28, 0));
    gstatus(&c, 1, 0, 1).at("CHIOGSTATUS")?;
    let ev = c.read(4).at("read")?;
    eq!(u32::from_ne_bytes([ev[0], ev[1], ev[2], ev[3]]), 1);
    eq!(c.read(4).at("read")?, vec![0, 0, 0, 0]);
    eq!(c.read(8).map(|_| ()), Err(EINVAL));
    c.close().at("close")?;
    lib.stop()
}
