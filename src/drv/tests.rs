//! The engine's own tests, against the honest fake drive of
//! [`crate::testing`] (pmtd's real drive is tested with the core in the
//! tests crate): one group per module of the engine.

#[cfg(test)]
extern crate std;

use alloc::vec;
use alloc::vec::Vec;

use crate::abi::Abi;
use crate::errno::Errno;
use crate::proto::{Op, Rep, Req, REP_SIZE};
use crate::testing::{frame, Daemon, Fake, Honest, RW};
use crate::unit::Config;

use crate::abi::linux::op::{BSF as MTBSF, FSF as MTFSF, FSR as MTFSR, REW as MTREW, SETBLK as MTSETBLK, WEOF as MTWEOF};

fn rec(i: usize, n: usize) -> Vec<u8> {
    (0..n).map(|j| (i * 31 + j * 7) as u8).collect()
}

/// The honest drive, with every reply passed through `f` first: the frames
/// it returns are tried in order.
struct Scripted<F: FnMut(&Req, Rep, Vec<u8>) -> Vec<Vec<u8>>> {
    drive: Honest,
    f: F,
}

impl<F: FnMut(&Req, Rep, Vec<u8>) -> Vec<Vec<u8>>> Daemon for Scripted<F> {
    fn answer(&mut self, req: &Req, data: &[u8]) -> Vec<Vec<u8>> {
        let (mut rep, d) = self.drive.reply(req, data);
        rep.hdr.len = (REP_SIZE + d.len()) as u32;
        (self.f)(req, rep, d)
    }
}

fn ok_frame(rep: &Rep, d: &[u8]) -> Vec<u8> {
    frame(rep, d)
}

/// (file, block) from MTIOCGET.
fn pos<D: Daemon>(f: &Fake<D>) -> (i32, i32) {
    let s = f.status().unwrap();
    (s.0, s.1)
}

// ----- link: the transport and write-behind ---------------------------------------

#[test]
fn a_write_behind_error_reaches_the_writer_at_close() {
    let drive = Honest { fail_write: Some(2), ..Honest::default() };
    let f = Fake::new(drive, Config::default());
    f.open(RW).unwrap();
    // Queued behind: every write is acknowledged at once.
    for i in 0..5 {
        assert_eq!(f.write(&rec(i, 1000)), Ok(1000));
    }
    assert_eq!(f.close(), Err(Errno::Io), "the lost record is reported");
}

#[test]
fn a_write_behind_error_reaches_the_next_write() {
    let drive = Honest { fail_write: Some(0), ..Honest::default() };
    let f = Fake::new(drive, Config::default());
    f.open(RW).unwrap();
    assert_eq!(f.write(&rec(0, 100)), Ok(100));
    // The daemon answers while the next write waits for a status round trip.
    f.pump();
    assert_eq!(f.write(&rec(1, 100)), Err(Errno::Io));
}

#[test]
fn a_dead_daemon_fails_waiters_at_once_and_the_unit_serves_the_next() {
    let f = Fake::new(Honest::default(), Config::default());
    f.open(RW).unwrap();
    f.write(&rec(0, 10)).unwrap();
    f.kill_daemon();
    assert_eq!(f.write(&rec(1, 10)), Err(Errno::Io));
    assert_eq!(f.mt(MTWEOF, 1), Err(Errno::Io));
    let _ = f.close();
    assert_eq!(f.open(RW), Err(Errno::Io), "no daemon: EIO at open");
    f.start_daemon(Honest::default());
    f.open(RW).unwrap();
    f.write(&rec(2, 10)).unwrap();
    f.close().unwrap();
}

#[test]
fn only_waits_with_nothing_in_flight_are_interruptible() {
    use crate::host::{Sleep, Wait};
    // A window of two records: the third write waits for room.
    let f = Fake::new(Honest::default(), Config { ring: 16, window: 8192, timeout: 5 });
    f.open(RW).unwrap();
    for i in 0..3 {
        f.write(&rec(i, 4000)).unwrap();
    }
    f.mt(MTWEOF, 1).unwrap();
    f.status().unwrap();
    let open_and_io = f.waits.borrow().clone();
    f.close().unwrap();
    let waits = f.waits.borrow();
    let closing = &waits[open_and_io.len()..];
    // Room in the window: nothing of the write is queued yet.
    assert!(open_and_io.iter().any(|w| matches!(w, (Wait::Space(_), Sleep::Interruptible, _))), "{open_and_io:?}");
    assert!(open_and_io.iter().all(|w| matches!(w, (Wait::Space(_), Sleep::Interruptible, _)) || w.1 == Sleep::Killable), "{open_and_io:?}");
    // A drive command in flight: killable, never interruptible.
    assert!(open_and_io.iter().any(|w| matches!(w, (Wait::Front, Sleep::Killable, true))), "{open_and_io:?}");
    assert!(open_and_io.iter().all(|w| !(w.0 == Wait::Front && w.1 == Sleep::Interruptible)));
    // The close paths: nothing but the timeout ends their waits.
    assert!(!closing.is_empty() && closing.iter().all(|w| w.1 == Sleep::Uninterruptible), "{closing:?}");
}

