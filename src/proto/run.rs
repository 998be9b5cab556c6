//! The framing of a READRUN reply's data: whole records one after the
//! other, each framed as a SIMH image frames it (its length as a 32-bit
//! word in host byte order, the data, a zero pad byte if the length is odd,
//! the length again). Defined here once for everyone who writes or reads a
//! run: the drive daemon and its media encode, the reply boundary checks,
//! the engine's read-ahead decodes.

use alloc::vec::Vec;

use super::MAX_RECORD;
use crate::errno::{Errno, Result};

/// Framing bytes of a record (two length words), not counting the pad byte
/// of an odd length.
pub const OVERHEAD: usize = 8;

/// Bytes a record of `len` bytes takes in a run.
pub const fn frame_len(len: usize) -> usize {
    len.saturating_add(OVERHEAD + (len & 1))
}

/// The record at the start of `b`: its data and the bytes its frame takes.
/// None if the frame is cut short, its two length words differ, or the
/// length is beyond a record's.
pub fn first(b: &[u8]) -> Option<(&[u8], usize)> {
    let word = |at: usize| b.get(at..at.checked_add(4)?).and_then(|w| w.try_into().ok()).map(u32::from_ne_bytes);
    let len = word(0)?;
    if len > MAX_RECORD {
        return None;
    }
    let len = len as usize;
    let frame = frame_len(len);
    if word(frame - 4)? != len as u32 {
        return None;
    }
    Some((b.get(4..4 + len)?, frame))
}

/// The record at the start of a run of `len` bytes that is read through
/// `read(off, dst)` (a run in the data area, which the daemon may change
/// at any time: each call reads the words it needs once): the offset and
/// length of its data, and the bytes its frame takes. None if the frame is
/// cut short, its two length words differ, or the length is beyond a
/// record's.
pub fn first_at(len: usize, read: &mut dyn FnMut(usize, &mut [u8]) -> Result<()>) -> Option<(usize, usize, usize)> {
    let mut w = [0u8; 4];
    if len < OVERHEAD {
        return None;
    }
    read(0, &mut w).ok()?;
    let n = u32::from_ne_bytes(w);
    if n > MAX_RECORD {
        return None;
    }
    let frame = frame_len(n as usize);
    if frame > len {
        return None;
    }
    read(frame - 4, &mut w).ok()?;
    (u32::from_ne_bytes(w) == n).then_some((4, n as usize, frame))
}

/// Counts the records of a run of `len` bytes read through `read` (see
/// [`first_at`]): EINVAL at a malformed frame or an empty record.
pub fn count_at(len: usize, read: &mut dyn FnMut(usize, &mut [u8]) -> Result<()>) -> Result<usize> {
    let (mut off, mut n) = (0usize, 0usize);
    while off < len {
        let rest = len - off;
        let (_, dlen, frame) = first_at(rest, &mut |o, d| read(off + o, d)).ok_or(Errno::Inval)?;
        if dlen == 0 {
            return Err(Errno::Inval);
        }
        off += frame;
        n += 1;
    }
    Ok(n)
}

/// The records of a run, in order; a malformed frame ends the iteration
/// with an error.
pub fn records(b: &[u8]) -> Records<'_> {
    Records { rest: b }
}

/// Iterator over the records of a run (see [`records`]).
#[derive(Clone, Debug)]
pub struct Records<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<&'a [u8]>;

    fn next(&mut self) -> Option<Result<&'a [u8]>> {
        if self.rest.is_empty() {
            return None;
        }
        match first(self.rest) {
            Some((data, frame)) => {
                self.rest = self.rest.get(frame..).unwrap_or_default();
                Some(Ok(data))
            }
            None => {
                self.rest = &[];
                Some(Err(Errno::Inval))
            }
        }
    }
}

/// Appends `data` to `out` as one framed record. ENOMEM if memory is short,
/// EINVAL if it is longer than a record.
pub fn push(out: &mut Vec<u8>, data: &[u8]) -> Result<()> {
    let w = begin(out, data.len())?;
    out.extend_from_slice(data);
    end(out, w);
    Ok(())
}

/// An open frame, between [`begin`] and [`end`]: what lets a producer write
/// a record's data straight into the run (a filter decoding into it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct Open {
    at: usize,
    len: u32,
}

impl Open {
    /// Where the record's data starts in the run.
    pub fn data_at(&self) -> usize {
        self.at + 4
    }
}

/// Starts a frame for a record of `len` bytes: reserves the whole frame
/// and writes the leading length word. The caller appends exactly `len`
/// bytes of data, then calls [`end`] (or truncates to [`Open::start`] to
/// drop it).
pub fn begin(out: &mut Vec<u8>, len: usize) -> Result<Open> {
    let len32 = u32::try_from(len).ok().filter(|&l| l <= MAX_RECORD).ok_or(Errno::Inval)?;
    out.try_reserve(frame_len(len)).map_err(|_| Errno::NoMem)?;
    let at = out.len();
    out.extend_from_slice(&len32.to_ne_bytes());
    Ok(Open { at, len: len32 })
}

