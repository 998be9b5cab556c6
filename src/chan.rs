//! The pair channel: requests queued by the master side for the daemon, and
//! the daemon's replies coming back. One channel serves every kind of pair:
//! it is generic over its frames ([`Frames`]), so the tape pair's drive
//! requests and a changer's SCSI commands travel the same way, within the
//! same bounds (ring, window, buffer pool), each kind checked at the reply
//! boundary by its own rules.
//!
//! This is the only state the two sides share. Every method of [`Chan`]
//! runs under the unit's channel lock ([`ChanLock`]: the host's lock, a
//! spinlock or a kmutex in a kernel), so none of them sleeps, allocates or
//! frees: the ring is reserved when the unit is created, payload buffers are
//! allocated by callers before they take the lock, and buffers leave the
//! ring by value so that callers free them after they drop it.
//!
//! Ring layout, oldest first: `done` entries that completed (a reply, or lost
//! with the daemon), then `sent` entries the daemon has read and must answer,
//! then entries still queued for the daemon. The daemon answers in order, so
//! completions always grow the `done` prefix; the master pops from the front.
//!
//! Every length that comes from the daemon or a caller is checked before it
//! is used in arithmetic (`clippy::arithmetic_side_effects` is denied here).
#![deny(clippy::arithmetic_side_effects)]

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;

use crate::errno::{Errno, Result};
use crate::host::{HostLock, UserIn, UserOut};
use crate::proto::{self, Hdr, FRAME_ALIGN};

/// A kind of frames a channel carries: its request and reply, their wire
/// encoding, and what a reply may say for its request (the reply boundary
/// of that kind).
pub trait Frames {
    /// A request as queued; its header's id, version and length are the
    /// channel's to set.
    type Req: Copy + fmt::Debug;
    /// A reply.
    type Rep: Copy + fmt::Debug;
    /// The protocol version every frame of this kind carries.
    const VERSION: u16;
    /// Bytes of a request on the wire (at most [`MAX_FIXED`]).
    const REQ_SIZE: usize;
    /// Bytes of a reply on the wire (at most [`MAX_FIXED`]).
    const REP_SIZE: usize;
    /// The request's header.
    fn req_hdr(req: &Self::Req) -> Hdr;
    /// Replaces the request's header.
    fn set_req_hdr(req: &mut Self::Req, hdr: Hdr);
    /// The reply's header.
    fn rep_hdr(rep: &Self::Rep) -> Hdr;
    /// Encodes a request into the first [`Frames::REQ_SIZE`] bytes of `out`.
    fn encode_req(req: &Self::Req, out: &mut [u8]);
    /// Decodes a reply from the first [`Frames::REP_SIZE`] bytes of `b`.
    fn decode_rep(b: &[u8]) -> Self::Rep;
    /// What the reply, carrying `dlen` data bytes, may say for its request
    /// (the frame itself, version, length, id and operation, is checked by
    /// the channel). EINVAL if anything is out of place.
    fn check(req: &Self::Req, rep: &Self::Rep, dlen: usize) -> Result<()>;
    /// The reply's data, once it is here (read-ahead runs are checked
    /// record by record). Nothing to check by default.
    fn check_data(req: &Self::Req, rep: &Self::Rep, data: &[u8]) -> Result<()> {
        let _ = (req, rep, data);
        Ok(())
    }
}

/// The largest fixed part of a request or reply of any kind.
pub const MAX_FIXED: usize = 128;

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
pub enum Outcome<Rep> {
    /// The daemon replied.
    Reply(Rep),
    /// The daemon went away (or could not receive it) before replying.
    Lost,
}

#[derive(Clone, Copy, Debug)]
enum State<Rep> {
    Queued,
    Sent,
    Done(Outcome<Rep>),
}

/// One request and, once completed, its outcome.
#[derive(Debug)]
pub struct Entry<K: Frames> {
    /// The request as sent (its id in its header).
    pub req: K::Req,
    /// Who waits for it.
    pub kind: Kind,
    state: State<K::Rep>,
    /// Data sent while queued; data received once replied.
    pub data: Vec<u8>,
}

impl<K: Frames> Entry<K> {
    /// The outcome, once the entry is done.
    pub fn outcome(&self) -> Option<Outcome<K::Rep>> {
        match self.state {
            State::Done(o) => Some(o),
            _ => None,
        }
    }

