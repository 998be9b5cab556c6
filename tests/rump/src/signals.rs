//! Waits and how they end, through the NetBSD glue: signals during drive
//! commands in flight and during waits with nothing in flight (rump's
//! signal model: with RUMP_SIGMODEL_RECORD a signal stays pending in its
//! process, where the glue's sigispending() sees it; nothing wakes a
//! sleeper for it, so what is tested is the glue's own decision, which
//! the glue makes at least once a second in a killable wait), the slave
//! revoked under a blocked read, a poller and a knote, and the bytes the
//! slave's kqueue reports. Every wait is checked by state: a thread's
//! result, a host thread asleep, the daemon's request count, the glue's
//! event counters (vmstat -e).

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pmt::proto::{align_frame, REQ_SIZE};
use pmtd::drive::{Drive, DriveConfig};
use pmtd::media::boxed;
use pmtd::media::image::ImageOptions;
use pmtd::media::magazine::Magazine;
use pmtd::serve;

use crate::daemon::Mode;
use crate::sys::{self, errno::*, mt, sig, Errno, Fd, Proc, ReadQueue, EV_EOF, O_NONBLOCK, O_RDWR, O_WRONLY, POLLERR, POLLHUP, POLLIN};
use crate::tape::{norewind, objects, open, record, rewinding, served};
use crate::{ensure, eq, Ctx, Outcome, Scenario};

/// The scenarios of this file.
pub const SCENARIOS: &[Scenario] = &[
    ("rump-signals-end-only-waits-with-nothing-in-flight", signals_end_only_waits_with_nothing_in_flight),
    ("rump-sigkill-ends-a-drive-command-wait", sigkill_ends_a_drive_command_wait),
    ("rump-signal-ends-a-writer-waiting-for-window-space", signal_ends_a_writer_waiting_for_window_space),
    ("rump-revoke-of-the-slave-ends-every-wait", revoke_of_the_slave_ends_every_wait),
    ("rump-slave-kqueue-counts-the-bytes-a-read-returns", slave_kqueue_counts_the_bytes),
];

