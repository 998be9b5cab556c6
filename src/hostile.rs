//! Property tests: the engine driven by a hostile daemon.
//!
//! Random sequences of master calls (opens, writes, reads, every tape
//! operation, status, closes, the daemon dying) run against a daemon that
//! answers each request with random replies: random sense keys and flags,
//! residues and data lengths in and far out of range, random status fields,
//! and frames that are malformed outright (wrong id, wrong operation, bad
//! version, lengths that lie, data beyond the request, unknown sense keys).
//! Under overflow checks and the lock checker, through the real `Unit`:
//! - nothing panics, overflows or allocates under the channel lock;
//! - every malformed frame is refused;
//! - a read returns at most its count, and only bytes the daemon sent;
//! - a forward operation never moves the known file or block number back,
//!   a backward one never forward;
//! - afterwards an honest daemon gets a working unit.

#[cfg(test)]
extern crate std;

use alloc::vec;
use alloc::vec::Vec;
use proptest::prelude::*;

use crate::errno::Errno;
use crate::proto::{DriveFlags, Op, Rep, Req, ReqFlags, Status, MAX_RECORD, REP_SIZE, VERSION};
use crate::testing::{frame, Daemon, Fake, Honest, RW};
use crate::unit::Config;

/// A small deterministic generator (xorshift64*), seeded by proptest.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn i64_around(&mut self, v: i64) -> i64 {
        match self.below(10) {
            0 => i64::MIN,
            1 => i64::MAX,
            2 => i64::from(i32::MIN) - self.below(3) as i64,
            3 => -(v.saturating_add(self.below(4) as i64)),
            _ => (self.below(v.unsigned_abs().saturating_mul(2).saturating_add(6)) as i64) - v.saturating_abs() - 3,
        }
    }
}

const KEYS: [u8; 12] = [0x0, 0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0x8, 0xb, 0xd, 0x9];

/// An honest drive whose replies are, `hostility` percent of the time,
/// preceded by random and malformed frames or replaced by a random one.
/// Records what it sent so the test can check what reaches the user.
struct Hostile {
    rng: Rng,
    drive: Honest,
    hostility: u64,
    /// Every data byte of READ replies the unit accepted, in order.
    sent: Vec<u8>,
    /// Data of the attempts of the current answer.
    pending: Vec<Vec<u8>>,
    /// Attempts that must be refused (malformed frames), and how many were
    /// accepted anyway.
    must_refuse: Vec<bool>,
    wrongly_accepted: usize,
    /// Percent of requests answered by dying.
    die: u64,
}

impl Hostile {
    fn random_status(&mut self) -> Status {
        let r = &mut self.rng;
        let mut st = Status {
            flags: (r.next() as u32) & DriveFlags::all().bits(),
            blksize: if r.chance(70) { 0 } else { [512, 1024, 10240][r.below(3) as usize] },
            minblk: 1,
            maxblk: MAX_RECORD,
            density: r.next() as u8,
            drvbuf: r.next() as u8,
            position: if r.chance(80) { r.below(1000) } else { r.next() },
            room: if r.chance(50) { u64::MAX } else { r.below(1 << 20) },
            ..Status::default()
        };
        if r.chance(90) {
            st.flags |= DriveFlags::READY.bits();
        }
        if r.chance(3) {
            st.flags |= 0x8000_0000;
        }
        if r.chance(3) {
            st.blksize = r.next() as u32;
        }
        if r.chance(3) {
            st.minblk = r.next() as u32;
            st.maxblk = r.next() as u32;
        }
        st
    }
}

