use super::*;
use crate::proto::{Op, Rep, Req, Tape, REP_SIZE, REQ_SIZE, VERSION};
use alloc::vec;

fn chan() -> Chan<Tape> {
    let mut c = Chan::<Tape>::new(Limits { ring: 4, window: 100 }).unwrap();
    c.slave_open().unwrap();
    c
}

fn reply_to(req: &Req) -> Rep {
    Rep::good(req, crate::proto::Status::default())
}

#[test]
fn fifo_round_trip() {
    let mut c = chan();
    let mut d = vec![1u8; 10];
    let id = c.submit(Req::new(Op::Write), &mut d, Kind::Behind).unwrap();
    assert!(d.is_empty());
    assert_eq!(c.held(), 10);
    assert!(c.readable());
    let Next::Frame(req, data) = c.next_request(1000) else { panic!() };
    assert_eq!(req.hdr.id, id);
    assert_eq!(req.hdr.len as usize, REQ_SIZE + 10);
    assert_eq!(data.len(), 10);
    assert_eq!(c.held(), 0);
    assert!(!c.front_done());
    c.reply(reply_to(&req), &mut Vec::new()).unwrap();
    assert!(c.front_done());
    let e = c.pop_done().unwrap();
    assert_eq!(e.outcome(), Some(Outcome::Reply(reply_to(&req))));
    assert!(c.is_empty());
}

#[test]
fn refuses_bad_replies_and_changes_nothing() {
    let mut c = chan();
    c.submit(Req::new(Op::Read), &mut Vec::new(), Kind::Sync).unwrap();
    let mut r = Req::new(Op::Write);
    c.submit(r, &mut vec![0; 3], Kind::Behind).unwrap();
    // Nothing read yet: any reply is unexpected.
    assert_eq!(c.reply(reply_to(&Req::new(Op::Read)), &mut Vec::new()), Err(Errno::Inval));
    let Next::Frame(read, _) = c.next_request(1000) else { panic!() };
    let Next::Frame(write, _) = c.next_request(1000) else { panic!() };
    r = write;
    // Out of order.
    assert_eq!(c.reply(reply_to(&r), &mut Vec::new()), Err(Errno::Inval));
    // Wrong op.
    let mut bad = reply_to(&read);
    bad.hdr.op = Op::Space as u16;
    assert_eq!(c.reply(bad, &mut Vec::new()), Err(Errno::Inval));
    // Data in an area the request did not name.
    let mut bad = reply_to(&read);
    bad.dlen = 1;
    assert_eq!(c.reply(bad, &mut Vec::new()), Err(Errno::Inval));
    // Bad version.
    let mut bad = reply_to(&read);
    bad.hdr.version = VERSION + 1;
    assert_eq!(c.reply(bad, &mut Vec::new()), Err(Errno::Inval));
    // Unknown sense key.
    let mut bad = reply_to(&read);
    bad.sense = 0x9;
    assert_eq!(c.reply(bad, &mut Vec::new()), Err(Errno::Inval));
    // More data than asked (asked 0 bytes).
    let mut bad = reply_to(&read);
    bad.hdr.len = (REP_SIZE + 1) as u32;
    let mut data = vec![7];
    assert_eq!(c.reply(bad, &mut data), Err(Errno::Inval));
    assert_eq!(data, vec![7]);
    assert!(!c.front_done());
    // The right reply still works.
    c.reply(reply_to(&read), &mut Vec::new()).unwrap();
    c.reply(reply_to(&r), &mut Vec::new()).unwrap();
    assert!(c.pop_done().is_some() && c.pop_done().is_some() && c.is_empty());
}

#[test]
fn slave_close_loses_everything_pending() {
    let mut c = chan();
    c.submit(Req::new(Op::Write), &mut vec![0; 5], Kind::Behind).unwrap();
    c.submit(Req::new(Op::Write), &mut vec![0; 5], Kind::Behind).unwrap();
    let Next::Frame(first, _) = c.next_request(1000) else { panic!() };
    c.reply(reply_to(&first), &mut Vec::new()).unwrap();
    c.submit(Req::new(Op::Rewind), &mut Vec::new(), Kind::Sync).unwrap();
    let g = c.generation();
    c.slave_close();
    assert!(!c.slave_present());
    assert!(matches!(c.pop_done().unwrap().outcome(), Some(Outcome::Reply(_))));
    assert_eq!(c.pop_done().unwrap().outcome(), Some(Outcome::Lost));
    assert_eq!(c.pop_done().unwrap().outcome(), Some(Outcome::Lost));
    assert!(c.is_empty());
    assert_eq!(c.held(), 0);
    assert_eq!(c.submit(Req::new(Op::Rewind), &mut Vec::new(), Kind::Sync), Err(Errno::Io));
    c.slave_open().unwrap();
    assert_ne!(c.generation(), g);
    assert_eq!(c.slave_open(), Err(Errno::Busy));
}

