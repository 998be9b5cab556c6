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

use crate::area::{AreaAlloc, Slice};
use crate::errno::{Errno, Result};
use crate::host::HostArea;
use crate::proto::{self, Hdr};

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
    fn check_data(req: &Self::Req, rep: &Self::Rep, data: Data<'_>) -> Result<()> {
        let _ = (req, rep, data);
        Ok(())
    }

    /// Marks a request whose payload is in the data area at `s`. Kinds that
    /// do not use the area never get one.
    fn set_area(req: &mut Self::Req, s: Slice) {
        let _ = (req, s);
    }

    /// Bytes of data a reply says it put in the data area.
    fn area_reply_len(rep: &Self::Rep) -> usize {
        let _ = rep;
        0
    }
}

/// Where a reply's data is: in the frame, or in the unit's data area.
#[derive(Clone, Copy, Debug)]
pub enum Data<'a> {
    /// Bytes that came with the frame.
    Frame(&'a [u8]),
    /// A slice of the data area, read through the host.
    Area(&'a HostArea, Slice),
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
    /// The request's slice of the data area, if its payload is there: the
    /// write data, or where the daemon puts what it reads.
    pub area: Option<Slice>,
    /// Bytes the reply put in the area slice.
    pub area_len: usize,
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

    /// The area slice holding the reply's data, if the request had one.
    pub fn area_data(&self) -> Option<Slice> {
        self.area.map(|s| s.head(self.area_len))
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
    /// Slices of the data area, when the daemon has mapped one.
    area: AreaAlloc,
}

/// Slices of the area beyond the ring's requests (read-ahead runs kept after
/// their replies, a write being copied in).
const AREA_SLICES_EXTRA: usize = 16;

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
        let area = AreaAlloc::new(lim.ring.saturating_add(AREA_SLICES_EXTRA))?;
        Ok(Chan { slave: false, gen: 0, next_id: 1, ring, lim, done: 0, sent: 0, held: 0, pool, pool_bytes: 0, area })
    }

    /// The daemon mapped a data area of `size` bytes (0: it has none, or
    /// its mapping went): slices of an earlier mapping are forgotten.
    pub fn map_area(&mut self, size: usize) {
        self.area.map(size);
    }

    /// The data area's size (0: payloads travel in the frames).
    pub fn area_size(&self) -> usize {
        self.area.size()
    }

    /// True if a write of `len` bytes fits now: in the data area when it
    /// can hold it, otherwise in the window.
    pub fn has_room(&self, len: usize) -> bool {
        if len > 0 && self.area.size() >= len {
            self.has_area_space(len)
        } else {
            self.has_space(len)
        }
    }

    /// True if a request of `len` bytes in the area fits now: a free ring
    /// slot and room in the area.
    pub fn has_area_space(&self, len: usize) -> bool {
        self.ring.len() < self.lim.ring && self.area.fits(len)
    }

    /// Takes `len` bytes of the area, if they fit now.
    pub fn take_area(&mut self, len: usize) -> Option<Slice> {
        self.area.take(len)
    }

    /// Gives a slice back to the area.
    pub fn release_area(&mut self, s: Slice) {
        self.area.release(s);
    }

    /// True if `s` belongs to the daemon's current mapping.
    pub fn area_current(&self, s: &Slice) -> bool {
        self.area.current(s)
    }

    /// Bytes of the area held by slices.
    pub fn area_held(&self) -> usize {
        self.area.held()
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
        // The daemon's mapping goes with it.
        self.area.map(0);
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

    /// Queues a request whose payload is (or will be put by the daemon) in
    /// the data area at `s`, a slice taken with [`Chan::take_area`].
    pub fn submit_in_area(&mut self, mut req: K::Req, s: Slice, kind: Kind) -> Result<u64> {
        if !self.area.current(&s) {
            return Err(Errno::Io);
        }
        K::set_area(&mut req, s);
        let id = self.submit(req, &mut Vec::new(), kind)?;
        if let Some(e) = self.ring.back_mut() {
            e.area = Some(s);
        }
        Ok(id)
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
        self.ring.push_back(Entry { req, kind, state: State::Queued, data, area: None, area_len: 0 });
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
    /// ([`Frames::check`]), the data in the frame or, for a request with
    /// an area slice, in the slice. Changes nothing. Returns the request
    /// and the slice holding the reply's data, if in the area.
    pub fn check_reply(&self, rep: &K::Rep, dlen: usize) -> Result<(K::Req, Option<Slice>)> {
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
        let alen = K::area_reply_len(rep);
        match e.area {
            // Data in the slice, within it; none in the frame.
            Some(s) => {
                if dlen != 0 || alen > s.len {
                    return Err(Errno::Inval);
                }
                K::check(&e.req, rep, alen)?;
                Ok((e.req, Some(s.head(alen))))
            }
            None => {
                if alen != 0 {
                    return Err(Errno::Inval);
                }
                K::check(&e.req, rep, dlen)?;
                Ok((e.req, None))
            }
        }
    }

    /// Completes the oldest read request with `rep`. On success the data moves
    /// into the ring; on failure nothing changes and `data` stays with the caller.
    pub fn reply(&mut self, rep: K::Rep, data: &mut Vec<u8>) -> Result<()> {
        let (_, in_area) = self.check_reply(&rep, data.len())?;
        let e = self.ring.get_mut(self.done).ok_or(Errno::Inval)?;
        e.state = State::Done(Outcome::Reply(rep));
        e.area_len = in_area.map_or(0, |s| s.len);
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

mod lock;
pub use lock::ChanLock;

#[cfg(test)]
mod tests;