impl Daemon for Hostile {
    fn answer(&mut self, req: &Req, data: &[u8]) -> Vec<Vec<u8>> {
        self.pending.clear();
        self.must_refuse.clear();
        if self.rng.chance(self.die) {
            return Vec::new();
        }
        let (mut honest, honest_data) = self.drive.reply(req, data);
        honest.hdr.len = (REP_SIZE + honest_data.len()) as u32;
        let mut frames = Vec::new();
        if !self.rng.chance(self.hostility) {
            self.pending.push(honest_data.clone());
            self.must_refuse.push(false);
            return vec![frame(&honest, &honest_data)];
        }
        let tries = 1 + self.rng.below(3);
        for _ in 0..tries {
            let mut rep = Rep::good(req, self.random_status());
            let r = &mut self.rng;
            rep.sense = if r.chance(50) { 0 } else { KEYS[r.below(KEYS.len() as u64) as usize] };
            rep.sflags = if r.chance(50) { 0 } else { (r.next() as u8) & 0xe0 };
            if r.chance(3) {
                rep.sflags |= 0x01;
            }
            rep.resid = if r.chance(50) {
                0
            } else {
                let scale = if req.length > 0 { req.length as i64 } else { i64::from(req.count) };
                r.i64_around(scale)
            };
            let mut dlen = 0usize;
            if req.op() == Some(Op::Read) {
                dlen = match r.below(4) {
                    0 => 0,
                    1 => req.length as usize,
                    2 => r.below(req.length + 1) as usize,
                    _ => (req.length as usize).saturating_sub(rep.resid.clamp(0, 1 << 24) as usize),
                };
            }
            let mut malformed = false;
            match r.below(40) {
                0 => {
                    // An id not issued yet (an older one may be legitimately
                    // owed a reply, after a request nobody answered).
                    rep.hdr.id = req.hdr.id + 1 + r.below(5);
                    malformed = true;
                }
                1 => {
                    rep.hdr.op = (rep.hdr.op % 14) + 1;
                    malformed = rep.hdr.op != req.hdr.op;
                }
                2 => {
                    rep.hdr.version = VERSION + 1;
                    malformed = true;
                }
                3 => {
                    // Data beyond the request.
                    dlen = req.length as usize + 1 + r.below(16) as usize;
                    malformed = true;
                }
                4 => {
                    rep.sense = 0x9 + (r.below(2) as u8) * 3;
                    malformed = true;
                }
                5 | 6 => {
                    // Data claimed in the data area: only a READRUN given
                    // a slice may, and never more than the slice.
                    rep.dlen = (r.below(req.length.saturating_add(64)) + 1) as u32;
                    let slice = req.flags().contains(ReqFlags::AREA) && req.op() == Some(Op::ReadRun);
                    malformed = !slice || u64::from(rep.dlen) > req.length;
                }
                _ => {}
            }
            let data: Vec<u8> = (0..dlen).map(|_| r.next() as u8).collect();
            rep.hdr.len = (REP_SIZE + dlen) as u32;
            let mut f = frame(&rep, &data);
            match r.below(40) {
                0 => {
                    // A header that claims more than the frame holds.
                    let l = REP_SIZE as u32 + dlen as u32 + 1 + r.below(64) as u32;
                    f[0..4].copy_from_slice(&l.to_ne_bytes());
                    malformed = true;
                }
                1 => {
                    // A truncated frame.
                    f.truncate(r.below(REP_SIZE as u64) as usize);
                    malformed = true;
                }
                _ => {}
            }
            self.pending.push(data);
            self.must_refuse.push(malformed);
            frames.push(f);
        }
        // Mostly the honest reply follows, after the junk.
        if self.rng.chance(70) {
            frames.push(frame(&honest, &honest_data));
            self.pending.push(honest_data);
            self.must_refuse.push(false);
        }
        frames
    }

    fn outcome(&mut self, i: usize, accepted: bool) {
        if accepted {
            if self.must_refuse.get(i) == Some(&true) {
                self.wrongly_accepted += 1;
            }
            if let Some(d) = self.pending.get(i) {
                self.sent.extend_from_slice(d);
            }
        }
    }
}

#[derive(Clone, Debug)]
enum Call {
    Open { write: bool, norewind: bool },
    Close,
    Write(usize),
    Read(usize),
    Mt(i16, i32),
    Status,
    Tell,
    Kill,
    Restart,
}