// ----- rw: read and write ----------------------------------------------------------------

#[test]
fn early_warning_alternates_enospc_with_writes() {
    let drive = Honest { room: Some(10 * (1000 + 64)), ..Honest::default() };
    let f = Fake::new(drive, Config::default());
    f.open(RW).unwrap();
    let r: Vec<_> = (0..16).map(|i| f.write(&rec(i, 1000))).collect();
    let first = r.iter().position(|x| *x == Err(Errno::NoSpc)).unwrap();
    assert!(r[..first].iter().all(|x| *x == Ok(1000)));
    for (k, x) in r[first..].iter().enumerate() {
        assert_eq!(*x, if k % 2 == 0 { Err(Errno::NoSpc) } else { Ok(1000) }, "write {} after early warning", k);
    }
    f.close().unwrap();
}

#[test]
fn the_write_st_lets_through_after_enospc_is_marked_for_the_drive() {
    use crate::proto::ReqFlags;
    use std::cell::RefCell;
    use std::rc::Rc;
    let marks: Rc<RefCell<Vec<bool>>> = Rc::default();
    let seen = Rc::clone(&marks);
    let drive = Scripted {
        drive: Honest { room: Some(10 * (1000 + 64)), ..Honest::default() },
        f: move |req: &Req, rep: Rep, d: Vec<u8>| {
            if req.op() == Some(Op::Write) {
                seen.borrow_mut().push(req.flags().contains(ReqFlags::AFTER_ENOSPC));
            }
            vec![ok_frame(&rep, &d)]
        },
    };
    let f = Fake::new(drive, Config::default());
    f.open(RW).unwrap();
    let r: Vec<_> = (0..16).map(|i| f.write(&rec(i, 1000))).collect();
    f.close().unwrap();
    // Every write that reached the drive after an ENOSPC is marked, and
    // only those.
    let sent: Vec<bool> = r.iter().enumerate().filter(|(_, x)| x.is_ok()).map(|(i, _)| i > 0 && r[i - 1] == Err(Errno::NoSpc)).collect();
    assert!(sent.iter().filter(|m| **m).count() >= 2, "{r:?}");
    assert_eq!(*marks.borrow(), sent);
}

#[test]
fn a_short_buffer_is_enomem_on_linux_and_eio_on_netbsd() {
    for (abi, want) in [(Abi::Linux, Errno::NoMem), (Abi::NetBsd, Errno::Io)] {
        let f = Fake::with_abi(Honest::default(), Config::default(), abi);
        f.open(RW).unwrap();
        f.write(&rec(0, 100)).unwrap();
        f.write(&rec(1, 100)).unwrap();
        f.close().unwrap();
        f.open(RW).unwrap();
        assert_eq!(f.read(50), Err(want), "{abi:?}");
        assert_eq!(f.read(100).unwrap(), rec(1, 100), "{abi:?}: the short read consumed the record");
        let _ = f.close();
    }
}

#[test]
fn fixed_blocks_read_ahead_and_the_status_counts_what_the_user_has() {
    let f = Fake::new(Honest::default(), Config::default());
    f.open(RW).unwrap();
    f.mt(MTSETBLK, 512).unwrap();
    let data = rec(0, 512 * 8);
    assert_eq!(f.write(&data), Ok(512 * 8));
    f.mt(MTREW, 1).unwrap();
    // st reads its whole buffer ahead; the user has one block.
    assert_eq!(f.read(512).unwrap(), data[..512].to_vec());
    assert_eq!(f.status().unwrap().1, 1);
    assert_eq!(f.read(1024).unwrap(), data[512..1536].to_vec());
    assert_eq!(f.status().unwrap().1, 3);
    f.close().unwrap();
}

