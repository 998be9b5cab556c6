//! A daemon serving a unit's slave inside the rump kernel with pmtd's real
//! drive code: requests read with rump_sys_read, run through
//! `pmtd::serve::run_batch`, replies written back with rump_sys_write, as
//! pmtd's own loop does over /dev/pmts<N>. It runs in its own thread and can
//! be paused (requests stay queued in the driver), made to swallow requests
//! without answering (a drive command in flight forever), or killed (the
//! slave is closed under the masters).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use pmtd::drive::{Drive, DriveConfig};
use pmtd::media::magazine::Magazine;
use pmtd::media::image::ImageOptions;
use pmtd::media::{boxed, DynVolumes};
use pmtd::serve;

use crate::sys::{errno, Fd, POLLIN};

/// What the daemon does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Answers every request.
    Serve = 0,
    /// Reads nothing: requests pile up in the driver.
    Pause = 1,
    /// Reads requests and never answers them.
    Swallow = 2,
    /// Closes the slave and ends.
    Exit = 3,
    /// Reads requests and keeps them unanswered (drive commands in flight)
    /// until switched back to Serve, which answers them first.
    Hold = 4,
}

struct Ctl {
    mode: AtomicU8,
    batches: AtomicUsize,
    requests: AtomicUsize,
    answered: AtomicUsize,
}

/// A serving thread.
pub struct Daemon {
    ctl: Arc<Ctl>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl Daemon {
    /// Opens `/dev/pmts<unit>` (here, so that EBUSY is the caller's) and
    /// serves it with a drive over `volumes`.
    pub fn start(unit: u32, volumes: Vec<PathBuf>, cfg: ImageOptions) -> Result<Daemon, String> {
        let slave = Fd::open(&format!("/dev/pmts{unit}"), crate::sys::O_RDWR).map_err(|e| format!("open /dev/pmts{unit}: errno {e}"))?;
        let drive = Drive::new(boxed(Magazine::new(volumes, cfg)), DriveConfig::default()).map_err(|e| format!("drive: {e}"))?;
        let ctl = Arc::new(Ctl { mode: AtomicU8::new(Mode::Serve as u8), batches: AtomicUsize::new(0), requests: AtomicUsize::new(0), answered: AtomicUsize::new(0) });
        let c = Arc::clone(&ctl);
        let thread = std::thread::spawn(move || run(slave, drive, &c));
        Ok(Daemon { ctl, thread: Some(thread) })
    }

    /// Switches what the daemon does.
    pub fn set(&self, m: Mode) {
        self.ctl.mode.store(m as u8, Ordering::SeqCst);
    }

    /// Batches of requests it answered.
    pub fn batches(&self) -> usize {
        self.ctl.batches.load(Ordering::SeqCst)
    }

    /// Requests it read (answered or swallowed).
    pub fn requests(&self) -> usize {
        self.ctl.requests.load(Ordering::SeqCst)
    }

    /// Every request it read has been answered (none held or being
    /// served).
    pub fn settled(&self) -> bool {
        self.ctl.answered.load(Ordering::SeqCst) == self.requests()
    }

    /// Closes the slave and waits for the thread: the daemon is gone.
    pub fn stop(mut self) -> Result<(), String> {
        self.finish()
    }

    fn finish(&mut self) -> Result<(), String> {
        self.set(Mode::Exit);
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| "daemon thread panicked".to_string())?,
            None => Ok(()),
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

fn mode(c: &Ctl) -> u8 {
    c.mode.load(Ordering::SeqCst)
}

fn answer(slave: &Fd, drive: &mut Drive<DynVolumes>, batch: &[u8], out: &mut Vec<u8>, c: &Ctl) -> Result<(), String> {
    out.clear();
    serve::run_batch(drive, batch, out, None).map_err(|e| format!("batch: {e}"))?;
    let k = slave.write(out).map_err(|e| format!("slave write: errno {e}"))?;
    if k != out.len() {
        return Err(format!("the driver took {k} of {} reply bytes", out.len()));
    }
    c.answered.fetch_add(count_frames(batch), Ordering::SeqCst);
    c.batches.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

fn run(slave: Fd, mut drive: Drive<DynVolumes>, c: &Ctl) -> Result<(), String> {
    let mut buf = vec![0u8; serve::READ_BUFFER];
    let mut out = Vec::new();
    let mut held: Vec<Vec<u8>> = Vec::new();
    loop {
        let m = mode(c);
        if m == Mode::Exit as u8 {
            break;
        }
        if m == Mode::Serve as u8 {
            for batch in std::mem::take(&mut held) {
                answer(&slave, &mut drive, &batch, &mut out, c)?;
            }
        }
        if m == Mode::Pause as u8 {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        // Poll with a timeout so that a mode change is seen.
        match slave.poll(POLLIN, 20) {
            Ok(r) if r & POLLIN != 0 => {}
            Ok(_) => continue,
            Err(e) => return Err(format!("poll on the slave: errno {e}")),
        }
        if mode(c) != m {
            continue;
        }
        let n = match slave.read_into(&mut buf) {
            Ok(n) => n,
            Err(errno::EAGAIN) => continue,
            Err(e) => return Err(format!("slave read: errno {e}")),
        };
        let batch = buf.get(..n).unwrap_or_default();
        let reqs = count_frames(batch);
        c.requests.fetch_add(reqs, Ordering::SeqCst);
        if m == Mode::Swallow as u8 {
            continue;
        }
        if m == Mode::Hold as u8 {
            held.push(batch.to_vec());
            continue;
        }
        answer(&slave, &mut drive, batch, &mut out, c)?;
    }
    let _ = drive.sync();
    slave.close().map_err(|e| format!("slave close: errno {e}"))
}

/// Request frames in a batch (each 8-byte aligned, its length first).
pub fn count_frames(batch: &[u8]) -> usize {
    let mut off = 0usize;
    let mut n = 0usize;
    while let Some(h) = batch.get(off..off + 4) {
        let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
        if len == 0 {
            break;
        }
        n += 1;
        off += pmt::proto::align_frame(len);
    }
    n
}