    /// The request id.
    pub fn id(&self) -> u64 {
        K::req_hdr(&self.req).id
    }
}

/// What the daemon gets next from the slave.
#[derive(Debug)]
pub enum Next<Req> {
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
pub struct Chan<K: Frames> {
    /// A daemon holds the slave.
    slave: bool,
    /// Incremented at every slave open: names the daemon instance.
    gen: u64,
    next_id: u64,
    ring: VecDeque<Entry<K>>,
    lim: Limits,
    done: usize,
    sent: usize,
    /// Payload bytes held in the ring (queued data, unreaped reply data).
    held: usize,
    /// Payload buffers kept for reuse, most recent last (a fresh kernel
    /// allocation of a record costs a page allocation and its zeroing), and
    /// their total capacity, at most half the window.
    pool: Vec<Vec<u8>>,
    pool_bytes: usize,
}

impl<K: Frames> fmt::Debug for Chan<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chan")
            .field("slave", &self.slave)
            .field("gen", &self.gen)
            .field("ring", &self.ring.len())
            .field("done", &self.done)
            .field("sent", &self.sent)
            .field("held", &self.held)
            .finish()
    }
}

/// Buffers the pool keeps at most.
const POOL_BUFFERS: usize = 16;

impl<K: Frames> Chan<K> {
    /// A channel with its ring reserved. Fails only if memory is short.
    pub fn new(lim: Limits) -> Result<Chan<K>> {
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
        self.pool_bytes = self.pool_bytes.saturating_sub(v.capacity());
        Some(v)
    }

    /// Keeps a payload buffer for reuse. Returns it if the pool is full: the
    /// caller frees it after dropping the lock.
    pub fn recycle(&mut self, mut v: Vec<u8>) -> Option<Vec<u8>> {
        let cap = v.capacity();
        let fits = self.pool_bytes.checked_add(cap).is_some_and(|b| b <= self.lim.window / 2);
        if cap == 0 || self.pool.len() >= POOL_BUFFERS || !fits {
            return Some(v);
        }
        v.clear();
        self.pool_bytes = self.pool_bytes.saturating_add(cap);
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
        self.ring.len() < self.lim.ring && (self.held == 0 || self.held.checked_add(len).is_some_and(|h| h <= self.lim.window))
    }

    /// Queues a request. On success the payload moves into the ring (`data`
    /// is left empty) and the assigned id is returned.
    pub fn submit(&mut self, mut req: K::Req, data: &mut Vec<u8>, kind: Kind) -> Result<u64> {
        if !self.slave {
            return Err(Errno::Io);
        }
        if self.ring.len() >= self.lim.ring {
            return Err(Errno::Again);
        }
        let len = K::REQ_SIZE.checked_add(data.len()).and_then(|l| u32::try_from(l).ok()).ok_or(Errno::Inval)?;
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let op = K::req_hdr(&req).op;
        K::set_req_hdr(&mut req, Hdr { len, version: K::VERSION, op, id });
        let data = core::mem::take(data);
        self.held = self.held.saturating_add(data.len());
        // Cannot grow: the length was checked against the reserved capacity.
        self.ring.push_back(Entry { req, kind, state: State::Queued, data });
        Ok(id)
    }

    /// Index of the first entry not yet read by the daemon.
    fn unread(&self) -> usize {
        // done + sent <= ring.len(): both count entries of the ring.
        self.done.saturating_add(self.sent)
    }

    /// True if a request waits to be read by the daemon.
    pub fn readable(&self) -> bool {
        self.unread() < self.ring.len()
    }

    /// Bytes of the requests waiting to be read by the daemon, each frame
    /// aligned as a slave read lays it out.
    pub fn pending(&self) -> usize {
        self.ring
            .iter()
            .skip(self.unread())
            .map(|e| proto::align_frame(K::REQ_SIZE.saturating_add(e.data.len())))
            .fold(0usize, usize::saturating_add)
    }