#[test]
fn a_fixed_read_that_is_not_whole_blocks_is_refused_and_the_unit_goes_on() {
    let mut first = true;
    let daemon = Scripted {
        drive: Honest::default(),
        f: move |req: &Req, rep: Rep, d: Vec<u8>| {
            let mut v = Vec::new();
            if req.op() == Some(Op::Read) && first && !d.is_empty() {
                first = false;
                // 700 bytes for 512-byte blocks: refused before it is kept.
                let mut bad = rep;
                bad.hdr.len = (REP_SIZE + 700) as u32;
                v.push(frame(&bad, &d[..700]));
            }
            v.push(ok_frame(&rep, &d));
            v
        },
    };
    let f = Fake::new(daemon, Config::default());
    f.open(RW).unwrap();
    f.mt(MTSETBLK, 512).unwrap();
    let data = rec(3, 512 * 4);
    f.write(&data).unwrap();
    f.mt(MTREW, 1).unwrap();
    assert_eq!(f.read(2048).unwrap(), data);
    assert_eq!(*f.refused.borrow(), 1);
    f.close().unwrap();
}

// ----- tapeop: MTIOCTOP ---------------------------------------------------------------------

#[test]
fn counts_beyond_24_bits_are_refused() {
    let f = Fake::new(Honest::default(), Config::default());
    f.open(RW).unwrap();
    assert_eq!(f.mt(MTFSF, 0x80_0000), Err(Errno::Inval));
    assert_eq!(f.mt(MTBSF, i32::MAX), Err(Errno::Inval));
    assert_eq!(f.mt(MTFSR, i32::MIN), Err(Errno::Inval));
    assert_eq!(f.mt(MTWEOF, -1), Err(Errno::Inval));
    assert_eq!(f.mt(MTFSF, 0x7f_ffff), Err(Errno::Io), "the largest count is sent (and meets end of data)");
    f.close().unwrap();
}

#[test]
fn spacing_keeps_st_file_and_block_numbers() {
    let f = Fake::new(Honest::default(), Config::default());
    f.open(RW).unwrap();
    for i in 0..3 {
        f.write(&rec(i, 64)).unwrap();
        f.write(&rec(i + 10, 64)).unwrap();
        f.mt(MTWEOF, 1).unwrap();
    }
    f.mt(MTREW, 1).unwrap();
    f.mt(MTFSF, 2).unwrap();
    assert_eq!(pos(&f), (2, 0));
    f.mt(MTFSR, 1).unwrap();
    assert_eq!(pos(&f), (2, 1));
    f.mt(MTBSF, 1).unwrap();
    assert_eq!(pos(&f), (1, -1));
    // Forward over more marks than there are: end of data, file counted.
    assert_eq!(f.mt(MTFSF, 5), Err(Errno::Io));
    assert_eq!(f.status().unwrap().0, 3);
    f.close().unwrap();
}

// ----- status: MTIOCGET and MTIOCPOS -------------------------------------------------------

#[test]
fn a_position_beyond_32_bits_is_an_error_not_a_wrong_number() {
    let daemon = Scripted {
        drive: Honest::default(),
        f: |req: &Req, mut rep: Rep, d: Vec<u8>| {
            if req.op() == Some(Op::ReadPos) {
                rep.status.position = 1 << 33;
            }
            vec![frame(&rep, &d)]
        },
    };
    let f = Fake::new(daemon, Config::default());
    f.open(RW).unwrap();
    let mut b = [0u8; 8];
    assert_eq!(f.ioctl(crate::abi::linux::MTIOCPOS, &mut b), Err(Errno::Io));
    f.close().unwrap();
}

// ----- ahead: read-ahead ------------------------------------------------------------------

const MTIOCPOS: u32 = crate::abi::linux::MTIOCPOS;

fn reading(runs: bool) -> Fake<Honest> {
    Fake::new(Honest { runs, ..Honest::default() }, Config { ring: 64, window: 256 * 1024, timeout: 5 })
}

/// As [`reading`], with or without a data area.
fn reading_with(runs: bool, area: bool) -> Fake<Honest> {
    let (d, cfg) = (Honest { runs, ..Honest::default() }, Config { ring: 64, window: 256 * 1024, timeout: 5 });
    if area {
        Fake::new(d, cfg)
    } else {
        Fake::without_area(d, cfg, crate::abi::Abi::Linux)
    }
}

fn tell<D: Daemon>(f: &Fake<D>) -> i64 {
    let mut b = [0u8; 8];
    f.ioctl(MTIOCPOS, &mut b).unwrap();
    i64::from_ne_bytes(b)
}

#[test]
fn records_go_through_the_data_area_when_the_daemon_maps_it() {
    for area in [true, false] {
        let f = reading_with(true, area);
        f.open(RW).unwrap();
        for i in 0..20 {
            f.write(&rec(i, 3000)).unwrap();
        }
        f.mt(MTREW, 1).unwrap();
        for i in 0..20 {
            assert_eq!(f.read(4096).unwrap(), rec(i, 3000), "record {i}");
        }
        f.close().unwrap();
        let n = *f.area_requests.borrow();
        // The writes (write-behind and synchronous) and the runs.
        assert_eq!(n > 20, area, "{n} requests in the area");
        // Every slice went back.
        assert_eq!(f.unit.held(), 0);
    }
}

