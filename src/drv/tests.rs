//! The engine's own tests, against the honest fake drive of
//! [`crate::testing`] (pmtd's real drive is tested with the core in the
//! tests crate): one group per module of the engine.

extern crate std;

use alloc::vec;
use alloc::vec::Vec;

use crate::abi::Abi;
use crate::errno::Errno;
use crate::proto::{Op, Rep, Req, REP_SIZE};
use crate::testing::{frame, Daemon, Fake, Honest, RW};
use crate::unit::Config;

const MTFSF: i16 = 1;
const MTBSF: i16 = 2;
const MTFSR: i16 = 3;
const MTWEOF: i16 = 5;
const MTREW: i16 = 6;
const MTSETBLK: i16 = 20;

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