    /// Takes the next queued request for a slave read with `room` bytes left.
    pub fn next_request(&mut self, room: usize) -> Next<K::Req> {
        let at = self.unread();
        let Some(e) = self.ring.get_mut(at) else {
            return Next::Empty;
        };
        // Entries hold at most a record (checked at submit), so this fits.
        let need = proto::align_frame(K::REQ_SIZE.saturating_add(e.data.len()));
        if need > room {
            return Next::TooSmall(need);
        }
        e.state = State::Sent;
        let data = core::mem::take(&mut e.data);
        self.held = self.held.saturating_sub(data.len());
        self.sent = self.sent.saturating_add(1);
        Next::Frame(e.req, data)
    }

    /// Puts back the request last taken by [`Chan::next_request`] when it
    /// could not be copied to the daemon. Ignored if it was answered meanwhile.
    pub fn unsend(&mut self, id: u64, data: &mut Vec<u8>) {
        let Some(last) = self.unread().checked_sub(1) else {
            return;
        };
        if last < self.done {
            return;
        }
        if let Some(e) = self.ring.get_mut(last) {
            if K::req_hdr(&e.req).id == id && matches!(e.state, State::Sent) {
                e.state = State::Queued;
                e.data = core::mem::take(data);
                self.held = self.held.saturating_add(e.data.len());
                self.sent = self.sent.saturating_sub(1);
            }
        }
    }

    /// Checks a reply (with `dlen` data bytes following) against the oldest
    /// request the daemon has read: the frame (version, length, id,
    /// operation) here, everything it says by the rules of its kind
    /// ([`Frames::check`]). Changes nothing.
    pub fn check_reply(&self, rep: &K::Rep, dlen: usize) -> Result<K::Req> {
        let h = K::rep_hdr(rep);
        if h.version != K::VERSION || K::REP_SIZE.checked_add(dlen) != Some(h.len as usize) {
            return Err(Errno::Inval);
        }
        if self.sent == 0 {
            return Err(Errno::Inval);
        }
        let e = self.ring.get(self.done).ok_or(Errno::Inval)?;
        let q = K::req_hdr(&e.req);
        if !matches!(e.state, State::Sent) || q.id != h.id || q.op != h.op {
            return Err(Errno::Inval);
        }
        K::check(&e.req, rep, dlen)?;
        Ok(e.req)
    }

    /// Completes the oldest read request with `rep`. On success the data moves
    /// into the ring; on failure nothing changes and `data` stays with the caller.
    pub fn reply(&mut self, rep: K::Rep, data: &mut Vec<u8>) -> Result<()> {
        self.check_reply(&rep, data.len())?;
        let e = self.ring.get_mut(self.done).ok_or(Errno::Inval)?;
        e.state = State::Done(Outcome::Reply(rep));
        e.data = core::mem::take(data);
        self.held = self.held.saturating_add(e.data.len());
        self.done = self.done.saturating_add(1);
        self.sent = self.sent.saturating_sub(1);
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
    pub fn pop_done(&mut self) -> Option<Entry<K>> {
        if self.done == 0 {
            return None;
        }
        let e = self.ring.pop_front()?;
        self.done = self.done.saturating_sub(1);
        self.held = self.held.saturating_sub(e.data.len());
        Some(e)
    }

    /// The master stops waiting for request `id`: its result will be dropped.
    pub fn orphan(&mut self, id: u64) {
        if let Some(e) = self.ring.iter_mut().find(|e| K::req_hdr(&e.req).id == id) {
            e.kind = Kind::Orphan;
        }
    }
}

/// The channel behind the host's lock. Nothing under it may sleep: in a
/// kernel the host's lock is a spinlock (Linux) or a kmutex (NetBSD) the
/// lock checkers see. Inside it the channel sits in a `spin` mutex that
/// only gives safe access to the state: the host's lock already excludes
/// every other holder, so it never spins.
pub struct ChanLock<K: Frames> {
    host: HostLock,
    chan: spin::mutex::SpinMutex<Chan<K>>,
}

impl<K: Frames> fmt::Debug for ChanLock<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChanLock").finish_non_exhaustive()
    }
}

impl<K: Frames> ChanLock<K> {
    /// Wraps a channel behind the host's lock.
    pub fn new(chan: Chan<K>, host: HostLock) -> ChanLock<K> {
        ChanLock { host, chan: spin::mutex::SpinMutex::new(chan) }
    }