#[test]
fn read_ahead_serves_sequential_reads_from_runs() {
    let f = reading(true);
    f.open(RW).unwrap();
    for i in 0..300 {
        f.write(&rec(i, 1000 + i % 7)).unwrap();
    }
    f.close().unwrap();
    f.open(RW).unwrap();
    for i in 0..300 {
        assert_eq!(f.read(4096).unwrap(), rec(i, 1000 + i % 7), "record {i}");
    }
    assert_eq!(f.read(4096), Ok(vec![]), "filemark");
    let d = f.daemon.borrow();
    let d = d.as_ref().unwrap();
    assert!(d.runs_answered > 0);
    assert!(d.reads_answered < 10, "{} plain reads for 300 records", d.reads_answered);
}

#[test]
fn read_ahead_stops_at_filemarks_and_end_of_data_exactly_as_st() {
    for runs in [false, true] {
        let f = reading(runs);
        f.open(RW).unwrap();
        for i in 0..5 {
            f.write(&rec(i, 300)).unwrap();
        }
        f.mt(MTWEOF, 1).unwrap();
        for i in 5..8 {
            f.write(&rec(i, 301)).unwrap();
        }
        f.mt(MTWEOF, 2).unwrap();
        f.mt(MTREW, 1).unwrap();
        let mut seen = Vec::new();
        for _ in 0..14 {
            let r = f.read(1000);
            seen.push((r.as_ref().map(|v| v.len()).map_err(|e| *e), pos(&f)));
        }
        // st's answers: the records, a zero read at each filemark, one at
        // end of data, then EIO.
        let mut want: Vec<(core::result::Result<usize, Errno>, (i32, i32))> = Vec::new();
        want.extend((1..=5).map(|b| (Ok(300), (0, b))));
        want.push((Ok(0), (1, 0)));
        want.extend((1..=3).map(|b| (Ok(301), (1, b))));
        want.extend([(Ok(0), (2, 0)), (Ok(0), (3, 0)), (Ok(0), (3, -1))]);
        want.extend([(Err(Errno::Io), (3, -1)); 2]);
        assert_eq!(seen, want, "read-ahead {runs}");
        f.close().unwrap();
    }
}

#[test]
fn any_other_operation_settles_the_read_ahead() {
    let f = reading(true);
    f.open(RW).unwrap();
    for i in 0..50 {
        f.write(&rec(i, 500)).unwrap();
    }
    f.close().unwrap();
    f.open(RW).unwrap();
    for i in 0..7 {
        assert_eq!(f.read(500).unwrap(), rec(i, 500));
    }
    // Runs hold records past the 7th; the position is the user's.
    assert!(f.daemon.borrow().as_ref().unwrap().runs_answered > 0);
    assert_eq!(tell(&f), 7);
    assert_eq!(pos(&f), (0, 7));
    assert_eq!(f.read(500).unwrap(), rec(7, 500), "reading goes on after the settle");
    // A write cuts the tape where the user is.
    for i in 8..10 {
        assert_eq!(f.read(500).unwrap(), rec(i, 500));
    }
    f.write(&rec(99, 10)).unwrap();
    f.close().unwrap();
    let d = f.daemon.borrow();
    let tape = &d.as_ref().unwrap().tape;
    assert_eq!(tape.len(), 12, "10 records, the new one, the filemark");
    assert_eq!(tape[10], Some(rec(99, 10)));
    assert_eq!(tape[11], None);
}

#[test]
fn a_short_buffer_is_enomem_with_read_ahead_too() {
    let f = reading(true);
    f.open(RW).unwrap();
    for i in 0..20 {
        f.write(&rec(i, if i == 10 { 2000 } else { 100 })).unwrap();
    }
    f.close().unwrap();
    f.open(RW).unwrap();
    for i in 0..10 {
        assert_eq!(f.read(1000).unwrap(), rec(i, 100));
    }
    assert_eq!(f.read(1000), Err(Errno::NoMem), "the 2000-byte record");
    assert_eq!(pos(&f), (0, 11), "consumed");
    assert_eq!(f.read(1000).unwrap(), rec(11, 100));
    f.close().unwrap();
}

#[test]
fn the_daemon_killed_while_records_are_read_ahead_fails_the_reader() {
    let f = reading(true);
    f.open(RW).unwrap();
    for i in 0..100 {
        f.write(&rec(i, 700)).unwrap();
    }
    f.close().unwrap();
    f.open(RW).unwrap();
    for i in 0..3 {
        f.read(700).unwrap_or_else(|e| panic!("read {i}: {e:?}"));
    }
    f.kill_daemon();
    assert_eq!(f.read(700), Err(Errno::Io));
    assert_eq!(f.read(700), Err(Errno::Io));
    let _ = f.close();
}

