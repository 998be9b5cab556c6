//! One pmt unit: a master (the tape device) and a slave (the daemon's end).
//!
//! A unit owns the channel both sides share and the driver state of the
//! master. The OS glue calls the `m*` entry points from master system calls,
//! one at a time per unit (it holds the unit's master mutex), and the `s*`
//! entry points from slave system calls. Master entry points may sleep through
//! [`Host::wait`]; slave entry points never sleep: the glue does the blocking
//! around them, waiting for [`Unit::readable`].

use alloc::vec::Vec;

use crate::abi::Abi;
use crate::chan::{Chan, ChanLock, Limits, Next};
use crate::drv::{Drv, Link, OpenFlags};
use crate::errno::{Errno, Result};
use crate::host::{Host, UserIn, UserOut, Wait};
use crate::proto::{self, Rep, REP_SIZE, REQ_SIZE};

/// Limits of a unit, from the module parameters.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Requests in flight at once.
    pub ring: usize,
    /// Bytes of write-behind data a unit may hold.
    pub window: usize,
    /// Command timeout in seconds (st's default is 900).
    pub timeout: u32,
}

impl Default for Config {
    fn default() -> Config {
        Config { ring: 256, window: 1 << 20, timeout: crate::drv::TIMEOUT }
    }
}

impl Config {
    /// Fewest requests in flight.
    pub const MIN_RING: usize = 2;
    /// Most requests in flight.
    pub const MAX_RING: usize = 65536;
    /// Smallest window (a page).
    pub const MIN_WINDOW: usize = 4096;
    /// Largest window (1 GiB).
    pub const MAX_WINDOW: usize = 1 << 30;

    /// Checks the limits: EINVAL when one is out of range.
    pub fn validate(&self) -> Result<()> {
        if (Config::MIN_RING..=Config::MAX_RING).contains(&self.ring)
            && (Config::MIN_WINDOW..=Config::MAX_WINDOW).contains(&self.window)
        {
            Ok(())
        } else {
            Err(Errno::Inval)
        }
    }
}

/// A pmt unit.
#[derive(Debug)]
pub struct Unit {
    cfg: Config,
    abi: Abi,
    chan: ChanLock,
    /// Only master system calls touch the driver state, and the glue runs
    /// them one at a time: the lock is taken with `try_lock` and never waits.
    drv: spin::mutex::SpinMutex<Drv>,
}

impl Unit {
    /// Unit `index` for host `abi`, with its ring reserved. EINVAL if a
    /// limit is out of range, ENOMEM if memory is short.
    pub fn new(index: u32, cfg: Config, abi: Abi) -> Result<Unit> {
        cfg.validate()?;
        let chan = Chan::new(Limits { ring: cfg.ring, window: cfg.window })?;
        let drv = Drv::new(index, abi.policy(), cfg.timeout);
        Ok(Unit { cfg, abi, chan: ChanLock::new(chan), drv: spin::mutex::SpinMutex::new(drv) })
    }

    /// The unit's host ABI.
    pub fn abi(&self) -> Abi {
        self.abi
    }

    /// Payload bytes the channel holds now (bounded by the window, plus one
    /// record written synchronously).
    pub fn held(&self) -> usize {
        self.chan.with(|c| c.held())
    }

    /// The condition a master sleeps on (see [`Host::wait`]).
    pub fn cond(&self, what: Wait) -> bool {
        self.chan.with(|c| match what {
            Wait::Front => c.front_done() || c.is_empty(),
            Wait::Space(n) => c.has_space(n) || c.front_done() || !c.slave_present(),
        })
    }

