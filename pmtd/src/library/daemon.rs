//! The library daemon: one process serving the changer's slave and the
//! slaves of its drives, one thread each, and the operators' socket.
//!
//! A drive's thread waits for its slave and runs each batch of requests
//! with the drive locked (its mutex), then sends the replies. The changer's
//! thread runs each command with the library locked ([`Library`]: the
//! engine and the mechanics); a move locks the drives it touches in turn.
//! So a move and a drive command never interleave: a drive command runs
//! wholly before a move or wholly after it, and a move into a drive has
//! loaded the medium before it is answered.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use pmt::proto::scsi::{self as wire, Dir, ScsiRep, ScsiReq};
use pmt::proto::align_frame;
use tracing::{debug, info, warn};

use super::config::LibraryConfig;
use super::inventory::InventoryError;
use super::operator::{self, Listener};
use super::robot::{lock, Hook, Robot, SharedDrive};
use super::smc::{DriveInfo, Smc};
use crate::serve::{self, Received, ServeError, Transport};
use crate::transport::DeviceSlave;

/// The library: its command engine and its mechanics, behind one lock.
#[derive(Debug)]
pub struct Library {
    /// The SMC engine.
    pub smc: Smc,
    /// The mechanics: inventory, drives, import/export door.
    pub robot: Robot,
}

impl Library {
    /// The library `cfg` describes (see [`Robot::open`]).
    pub fn open(cfg: &LibraryConfig, hook: Option<Hook>) -> Result<Library, InventoryError> {
        let robot = Robot::open(cfg, hook)?;
        let drives = cfg.drives.iter().map(|d| DriveInfo { serial: d.identity.serial().to_string(), scsi_id: d.scsi_id }).collect();
        Ok(Library { smc: Smc::new(cfg.identity.clone(), cfg.layout, drives), robot })
    }
}

/// Locks the library (a thread that panicked with it held leaves it as it
/// was: every change is whole or not made).
pub fn lock_library(l: &Mutex<Library>) -> MutexGuard<'_, Library> {
    l.lock().unwrap_or_else(|e| e.into_inner())
}

/// The largest changer request frame: a header and the most data a
/// command may send.
pub const CHANGER_BUFFER: usize = align_frame(wire::REQ_SIZE + wire::XFER_MAX as usize) + 4096;

/// Runs a batch of changer request frames, appending the replies to `out`.
/// The library is locked for each command.
pub fn changer_batch(lib: &Mutex<Library>, batch: &[u8], out: &mut Vec<u8>) -> Result<(), ServeError> {
    let mut off = 0usize;
    while off < batch.len() {
        let rest = batch.get(off..).unwrap_or_default();
        if rest.len() < wire::REQ_SIZE {
            return Err(ServeError::Protocol(format!("{} stray bytes after the last changer request", rest.len())));
        }
        let req = ScsiReq::from_bytes(rest);
        if req.hdr.version != wire::VERSION {
            return Err(ServeError::Protocol(format!("changer protocol version {}, this daemon speaks {}", req.hdr.version, wire::VERSION)));
        }
        let flen = req.hdr.len as usize;
        let data = rest
            .get(wire::REQ_SIZE..flen)
            .filter(|_| flen >= wire::REQ_SIZE)
            .ok_or_else(|| ServeError::Protocol(format!("changer request of {flen} bytes overruns the batch")))?;
        let reply = {
            let mut l = lock_library(lib);
            let l = &mut *l;
            l.smc.execute(&mut l.robot, req.command(), data)
        };
        debug!(cdb = ?req.command(), sense = ?reply.sense, bytes = reply.data.len(), "changer command");
        let dir = req.direction();
        let mut rep = ScsiRep::good(&req);
        rep.status = reply.status();
        let mut d = if dir == Some(Dir::FromDev) { reply.data } else { Vec::new() };
        d.truncate(req.xfer_len as usize);
        if let Some(c) = reply.sense {
            let s = c.fixed();
            rep.sense[..s.len()].copy_from_slice(&s);
            rep.sense_len = s.len() as u8;
        }
        rep.resid = match dir {
            Some(Dir::FromDev) => req.xfer_len - d.len() as u32,
            Some(Dir::ToDev) if reply.sense.is_some() => req.xfer_len,
            _ => 0,
        };
        rep.hdr.len = (wire::REP_SIZE + d.len()) as u32;
        let start = out.len();
        out.extend_from_slice(&rep.to_bytes());
        out.extend_from_slice(&d);
        out.resize(start + align_frame(wire::REP_SIZE + d.len()), 0);
        off += align_frame(flen.max(wire::REQ_SIZE));
    }
    Ok(())
}

/// Serves the changer's slave until `stop` (or the slave closes).
pub fn serve_changer<T: Transport>(lib: &Mutex<Library>, slave: &mut T, stop: &AtomicBool, poll: Duration) -> Result<(), ServeError> {
    let mut inbuf = vec![0u8; CHANGER_BUFFER];
    let mut out = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        if !slave.wait(poll)? {
            continue;
        }
        match slave.receive(&mut inbuf)? {
            Received::Batch(n) => {
                out.clear();
                changer_batch(lib, inbuf.get(..n).unwrap_or_default(), &mut out)?;
                slave.send(&out)?;
            }
            Received::Interrupted | Received::Idle => {}
            Received::Closed => break,
        }
    }
    Ok(())
}

