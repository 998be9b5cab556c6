//! The pair itself in the rump kernel: sleeps woken from the other side
//! (blocking slave reads, poll, kqueue, masters waiting for the daemon),
//! exclusive opens, refused nodes and ioctls, the daemon dying under
//! waiting masters, the uio paths (readv, a slave write the core takes only
//! in part), and the module refusing to unload while in use.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pmt::proto::{Req, REQ_SIZE};
use pmtd::drive::{Drive, DriveConfig};
use pmtd::media::magazine::Magazine;
use pmtd::media::image::ImageOptions;
use pmtd::media::boxed;
use pmtd::serve;

use crate::daemon::{count_frames, Mode};
use crate::sys::{self, errno::*, mt, Fd, ReadQueue, LINUX_MTIOCGET, MTIOCEEOT, MTIOCIEOT, MT_DS_MOUNTED, O_NONBLOCK, O_RDONLY, O_RDWR, POLLIN, POLLOUT, POLLRDNORM, UNKNOWN_IOCTL};
use crate::tape::{norewind, objects, open, record, rewinding, served};
use crate::{ensure, eq, Ctx, Outcome, Scenario};

/// The scenarios of this file (the module unload last: it ends the driver).
pub const SCENARIOS: &[Scenario] = &[
    ("rump-slave-poll-and-blocking-read-woken-by-the-master", slave_woken_by_the_master),
    ("rump-slave-kqueue-and-nonblocking-reads", slave_kqueue_and_nonblocking),
    ("rump-second-open-ebusy", second_open_ebusy),
    ("rump-refused-nodes-and-ioctls", refused_nodes_and_ioctls),
    ("rump-dead-daemon-fails-every-waiter-at-once", dead_daemon_fails_every_waiter),
    ("rump-readv-across-iovecs", readv_across_iovecs),
    ("rump-module-unload-refused-while-open", module_unload_refused_while_open),
    ("rump-module-reloads-with-modload-properties", module_reloads_with_properties),
];

fn slave(unit: u32, flags: i32) -> Result<Fd, String> {
    Fd::open(&format!("/dev/pmts{unit}"), flags).at(&format!("open /dev/pmts{unit}"))
}

fn ops(batch: &[u8]) -> Vec<u16> {
    let mut v = Vec::new();
    let mut off = 0;
    while let Some(h) = batch.get(off..off + REQ_SIZE) {
        let r = Req::from_bytes(h);
        if r.hdr.len == 0 {
            break;
        }
        v.push(r.hdr.op);
        off += pmt::proto::align_frame(r.hdr.len as usize);
    }
    v
}

const OP_OPEN: u16 = 1;
const OP_CLOSE: u16 = 2;

/// Phases of the serving thread, for the main thread to watch.
const POLLING: u8 = 1;
const POLL_WOKE: u8 = 2;
const READING: u8 = 3;
const READ_WOKE: u8 = 4;

fn slave_woken_by_the_master() -> Outcome {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let s = Arc::new(slave(2, O_RDWR)?);
    let mut drive = Drive::new(boxed(Magazine::new(vec![dir.path().join("p.tap")], ImageOptions::default())), DriveConfig::default()).map_err(|e| e.to_string())?;
    let phase = Arc::new(AtomicU8::new(0));
    let t = {
        let (s, phase) = (Arc::clone(&s), Arc::clone(&phase));
        std::thread::spawn(move || -> Result<Vec<u16>, String> {
            let mut buf = vec![0u8; serve::READ_BUFFER];
            let mut out = Vec::new();
            let mut seen = Vec::new();
            // 1: poll with no timeout, until the master's open queues a request.
            phase.store(POLLING, Ordering::SeqCst);
            let rev = s.poll(POLLIN | POLLRDNORM, -1).at("poll")?;
            phase.store(POLL_WOKE, Ordering::SeqCst);
            if rev != POLLIN | POLLRDNORM {
                return Err(format!("poll woke with {rev:#x}"));
            }
            let mut first = true;
            loop {
                let n = if first {
                    s.read_into(&mut buf).at("slave read")?
                } else {
                    // 2: a blocking read; nothing is queued until the
                    // master's next call.
                    phase.store(READING, Ordering::SeqCst);
                    let n = s.read_into(&mut buf).at("blocking slave read")?;
                    phase.store(READ_WOKE, Ordering::SeqCst);
                    n
                };
                let batch = &buf[..n];
                seen.extend(ops(batch));
                out.clear();
                serve::run_batch(&mut drive, batch, &mut out, None).map_err(|e| e.to_string())?;
                let mut wire = out.clone();
                if first {
                    // The replies followed by the same replies again: the
                    // core takes the first copy and refuses the second
                    // (those requests are answered), so the write returns
                    // a short count: the uio wound back to it.
                    wire.extend_from_slice(&out);
                }
                let k = s.write(&wire).at("slave write")?;
                if k != out.len() {
                    return Err(format!("slave write took {k} bytes, expected {}", out.len()));
                }
                first = false;
                if seen.contains(&OP_CLOSE) {
                    return Ok(seen);
                }
            }
        })
    };
    // Replies are always accepted: writable at once.
    eq!(s.poll(POLLOUT, 0), Ok(POLLOUT));
    std::thread::sleep(Duration::from_millis(300));
    eq!(phase.load(Ordering::SeqCst), POLLING);
    // The master's open queues OPEN and sleeps for the reply: the poller
    // wakes, answers, and the open returns.
    let m = open(&rewinding(2), O_RDONLY)?;
    ensure!(phase.load(Ordering::SeqCst) >= POLL_WOKE, "the open returned before the daemon woke");
    let st = m.status().at("MTIOCGET")?;
    eq!(st.dsreg & MT_DS_MOUNTED, MT_DS_MOUNTED);
    // Now the daemon sits in a blocking read; the close wakes it.
    let t0 = Instant::now();
    while phase.load(Ordering::SeqCst) != READING && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    eq!(phase.load(Ordering::SeqCst), READING);
    m.close().at("master close")?;
    let seen = t.join().map_err(|_| "daemon thread panicked")??;
    eq!(phase.load(Ordering::SeqCst), READ_WOKE);
    ensure!(seen.first() == Some(&OP_OPEN) && seen.last() == Some(&OP_CLOSE), "requests {seen:?}");
    Arc::try_unwrap(s).map_err(|_| "slave still shared")?.close().at("slave close")?;
    Ok(())
}