impl Open {
    /// Where the frame starts: truncating the run here drops the record.
    pub fn start(&self) -> usize {
        self.at
    }
}

/// Ends a frame started by [`begin`]: the pad byte and the trailing length
/// word. The data appended since must be the length given to `begin`.
pub fn end(out: &mut Vec<u8>, f: Open) {
    if f.len & 1 == 1 {
        out.push(0);
    }
    out.extend_from_slice(&f.len.to_ne_bytes());
}

/// Turns the first `n` framed records of `b[at..]`, each `bs` bytes long
/// (fixed blocks), into the blocks alone, back to back, as a fixed-block
/// READ returns them; returns the length of `b` that holds them
/// (`at + n * bs`). Stops early at a frame that is not a `bs`-byte record.
pub fn unframe_fixed(b: &mut [u8], at: usize, n: usize, bs: usize) -> usize {
    let frame = frame_len(bs);
    let mut done = 0;
    while done < n {
        let src = at + done * frame;
        let ok = b.get(src..).and_then(first).is_some_and(|(d, _)| d.len() == bs);
        if !ok {
            break;
        }
        b.copy_within(src + 4..src + 4 + bs, at + done * bs);
        done += 1;
    }
    at + done * bs
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn round_trip() {
        let mut run = Vec::new();
        for r in [&b"abc"[..], b"", b"0123456789", b"x"] {
            push(&mut run, r).unwrap();
        }
        assert_eq!(run.len(), frame_len(3) + frame_len(0) + frame_len(10) + frame_len(1));
        assert_eq!(frame_len(3), 12);
        let got: Vec<&[u8]> = records(&run).map(|r| r.unwrap()).collect();
        assert_eq!(got, vec![&b"abc"[..], b"", b"0123456789", b"x"]);
        let (d, f) = first(&run).unwrap();
        assert_eq!((d, f), (&b"abc"[..], 12));
    }

    #[test]
    fn malformed_frames_are_refused() {
        let mut run = Vec::new();
        push(&mut run, b"hello").unwrap();
        assert!(first(&run[..run.len() - 1]).is_none(), "cut short");
        let mut bad = run.clone();
        bad[run.len() - 1] ^= 1;
        assert!(first(&bad).is_none(), "lengths differ");
        assert!(records(&bad).next().unwrap().is_err());
        let huge = (MAX_RECORD + 1).to_ne_bytes();
        assert!(first(&huge).is_none());
        assert!(push(&mut Vec::new(), &vec![0; MAX_RECORD as usize + 1]).is_err());
    }

    #[test]
    fn open_frames() {
        let mut run = Vec::new();
        let f = begin(&mut run, 3).unwrap();
        assert_eq!(f.data_at(), 4);
        run.extend_from_slice(b"xyz");
        end(&mut run, f);
        let g = begin(&mut run, 2).unwrap();
        run.truncate(g.start());
        assert_eq!(records(&run).count(), 1);
    }

    #[test]
    fn runs_read_through_a_function() {
        let mut run = Vec::new();
        for r in [&b"abc"[..], b"0123456789", b"x"] {
            push(&mut run, r).unwrap();
        }
        let mut rd = |off: usize, d: &mut [u8]| {
            d.copy_from_slice(run.get(off..off + d.len()).ok_or(Errno::Fault)?);
            Ok(())
        };
        assert_eq!(count_at(run.len(), &mut rd), Ok(3));
        assert_eq!(first_at(run.len(), &mut rd), Some((4, 3, 12)));
        assert_eq!(count_at(run.len() - 1, &mut rd), Err(Errno::Inval), "cut short");
        let mut empty = Vec::new();
        push(&mut empty, b"").unwrap();
        let mut rd0 = |off: usize, d: &mut [u8]| {
            d.copy_from_slice(&empty[off..off + d.len()]);
            Ok(())
        };
        assert_eq!(count_at(empty.len(), &mut rd0), Err(Errno::Inval), "an empty record");
    }

    #[test]
    fn fixed_blocks_unframed_in_place() {
        let mut run = vec![9u8; 2];
        for b in [[1u8; 4], [2; 4], [3; 4]] {
            push(&mut run, &b).unwrap();
        }
        let end = unframe_fixed(&mut run, 2, 3, 4);
        assert_eq!(end, 14);
        assert_eq!(&run[..end], &[9, 9, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
        let mut odd = Vec::new();
        push(&mut odd, &[1; 4]).unwrap();
        push(&mut odd, &[2; 5]).unwrap();
        assert_eq!(unframe_fixed(&mut odd, 0, 2, 4), 4, "stops at a block of another length");
    }
}
