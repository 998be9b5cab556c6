//! The pair channel: drive requests queued by the master side for the daemon,
//! and the daemon's replies coming back.
//!
//! This is the only state the two sides share. Every method runs under the
//! unit's channel lock ([`ChanLock`], a spinlock with preemption off in the
//! kernel), so none of them sleeps, allocates or frees: the ring is reserved
//! when the unit is created, payload buffers are allocated by callers before
//! they take the lock, and buffers leave the ring by value so that callers
//! free them after they drop it.
//!
//! Ring layout, oldest first: `done` entries that completed (a reply, or lost
//! with the daemon), then `sent` entries the daemon has read and must answer,
//! then entries still queued for the daemon. The daemon answers in order, so
//! completions always grow the `done` prefix; the master pops from the front.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::errno::{Errno, Result};
use crate::proto::{self, Rep, Req, REP_SIZE, REQ_SIZE, VERSION};

/// Who waits for a request's completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A master operation waits for this reply.
    Sync,
    /// A write-behind write: the master reaps the result later.
    Behind,
    /// A read-ahead run: the master keeps its records for later reads.
    Ahead,
    /// The master gave up waiting (signal or timeout); the result is dropped.
    Orphan,
}

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The daemon replied.
    Reply(Rep),
    /// The daemon went away (or could not receive it) before replying.
    Lost,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Queued,
    Sent,
    Done(Outcome),
}

/// One request and, once completed, its outcome.
#[derive(Debug)]
pub struct Entry {
    /// The request as sent (its id in `req.hdr.id`).
    pub req: Req,
    /// Who waits for it.
    pub kind: Kind,
    state: State,
    /// Write data while queued; read data once replied.
    pub data: Vec<u8>,
}

impl Entry {
    /// The outcome, once the entry is done.
    pub fn outcome(&self) -> Option<Outcome> {
        match self.state {
            State::Done(o) => Some(o),
            _ => None,
        }
    }
}

/// What the daemon gets next from the slave.
#[derive(Debug)]
pub enum Next {
    /// Nothing is queued.
    Empty,
    /// The next frame needs this many bytes (aligned).
    TooSmall(usize),
    /// The next request and its payload; the entry is now marked sent.
    Frame(Req, Vec<u8>),
}

/// Channel limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Requests in flight at once (ring capacity).
    pub ring: usize,
    /// Payload bytes the ring may hold for write-behind.
    pub window: usize,
}

/// The channel state. See the module documentation.
#[derive(Debug)]
pub struct Chan {
    /// A daemon holds the slave.
    slave: bool,
    /// Incremented at every slave open: names the daemon instance.
    gen: u64,
    next_id: u64,
    ring: VecDeque<Entry>,
    lim: Limits,
    done: usize,
    sent: usize,
    /// Payload bytes held in the ring (queued write data, unreaped read data).
    held: usize,
    /// Payload buffers kept for reuse, most recent last (a fresh kernel
    /// allocation of a record costs a page allocation and its zeroing), and
    /// their total capacity, at most half the window.
    pool: Vec<Vec<u8>>,
    pool_bytes: usize,
}

/// Buffers the pool keeps at most.
const POOL_BUFFERS: usize = 16;

impl Chan {
    /// A channel with its ring reserved. Fails only if memory is short.
    pub fn new(lim: Limits) -> Result<Chan> {
        let mut ring = VecDeque::new();
        ring.try_reserve_exact(lim.ring).map_err(|_| Errno::NoMem)?;
        let mut pool = Vec::new();
        pool.try_reserve_exact(POOL_BUFFERS).map_err(|_| Errno::NoMem)?;
        Ok(Chan { slave: false, gen: 0, next_id: 1, ring, lim, done: 0, sent: 0, held: 0, pool, pool_bytes: 0 })
    }

    /// True while a daemon holds the slave.
    pub fn slave_present(&self) -> bool {
        self.slave
    }