/// Serves a drive's slave until `stop` (or the slave closes): each batch
/// runs with the drive locked.
pub fn serve_drive<T: Transport>(drive: &SharedDrive, slave: &mut T, stop: &AtomicBool, poll: Duration) -> Result<(), ServeError> {
    let mut inbuf = vec![0u8; serve::READ_BUFFER];
    let mut out = Vec::with_capacity(1 << 20);
    while !stop.load(Ordering::Relaxed) {
        if !slave.wait(poll)? {
            continue;
        }
        match slave.receive(&mut inbuf)? {
            Received::Batch(n) => {
                out.clear();
                serve::run_batch(&mut lock(drive), inbuf.get(..n).unwrap_or_default(), &mut out, slave.area())?;
                slave.send(&out)?;
            }
            Received::Interrupted | Received::Idle => {}
            Received::Closed => break,
        }
    }
    Ok(())
}

/// Runs the library: the changer's slave, each drive's slave (in element
/// order) and the operators' socket, one thread each, until `stop` is set
/// or one of them fails (then the others stop too). `poll` bounds how long
/// a thread takes to see `stop`.
pub fn run<C, D>(lib: &Mutex<Library>, mut changer: C, drives: Vec<D>, listener: Option<Listener>, stop: &AtomicBool, poll: Duration) -> Result<(), ServeError>
where
    C: Transport + Send,
    D: Transport + Send,
{
    let shared: Vec<SharedDrive> = lock_library(lib).robot.drives().to_vec();
    if shared.len() != drives.len() {
        return Err(ServeError::Protocol(format!("{} drive slaves for {} drives", drives.len(), shared.len())));
    }
    let failed = |r: Result<(), ServeError>| {
        if r.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        r
    };
    std::thread::scope(|s| {
        let mut handles = Vec::new();
        for (n, (mut slave, drive)) in drives.into_iter().zip(shared.iter()).enumerate() {
            let h = std::thread::Builder::new()
                .name(format!("drive {n}"))
                .spawn_scoped(s, move || failed(serve_drive(drive, &mut slave, stop, poll)))
                .map_err(|e| ServeError::Protocol(format!("cannot start a thread: {e}")))?;
            handles.push(h);
        }
        let op = listener.map(|l| s.spawn(move || operator::serve(&l, lib, stop, poll)));
        let mut r = failed(serve_changer(lib, &mut changer, stop, poll));
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            let d = h.join().unwrap_or_else(|_| Err(ServeError::Protocol("a drive thread panicked".into())));
            if r.is_ok() {
                r = d;
            }
        }
        if let Some(h) = op {
            let _ = h.join();
        }
        r
    })
}

/// The lock that keeps a second daemon off a library: `INVENTORY.lock`,
/// held while the daemon runs.
pub fn lock_file(inventory: &Path) -> anyhow::Result<Flock<File>> {
    let mut p = inventory.as_os_str().to_owned();
    p.push(".lock");
    let path = PathBuf::from(p);
    let f = OpenOptions::new().write(true).create(true).truncate(false).open(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Flock::lock(f, FlockArg::LockExclusiveNonblock)
        .map_err(|(_, e)| anyhow::anyhow!("{}: another pmtd serves this library ({e})", path.display()))
}

/// Serves the library `cfg` describes on its devices until `stop`.
pub fn serve_library(cfg: &LibraryConfig, stop: &AtomicBool) -> anyhow::Result<()> {
    let held = lock_file(&cfg.inventory)?;
    let changer = DeviceSlave::open(&cfg.changer)?;
    let mut drives = Vec::new();
    for d in &cfg.drives {
        drives.push(DeviceSlave::open(&d.device)?);
    }
    serve_on(cfg, held, changer, drives, stop)
}

/// Serves the library `cfg` describes on the slaves given (the changer's,
/// and its drives' in element order) until `stop`, holding `held`, its
/// [`lock_file`].
pub fn serve_on<C, D>(cfg: &LibraryConfig, held: Flock<File>, changer: C, drives: Vec<D>, stop: &AtomicBool) -> anyhow::Result<()>
where
    C: Transport + Send,
    D: Transport + Send,
{
    let lib = Library::open(cfg, None)?;
    let listener = operator::listen(&cfg.socket)?;
    info!(
        changer = %cfg.changer.display(),
        drives = cfg.drives.len(),
        cartridges = lib.robot.inventory().len(),
        socket = %cfg.socket.display(),
        "library serving"
    );
    let lib = Mutex::new(lib);
    let r = run(&lib, changer, drives, Some(listener), stop, Duration::from_millis(250));
    lock_library(&lib).robot.shut_down();
    let _ = std::fs::remove_file(&cfg.socket);
    drop(held);
    if let Err(e) = &r {
        warn!("{e}");
    }
    info!("library stopped");
    Ok(r?)
}