fn call() -> impl Strategy<Value = Call> {
    let count = prop_oneof![
        6 => -2i32..6,
        1 => Just(i32::MAX),
        1 => Just(i32::MIN),
        1 => Just(0x7f_ffff),
        1 => Just(0x80_0000),
    ];
    prop_oneof![
        2 => (any::<bool>(), any::<bool>()).prop_map(|(write, norewind)| Call::Open { write, norewind }),
        1 => Just(Call::Close),
        4 => (1usize..3000).prop_map(Call::Write),
        4 => prop_oneof![Just(1usize), Just(100), Just(512), Just(4096), 1usize..20000].prop_map(Call::Read),
        4 => (0i16..40, count).prop_map(|(op, n)| Call::Mt(op, n)),
        // Rewind: the way back from an unknown position.
        2 => Just(Call::Mt(6, 1)),
        3 => (prop_oneof![Just(1i16), Just(2), Just(3), Just(4), Just(5)], 0i32..4).prop_map(|(op, n)| Call::Mt(op, n)),
        2 => Just(Call::Status),
        1 => Just(Call::Tell),
        1 => Just(Call::Kill),
        1 => Just(Call::Restart),
    ]
}

/// Whether a Linux MTIOCTOP moves forward (Some(true)), backward
/// (Some(false)) over files or blocks, for counts of at least 1.
fn direction(op: i16) -> Option<bool> {
    match op {
        1 | 3 | 5 | 35 => Some(true),  // FSF, FSR, WEOF, WEOFI
        2 | 4 => Some(false),          // BSF, BSR
        _ => None,
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

fn hostile(seed: u64, hostility: u64, die: u64) -> Hostile {
    Hostile {
        rng: Rng(seed | 1),
        drive: Honest { runs: seed & 2 == 0, ..Honest::default() },
        hostility,
        sent: Vec::new(),
        pending: Vec::new(),
        must_refuse: Vec::new(),
        wrongly_accepted: 0,
        die,
    }
}

fn run(seed: u64, hostility: u64, calls: &[Call]) -> Result<(), TestCaseError> {
    let f = Fake::new(hostile(seed, hostility, 1), Config { ring: 16, window: 64 * 1024, timeout: 5 });
    let mut open = false;
    let mut killed = false;
    for (i, c) in calls.iter().enumerate() {
        // Calls on the master need an open unit: open it first (and, once a
        // dead daemon has been seen failing a call, start a new one).
        let on_master = matches!(c, Call::Write(_) | Call::Read(_) | Call::Mt(..) | Call::Status | Call::Tell);
        if on_master && !open {
            if f.daemon.borrow().is_none() && !std::mem::take(&mut killed) {
                f.start_daemon(hostile(seed.rotate_left(i as u32), hostility, 1));
            }
            open = f.open(RW).is_ok();
        }
        let before = if open { f.status().ok() } else { None };
        match c {
            Call::Open { write, norewind } => {
                let r = f.open(crate::drv::OpenFlags { read: true, write: *write, nonblock: false, norewind: *norewind });
                open |= r.is_ok();
                if r == Err(Errno::Busy) {
                    prop_assert!(open, "step {}: EBUSY on a closed unit", i);
                }
            }
            Call::Close => {
                if open {
                    let _ = f.close();
                    open = false;
                }
            }
            Call::Write(n) => {
                let data = vec![0x5au8; *n];
                if let Ok(k) = f.write(&data) {
                    prop_assert!(k <= *n, "step {}: wrote {} of {}", i, k, n);
                }
            }
            Call::Read(n) => {
                if let Ok(got) = f.read(*n) {
                    prop_assert!(got.len() <= *n);
                    let sent = f.daemon.borrow().as_ref().map(|d| d.sent.clone()).unwrap_or_default();
                    // After a daemon restart the old one's bytes count too:
                    // all come from some reply; check against the live one's.
                    if f.daemon.borrow().is_some() {
                        prop_assert!(contains(&sent, &got), "step {}: read returned bytes the daemon never sent", i);
                    }
                }
            }
            Call::Mt(op, n) => {
                // Failed or not, the operation may not move the other way.
                // (After writing, st writes a filemark before spacing back
                // over files: a BSF that then fails is one file on.)
                let writing_bsf = *op == 2 && f.writing();
                let _ = f.mt(*op, *n);
                if let (Some(fwd), Some(b), false) = (direction(*op), before, writing_bsf) {
                    if *n >= 1 {
                        if let Ok(a) = f.status() {
                            let (bf, bb, af, ab) = (b.0, b.1, a.0, a.1);
                            if bf >= 0 && af >= 0 {
                                prop_assert!(if fwd { af >= bf } else { af <= bf }, "step {}: op {} count {}: file {} -> {}", i, op, n, bf, af);
                                if af == bf && bb >= 0 && ab >= 0 && matches!(op, 3 | 4) {
                                    prop_assert!(if fwd { ab >= bb } else { ab <= bb }, "step {}: op {} block {} -> {}", i, op, bb, ab);
                                }
                            }
                        }
                    }
                }
            }
            Call::Status => {
                let _ = f.status();
            }
            Call::Tell => {
                let mut b = [0u8; 8];
                let _ = f.ioctl(crate::abi::linux::MTIOCPOS, &mut b);
            }
            Call::Kill => {
                if f.daemon.borrow().is_some() {
                    f.kill_daemon();
                    killed = true;
                }
            }
            Call::Restart => {
                if f.daemon.borrow().is_none() {
                    f.start_daemon(hostile(seed.rotate_left(i as u32), hostility, 1));
                }
            }
        }
        let wrong = f.daemon.borrow().as_ref().map_or(0, |d| d.wrongly_accepted);
        prop_assert_eq!(wrong, 0, "step {}: a malformed frame was accepted", i);
    }
    // An honest daemon gets a working unit.
    if open {
        let _ = f.close();
    }
    if f.daemon.borrow().is_some() {
        f.kill_daemon();
    }
    honest_round_trip(f.unit).map_err(TestCaseError::fail)
}

/// The unit, with an honest daemon now: two records written and read back.
fn honest_round_trip(unit: crate::unit::Unit) -> Result<(), alloc::string::String> {
    let g = Fake {
        unit,
        daemon: core::cell::RefCell::new(None),
        refused: core::cell::RefCell::new(0),
        waits: core::cell::RefCell::new(Vec::new()),
        area: None,
        area_requests: core::cell::RefCell::new(0),
    };
    g.start_daemon(Honest::default());
    let step = |what: &str, r: crate::errno::Result<()>| r.map_err(|e| alloc::format!("honest daemon: {what}: {e:?}"));
    step("open", g.open(RW))?;
    step("write", g.write(&[7u8; 1000]).map(drop))?;
    step("write", g.write(&[8u8; 500]).map(drop))?;
    step("close", g.close())?;
    step("open", g.open(RW))?;
    let a = g.read(2000).map_err(|e| alloc::format!("read: {e:?}"))?;
    let b = g.read(2000).map_err(|e| alloc::format!("read: {e:?}"))?;
    if a != vec![7u8; 1000] || b != vec![8u8; 500] {
        return Err(alloc::format!("honest daemon: read back {} and {} bytes, not the records", a.len(), b.len()));
    }
    step("close", g.close())
}

proptest! {
    #[test]
    fn a_hostile_daemon_cannot_break_the_engine(
        seed in any::<u64>(),
        hostility in prop_oneof![3 => Just(5u64), 3 => Just(20), 1 => Just(60), 1 => Just(100)],
        calls in prop::collection::vec(call(), 1..60),
    ) {
        run(seed, hostility, &calls)?;
    }
}

/// After any hostile run, an honest daemon on the same unit works.
#[test]
fn the_unit_serves_an_honest_daemon_after_a_hostile_one() {
    let f = Fake::new(hostile(0x1234_5678, 100, 0), Config { ring: 16, window: 64 * 1024, timeout: 5 });
    for _ in 0..50 {
        let _ = f.open(RW);
        let _ = f.write(&[1u8; 300]);
        let _ = f.read(300);
        let _ = f.mt(1, 2);
        let _ = f.status();
        let _ = f.close();
    }
    assert!(*f.refused.borrow() > 0, "the hostile daemon sent nothing malformed");
    f.kill_daemon();
    honest_round_trip(f.unit).unwrap();
}