    /// The daemon instance; changes at every slave open.
    pub fn generation(&self) -> u64 {
        self.gen
    }

    /// A daemon opens the slave.
    pub fn slave_open(&mut self) -> Result<()> {
        if self.slave {
            return Err(Errno::Busy);
        }
        self.slave = true;
        self.gen = self.gen.wrapping_add(1);
        Ok(())
    }

    /// The daemon closed the slave (or died): everything it had not answered
    /// is lost. Payloads stay in the ring until the master pops the entries.
    pub fn slave_close(&mut self) {
        self.slave = false;
        for e in self.ring.iter_mut().skip(self.done) {
            e.state = State::Done(Outcome::Lost);
        }
        self.done = self.ring.len();
        self.sent = 0;
    }

    /// Payload bytes held by the ring.
    pub fn held(&self) -> usize {
        self.held
    }

    /// A buffer from the pool with room for `len` bytes, if one is there.
    pub fn take_buffer(&mut self, len: usize) -> Option<Vec<u8>> {
        // The most recent that is large enough (at most POOL_BUFFERS to look at).
        let i = self.pool.iter().rposition(|v| v.capacity() >= len)?;
        let v = self.pool.swap_remove(i);
        self.pool_bytes -= v.capacity();
        Some(v)
    }

    /// Keeps a payload buffer for reuse. Returns it if the pool is full: the
    /// caller frees it after dropping the lock.
    pub fn recycle(&mut self, mut v: Vec<u8>) -> Option<Vec<u8>> {
        let cap = v.capacity();
        if cap == 0 || self.pool.len() >= POOL_BUFFERS || self.pool_bytes + cap > self.lim.window / 2 {
            return Some(v);
        }
        v.clear();
        self.pool_bytes += cap;
        // Cannot grow: the length was checked against the reserved capacity.
        self.pool.push(v);
        None
    }

    /// Bytes of buffers kept for reuse.
    pub fn pooled(&self) -> usize {
        self.pool_bytes
    }

    /// True if a request of `len` payload bytes fits now: a free ring slot,
    /// and the window has room (a lone request always fits the window).
    pub fn has_space(&self, len: usize) -> bool {
        self.ring.len() < self.lim.ring && (self.held == 0 || self.held.saturating_add(len) <= self.lim.window)
    }