/// Waits until `done()` holds, for at most `limit`: a state, not a delay.
pub fn until(limit: Duration, what: &str, done: impl Fn() -> bool) -> Outcome {
    let t = Instant::now();
    while !done() {
        ensure!(t.elapsed() < limit, "{what}: not after {} ms", limit.as_millis());
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// The glue's counter `name` for tape pair `unit` (vmstat -e).
fn counter(unit: u32, name: &str) -> Result<u64, String> {
    sys::evcnt(&format!("pmt{unit}"), name).at("kern.evcnt")?.ok_or_else(|| format!("no evcnt pmt{unit} {name}"))
}

type Cmd = Box<dyn FnOnce(&Fd) -> Result<(), Errno> + Send>;

/// A master file in a rump process of its own, used from that process's
/// thread; commands go in, results come back in order.
pub struct Master {
    pid: i32,
    fd: i32,
    cmds: Option<mpsc::Sender<Cmd>>,
    results: mpsc::Receiver<Result<(), Errno>>,
    thread: Option<JoinHandle<()>>,
}

impl Master {
    /// Opens `path` in a new process.
    pub fn open(path: &str, flags: i32) -> Result<Master, String> {
        let (ctx, crx) = mpsc::channel::<Cmd>();
        let (rtx, rrx) = mpsc::channel();
        let (itx, irx) = mpsc::channel();
        let path = path.to_string();
        let thread = std::thread::spawn(move || {
            let p = match Proc::fork() {
                Ok(p) => p,
                Err(e) => return drop(itx.send(Err(format!("rfork: errno {e}")))),
            };
            let m = match Fd::open(&path, flags) {
                Ok(m) => m,
                Err(e) => return drop(itx.send(Err(format!("open {path}: errno {e}")))),
            };
            let _ = itx.send(Ok((p.pid(), m.raw())));
            for c in crx {
                let _ = rtx.send(c(&m));
            }
            // Closed in its process; then the process goes.
            let _ = rtx.send(m.close());
            drop(p);
        });
        let (pid, fd) = irx.recv().map_err(|_| "the master's thread died")??;
        Ok(Master { pid, fd, cmds: Some(ctx), results: rrx, thread: Some(thread) })
    }

    /// Starts `f` on the master's thread.
    pub fn start(&self, f: impl FnOnce(&Fd) -> Result<(), Errno> + Send + 'static) {
        if let Some(c) = &self.cmds {
            let _ = c.send(Box::new(f));
        }
    }

    /// The next result, if there is one now.
    pub fn poll(&self) -> Option<Result<(), Errno>> {
        self.results.try_recv().ok()
    }

    /// The next result, waiting at most `limit`.
    pub fn result(&self, limit: Duration) -> Result<Result<(), Errno>, String> {
        self.results.recv_timeout(limit).map_err(|_| format!("no result after {} ms", limit.as_millis()))
    }

    /// Runs `f` and returns its result.
    pub fn run(&self, f: impl FnOnce(&Fd) -> Result<(), Errno> + Send + 'static) -> Result<Result<(), Errno>, String> {
        self.start(f);
        self.result(Duration::from_secs(20))
    }

    /// Closes the file in its process, which then ends.
    pub fn close(mut self) -> Result<Result<(), Errno>, String> {
        drop(self.cmds.take());
        let r = self.result(Duration::from_secs(20));
        if let Some(t) = self.thread.take() {
            t.join().map_err(|_| "the master's thread panicked")?;
        }
        r
    }

    /// A second thread of the master's process (an lwp of its own)
    /// running `f` on the same file.
    fn lwp(&self, f: impl FnOnce(&Fd) -> Result<(), Errno> + Send + 'static) -> JoinHandle<Result<(), Errno>> {
        let (pid, fd) = (self.pid, self.fd);
        std::thread::spawn(move || {
            sys::join_process(pid)?;
            let file = Fd::borrowed(fd);
            let r = f(&file);
            std::mem::forget(file);
            sys::leave_process();
            r
        })
    }
}

fn signals_end_only_waits_with_nothing_in_flight() -> Outcome {
    let (dir, d) = served(1, &["s.tap"], ImageOptions::default())?;
    let m = Master::open(&norewind(1), O_RDWR)?;
    let sent = d.requests();
    eq!(m.run(|m| m.write(&record(0, 1000)).map(|_| ()))?, Ok(()));
    // The record is written behind: the drive writes it before it holds
    // anything, so the command held next is the MTWEOF itself.
    until(Duration::from_secs(10), "the record written", || d.requests() > sent && d.settled())?;
    // The drive holds the next commands: the MTWEOF is in flight.
    d.set(Mode::Hold);
    let before = d.requests();
    m.start(|m| m.mt(mt::WEOF, 1));
    until(Duration::from_secs(10), "the filemark reached the daemon", || d.requests() > before)?;
    let kept = counter(1, "signal kept pending")?;
    // A second thread of the process waits for the master lock, with
    // nothing of its own in flight; it is asleep in the rump kernel.
    let tid = Arc::new(AtomicI32::new(0));
    let t = Arc::clone(&tid);
    let b = m.lwp(move |m| {
        t.store(sys::tid(), Ordering::SeqCst);
        m.write(&record(1, 10)).map(|_| ())
    });
    until(Duration::from_secs(10), "the lock waiter sleeps", || {
        let t = tid.load(Ordering::SeqCst);
        t != 0 && sys::sleeping(t)
    })?;
    // ^T, an alarm, a window change: none of them fatal.
    for s in [sig::INFO, sig::ALRM, sig::WINCH] {
        sys::signal(m.pid, s).at("signal")?;
    }
    // The lock waiter gives way (EINTR)...
    until(Duration::from_secs(10), "the lock waiter returned", || b.is_finished())?;
    eq!(b.join().map_err(|_| "the lwp panicked")?, Err(EINTR));
    // ... the command in flight saw the signals and goes on waiting.
    until(Duration::from_secs(10), "the killable wait saw the signals", || {
        counter(1, "signal kept pending").is_ok_and(|n| n > kept)
    })?;
    eq!(m.poll(), None);
    // The drive answers: the filemark is written, the position known.
    d.set(Mode::Serve);
    eq!(m.result(Duration::from_secs(10))?, Ok(()));
    eq!(m.run(|m| if m.pos()? == (1, 0) { Ok(()) } else { Err(EINVAL) })?, Ok(()));
    // The close waits for nothing a signal could end.
    eq!(m.close()?, Ok(()));
    // One mark (NetBSD's close adds none after one: ST_FM_WRITTEN), and
    // nothing of the interrupted write.
    eq!(objects(&dir.path().join("s.tap"))?, vec![1000, 0]);
    eq!(counter(1, "fatal signal")?, 0);
    d.stop()
}

fn sigkill_ends_a_drive_command_wait() -> Outcome {
    let (dir, d) = served(1, &["k.tap"], ImageOptions::default())?;
    let m = Master::open(&norewind(1), O_RDWR)?;
    let sent = d.requests();
    eq!(m.run(|m| m.write(&record(0, 500)).map(|_| ()))?, Ok(()));
    // The record is written behind: the drive writes it before it holds
    // anything, so the command held next is the MTWEOF itself.
    until(Duration::from_secs(10), "the record written", || d.requests() > sent && d.settled())?;
    d.set(Mode::Hold);
    let before = d.requests();
    let fatal = counter(1, "fatal signal")?;
    m.start(|m| m.mt(mt::WEOF, 1));
    until(Duration::from_secs(10), "the filemark reached the daemon", || d.requests() > before)?;
    sys::signal(m.pid, sig::KILL).at("signal")?;
    // The killable wait ends (the glue looks at least once a second).
    eq!(m.result(Duration::from_secs(10))?, Err(EINTR));
    eq!(counter(1, "fatal signal")?, fatal + 1);
    // The drive completes the abandoned filemark; the position is unknown
    // now, so the close writes none.
    d.set(Mode::Serve);
    let _ = m.close()?;
    eq!(objects(&dir.path().join("k.tap"))?, vec![500, 0]);
    // The pair serves the next program, which finds the position unknown
    // (as after a bus reset) until it rewinds.
    let m = open(&rewinding(1), O_RDWR)?;
    eq!(m.write(&record(1, 10)).map(|_| ()), Err(EIO));
    m.mt(mt::REW, 1).at("MTREW")?;
    m.write(&record(1, 10)).at("write")?;
    m.close().at("close")?;
    eq!(objects(&dir.path().join("k.tap"))?, vec![10, 0, 0]);
    d.stop()
}

fn signal_ends_a_writer_waiting_for_window_space() -> Outcome {
    // MAXPHYS records: each write is one.
    const REC: usize = 65536;
    // The glue's window: 4 MiB of write-behind data.
    const FIT: usize = (4 << 20) / REC;
    let (dir, d) = served(2, &["w.tap"], ImageOptions::default())?;
    let m = Master::open(&rewinding(2), O_WRONLY)?;
    d.set(Mode::Pause);
    let acked = Arc::new(AtomicUsize::new(0));
    let a = Arc::clone(&acked);
    m.start(move |m| {
        for i in 0..=FIT {
            m.write(&record(i, REC))?;
            a.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    });
    // The window holds exactly FIT records; the next write waits for room,
    // with nothing of its own queued.
    until(Duration::from_secs(20), "the window filled", || acked.load(Ordering::SeqCst) == FIT)?;
    sys::signal(m.pid, sig::ALRM).at("signal")?;
    eq!(m.result(Duration::from_secs(10))?, Err(EINTR));
    eq!(acked.load(Ordering::SeqCst), FIT);
    d.set(Mode::Serve);
    eq!(m.close()?, Ok(()));
    // Every acknowledged record and the two marks; nothing of the
    // interrupted one.
    let objs = objects(&dir.path().join("w.tap"))?;
    eq!(objs.len(), FIT + 2);
    ensure!(objs[..FIT].iter().all(|l| *l as usize == REC), "{objs:?}");
    d.stop()
}

fn revoke_of_the_slave_ends_every_wait() -> Outcome {
    // A daemon of our own on pair 3: a thread asleep in a read, one in
    // poll, and a knote.
    let s = Fd::open("/dev/pmts3", O_RDWR).at("open /dev/pmts3")?;
    let kq = ReadQueue::new(&s).at("kqueue")?;
    let raw = s.raw();
    let (rtid, ptid) = (Arc::new(AtomicI32::new(0)), Arc::new(AtomicI32::new(0)));
    let (rt, pt) = (Arc::clone(&rtid), Arc::clone(&ptid));
    let reader = std::thread::spawn(move || {
        rt.store(sys::tid(), Ordering::SeqCst);
        let s = Fd::borrowed(raw);
        let r = s.read(4096).map(|_| ());
        std::mem::forget(s);
        r
    });
    let poller = std::thread::spawn(move || {
        pt.store(sys::tid(), Ordering::SeqCst);
        let s = Fd::borrowed(raw);
        let r = s.poll(POLLIN, -1);
        std::mem::forget(s);
        r
    });
    for (what, t) in [("the reader", &rtid), ("the poller", &ptid)] {
        until(Duration::from_secs(10), &format!("{what} sleeps"), || {
            let t = t.load(Ordering::SeqCst);
            t != 0 && sys::sleeping(t)
        })?;
    }
    sys::revoke("/dev/pmts3").at("revoke")?;
    // Every wait ends at once: the read with EIO, the poll, the knote
    // with EV_EOF.
    until(Duration::from_secs(5), "the blocked read returned", || reader.is_finished())?;
    eq!(reader.join().map_err(|_| "the reader panicked")?, Err(EIO));
    until(Duration::from_secs(5), "the poller returned", || poller.is_finished())?;
    // (The glue's answer is POLLHUP; after a revoke the poller's second
    // look reaches the dead vnode instead, which answers for itself.)
    let p = poller.join().map_err(|_| "the poller panicked")?.at("poll")?;
    ensure!(p & (POLLIN | POLLHUP | POLLERR) != 0, "poll returned {p:#x}");
    let ev = kq.event(5000).at("kevent")?;
    ensure!(ev.is_some_and(|(_, f)| f & EV_EOF != 0), "the knote: {ev:?}");
    drop(kq);
    let _ = s.close();
    // A new daemon serves the pair.
    let (_dir, d) = served(3, &["r.tap"], ImageOptions::default())?;
    let m = open(&rewinding(3), O_RDWR)?;
    m.write(&record(2, 20)).at("write")?;
    m.close().at("close")?;
    d.stop()
}

/// Answers what the slave has until `done()` holds (the knote says when).
fn pump(s: &Fd, kq: &ReadQueue, drive: &mut Drive<pmtd::media::DynVolumes>, done: &dyn Fn() -> bool) -> Outcome {
    let mut buf = vec![0u8; serve::READ_BUFFER];
    let mut out = Vec::new();
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
        out.clear();
        serve::run_batch(drive, &buf[..n], &mut out, None).map_err(|e| e.to_string())?;
        eq!(s.write(&out), Ok(out.len()));
    }
    Ok(())
}

fn slave_kqueue_counts_the_bytes() -> Outcome {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let s = Fd::open("/dev/pmts2", O_RDWR | O_NONBLOCK).at("open /dev/pmts2")?;
    let kq = ReadQueue::new(&s).at("kqueue")?;
    eq!(kq.event(0), Ok(None));
    let mut drive = Drive::new(boxed(Magazine::new(vec![dir.path().join("b.tap")], ImageOptions::default())), DriveConfig::default())
        .map_err(|e| e.to_string())?;
    let m = std::thread::spawn(|| Fd::open(&rewinding(2), O_WRONLY));
    pump(&s, &kq, &mut drive, &|| m.is_finished())?;
    let m = m.join().map_err(|_| "the open panicked")?.at("master open")?;
    // Three records behind, nobody reading: three WRITE frames of a
    // request and 1000 bytes each, 8-byte aligned.
    for i in 0..3 {
        m.write(&record(i, 1000)).at("write")?;
    }
    let want = 3 * align_frame(REQ_SIZE + 1000);
    let (data, flags) = kq.event(5000).at("kevent")?.ok_or("no event")?;
    eq!((data as usize, flags & EV_EOF), (want, 0));
    // A read with room for all returns exactly that.
    let mut buf = vec![0u8; serve::READ_BUFFER];
    let n = s.read_into(&mut buf).at("slave read")?;
    eq!(n, want);
    let mut out = Vec::new();
    serve::run_batch(&mut drive, &buf[..n], &mut out, None).map_err(|e| e.to_string())?;
    eq!(s.write(&out), Ok(out.len()));
    let c = std::thread::spawn(move || m.close());
    pump(&s, &kq, &mut drive, &|| c.is_finished())?;
    c.join().map_err(|_| "the close panicked")?.at("master close")?;
    drop(kq);
    s.close().at("slave close")?;
    eq!(objects(&dir.path().join("b.tap"))?, vec![1000, 1000, 1000, 0, 0]);
    Ok(())
}
