//! The core's host inside pmtd: a pair shared by the CUSE request threads
//! (its masters) and the drive's serve loop (its slave), waits on a
//! condition variable, interrupts from the kernel's FUSE_INTERRUPT, the
//! caller's privileges from /proc.

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pmt::{Errno, Host, Pair, Sleep, Wait, WaitError};

use super::caller;
use super::ioctl::IoctlMem;

/// How often a killable wait that saw an interrupt looks for a fatal
/// signal of its caller, and how often any wait re-checks its condition
/// without a wakeup (a safety net only: every change notifies).
const TICK: Duration = Duration::from_millis(100);

/// The daemon's side of a pair: run by whichever thread finds its requests
/// queued, pmtd's serve loop or a master waiting for the answer (which
/// saves the two thread switches of a wakeup each way).
pub trait Daemon: Send {
    /// Reads the requests queued now, runs them, writes the replies; false
    /// if there was nothing to do or the daemon failed.
    fn step(&mut self) -> bool;
    /// Whether the daemon failed (and serves no more).
    fn failed(&self) -> bool;
    /// Stops: the medium made durable and unloaded, the slave closed (every
    /// master call fails at once); the daemon's error, if it failed.
    fn finish(self: Box<Self>) -> Result<(), crate::transport::ServeError>;
}

/// A pair and what its two sides wait on.
pub struct Shared {
    pair: Pair,
    state: Mutex<State>,
    /// The daemon's side, when it runs in this process.
    daemon: Mutex<Option<Box<dyn Daemon>>>,
    /// The masters wait here for the slave's replies.
    masters: Condvar,
    /// The serve loop waits here for requests.
    slave: Condvar,
    /// Master calls run one at a time (the kernel glue's master lock).
    mlock: Mutex<()>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("pair", &self.pair).finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct State {
    /// Requests the kernel interrupted (a signal reached their caller).
    interrupted: HashSet<usize>,
    /// The serve loop should stop waiting.
    stopping: bool,
}

impl Shared {
    /// The pair, shared by both sides.
    pub fn new(pair: Pair) -> Shared {
        Shared {
            pair,
            state: Mutex::new(State::default()),
            masters: Condvar::new(),
            slave: Condvar::new(),
            mlock: Mutex::new(()),
            daemon: Mutex::new(None),
        }
    }

    /// The daemon's side, from now on run by the serve loop and helping
    /// masters.
    pub fn set_daemon(&self, d: Box<dyn Daemon>) {
        *self.daemon.lock().unwrap_or_else(|p| p.into_inner()) = Some(d);
    }

