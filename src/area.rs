//! Where payloads go in a unit's data area: a ring of contiguous slices,
//! allocated as requests are queued and released as their data is done
//! with. Requests complete in order, so slices are released almost always
//! in the order they were taken; one released early is kept until those
//! before it go, so the ring stays contiguous. Runs under the channel lock:
//! the list of slices is reserved when the area is mapped and never grows
//! past it.
#![deny(clippy::arithmetic_side_effects)]

use alloc::collections::VecDeque;

use crate::errno::{Errno, Result};

/// A slice of the area: `len` bytes at `off`, taken while the daemon's
/// mapping `epoch` was the area's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slice {
    /// Offset in the area.
    pub off: usize,
    /// Bytes.
    pub len: usize,
    /// The mapping it belongs to.
    pub epoch: u32,
}

impl Slice {
    /// The first `n` bytes of the slice (at most its length).
    pub fn head(&self, n: usize) -> Slice {
        Slice { len: n.min(self.len), ..*self }
    }

    /// The slice from `n` bytes on (empty past its end).
    pub fn from(&self, n: usize) -> Slice {
        let n = n.min(self.len);
        Slice { off: self.off.saturating_add(n), len: self.len.saturating_sub(n), epoch: self.epoch }
    }
}

#[derive(Clone, Copy, Debug)]
struct Taken {
    slice: Slice,
    released: bool,
}

/// The allocator. An area of size 0 is no area: nothing is allocated.
#[derive(Debug, Default)]
pub struct AreaAlloc {
    size: usize,
    head: usize,
    taken: VecDeque<Taken>,
    bytes: usize,
    epoch: u32,
}

impl AreaAlloc {
    /// An allocator holding at most `slices` slices at once, with no area
    /// yet. ENOMEM if the list cannot be reserved.
    pub fn new(slices: usize) -> Result<AreaAlloc> {
        let mut taken = VecDeque::new();
        taken.try_reserve_exact(slices).map_err(|_| Errno::NoMem)?;
        Ok(AreaAlloc { size: 0, head: 0, taken, bytes: 0, epoch: 0 })
    }

    /// The daemon mapped an area of `size` bytes (0: it has none): every
    /// slice of an earlier mapping is forgotten.
    pub fn map(&mut self, size: usize) {
        self.taken.clear();
        self.head = 0;
        self.bytes = 0;
        self.size = size;
        self.epoch = self.epoch.wrapping_add(1);
    }

    /// The area's size (0: none).
    pub fn size(&self) -> usize {
        self.size
    }

    /// True if `s` is a slice of the current mapping.
    pub fn current(&self, s: &Slice) -> bool {
        s.epoch == self.epoch && self.size > 0
    }

    /// Bytes held by slices not yet released.
    pub fn held(&self) -> usize {
        self.bytes
    }

    /// The oldest slice still held: where the free space ends.
    fn tail(&self) -> Option<usize> {
        self.taken.front().map(|t| t.slice.off)
    }

    /// Where `len` bytes would go now, if they fit.
    fn place(&self, len: usize) -> Option<usize> {
        if len == 0 || len > self.size || self.taken.len() >= self.taken.capacity() {
            return None;
        }
        let Some(tail) = self.tail() else {
            return Some(0);
        };
        if self.head > tail {
            // Free: [head, size) and [0, tail).
            if self.size.checked_sub(self.head)? >= len {
                return Some(self.head);
            }
            (tail >= len).then_some(0)
        } else {
            // Wrapped (or exactly full): free [head, tail).
            (tail.checked_sub(self.head)? >= len && self.head != tail).then_some(self.head)
        }
    }

    /// True if `len` bytes would fit now.
    pub fn fits(&self, len: usize) -> bool {
        self.place(len).is_some()
    }

    /// Takes `len` contiguous bytes, if they fit now.
    pub fn take(&mut self, len: usize) -> Option<Slice> {
        let off = self.place(len)?;
        let slice = Slice { off, len, epoch: self.epoch };
        // Cannot grow: place() checked the reserved capacity.
        self.taken.push_back(Taken { slice, released: false });
        self.head = off.checked_add(len)?;
        self.bytes = self.bytes.saturating_add(len);
        Some(slice)
    }

    /// Releases `slice` (ignored if it is not held: released twice, or
    /// from an area mapped before).
    pub fn release(&mut self, slice: Slice) {
        if let Some(t) = self.taken.iter_mut().find(|t| t.slice == slice && !t.released) {
            t.released = true;
            self.bytes = self.bytes.saturating_sub(slice.len);
        }
        while self.taken.front().is_some_and(|t| t.released) {
            self.taken.pop_front();
        }
        if self.taken.is_empty() {
            self.head = 0;
        }
    }

}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ring_of_slices() {
        let mut a = AreaAlloc::new(8).unwrap();
        a.map(100);
        let s1 = a.take(40).unwrap();
        let s2 = a.take(40).unwrap();
        assert_eq!((s1.off, s2.off), (0, 40));
        assert!(a.take(21).is_none(), "20 bytes left at the end");
        a.release(s1);
        // Wraps to the start: [0, 40) is free again.
        let s3 = a.take(30).unwrap();
        assert_eq!(s3.off, 0);
        assert!(a.take(11).is_none(), "10 bytes between head and tail");
        let s4 = a.take(10).unwrap();
        assert_eq!(s4.off, 30);
        assert!(!a.fits(1), "full");
        // Released out of order: held until the older one goes.
        a.release(s3);
        assert!(!a.fits(1));
        a.release(s2);
        assert_eq!(a.held(), 10);
        assert!(a.fits(60) && !a.fits(61));
        a.release(s4);
        assert_eq!(a.held(), 0);
        assert_eq!(a.take(100).unwrap().off, 0, "empty: from the start");
    }

    #[test]
    fn bounds() {
        let mut a = AreaAlloc::new(2).unwrap();
        a.map(64);
        assert!(a.take(0).is_none() && a.take(65).is_none());
        let x = a.take(1).unwrap();
        let _y = a.take(1).unwrap();
        assert!(a.take(1).is_none(), "no more slices than reserved");
        a.release(x);
        a.release(x);
        assert_eq!(a.held(), 1, "released twice counts once");
        let none = AreaAlloc::default();
        assert!(!none.fits(1), "no area");
        a.map(64);
        assert!(!a.current(&x), "a slice of the earlier mapping");
        assert_eq!(a.held(), 0);
    }
}