fn slave_kqueue_and_nonblocking() -> Outcome {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let s = Arc::new(slave(2, O_RDWR | O_NONBLOCK)?);
    // Nothing queued: EAGAIN (35), poll not readable, no kevent.
    eq!(s.read(4096), Err(EAGAIN));
    eq!(s.poll(POLLIN, 0), Ok(0));
    let kq = ReadQueue::new(&s).at("kqueue")?;
    eq!(kq.wait(0), Ok(0));
    // fcntl(O_NONBLOCK) off and on again: the driver accepts FIONBIO.
    s.set_nonblock(false).at("fcntl")?;
    s.set_nonblock(true).at("fcntl")?;
    eq!(s.read(4096), Err(EAGAIN));
    // The slave has no ioctls but FIONBIO.
    let mut arg = [0u8; 56];
    eq!(s.ioctl(sys::MTIOCGET, &mut arg), Err(ENOTTY));
    let mut drive = Drive::new(boxed(Magazine::new(vec![dir.path().join("k.tap")], ImageOptions::default())), DriveConfig::default()).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; serve::READ_BUFFER];
    let m = std::thread::spawn(|| Fd::open(&rewinding(2), O_RDONLY));
    // The master's OPEN fires the knote.
    eq!(kq.wait(5000), Ok(1));
    let n = s.read_into(&mut buf).at("slave read")?;
    eq!(ops(&buf[..n]).first(), Some(&OP_OPEN));
    eq!(kq.wait(0), Ok(0));
    let mut seen = ops(&buf[..n]);
    let mut out = Vec::new();
    serve::run_batch(&mut drive, &buf[..n], &mut out, None).map_err(|e| e.to_string())?;
    eq!(s.write(&out), Ok(out.len()));
    // Whatever else the open and then the close ask, answered when the
    // knote fires, until the caller returns.
    let mut pump = |done: &dyn Fn() -> bool, seen: &mut Vec<u16>| -> Outcome {
        let t0 = Instant::now();
        while !done() {
            ensure!(t0.elapsed() < Duration::from_secs(10), "the master call never returned");
            if kq.wait(50).at("kevent")? == 0 {
                continue;
            }
            let n = match s.read_into(&mut buf) {
                Ok(n) => n,
                Err(EAGAIN) => continue,
                Err(e) => return Err(format!("slave read: errno {e}")),
            };
            seen.extend(ops(&buf[..n]));
            out.clear();
            serve::run_batch(&mut drive, &buf[..n], &mut out, None).map_err(|e| e.to_string())?;
            eq!(s.write(&out), Ok(out.len()));
        }
        Ok(())
    };
    pump(&|| m.is_finished(), &mut seen)?;
    let m = m.join().map_err(|_| "open thread panicked")?.at("master open")?;
    let c = std::thread::spawn(move || m.close());
    pump(&|| c.is_finished(), &mut seen)?;
    c.join().map_err(|_| "close thread panicked")?.at("master close")?;
    ensure!(seen.contains(&OP_CLOSE), "no CLOSE request: {seen:?}");
    drop(kq);
    Arc::try_unwrap(s).map_err(|_| "slave still shared")?.close().at("slave close")?;
    Ok(())
}

