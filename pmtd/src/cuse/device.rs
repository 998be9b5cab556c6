//! The master nodes of a pair as CUSE serves them: each request of the
//! kernel (open, read, write, ioctl, release) becomes the core's master
//! call, with [`CuseHost`] as its host.
//!
//! Reads and writes reach a CUSE server as direct I/O, split by the kernel
//! into requests of at most 128 KiB (CUSE keeps `max_pages` at 32), each
//! read(2) or write(2) starting at offset 0. A tape keeps one record per
//! call, so the request at offset 0 is the call: its caller's count comes
//! from /proc/<tid>/syscall (the thread is blocked in that call while it
//! is served), a larger write is read whole from the caller's buffer
//! (process_vm_readv) and written as one record, whose result is the
//! first request's reply (later ones only acknowledge their share); a
//! larger read is served from the record the core returned. Without /proc
//! (see [`caller`]), every request is its own call: records of up to 124
//! KiB (the smallest request a longer call is split into) are exact,
//! longer ones are split.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use pmt::abi::linux_changer;
use pmt::{Errno, KernelBuf, OpenFlags, Pair, UserOut};

use super::caller;
use super::host::{CuseHost, Shared};
pub use super::ioctl::Region;
use super::ioctl::{self, Arg, IoctlMem, Plan};

/// The thread a request comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    /// Its user.
    pub uid: u32,
    /// Its group.
    pub gid: u32,
    /// Its thread id.
    pub pid: i32,
}

/// A request of the kernel, answered once.
pub trait Request {
    /// Who asked.
    fn caller(&self) -> Caller;
    /// The request's identity while it is being served.
    fn id(&self) -> usize;
    /// Report FUSE_INTERRUPT for this request to `shared`.
    fn watch_interrupts(&mut self, shared: &Arc<Shared>);
    /// Fails the request (a positive errno).
    fn reply_err(self, errno: i32);
    /// Opens the file, with handle `fh`.
    fn reply_open(self, fh: u64);
    /// A read's data.
    fn reply_data(self, data: &[u8]);
    /// A write's count.
    fn reply_write(self, n: usize);
    /// An ioctl's result and its out regions' bytes.
    fn reply_ioctl(self, result: i32, out: &[u8]);
    /// Asks the kernel to call again with these regions.
    fn reply_ioctl_retry(self, ins: &[Region], outs: &[Region]);
}

/// FUSE_IOCTL_COMPAT: a 32-bit caller.
const IOCTL_COMPAT: u32 = 1;

/// The smallest request the kernel splits a longer call into: 32 pages of
/// a buffer that does not start on a page boundary. A first request
/// shorter than this is the whole call.
pub const SURELY_WHOLE: usize = 31 * 4096 + 1;

/// An open file of a master node.
#[derive(Debug, Default)]
struct File {
    writable: bool,
    /// The rest of a record a longer read(2) is being served from.
    read_rest: Option<(Vec<u8>, usize)>,
    /// Bytes of the current write(2) that the core took, when it spans
    /// several requests.
    write_done: Option<usize>,
}

/// The master side of a pair: its open files, and the pair.
#[derive(Debug)]
pub struct Device {
    shared: Arc<Shared>,
    files: Mutex<HashMap<u64, Arc<Mutex<File>>>>,
    next: AtomicU64,
}

/// One node of a device: the tape's rewinding or no-rewind master, or the
/// changer master.
#[derive(Debug)]
pub struct Node {
    dev: Arc<Device>,
    norewind: bool,
}

impl Node {
    /// A node of `dev`.
    pub fn new(dev: Arc<Device>, norewind: bool) -> Node {
        Node { dev, norewind }
    }

    /// open(2).
    pub fn open<R: Request>(&self, req: R, flags: i32) {
        self.dev.open(req, flags, self.norewind)
    }

    /// A read request.
    pub fn read<R: Request>(&self, req: R, fh: u64, size: usize, off: i64) {
        self.dev.read(req, fh, size, off)
    }

    /// A write request.
    pub fn write<R: Request>(&self, req: R, fh: u64, data: &[u8], off: i64) {
        self.dev.write(req, fh, data, off)
    }

    /// The last close of an open file.
    pub fn release<R: Request>(&self, req: R, fh: u64) {
        self.dev.release(req, fh)
    }

    /// An ioctl request (one call of the retry exchange).
    #[allow(clippy::too_many_arguments)]
    pub fn ioctl<R: Request>(&self, req: R, fh: u64, cmd: u32, arg: u64, flags: u32, have: &[u8], out_size: usize) {
        self.dev.ioctl(req, fh, cmd, arg, flags, have, out_size)
    }
}