#[test]
fn fixed_blocks_read_ahead_across_runs() {
    let f = reading(true);
    f.open(RW).unwrap();
    f.mt(MTSETBLK, 512).unwrap();
    let data = rec(5, 512 * 600);
    for c in data.chunks(512 * 60) {
        f.write(c).unwrap();
    }
    f.mt(MTWEOF, 1).unwrap();
    f.mt(MTREW, 1).unwrap();
    let mut got = Vec::new();
    loop {
        let r = f.read(10240).unwrap();
        if r.is_empty() {
            break;
        }
        got.extend_from_slice(&r);
    }
    assert_eq!(got.len(), data.len());
    assert!(got == data);
    assert!(f.daemon.borrow().as_ref().unwrap().runs_answered > 0);
    f.close().unwrap();
}

mod differential {
    //! The same random calls with and without read-ahead: every result, every
    //! status and the tape left behind must be the same.
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum C {
        Write(usize),
        Read(usize),
        Mt(i16, i32),
        Status,
        Tell,
        Reopen(bool),
    }

    fn c() -> impl Strategy<Value = C> {
        prop_oneof![
            4 => (1usize..2000).prop_map(C::Write),
            10 => prop_oneof![Just(16usize), Just(700), Just(1500), Just(4096)].prop_map(C::Read),
            1 => (1i32..3).prop_map(|n| C::Mt(MTWEOF, n)),
            1 => (0i32..3).prop_map(|n| C::Mt(MTFSF, n)),
            1 => (0i32..3).prop_map(|n| C::Mt(MTBSF, n)),
            1 => (0i32..4).prop_map(|n| C::Mt(MTFSR, n)),
            1 => (0i32..4).prop_map(|n| C::Mt(4, n)),
            1 => Just(C::Mt(MTREW, 1)),
            1 => Just(C::Mt(12, 1)),
            1 => Just(C::Status),
            1 => Just(C::Tell),
            1 => any::<bool>().prop_map(C::Reopen),
        ]
    }

    type Seen = Vec<alloc::string::String>;

    fn run(runs: bool, area: bool, calls: &[C]) -> (Seen, Vec<Option<Vec<u8>>>, usize) {
        let f = reading_with(runs, area);
        let mut seen = Vec::new();
        let nrw = crate::drv::OpenFlags { norewind: true, ..RW };
        f.open(RW).unwrap();
        for (i, c) in calls.iter().enumerate() {
            let s = match c {
                C::Write(n) => alloc::format!("{:?}", f.write(&rec(i, *n))),
                C::Read(n) => alloc::format!("{:?}", f.read(*n)),
                C::Mt(op, n) => alloc::format!("{:?}", f.mt(*op, *n)),
                C::Status => alloc::format!("{:?}", f.status()),
                C::Tell => {
                    let mut b = [0u8; 8];
                    alloc::format!("{:?} {:?}", f.ioctl(MTIOCPOS, &mut b), b)
                }
                C::Reopen(rewind) => {
                    let a = f.close();
                    let b = f.open(if *rewind { RW } else { nrw });
                    alloc::format!("{a:?} {b:?}")
                }
            };
            seen.push(alloc::format!("{i} {c:?}: {s} at {:?}", f.status()));
        }
        seen.push(alloc::format!("close {:?}", f.close()));
        let d = f.daemon.borrow();
        let d = d.as_ref().unwrap();
        (seen, d.tape.clone(), d.runs_answered)
    }

    proptest! {
        #[test]
        fn read_ahead_and_the_data_area_change_nothing_a_program_sees(calls in prop::collection::vec(c(), 1..80)) {
            // Neither read-ahead nor the data area; read-ahead in frames;
            // read-ahead and writes through the area.
            let (a, tape_a, _) = run(false, false, &calls);
            for (runs, area) in [(true, false), (true, true)] {
                let (b, tape_b, _) = run(runs, area, &calls);
                for (x, y) in a.iter().zip(b.iter()) {
                    prop_assert_eq!(x, y);
                }
                prop_assert_eq!(&tape_a, &tape_b);
            }
        }
    }

    #[test]
    fn the_differential_test_reads_ahead() {
        // Enough sequential reads for runs to be used at all.
        let mut calls = vec![C::Write(100); 40];
        calls.push(C::Mt(MTREW, 1));
        calls.extend(vec![C::Read(4096); 45]);
        let (a, _, n0) = run(false, false, &calls);
        let (b, _, n1) = run(true, true, &calls);
        assert_eq!(a, b);
        assert_eq!(n0, 0);
        assert!(n1 > 0);
    }
}