fn second_open_ebusy() -> Outcome {
    let (_dir, d) = served(3, &["b.tap"], ImageOptions::default())?;
    let m = open(&rewinding(3), O_RDWR)?;
    // Either node of the unit: EBUSY at once.
    eq!(Fd::open(&rewinding(3), O_RDWR).map(|_| ()), Err(EBUSY));
    eq!(Fd::open(&norewind(3), O_RDONLY).map(|_| ()), Err(EBUSY));
    // A second daemon.
    eq!(Fd::open("/dev/pmts3", O_RDWR).map(|_| ()), Err(EBUSY));
    // The first master still works.
    m.write(&record(0, 10)).at("write")?;
    m.close().at("close")?;
    let m = open(&norewind(3), O_RDONLY)?;
    m.close().at("close")?;
    d.stop()?;
    // The slave is free again.
    slave(3, O_RDWR)?.close().at("slave close")?;
    Ok(())
}

fn refused_nodes_and_ioctls() -> Outcome {
    // Pair 4 does not exist, nor changer 1.
    eq!(Fd::open(&rewinding(4), O_RDONLY).map(|_| ()), Err(ENXIO));
    eq!(Fd::open("/dev/pmts4", O_RDWR).map(|_| ()), Err(ENXIO));
    eq!(Fd::open("/dev/pmcm1", O_RDWR).map(|_| ()), Err(ENXIO));
    let (dir, d) = served(3, &["i.tap"], ImageOptions::default())?;
    let m = open(&rewinding(3), O_RDWR)?;
    let mut b = [0u8; 64];
    eq!(m.ioctl(UNKNOWN_IOCTL, &mut b), Err(ENOTTY));
    // Linux's MTIOCGET number means nothing on NetBSD.
    eq!(m.ioctl(LINUX_MTIOCGET, &mut b), Err(ENOTTY));
    m.ioctl(MTIOCIEOT, &mut b).at("MTIOCIEOT")?;
    m.ioctl(MTIOCEEOT, &mut b).at("MTIOCEEOT")?;
    // An operation NetBSD does not have.
    eq!(m.mt(99, 1), Err(EINVAL));
    m.write(&record(5, 77)).at("write")?;
    m.close().at("close")?;
    eq!(objects(&dir.path().join("i.tap"))?, vec![77, 0, 0]);
    d.stop()
}

fn dead_daemon_fails_every_waiter() -> Outcome {
    let (_dir, d) = served(1, &["d.tap"], ImageOptions::default())?;
    let m = Arc::new(open(&rewinding(1), O_RDWR)?);
    for i in 0..4 {
        m.write(&record(i, 4096)).at("write")?;
    }
    // The drive takes the next command and never answers it.
    d.set(Mode::Swallow);
    let before = d.requests();
    let spawn = |f: fn(&Fd) -> Result<(), sys::Errno>| {
        let m = Arc::clone(&m);
        std::thread::spawn(move || {
            let r = f(&m);
            (r, Instant::now())
        })
    };
    // A: a drive command in flight (it holds the master lock, sleeping).
    let a = spawn(|m| m.mt(mt::FSF, 1));
    let t0 = Instant::now();
    while d.requests() == before && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    ensure!(d.requests() > before, "the command never reached the daemon");
    // B and C wait for the master lock behind A.
    let b = spawn(|m| m.write(&record(9, 4096)).map(|_| ()));
    let c = spawn(|m| m.mt(mt::WEOF, 1));
    std::thread::sleep(Duration::from_millis(300));
    ensure!(!a.is_finished() && !b.is_finished() && !c.is_finished(), "a waiter returned while the drive was silent");
    // The daemon dies: everyone wakes with EIO at once.
    let died = Instant::now();
    d.stop()?;
    for (name, t) in [("in-flight MTFSF", a), ("waiting write", b), ("waiting MTWEOF", c)] {
        let (r, when) = t.join().map_err(|_| format!("{name} panicked"))?;
        eq!((name, r), (name, Err(EIO)));
        let after = when.saturating_duration_since(died);
        ensure!(after < Duration::from_secs(2), "{name} returned {} ms after the daemon died", after.as_millis());
    }
    // The status says the drive is gone; later transfers fail; so does close.
    let st = m.status().at("MTIOCGET")?;
    eq!(st.dsreg & MT_DS_MOUNTED, 0);
    eq!(m.write(&record(0, 10)), Err(EIO));
    let m = Arc::try_unwrap(m).map_err(|_| "a waiter still holds the master")?;
    eq!(m.close(), Err(EIO));
    // No daemon: open fails at once; O_NONBLOCK opens, transfers fail.
    let t = Instant::now();
    eq!(Fd::open(&rewinding(1), O_RDWR).map(|_| ()), Err(EIO));
    ensure!(t.elapsed() < Duration::from_secs(2), "open without a daemon took {} ms", t.elapsed().as_millis());
    let m = open(&rewinding(1), O_RDWR | O_NONBLOCK)?;
    eq!(m.write(&record(0, 10)), Err(EIO));
    let _ = m.close();
    // A new daemon: the unit works again, from the beginning of the tape.
    let (_dir2, d2) = served(1, &["d2.tap"], ImageOptions::default())?;
    let m = open(&rewinding(1), O_RDONLY)?;
    eq!(m.pos(), Ok((0, 0)));
    m.close().at("close")?;
    d2.stop()
}