#[test]
fn window_and_ring_bound_what_is_held() {
    let mut c = chan();
    assert!(c.has_space(1000)); // a lone request always fits
    c.submit(Req::new(Op::Write), &mut vec![0; 60], Kind::Behind).unwrap();
    assert!(c.has_space(40));
    assert!(!c.has_space(41));
    c.submit(Req::new(Op::Write), &mut vec![0; 40], Kind::Behind).unwrap();
    assert!(!c.has_space(1));
    let Next::Frame(_, d) = c.next_request(1000) else { panic!() };
    assert_eq!(d.len(), 60);
    assert!(c.has_space(60));
    c.submit(Req::new(Op::Wfm), &mut Vec::new(), Kind::Sync).unwrap();
    c.submit(Req::new(Op::Wfm), &mut Vec::new(), Kind::Sync).unwrap();
    assert!(!c.has_space(0));
    assert_eq!(c.submit(Req::new(Op::Wfm), &mut Vec::new(), Kind::Sync), Err(Errno::Again));
}

#[test]
fn too_small_buffer_and_unsend() {
    let mut c = chan();
    c.submit(Req::new(Op::Write), &mut vec![9; 20], Kind::Behind).unwrap();
    assert!(matches!(c.next_request(REQ_SIZE + 19), Next::TooSmall(72)));
    let Next::Frame(req, mut data) = c.next_request(72) else { panic!() };
    c.unsend(req.hdr.id, &mut data);
    assert_eq!(c.held(), 20);
    let Next::Frame(again, data) = c.next_request(72) else { panic!() };
    assert_eq!(again.hdr.id, req.hdr.id);
    assert_eq!(data, vec![9; 20]);
}

#[test]
fn pool_reuses_buffers_within_bounds() {
    let mut c = Chan::<Tape>::new(Limits { ring: 4, window: 100 }).unwrap();
    assert!(c.take_buffer(1).is_none());
    let mut v = Vec::with_capacity(40);
    v.extend_from_slice(&[1; 40]);
    assert!(c.recycle(v).is_none());
    assert_eq!(c.pooled(), 40);
    // Half the window at most: a second 40-byte buffer does not fit.
    assert!(c.recycle(Vec::with_capacity(40)).is_some());
    assert!(c.take_buffer(41).is_none(), "too small");
    let v = c.take_buffer(30).unwrap();
    assert!(v.is_empty() && v.capacity() >= 40, "cleared, capacity kept");
    assert_eq!(c.pooled(), 0);
    assert!(c.recycle(Vec::new()).is_some(), "nothing to keep");
}

#[test]
fn orphans_keep_order() {
    let mut c = chan();
    let id = c.submit(Req::new(Op::Read), &mut Vec::new(), Kind::Sync).unwrap();
    c.orphan(id);
    let Next::Frame(req, _) = c.next_request(1000) else { panic!() };
    c.reply(reply_to(&req), &mut Vec::new()).unwrap();
    assert_eq!(c.pop_done().unwrap().kind, Kind::Orphan);
}

/// Run in a child process by the test below: allocates inside the lock.
#[test]
fn probe_allocation_under_the_lock() {
    extern crate std;
    if std::env::var_os("PMT_LOCKCHECK_PROBE").is_none() {
        return;
    }
    let lock = ChanLock::new(Chan::<Tape>::new(Limits { ring: 2, window: 4096 }).unwrap(), crate::testing::LOCK, HostArea::NONE);
    let v = lock.with(|_| Vec::<u8>::with_capacity(64));
    std::println!("not caught: {}", v.capacity());
}

#[test]
fn the_checker_catches_an_allocation_under_the_lock() {
    extern crate std;
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["--exact", "chan::tests::probe_allocation_under_the_lock", "--nocapture", "--test-threads=1"])
        .env("PMT_LOCKCHECK_PROBE", "1")
        .output()
        .unwrap();
    let err = std::string::String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the probe was not stopped");
    assert!(err.contains("inside the channel lock"), "{err}");
}