// ----- policy: NetBSD's st rules ------------------------------------------------------------

mod netbsd_rules {
    //! Each field of [`crate::Policy`] that NetBSD's st sets apart, against
    //! the same honest drive under both hosts' policies.
    use super::*;
    use crate::abi::netbsd::{self, op as nb};
    use crate::drv::Node;
    use core::cell::RefCell;
    use std::rc::Rc;

    const NRW: crate::drv::OpenFlags = crate::drv::OpenFlags { norewind: true, ..RW };
    const WO: crate::drv::OpenFlags = crate::drv::OpenFlags { read: false, ..RW };

    /// The tape as record lengths, 0 for a filemark (after the daemon
    /// took what is queued).
    fn tape<D: Daemon>(f: &Fake<D>, get: impl Fn(&D) -> &Vec<Option<Vec<u8>>>) -> Vec<usize> {
        while f.pump() {}
        let d = f.daemon.borrow();
        get(d.as_ref().unwrap()).iter().map(|o| o.as_ref().map_or(0, Vec::len)).collect()
    }

    fn honest(f: &Fake<Honest>) -> Vec<usize> {
        tape(f, |d| &d.tape)
    }

    fn nb_unit() -> Fake<Honest> {
        Fake::with_abi(Honest::default(), Config::default(), Abi::NetBsd)
    }

    /// (file, block) in NetBSD's mtget.
    fn nb_pos(f: &Fake<Honest>) -> (i32, i32) {
        let b = f.nb_status().unwrap();
        (i32::from_ne_bytes(b[8..12].try_into().unwrap()), i32::from_ne_bytes(b[12..16].try_into().unwrap()))
    }

    #[test]
    fn eod_rule_netbsd_ends_written_data_before_motions_as_st_check_eod() {
        // MTFSF after writing: two marks, then FSF 1 - 2 = back over one:
        // at the start of the next file, between the marks.
        let f = nb_unit();
        f.open(NRW).unwrap();
        f.write(&rec(0, 100)).unwrap();
        f.nb_mt(nb::FSF, 1).unwrap();
        assert_eq!(honest(&f), vec![100, 0, 0]);
        f.write(&rec(1, 50)).unwrap();
        assert_eq!(honest(&f), vec![100, 0, 50], "the next file replaces the second mark");
        // MTREW after writing: two marks; after data and one MTWEOF, one.
        f.nb_mt(nb::REW, 1).unwrap();
        assert_eq!(honest(&f), vec![100, 0, 50, 0, 0]);
        f.nb_mt(nb::FSF, 2).unwrap();
        f.write(&rec(2, 30)).unwrap();
        f.nb_mt(nb::WEOF, 1).unwrap();
        f.nb_mt(nb::REW, 1).unwrap();
        assert_eq!(honest(&f), vec![100, 0, 50, 0, 30, 0, 0]);
        // MTBSF after writing: the marks, and the spacing counts them.
        f.nb_mt(nb::FSF, 3).unwrap();
        f.write(&rec(3, 20)).unwrap();
        f.nb_mt(nb::BSF, 1).unwrap();
        assert_eq!(honest(&f), vec![100, 0, 50, 0, 30, 0, 20, 0, 0]);
        assert_eq!(f.read(200).unwrap(), vec![], "before the mark that ends file 2");
        // MTBSR after writing: the marks, the head brought back over them.
        f.nb_mt(nb::EOM, 1).unwrap();
        f.write(&rec(4, 10)).unwrap();
        f.write(&rec(5, 11)).unwrap();
        f.nb_mt(nb::BSR, 1).unwrap();
        assert_eq!(honest(&f)[9..], [10, 11, 0, 0]);
        assert_eq!(f.read(200).unwrap(), rec(5, 11));
        f.close().unwrap();
        // A locate writes none (st_setpos leaves that to the program).
        f.open(NRW).unwrap();
        f.nb_mt(nb::REW, 1).unwrap();
        f.write(&rec(6, 5)).unwrap();
        let len = honest(&f).len();
        f.ioctl(netbsd::MTIOCSLOCATE, &mut 0u32.to_ne_bytes()).unwrap();
        assert_eq!(honest(&f).len(), len);
        let _ = f.close();
    }

    #[test]
    fn eod_rule_linux_writes_one_mark_before_a_rewind_and_none_before_fsf() {
        let f = Fake::new(Honest::default(), Config::default());
        f.open(NRW).unwrap();
        f.write(&rec(0, 100)).unwrap();
        assert_eq!(f.mt(MTFSF, 1), Err(Errno::Io), "end of data");
        assert_eq!(honest(&f), vec![100]);
        f.close().unwrap();
        f.open(RW).unwrap();
        f.mt(MTREW, 1).unwrap();
        f.write(&rec(1, 10)).unwrap();
        f.mt(MTREW, 1).unwrap();
        assert_eq!(honest(&f), vec![10, 0]);
        f.close().unwrap();
    }

