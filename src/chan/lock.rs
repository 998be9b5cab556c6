//! The channel behind the host's lock, and the slave's read and write of
//! frames through it.
#![deny(clippy::arithmetic_side_effects)]

use alloc::vec::Vec;
use core::fmt;

use super::{Chan, Data, Frames, Next, MAX_FIXED};
use crate::errno::{Errno, Result};
use crate::host::{HostArea, HostLock, UserIn, UserOut};
use crate::proto::{self, FRAME_ALIGN};

/// The channel behind the host's lock. Nothing under it may sleep: in a
/// kernel the host's lock is a spinlock (Linux) or a kmutex (NetBSD) the
/// lock checkers see. Inside it the channel sits in a `spin` mutex that
/// only gives safe access to the state: the host's lock already excludes
/// every other holder, so it never spins.
pub struct ChanLock<K: Frames> {
    host: HostLock,
    area: HostArea,
    chan: spin::mutex::SpinMutex<Chan<K>>,
}

impl<K: Frames> fmt::Debug for ChanLock<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChanLock").finish_non_exhaustive()
    }
}

impl<K: Frames> ChanLock<K> {
    /// Wraps a channel behind the host's lock, with the host's data area.
    pub fn new(chan: Chan<K>, host: HostLock, area: HostArea) -> ChanLock<K> {
        ChanLock { host, area, chan: spin::mutex::SpinMutex::new(chan) }
    }

    /// The host's data area (copies in and out of it).
    pub fn area(&self) -> &HostArea {
        &self.area
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
        let (req, in_area) = self.with(|c| c.check_reply(&rep, dlen))?;
        let mut data = if dlen > 0 { self.with(|c| c.take_buffer(dlen)).unwrap_or_default() } else { Vec::new() };
        if dlen > 0 {
            src.read_vec(off.saturating_add(K::REP_SIZE), dlen, &mut data)
                .map_err(|e| if e == Errno::Overflow { Errno::NoMem } else { e })?;
        }
        // What the data says (a read-ahead run's records) is checked once it
        // is here, outside the lock.
        let what = match in_area {
            Some(s) => Data::Area(&self.area, s),
            None => Data::Frame(&data),
        };
        K::check_data(&req, &rep, what)?;
        let r = self.with(|c| c.reply(rep, &mut data));
        // On failure the data is still ours; it is freed here, unlocked.
        drop(data);
        r.map(|()| flen)
    }
}