fn readv_across_iovecs() -> Outcome {
    let (_dir, d) = served(0, &["v.tap"], ImageOptions::default())?;
    let m = open(&rewinding(0), O_RDWR)?;
    m.write(&record(0, 10240)).at("write")?;
    m.write(&record(1, 3000)).at("write")?;
    m.mt(mt::REW, 1).at("MTREW")?;
    // Six iovecs (more than the glue saves without allocating).
    let mut parts: Vec<Vec<u8>> = [1000, 3000, 24, 4096, 2120, 5000].iter().map(|&n| vec![0u8; n]).collect();
    let k = {
        let mut bufs: Vec<&mut [u8]> = parts.iter_mut().map(|p| p.as_mut_slice()).collect();
        m.readv(&mut bufs).at("readv")?
    };
    eq!(k, 10240);
    let got: Vec<u8> = parts.concat();
    ensure!(got[..10240] == record(0, 10240)[..], "readv data differs");
    ensure!(got[10240..].iter().all(|&b| b == 0), "bytes past the record were written");
    // Two iovecs, the record in the first.
    let mut a = vec![0u8; 4000];
    let mut b = vec![0u8; 100];
    eq!(m.readv(&mut [&mut a, &mut b]), Ok(3000));
    ensure!(a[..3000] == record(1, 3000)[..], "second record differs");
    m.close().at("close")?;
    eq!(count_frames(&[]), 0);
    d.stop()
}

fn module_unload_refused_while_open() -> Outcome {
    let (_dir, d) = served(0, &["u.tap"], ImageOptions::default())?;
    let m = open(&rewinding(0), O_RDONLY)?;
    eq!(sys::modunload("pmt"), Err(EBUSY));
    m.close().at("close")?;
    // The slave alone keeps it loaded too.
    eq!(sys::modunload("pmt"), Err(EBUSY));
    d.stop()?;
    sys::modunload("pmt").at("modunload")?;
    // Gone: the nodes lead nowhere.
    let r = Fd::open(&rewinding(0), O_RDONLY).map(|_| ());
    ensure!(r.is_err(), "the master opened after the unload");
    let r = Fd::open("/dev/pmts0", O_RDWR).map(|_| ());
    ensure!(r.is_err(), "the slave opened after the unload");
    Ok(())
}

/// `modload -f -i nunits=2 -s nchangers=2 pmt`: the properties as
/// modload(8) gives them (an XML property list; -i an integer, -s a
/// string).
fn module_reloads_with_properties() -> Outcome {
    let plist = |nchangers: &str| {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple Computer//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>nchangers</key>
	{nchangers}
	<key>nunits</key>
	<integer>2</integer>
</dict>
</plist>
"#
        )
    };
    // Out of range, or not a number: refused, nothing attached.
    eq!(sys::modload("pmt", Some(&plist("<integer>99</integer>")), true), Err(EINVAL));
    eq!(sys::modload("pmt", Some(&plist("<string>two</string>")), true), Err(EINVAL));
    sys::modload("pmt", Some(&plist("<string>2</string>")), true).at("modload")?;
    // Two tape pairs: the third is gone; two changers: the second is there.
    eq!(Fd::open(&rewinding(2), O_RDONLY).map(|_| ()), Err(ENXIO));
    let (_dir, d) = served(1, &["p.tap"], ImageOptions::default())?;
    let m = open(&rewinding(1), O_RDWR)?;
    m.write(&record(0, 10)).at("write")?;
    m.close().at("close")?;
    d.stop()?;
    slave_node("/dev/pmcs1")?.close().at("close /dev/pmcs1")?;
    Ok(())
}

fn slave_node(path: &str) -> Result<Fd, String> {
    Fd::open(path, O_RDWR).at(&format!("open {path}"))
}