/// A growing buffer for a read's record.
struct VecOut(Vec<u8>);

impl UserOut for VecOut {
    fn write(&mut self, at: usize, src: &[u8]) -> pmt::Result<()> {
        let end = at.checked_add(src.len()).ok_or(Errno::Fault)?;
        if self.0.len() < end {
            self.0.try_reserve(end - self.0.len()).map_err(|_| Errno::NoMem)?;
            self.0.resize(end, 0);
        }
        self.0.get_mut(at..end).ok_or(Errno::Fault)?.copy_from_slice(src);
        Ok(())
    }
}

/// The errno a FUSE reply may carry: the kernel refuses the restart codes.
fn reply_errno(pair: &Pair, e: Errno) -> i32 {
    match pair.abi().errno(e) {
        n if (1..512).contains(&n) => n,
        _ => libc::EINTR,
    }
}

impl Device {
    /// The master side of the pair in `shared`.
    pub fn new(shared: Arc<Shared>) -> Device {
        Device { shared, files: Mutex::new(HashMap::new()), next: AtomicU64::new(1) }
    }

    /// The pair and its waits.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn pair(&self) -> &Pair {
        self.shared.pair()
    }

    fn file(&self, fh: u64) -> Option<Arc<Mutex<File>>> {
        self.files.lock().unwrap_or_else(|p| p.into_inner()).get(&fh).cloned()
    }

    fn fail<R: Request>(&self, req: R, e: Errno) {
        req.reply_err(reply_errno(self.pair(), e));
    }

    /// Runs a master call of the core under the master lock.
    fn call<R: Request, T>(&self, req: &mut R, f: impl FnOnce(&Pair, &mut CuseHost<'_>) -> pmt::Result<T>) -> pmt::Result<T> {
        self.call_mem(req, None, f)
    }

    /// [`Device::call`] for an ioctl, with the caller memory it brought.
    fn call_mem<R: Request, T>(
        &self,
        req: &mut R,
        mem: Option<&RefCell<IoctlMem>>,
        f: impl FnOnce(&Pair, &mut CuseHost<'_>) -> pmt::Result<T>,
    ) -> pmt::Result<T> {
        req.watch_interrupts(&self.shared);
        let c = req.caller();
        let _m = self.shared.master();
        let mut host = CuseHost::new(&self.shared, req.id(), c.pid, c.uid);
        if let Some(m) = mem {
            host = host.with_mem(m);
        }
        f(self.pair(), &mut host)
    }

    fn open<R: Request>(&self, mut req: R, flags: i32, norewind: bool) {
        let acc = flags & libc::O_ACCMODE;
        let f = OpenFlags {
            read: acc == libc::O_RDONLY || acc == libc::O_RDWR,
            write: acc == libc::O_WRONLY || acc == libc::O_RDWR,
            nonblock: flags & libc::O_NONBLOCK != 0,
            norewind,
        };
        match self.call(&mut req, |p, h| p.mopen(h, f, pmt::Node::default())) {
            Ok(()) => {
                let fh = self.next.fetch_add(1, Ordering::Relaxed);
                let file = File { writable: f.write, ..File::default() };
                self.files.lock().unwrap_or_else(|p| p.into_inner()).insert(fh, Arc::new(Mutex::new(file)));
                req.reply_open(fh)
            }
            Err(e) => self.fail(req, e),
        }
    }

    fn release<R: Request>(&self, mut req: R, fh: u64) {
        self.files.lock().unwrap_or_else(|p| p.into_inner()).remove(&fh);
        // CUSE sends no FLUSH: the last close is the release, and its
        // result reaches nobody (close(2) returns 0), so the filemarks and
        // the rewind happen here and an error is logged.
        let r = self.call(&mut req, |p, h| {
            let flushed = p.mflush(h);
            p.mrelease(h)?;
            flushed
        });
        if let Err(e) = r {
            tracing::warn!("close: {e:?}");
        }
        req.reply_err(0)
    }

    fn read<R: Request>(&self, mut req: R, fh: u64, size: usize, off: i64) {
        let Some(file) = self.file(fh) else {
            return req.reply_err(libc::EBADF);
        };
        let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
        if off > 0 {
            // A later request of a longer read(2): its share of the record.
            let off = off as usize;
            let part = match &file.read_rest {
                Some((rec, n)) if off < *n => rec.get(off..(*n).min(off + size)).unwrap_or_default(),
                _ => &[],
            };
            req.reply_data(part);
            if part.is_empty() || off + size >= file.read_rest.as_ref().map_or(0, |r| r.1) {
                file.read_rest = None;
            }
            return;
        }
        file.read_rest = None;
        let c = req.caller();
        let count = if size < SURELY_WHOLE {
            size
        } else {
            caller::blocked_call(c.pid, false).map_or(size, |call| call.count.max(size))
        };
        let mut out = VecOut(Vec::new());
        match self.call(&mut req, |p, h| p.mread(h, &mut out, count)) {
            Ok(n) => {
                let rec = out.0;
                req.reply_data(rec.get(..n.min(size)).unwrap_or_default());
                if n > size {
                    file.read_rest = Some((rec, n));
                }
            }
            Err(e) => self.fail(req, e),
        }
    }

    fn write<R: Request>(&self, mut req: R, fh: u64, data: &[u8], off: i64) {
        let Some(file) = self.file(fh) else {
            return req.reply_err(libc::EBADF);
        };
        let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
        if off > 0 {
            if let Some(done) = file.write_done {
                // A later request of a write(2) the core already took.
                let off = off as usize;
                let n = done.saturating_sub(off).min(data.len());
                if off + data.len() >= done {
                    file.write_done = None;
                }
                return req.reply_write(n);
            }
            // Without the caller's call: this request is a record.
        }
        file.write_done = None;
        let c = req.caller();
        let whole = if off == 0 && data.len() >= SURELY_WHOLE {
            caller::blocked_call(c.pid, true)
                .filter(|call| call.count > data.len())
                .and_then(|call| caller::read_memory(c.pid, call.addr, call.count))
                // The caller's buffer must begin with what the kernel sent.
                .filter(|rec| rec.get(..data.len()) == Some(data))
        } else {
            None
        };
        let rec: &[u8] = whole.as_deref().unwrap_or(data);
        match self.call(&mut req, |p, h| p.mwrite(h, &mut &rec[..], rec.len())) {
            Ok(k) => {
                if whole.is_some() && k > data.len() {
                    file.write_done = Some(k);
                }
                req.reply_write(k.min(data.len()))
            }
            Err(e) => self.fail(req, e),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn ioctl<R: Request>(&self, mut req: R, fh: u64, cmd: u32, arg: u64, flags: u32, have: &[u8], _out_size: usize) {
        let Some(file) = self.file(fh) else {
            return req.reply_err(libc::EBADF);
        };
        let writable = file.lock().unwrap_or_else(|p| p.into_inner()).writable;
        let compat32 = flags & IOCTL_COMPAT != 0;
        let mut count_of = |ty: i32| self.element_count(&mut req, ty, writable);
        match ioctl::plan(self.pair(), cmd, arg, compat32, have, &mut count_of) {
            Plan::Retry(regions) => {
                let outs: Vec<Region> = regions.iter().filter(|r| r.out).copied().collect();
                req.reply_ioctl_retry(&regions, &outs)
            }
            Plan::Run(regions) => {
                let mem = RefCell::new(IoctlMem::new(&regions, have));
                let r = self.call_mem(&mut req, Some(&mem), |p, h| p.mioctl(h, u64::from(cmd), &mut Arg(&mem), compat32, writable));
                match r {
                    Ok(v) => req.reply_ioctl(v, &mem.borrow().out()),
                    Err(e) => self.fail(req, e),
                }
            }
        }
    }

    /// Elements of CHIO type `ty`, asked of the changer with CHIOGPARAMS
    /// (a MODE SENSE: nothing moves).
    fn element_count<R: Request>(&self, req: &mut R, ty: i32, writable: bool) -> Option<usize> {
        let mut params = [0u8; 20];
        let cmd = u64::from(linux_changer::CHIOGPARAMS);
        self.call(req, |p, h| p.mioctl(h, cmd, &mut KernelBuf(&mut params), false, writable)).ok()?;
        ioctl::count_in_params(&params, ty)
    }

    /// Runs MTIOCTOP `op` with `count` as a privileged caller with no file
    /// open (the host's own settings of the drive).
    pub fn setup_op(&self, op: i16, count: i32) -> pmt::Result<()> {
        let mut arg = [0u8; 8];
        arg[..2].copy_from_slice(&op.to_ne_bytes());
        arg[4..].copy_from_slice(&count.to_ne_bytes());
        let _m = self.shared.master();
        let mut host = CuseHost::daemon(&self.shared);
        self.pair().mioctl(&mut host, u64::from(pmt::abi::linux::MTIOCTOP), &mut KernelBuf(&mut arg), false, true).map(|_| ())
    }
}