    #[test]
    fn eod_rule_close_with_nothing_written_writes_no_filemark_on_either_host() {
        // NetBSD's stclose calls st_check_eod for a write-only file that
        // wrote nothing ("for SUN compatibility"), but st_check_eod writes
        // marks only after ST_WRITTEN: none.
        for abi in [Abi::NetBsd, Abi::Linux] {
            let f = Fake::with_abi(Honest::default(), Config::default(), abi);
            for node in [RW, NRW] {
                f.open(crate::drv::OpenFlags { read: false, ..node }).unwrap();
                f.close().unwrap();
            }
            f.open(WO).unwrap();
            f.close().unwrap();
            assert_eq!(honest(&f), Vec::<usize>::new(), "{abi:?}");
        }
    }

    #[test]
    fn eod_rule_netbsd_data_and_one_mark_get_the_second_at_the_unmount() {
        let f = nb_unit();
        f.open(NRW).unwrap();
        f.write(&rec(0, 100)).unwrap();
        f.nb_mt(nb::WEOF, 1).unwrap();
        f.close().unwrap();
        assert_eq!(honest(&f), vec![100, 0], "stclose: ST_FM_WRITTEN, nothing more");
        // The rewinding node's close unmounts: st_check_eod adds the second.
        f.open(crate::drv::OpenFlags { write: false, ..RW }).unwrap();
        f.close().unwrap();
        assert_eq!(honest(&f), vec![100, 0, 0]);
    }

    #[test]
    fn latch_sense_netbsd_reports_the_last_key_and_residue_once() {
        let f = nb_unit();
        f.open(RW).unwrap();
        f.write(&rec(0, 100)).unwrap();
        f.close().unwrap();
        f.open(RW).unwrap();
        assert_eq!(f.read(100).unwrap(), rec(0, 100));
        let b = f.nb_status().unwrap();
        assert_eq!((b[4], b[6]), (0, 0), "nothing latched yet");
        // The two marks, then BLANK CHECK (8) with the whole read left.
        assert_eq!(f.read(1000), Ok(vec![]));
        let b = f.nb_status().unwrap();
        assert_eq!(i16::from_ne_bytes([b[4], b[5]]), 0, "NO SENSE with FMK");
        assert_eq!(i16::from_ne_bytes([b[6], b[7]]), 1000, "the residue of the read");
        assert_eq!(f.read(1000), Ok(vec![]));
        assert_eq!(f.read(1000), Ok(vec![]));
        let b = f.nb_status().unwrap();
        assert_eq!((i16::from_ne_bytes([b[4], b[5]]), i16::from_ne_bytes([b[6], b[7]])), (8, 1000));
        let b = f.nb_status().unwrap();
        assert_eq!((b[4], b[5], b[6], b[7]), (0, 0, 0, 0), "cleared once reported");
        // A write the drive fails: MEDIUM ERROR (3), the whole record left.
        f.close().ok();
        let f = Fake::with_abi(Honest { fail_write: Some(0), ..Honest::default() }, Config::default(), Abi::NetBsd);
        f.open(RW).unwrap();
        f.write(&rec(0, 300)).unwrap();
        assert_eq!(f.nb_mt(nb::WEOF, 1), Err(Errno::Io));
        let b = f.nb_status().unwrap();
        assert_eq!((i16::from_ne_bytes([b[4], b[5]]), i16::from_ne_bytes([b[6], b[7]])), (3, 300));
        // An open clears what was latched.
        let _ = f.close();
        f.open(RW).unwrap();
        let _ = f.read(10);
        let b = f.nb_status().unwrap();
        assert_eq!(i16::from_ne_bytes([b[6], b[7]]), 10, "latched by the read");
        let _ = f.read(10);
        let _ = f.close();
        f.open(RW).unwrap();
        let b = f.nb_status().unwrap();
        assert_eq!((b[4], b[6]), (0, 0));
        let _ = f.close();
    }

    #[test]
    fn latch_sense_linux_reports_none() {
        let f = Fake::new(Honest::default(), Config::default());
        f.open(RW).unwrap();
        assert_eq!(f.read(100), Err(Errno::Io));
        let mut b = [0u8; crate::abi::linux::MTGET_SIZE];
        f.ioctl(crate::abi::linux::MTIOCGET, &mut b).unwrap();
        assert_eq!(i64::from_ne_bytes(b[8..16].try_into().unwrap()), 0, "mt_resid");
        f.close().unwrap();
    }

