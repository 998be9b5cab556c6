//! The index of an image: every object (offset and length) and, apart, the
//! positions of the tape marks, with the position on the tape. Spacing over
//! files or records, locating and going to the end of data are binary
//! searches in it, never a pass over the image, whatever store holds the
//! bytes.

use super::simh::Obj;
use crate::media::Stop;

/// The objects of a loaded image and the position among them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Index {
    objs: Vec<Obj>,
    /// Indices in `objs` of the tape marks, ascending.
    marks: Vec<usize>,
    /// Offset just past the last object: where the next object goes.
    end: u64,
    /// Position: index of the next object (0 = beginning of tape).
    pos: usize,
}

impl Index {
    /// The index of `objs` (in order, each after the one before), which end
    /// at `end`; the position at the beginning of tape.
    pub fn new(objs: Vec<Obj>, end: u64) -> Index {
        let marks = objs.iter().enumerate().filter(|(_, o)| o.is_mark()).map(|(i, _)| i).collect();
        Index { objs, marks, end, pos: 0 }
    }

    /// All objects.
    pub fn objs(&self) -> &[Obj] {
        &self.objs
    }

    /// Number of objects (records and marks).
    pub fn len(&self) -> usize {
        self.objs.len()
    }

    /// True if nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.objs.is_empty()
    }

    /// Offset just past the last object.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// The position: index of the next object.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Moves to object `p` (clamped to the end of data).
    pub fn set_pos(&mut self, p: usize) {
        self.pos = p.min(self.objs.len());
    }

    /// True at the end of data.
    pub fn at_eod(&self) -> bool {
        self.pos == self.objs.len()
    }

    /// The object at index `p`.
    pub fn obj(&self, p: usize) -> Option<Obj> {
        self.objs.get(p).copied()
    }

    /// Image offset of object `p` (the end of data for `p == len`).
    pub fn offset_of(&self, p: usize) -> u64 {
        self.objs.get(p).map_or(self.end, |o| o.off)
    }

    /// Image offset of the position.
    pub fn here(&self) -> u64 {
        self.offset_of(self.pos)
    }

    /// Index in `marks` of the first mark at or after object `p`.
    fn marks_from(&self, p: usize) -> usize {
        self.marks.partition_point(|&m| m < p)
    }

    /// Spaces over `n` tape marks: forward (after the last one crossed),
    /// stopping at the end of data; backward (before the last one crossed),
    /// stopping at the beginning of tape. Returns the marks crossed.
    pub fn space_marks(&mut self, n: i64) -> (u64, Stop) {
        let want = n.unsigned_abs();
        if want == 0 {
            return (0, Stop::Done);
        }
        let k = self.marks_from(self.pos);
        if n > 0 {
            let ahead = (self.marks.len() - k) as u64;
            if want <= ahead {
                let m = self.marks.get(k + want as usize - 1).copied().unwrap_or(self.objs.len());
                self.pos = m + 1;
                (want, Stop::Done)
            } else {
                self.pos = self.objs.len();
                (ahead, Stop::Eod)
            }
        } else {
            let behind = k as u64;
            if want <= behind {
                self.pos = self.marks.get((behind - want) as usize).copied().unwrap_or(0);
                (want, Stop::Done)
            } else {
                self.pos = 0;
                (behind, Stop::Bot)
            }
        }
    }

    /// Spaces over `n` records, forward or backward. A tape mark stops it,
    /// crossed as SCSI spacing does (forward: the position is after it;
    /// backward: before it); so do the end of data and the beginning of
    /// tape. Returns the records crossed.
    pub fn space_records(&mut self, n: i64) -> (u64, Stop) {
        let want = n.unsigned_abs();
        let k = self.marks_from(self.pos);
        if n >= 0 {
            let next_mark = self.marks.get(k).copied();
            let limit = next_mark.unwrap_or(self.objs.len());
            let avail = (limit - self.pos) as u64;
            if want <= avail {
                self.pos += want as usize;
                return (want, Stop::Done);
            }
            match next_mark {
                Some(m) => {
                    self.pos = m + 1;
                    (avail, Stop::Mark)
                }
                None => {
                    self.pos = limit;
                    (avail, Stop::Eod)
                }
            }
        } else {
            let prev_mark = k.checked_sub(1).and_then(|i| self.marks.get(i).copied());
            let floor = prev_mark.map_or(0, |m| m + 1);
            let avail = (self.pos - floor) as u64;
            if want <= avail {
                self.pos -= want as usize;
                return (want, Stop::Done);
            }
            match prev_mark {
                Some(m) => {
                    self.pos = m;
                    (avail, Stop::Mark)
                }
                None => {
                    self.pos = 0;
                    (avail, Stop::Bot)
                }
            }
        }
    }

    /// Goes to object `addr`; past the end of data it stops there.
    pub fn locate(&mut self, addr: u64) -> Stop {
        match usize::try_from(addr) {
            Ok(a) if a <= self.objs.len() => {
                self.pos = a;
                Stop::Done
            }
            _ => {
                self.pos = self.objs.len();
                Stop::Eod
            }
        }
    }

    /// Cuts off everything from the position on (a write or an erase
    /// there); returns the offset the data now ends at.
    pub fn cut(&mut self) -> u64 {
        let off = self.here();
        self.objs.truncate(self.pos);
        let keep = self.marks_from(self.pos);
        self.marks.truncate(keep);
        self.end = off;
        off
    }

    /// Appends an object of `len` bytes (0: a tape mark) at the end of data
    /// and moves past it.
    pub fn push(&mut self, len: u32) {
        let o = Obj { off: self.end, len, bad: false };
        if o.is_mark() {
            self.marks.push(self.objs.len());
        }
        self.end = o.end();
        self.objs.push(o);
        self.pos = self.objs.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// R R M R R M ... : `files` files of `recs` records.
    fn index(files: usize, recs: usize) -> Index {
        let mut i = Index::default();
        for _ in 0..files {
            for _ in 0..recs {
                i.push(33);
            }
            i.push(0);
        }
        i.push(0);
        i
    }

    #[test]
    fn spacing_over_marks_and_records() {
        let mut t = index(5, 3); // objects: 4 per file, then a mark
        assert_eq!(t.len(), 21);
        t.set_pos(0);
        assert_eq!(t.space_marks(2), (2, Stop::Done));
        assert_eq!(t.pos(), 8);
        assert_eq!(t.space_records(2), (2, Stop::Done));
        assert_eq!(t.pos(), 10);
        assert_eq!(t.space_records(5), (1, Stop::Mark));
        assert_eq!(t.pos(), 12);
        assert_eq!(t.space_records(-1), (0, Stop::Mark));
        assert_eq!(t.pos(), 11, "before the mark");
        assert_eq!(t.space_records(-10), (3, Stop::Mark));
        assert_eq!(t.pos(), 7);
        // Just before the mark ending file 1: one mark back is the mark
        // ending file 0, and the position is before it.
        assert_eq!(t.space_marks(-1), (1, Stop::Done));
        assert_eq!(t.pos(), 3);
        t.set_pos(9);
        assert_eq!(t.space_marks(-1), (1, Stop::Done));
        assert_eq!(t.pos(), 7, "before the mark ending file 1");
        assert_eq!(t.space_marks(-9), (1, Stop::Bot));
        assert_eq!(t.pos(), 0);
        assert_eq!(t.space_records(-1), (0, Stop::Bot));
        assert_eq!(t.space_marks(100), (6, Stop::Eod));
        assert_eq!(t.pos(), 21);
        assert_eq!(t.space_records(1), (0, Stop::Eod));
        assert_eq!(t.locate(3), Stop::Done);
        assert_eq!(t.locate(99), Stop::Eod);
        assert!(t.at_eod());
    }

    #[test]
    fn cut_and_push_keep_offsets_and_marks() {
        let mut t = index(2, 1); // R M R M M: offsets 0, 42, 46, 88, 92
        assert_eq!(t.end(), 96);
        t.set_pos(2);
        assert_eq!(t.cut(), 46);
        assert_eq!((t.len(), t.end()), (2, 46));
        t.push(0);
        assert_eq!(t.obj(2), Some(Obj { off: 46, len: 0, bad: false }));
        t.set_pos(0);
        assert_eq!(t.space_marks(5), (2, Stop::Eod));
    }
}