    /// Queues a request. On success the payload moves into the ring (`data`
    /// is left empty) and the assigned id is returned.
    pub fn submit(&mut self, mut req: Req, data: &mut Vec<u8>, kind: Kind) -> Result<u64> {
        if !self.slave {
            return Err(Errno::Io);
        }
        if self.ring.len() >= self.lim.ring {
            return Err(Errno::Again);
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        req.hdr.id = id;
        req.hdr.version = VERSION;
        req.hdr.len = u32::try_from(REQ_SIZE + data.len()).map_err(|_| Errno::Inval)?;
        let data = core::mem::take(data);
        self.held += data.len();
        // Cannot grow: the length was checked against the reserved capacity.
        self.ring.push_back(Entry { req, kind, state: State::Queued, data });
        Ok(id)
    }

    /// True if a request waits to be read by the daemon.
    pub fn readable(&self) -> bool {
        self.done + self.sent < self.ring.len()
    }

    /// Takes the next queued request for a slave read with `room` bytes left.
    pub fn next_request(&mut self, room: usize) -> Next {
        let at = self.done + self.sent;
        let Some(e) = self.ring.get_mut(at) else {
            return Next::Empty;
        };
        let need = proto::align_frame(REQ_SIZE + e.data.len());
        if need > room {
            return Next::TooSmall(need);
        }
        e.state = State::Sent;
        let data = core::mem::take(&mut e.data);
        self.held -= data.len();
        self.sent += 1;
        Next::Frame(e.req, data)
    }

    /// Puts back the request last taken by [`Chan::next_request`] when it
    /// could not be copied to the daemon. Ignored if it was answered meanwhile.
    pub fn unsend(&mut self, id: u64, data: &mut Vec<u8>) {
        let Some(last) = (self.done + self.sent).checked_sub(1) else {
            return;
        };
        if last < self.done {
            return;
        }
        if let Some(e) = self.ring.get_mut(last) {
            if e.req.hdr.id == id && e.state == State::Sent {
                e.state = State::Queued;
                e.data = core::mem::take(data);
                self.held += e.data.len();
                self.sent -= 1;
            }
        }
    }

    /// Checks a reply header (with `dlen` data bytes following) against the
    /// oldest request the daemon has read: the frame (version, length, id,
    /// operation) here, everything it says in [`crate::boundary`]. Changes
    /// nothing.
    pub fn check_reply(&self, rep: &Rep, dlen: usize) -> Result<Req> {
        if rep.hdr.version != VERSION || (rep.hdr.len as usize) != REP_SIZE.saturating_add(dlen) {
            return Err(Errno::Inval);
        }
        if self.sent == 0 {
            return Err(Errno::Inval);
        }
        let e = self.ring.get(self.done).ok_or(Errno::Inval)?;
        if e.state != State::Sent || e.req.hdr.id != rep.hdr.id || e.req.hdr.op != rep.hdr.op {
            return Err(Errno::Inval);
        }
        crate::boundary::check_reply(&e.req, rep, dlen)?;
        Ok(e.req)
    }

    /// Completes the oldest read request with `rep`. On success the data moves
    /// into the ring; on failure nothing changes and `data` stays with the caller.
    pub fn reply(&mut self, rep: Rep, data: &mut Vec<u8>) -> Result<()> {
        self.check_reply(&rep, data.len())?;
        let e = self.ring.get_mut(self.done).ok_or(Errno::Inval)?;
        e.state = State::Done(Outcome::Reply(rep));
        e.data = core::mem::take(data);
        self.held += e.data.len();
        self.done += 1;
        self.sent -= 1;
        Ok(())
    }

    /// True if the oldest entry has completed.
    pub fn front_done(&self) -> bool {
        self.done > 0
    }

    /// True if nothing is outstanding.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Pops the oldest entry if it has completed. The caller frees its data
    /// after dropping the lock.
    pub fn pop_done(&mut self) -> Option<Entry> {
        if self.done == 0 {
            return None;
        }
        let e = self.ring.pop_front()?;
        self.done -= 1;
        self.held -= e.data.len();
        Some(e)
    }

    /// The master stops waiting for request `id`: its result will be dropped.
    pub fn orphan(&mut self, id: u64) {
        if let Some(e) = self.ring.iter_mut().find(|e| e.req.hdr.id == id) {
            e.kind = Kind::Orphan;
        }
    }

}

/// The channel behind its lock. In the kernel the lock disables preemption
/// while held (see [`crate::sys`]), so nothing under it may sleep.
#[derive(Debug)]
pub struct ChanLock(spin::mutex::SpinMutex<Chan>);

impl ChanLock {
    /// Wraps a channel.
    pub fn new(chan: Chan) -> ChanLock {
        ChanLock(spin::mutex::SpinMutex::new(chan))
    }

    /// Runs `f` with the channel locked.
    pub fn with<R>(&self, f: impl FnOnce(&mut Chan) -> R) -> R {
        let _atomic = crate::sys::Atomic::enter();
        let mut chan = self.0.lock();
        f(&mut chan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Op;
    use alloc::vec;

    fn chan() -> Chan {
        let mut c = Chan::new(Limits { ring: 4, window: 100 }).unwrap();
        c.slave_open().unwrap();
        c
    }

    fn reply_to(req: &Req) -> Rep {
        Rep::good(req, proto::Status::default())
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
        let mut c = Chan::new(Limits { ring: 4, window: 100 }).unwrap();
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
}