    /// Whether the daemon's side is here (its slave open).
    pub fn has_daemon(&self) -> bool {
        self.daemon.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Takes the daemon's side back (once no thread runs it).
    pub fn take_daemon(&self) -> Option<Box<dyn Daemon>> {
        self.daemon.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Runs the daemon's step (waiting for a helping master to finish its
    /// own); false if the daemon failed or is gone.
    pub fn serve_once(&self) -> bool {
        let mut d = self.daemon.lock().unwrap_or_else(|p| p.into_inner());
        match d.as_mut() {
            Some(d) => {
                d.step();
                !d.failed()
            }
            None => false,
        }
    }

    /// A waiting master runs the daemon's step itself, if requests are
    /// queued and no other thread runs it.
    fn help(&self) -> bool {
        if !self.pair.readable() {
            return false;
        }
        match self.daemon.try_lock() {
            Ok(mut d) => d.as_mut().is_some_and(|d| d.step()),
            Err(_) => false,
        }
    }

    /// The pair.
    pub fn pair(&self) -> &Pair {
        &self.pair
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The master lock, held across one master call of the core.
    pub fn master(&self) -> MutexGuard<'_, ()> {
        self.mlock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The slave side changed the channel (a reply, a close): wake the
    /// masters. Taking the lock orders the change before their re-check.
    pub fn notify_masters(&self) {
        let _g = self.state();
        self.masters.notify_all();
    }

    /// A master queued a request: wake the serve loop.
    pub fn notify_slave(&self) {
        let _g = self.state();
        self.slave.notify_all();
    }

    /// The kernel interrupted request `id`.
    pub fn interrupt(&self, id: usize) {
        let mut s = self.state();
        s.interrupted.insert(id);
        self.masters.notify_all();
    }

    /// Request `id` is answered (or a new request reuses its address).
    pub fn forget_interrupt(&self, id: usize) {
        self.state().interrupted.remove(&id);
    }

    /// Stops the serve loop's waits for good.
    pub fn stop(&self) {
        let mut s = self.state();
        s.stopping = true;
        self.slave.notify_all();
        self.masters.notify_all();
    }

    /// Waits until the slave has a request to read, at most `limit`.
    /// False if it has none (the time passed, or the loop is stopping).
    pub fn wait_readable(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut s = self.state();
        loop {
            if self.pair.readable() {
                return true;
            }
            let now = Instant::now();
            if s.stopping || now >= deadline {
                return false;
            }
            s = self.slave.wait_timeout(s, deadline - now).map(|(g, _)| g).unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// Waits until `what` holds, as [`Host::wait`] says, for the master
    /// request `id` of the caller thread `tid`.
    fn wait(&self, id: usize, tid: i32, what: Wait, how: Sleep, timeout_secs: u32) -> Result<(), WaitError> {
        let deadline = Instant::now() + Duration::from_secs(u64::from(timeout_secs));
        let mut s = self.state();
        loop {
            if self.pair.cond(what) {
                return Ok(());
            }
            if s.interrupted.contains(&id) {
                match how {
                    Sleep::Interruptible => return Err(WaitError::Interrupted),
                    // The kernel sends one FUSE_INTERRUPT per request, for
                    // the first signal; a fatal one (SIGKILL, or a signal
                    // whose default action kills) shows as a pending
                    // SIGKILL, now or later.
                    Sleep::Killable if caller::fatal_signal_pending(tid) => return Err(WaitError::Interrupted),
                    _ => {}
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(WaitError::TimedOut);
            }
            // Run the daemon here rather than wake its thread and wait
            // for it to wake this one.
            drop(s);
            let helped = self.help();
            s = self.state();
            if helped || self.pair.cond(what) {
                continue;
            }
            let step = (deadline - now).min(TICK);
            s = self.masters.wait_timeout(s, step).map(|(g, _)| g).unwrap_or_else(|p| p.into_inner().0);
        }
    }
}

/// The host of one master call: the request, its caller, and for an
/// ioctl the caller memory the kernel brought.
pub struct CuseHost<'a> {
    shared: &'a Shared,
    id: usize,
    tid: i32,
    uid: u32,
    /// The daemon itself (its own settings of the drive): privileged.
    daemon: bool,
    mem: Option<&'a RefCell<IoctlMem>>,
}

impl<'a> CuseHost<'a> {
    /// The host of request `id` from thread `tid` of user `uid`.
    pub fn new(shared: &'a Shared, id: usize, tid: i32, uid: u32) -> CuseHost<'a> {
        CuseHost { shared, id, tid, uid, daemon: false, mem: None }
    }

    /// The host of the daemon's own calls.
    pub fn daemon(shared: &'a Shared) -> CuseHost<'a> {
        CuseHost { shared, id: 0, tid: 0, uid: 0, daemon: true, mem: None }
    }

    /// With the caller memory of an ioctl.
    pub fn with_mem(mut self, mem: &'a RefCell<IoctlMem>) -> CuseHost<'a> {
        self.mem = Some(mem);
        self
    }

    fn capable(&self, cap: u32) -> bool {
        self.daemon || caller::capable(self.tid, cap).unwrap_or(self.uid == 0)
    }
}

impl Host for CuseHost<'_> {
    fn wait(&mut self, what: Wait, how: Sleep, timeout_secs: u32) -> Result<(), WaitError> {
        self.shared.wait(self.id, self.tid, what, how, timeout_secs)
    }

    fn wake_slave(&mut self) {
        self.shared.notify_slave();
    }

    fn privileged(&self) -> bool {
        self.capable(caller::CAP_SYS_ADMIN)
    }

    fn raw_io(&self) -> bool {
        self.capable(caller::CAP_SYS_RAWIO)
    }

    fn copyin_addr(&mut self, addr: u64, dst: &mut [u8]) -> pmt::Result<()> {
        self.mem.ok_or(Errno::Fault)?.borrow().copyin(addr, dst)
    }

    fn copyout_addr(&mut self, addr: u64, src: &[u8]) -> pmt::Result<()> {
        self.mem.ok_or(Errno::Fault)?.borrow_mut().copyout(addr, src)
    }
}