    /// The mode block sizes in NetBSD's mtget.
    fn mblksiz(f: &Fake<Honest>) -> [i32; 4] {
        let b = f.nb_status().unwrap();
        core::array::from_fn(|i| i32::from_ne_bytes(b[24 + 4 * i..28 + 4 * i].try_into().unwrap()))
    }

    fn blksiz(f: &Fake<Honest>) -> i32 {
        let b = f.nb_status().unwrap();
        i32::from_ne_bytes(b[16..20].try_into().unwrap())
    }

    #[test]
    fn remount_netbsd_control_node_sets_a_mode_block_size_without_a_tape() {
        let f = nb_unit();
        f.kill_daemon();
        let control = Node { mode: 1, control: true, eject: false };
        // No drive: the control node opens anyway, and keeps the value.
        f.open_node(RW, control).unwrap();
        f.nb_mt(nb::SETBSIZ, 512).unwrap();
        assert_eq!(mblksiz(&f), [0, 512, 0, 0]);
        f.close().unwrap();
        assert_eq!(f.open_node(RW, Node { mode: 1, ..Node::default() }), Err(Errno::Io), "other nodes need the drive");
        f.start_daemon(Honest::default());
        // Mode 1 mounts with 512-byte blocks; mode 0 with variable ones.
        f.open_node(RW, Node { mode: 1, ..Node::default() }).unwrap();
        assert_eq!(blksiz(&f), 512);
        f.write(&rec(0, 1024)).unwrap();
        f.close().unwrap();
        assert_eq!(honest(&f)[..2], [512, 512]);
        f.open(RW).unwrap();
        assert_eq!(blksiz(&f), 0);
        // A block size set on a normal node lasts until the unmount.
        f.nb_mt(nb::SETBSIZ, 1024).unwrap();
        assert_eq!(blksiz(&f), 1024);
        f.close().unwrap();
        f.open(RW).unwrap();
        assert_eq!(blksiz(&f), 0, "the rewinding close ended the mount");
        f.close().unwrap();
        // ... but not past a no-rewind close.
        f.open(NRW).unwrap();
        f.nb_mt(nb::SETBSIZ, 1024).unwrap();
        f.close().unwrap();
        f.open(NRW).unwrap();
        assert_eq!(blksiz(&f), 1024);
        f.close().unwrap();
    }

    #[test]
    fn remount_linux_keeps_the_drives_block_size() {
        let f = Fake::new(Honest::default(), Config::default());
        f.open(RW).unwrap();
        f.mt(MTSETBLK, 1024).unwrap();
        f.close().unwrap();
        f.open(RW).unwrap();
        let mut b = [0u8; crate::abi::linux::MTGET_SIZE];
        f.ioctl(crate::abi::linux::MTIOCGET, &mut b).unwrap();
        let dsreg = i64::from_ne_bytes(b[16..24].try_into().unwrap());
        assert_eq!(dsreg & 0xff_ffff, 1024);
        f.close().unwrap();
    }

    #[test]
    fn netbsd_eject_node_unloads_at_close() {
        let ops = Rc::new(RefCell::new(Vec::new()));
        let seen = Rc::clone(&ops);
        let daemon = Scripted {
            drive: Honest::default(),
            f: move |req: &Req, rep: Rep, d: Vec<u8>| {
                seen.borrow_mut().push((req.op(), req.flags));
                vec![frame(&rep, &d)]
            },
        };
        let f = Fake::with_abi(daemon, Config::default(), Abi::NetBsd);
        f.open_node(RW, Node { eject: true, ..Node::default() }).unwrap();
        f.write(&rec(0, 10)).unwrap();
        f.close().unwrap();
        let ops = ops.borrow();
        let tail: Vec<_> = ops.iter().rev().take(4).rev().map(|(o, fl)| (*o, *fl)).collect();
        assert_eq!(tail[0], (Some(Op::Wfm), 0));
        assert_eq!(tail[1].0, Some(Op::Rewind));
        assert_eq!(tail[2], (Some(Op::Load), 0), "an unload (no LOAD flag)");
        assert_eq!(tail[3].0, Some(Op::Close));
        assert_eq!(tape(&f, |d| &d.drive.tape), vec![10, 0, 0]);
    }

    #[test]
    fn netbsd_positions_after_the_close_of_a_no_rewind_node() {
        let f = nb_unit();
        f.open(NRW).unwrap();
        f.write(&rec(0, 10)).unwrap();
        f.close().unwrap();
        f.open(NRW).unwrap();
        assert_eq!(nb_pos(&f), (1, 0));
        f.close().unwrap();
    }
}