    /// Runs `f` with the channel locked.
    pub fn with<R>(&self, f: impl FnOnce(&mut Chan<K>) -> R) -> R {
        self.host.lock();
        let r = f(&mut self.chan.lock());
        self.host.unlock();
        r
    }

    /// Slave read(): as many whole queued requests as fit `len` bytes, each
    /// at an aligned offset. EAGAIN when none is queued, EMSGSIZE when the
    /// first does not fit.
    pub fn slave_read(&self, out: &mut dyn UserOut, len: usize) -> Result<usize> {
        let mut off = 0usize;
        loop {
            let room = len.saturating_sub(off);
            let next = self.with(|c| c.next_request(room));
            let (req, mut data) = match next {
                Next::Empty if off == 0 => return Err(Errno::Again),
                Next::TooSmall(_) if off == 0 => return Err(Errno::MsgSize),
                Next::Empty | Next::TooSmall(_) => return Ok(off),
                Next::Frame(req, data) => (req, data),
            };
            // The frame fits `room` (next_request checked it), so none of
            // these sums passes `len`.
            let flen = K::REQ_SIZE.saturating_add(data.len());
            let aligned = proto::align_frame(flen);
            let pad = aligned.saturating_sub(flen);
            let mut fixed = [0u8; MAX_FIXED];
            let head = fixed.get_mut(..K::REQ_SIZE).ok_or(Errno::Inval)?;
            K::encode_req(&req, head);
            let copied = out
                .write(off, head)
                .and_then(|()| if data.is_empty() { Ok(()) } else { out.write(off.saturating_add(K::REQ_SIZE), &data) })
                .and_then(|()| {
                    if pad == 0 {
                        Ok(())
                    } else {
                        out.write(off.saturating_add(flen), [0u8; FRAME_ALIGN].get(..pad).unwrap_or(&[]))
                    }
                });
            if let Err(e) = copied {
                // The daemon did not get it: put it back for the next read.
                let id = K::req_hdr(&req).id;
                self.with(|c| c.unsend(id, &mut data));
                return if off == 0 { Err(e) } else { Ok(off) };
            }
            // Kept for the next write, or freed here, outside the lock.
            drop(self.with(|c| c.recycle(data)));
            off = off.saturating_add(aligned);
        }
    }

    /// Slave write(): one or more replies, each at an aligned offset. A
    /// malformed reply is refused with EINVAL and changes nothing; replies
    /// before it in the same write stay accepted (a short write).
    pub fn slave_write(&self, src: &mut dyn UserIn, len: usize) -> Result<usize> {
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
        let left = len.checked_sub(off).ok_or(Errno::Inval)?;
        if left < K::REP_SIZE {
            return Err(Errno::Inval);
        }
        let mut fixed = [0u8; MAX_FIXED];
        let head = fixed.get_mut(..K::REP_SIZE).ok_or(Errno::Inval)?;
        src.read(off, head)?;
        let rep = K::decode_rep(head);
        let flen = K::rep_hdr(&rep).len as usize;
        if flen < K::REP_SIZE || flen > left {
            return Err(Errno::Inval);
        }
        // flen <= left = len - off, so off + flen does not overflow.
        let dlen = flen.saturating_sub(K::REP_SIZE);
        // Checked before allocating, so a bad length never costs memory.
        let req = self.with(|c| c.check_reply(&rep, dlen))?;
        let mut data = if dlen > 0 { self.with(|c| c.take_buffer(dlen)).unwrap_or_default() } else { Vec::new() };
        if dlen > 0 {
            src.read_vec(off.saturating_add(K::REP_SIZE), dlen, &mut data)
                .map_err(|e| if e == Errno::Overflow { Errno::NoMem } else { e })?;
        }
        // What the data says (a read-ahead run's records) is checked once it
        // is here, outside the lock.
        K::check_data(&req, &rep, &data)?;
        let r = self.with(|c| c.reply(rep, &mut data));
        // On failure the data is still ours; it is freed here, unlocked.
        drop(data);
        r.map(|()| flen)
    }
}

#[cfg(test)]
mod tests {
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
        let lock = ChanLock::new(Chan::<Tape>::new(Limits { ring: 2, window: 4096 }).unwrap(), crate::testing::LOCK);
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
}