    /// Runs a driver operation for a master system call.
    pub fn with_drv<R>(&self, host: &mut dyn Host, f: impl FnOnce(&mut Drv, &mut Link<'_>) -> Result<R>) -> Result<R> {
        let mut drv = self.drv.try_lock().ok_or(Errno::Busy)?;
        let mut link = Link { chan: &self.chan, host };
        f(&mut drv, &mut link)
    }

    /// Master open.
    pub fn mopen(&self, host: &mut dyn Host, flags: OpenFlags) -> Result<()> {
        self.with_drv(host, |d, l| d.open(l, flags))
    }

    /// The last close() of a master file: filemarks, rewind.
    pub fn mflush(&self, host: &mut dyn Host) -> Result<()> {
        self.with_drv(host, |d, l| d.flush(l))
    }

    /// Master release: the daemon gets the close; the unit is free again.
    pub fn mrelease(&self, host: &mut dyn Host) -> Result<()> {
        self.with_drv(host, |d, l| d.release(l))
    }

    /// Master read(): one record (or fixed blocks) into `out`.
    pub fn mread(&self, host: &mut dyn Host, out: &mut dyn UserOut, count: usize) -> Result<usize> {
        let window = self.cfg.window;
        self.with_drv(host, |d, l| d.read(l, out, count, window))
    }

    /// Master write(): one record (or fixed blocks) from `src`.
    pub fn mwrite(&self, host: &mut dyn Host, src: &mut dyn UserIn, count: usize) -> Result<usize> {
        let window = self.cfg.window;
        self.with_drv(host, |d, l| d.write(l, src, count, window))
    }

    /// A daemon opens the slave.
    pub fn sopen(&self) -> Result<()> {
        self.chan.with(|c| c.slave_open())
    }

    /// The daemon closed the slave (or died): every pending request fails.
    pub fn sclose(&self) {
        self.chan.with(|c| c.slave_close());
    }

    /// True if a slave read would return a request now.
    pub fn readable(&self) -> bool {
        self.chan.with(|c| c.readable())
    }

    /// Slave read(): as many whole queued requests as fit `len` bytes, each
    /// at an aligned offset. EAGAIN when none is queued, EMSGSIZE when the
    /// first does not fit.
    pub fn sread(&self, out: &mut dyn UserOut, len: usize) -> Result<usize> {
        let mut off = 0usize;
        loop {
            let next = self.chan.with(|c| c.next_request(len - off));
            let (req, mut data) = match next {
                Next::Empty if off == 0 => return Err(Errno::Again),
                Next::TooSmall(_) if off == 0 => return Err(Errno::MsgSize),
                Next::Empty | Next::TooSmall(_) => return Ok(off),
                Next::Frame(req, data) => (req, data),
            };
            let flen = REQ_SIZE + data.len();
            let pad = proto::align_frame(flen) - flen;
            let copied = out
                .write(off, &req.to_bytes())
                .and_then(|()| if data.is_empty() { Ok(()) } else { out.write(off + REQ_SIZE, &data) })
                .and_then(|()| if pad == 0 { Ok(()) } else { out.write(off + flen, [0u8; proto::FRAME_ALIGN].get(..pad).unwrap_or(&[])) });
            if let Err(e) = copied {
                // The daemon did not get it: put it back for the next read.
                self.chan.with(|c| c.unsend(req.hdr.id, &mut data));
                return if off == 0 { Err(e) } else { Ok(off) };
            }
            // Kept for the next write, or freed here, outside the lock.
            drop(self.chan.with(|c| c.recycle(data)));
            off += flen + pad;
        }
    }

    /// Slave write(): one or more replies, each at an aligned offset. A
    /// malformed reply is refused with EINVAL and changes nothing; replies
    /// before it in the same write stay accepted (a short write).
    pub fn swrite(&self, src: &mut dyn UserIn, len: usize) -> Result<usize> {
        let mut off = 0usize;
        while off < len {
            match self.one_reply(src, off, len) {
                Ok(flen) => off = off.saturating_add(proto::align_frame(flen)).min(len),
                Err(e) if off == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(off)
    }

    fn one_reply(&self, src: &mut dyn UserIn, off: usize, len: usize) -> Result<usize> {
        if len - off < REP_SIZE {
            return Err(Errno::Inval);
        }
        let mut hb = [0u8; REP_SIZE];
        src.read(off, &mut hb)?;
        let rep = Rep::from_bytes(&hb);
        let flen = rep.hdr.len as usize;
        if flen < REP_SIZE || flen > len - off {
            return Err(Errno::Inval);
        }
        let dlen = flen - REP_SIZE;
        // Checked before allocating, so a bad length never costs memory.
        let req = self.chan.with(|c| c.check_reply(&rep, dlen))?;
        let mut data = if dlen > 0 { self.chan.with(|c| c.take_buffer(dlen)).unwrap_or_default() } else { Vec::new() };
        if dlen > 0 {
            src.read_vec(off + REP_SIZE, dlen, &mut data).map_err(|e| if e == Errno::Overflow { Errno::NoMem } else { e })?;
        }
        // A read-ahead run's records are checked once they are here, outside
        // the lock.
        crate::boundary::check_data(&req, &rep, &data)?;
        let r = self.chan.with(|c| c.reply(rep, &mut data));
        // On failure the data is still ours; it is freed here, unlocked.
        drop(data);
        r.map(|()| flen)
    }
}
