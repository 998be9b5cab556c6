//! A SIMH .tap image as a [`Medium`]: the image store of [`crate::tap`]
//! (index, sidecar, crash recovery, cut on overwrite) plus what makes it a
//! volume of a given size: its capacity and early-warning zone.
//!
//! Capacity is counted in image bytes. A record that would pass the end is
//! refused whole ([`MediumError::Overflow`]) so that no record is split
//! between volumes; tape marks may use [`FILEMARK_RESERVE`] bytes past the
//! capacity, as a drive keeps room to close a file, so a volume always ends
//! with its tape mark. Early warning is a zone before the end where writes
//! still succeed but report it.

use std::path::{Path, PathBuf};

use crate::medium::{Medium, MediumError, Object, Room, Stop, Written};
use crate::tap::{Indexed, Scan, Tape, LEN_MASK};

/// Image bytes past the capacity that only tape marks may use, as a drive
/// keeps room to close a file at the end of medium: a volume always ends
/// with its tape mark.
pub const FILEMARK_RESERVE: u64 = 64;

/// The size of an image volume and how it is loaded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TapOptions {
    /// Bytes of image per volume, if limited.
    pub capacity: Option<u64>,
    /// Size of the early-warning zone before the end of a limited volume.
    pub early_warning: u64,
    /// Load the volume write protected.
    pub read_only: bool,
}

impl TapOptions {
    /// Checks that the options make sense together.
    pub fn check(&self) -> Result<(), String> {
        if let Some(c) = self.capacity {
            if self.early_warning >= c {
                return Err(format!(
                    "the early-warning zone ({}) must be smaller than the capacity ({c})",
                    self.early_warning
                ));
            }
        }
        Ok(())
    }
}

/// A loaded image volume.
#[derive(Debug)]
pub struct TapMedium {
    tape: Tape,
    capacity: Option<u64>,
    early_warning: u64,
}

/// Image bytes a record of `len` bytes takes: two length words and the
/// data padded to an even count.
pub fn record_size(len: usize) -> u64 {
    8 + len as u64 + (len as u64 & 1)
}

impl TapMedium {
    /// Opens (creating it if missing and writable) and indexes an image. A
    /// file without write permission is a write-protected volume. Also
    /// returns what the scan found and how the image was indexed.
    pub fn open(path: &Path, opts: &TapOptions) -> Result<(TapMedium, Scan, Indexed), MediumError> {
        let (tape, scan, how) = Tape::open(path, opts.read_only)?;
        Ok((TapMedium { tape, capacity: opts.capacity, early_warning: opts.early_warning }, scan, how))
    }

    /// The image store.
    pub fn tape(&self) -> &Tape {
        &self.tape
    }

    /// The image path.
    pub fn path(&self) -> &Path {
        self.tape.path()
    }

    /// The image path, owned.
    pub fn path_buf(&self) -> PathBuf {
        self.tape.path().to_path_buf()
    }

    /// The image offset of the position.
    fn here(&self) -> u64 {
        self.tape.offset_of(self.tape.pos())
    }

    fn ew_offset(&self) -> Option<u64> {
        self.capacity.map(|c| c.saturating_sub(self.early_warning))
    }

    /// Whether an object of `size` image bytes fits (with `reserve` bytes
    /// allowed past the capacity) and whether it ends past early warning.
    fn fits(&self, size: u64, reserve: u64) -> (bool, bool) {
        let after = self.here() + size;
        let fits = self.capacity.is_none_or(|c| after <= c + reserve);
        let ew = self.ew_offset().is_some_and(|e| after > e) || self.capacity.is_some_and(|c| after > c);
        (fits, ew)
    }

    fn protected(&self) -> MediumError {
        MediumError::Protected { medium: self.name() }
    }
}

impl Medium for TapMedium {
    fn name(&self) -> String {
        self.tape.path().display().to_string()
    }

    fn readonly(&self) -> bool {
        self.tape.readonly()
    }

    fn position(&self) -> u64 {
        self.tape.pos() as u64
    }

    fn at_eod(&self) -> Option<bool> {
        Some(self.tape.pos() == self.tape.len())
    }

    fn room(&self) -> Room {
        let here = self.here();
        Room {
            to_ew: self.ew_offset().map(|e| e.saturating_sub(here)),
            to_end: self.capacity.map(|c| c.saturating_sub(here)),
        }
    }

    fn write_record(&mut self, data: &[u8]) -> Result<Written, MediumError> {
        if self.readonly() {
            return Err(self.protected());
        }
        if data.is_empty() || data.len() > LEN_MASK as usize {
            return Err(MediumError::Unsupported {
                medium: self.name(),
                what: format!("a record of {} bytes (1 to {LEN_MASK})", data.len()),
            });
        }
        let (fits, ew) = self.fits(record_size(data.len()), 0);
        if !fits {
            return Err(MediumError::Overflow { medium: self.name() });
        }
        self.tape.write_record(data)?;
        Ok(Written { early_warning: ew })
    }

    /// Records that fit go to the image in stretches, one pwritev each;
    /// each record's result is what `write_record` would have given.
    fn write_records(&mut self, records: &[&[u8]]) -> Vec<Result<Written, MediumError>> {
        let mut results = Vec::with_capacity(records.len());
        let mut i = 0;
        while i < records.len() {
            // The stretch records[i..j] fits, each checked where it will land.
            let mut j = i;
            let mut after = self.here();
            let mut ews = Vec::new();
            while let Some(d) = records.get(j) {
                if self.readonly() || d.is_empty() || d.len() > LEN_MASK as usize {
                    break;
                }
                let end = after + record_size(d.len());
                if self.capacity.is_some_and(|c| end > c) {
                    break;
                }
                ews.push(self.ew_offset().is_some_and(|e| end > e));
                after = end;
                j += 1;
            }
            if j == i {
                // This one is refused as write_record refuses it.
                results.push(self.write_record(records[i]));
                i += 1;
                continue;
            }
            match self.tape.write_records(&records[i..j]) {
                Ok(()) => results.extend(ews.into_iter().map(|early_warning| Ok(Written { early_warning }))),
                Err(e) => {
                    let e: MediumError = e.into();
                    for _ in i..j {
                        results.push(Err(MediumError::io(self.name(), std::io::Error::other(e.to_string()))));
                    }
                }
            }
            i = j;
        }
        results
    }

    fn write_mark(&mut self) -> Result<Written, MediumError> {
        if self.readonly() {
            return Err(self.protected());
        }
        let (fits, ew) = self.fits(4, FILEMARK_RESERVE);
        if !fits {
            return Err(MediumError::Overflow { medium: self.name() });
        }
        self.tape.write_mark()?;
        Ok(Written { early_warning: ew })
    }

    /// A run of records straight from the image: they are already framed
    /// as a READRUN reply frames them (on a little-endian host), so they go
    /// from the file into the reply with one pread per stretch. Each
    /// record's framing is checked again as it arrives: an image changed
    /// under pmtd ends the run before the record, never a bad reply.
    fn read_run(&mut self, out: &mut Vec<u8>, count: usize, budget: usize, exact: Option<usize>) -> Result<usize, MediumError> {
        let t = &mut self.tape;
        let from = t.pos();
        let (mut n, mut used) = (0usize, 0usize);
        while n < count {
            let Some(o) = t.obj(from + n) else { break };
            let size = o.size() as usize;
            if o.is_mark() || o.bad || exact.is_some_and(|e| e != o.len as usize) || used + size > budget {
                break;
            }
            used += size;
            n += 1;
        }
        if n == 0 {
            return Ok(0);
        }
        let mark = out.len();
        t.read_framed(from, from + n, out)?;
        let mut off = mark;
        let mut good = 0;
        while good < n {
            let want = t.obj(from + good).map_or(0, |o| o.len);
            let word = |at: usize| out.get(at..at + 4).and_then(|w| w.try_into().ok()).map(u32::from_le_bytes);
            let frame = pmt::proto::run::frame_len(want as usize);
            if word(off) != Some(want) || word(off + frame - 4) != Some(want) {
                break;
            }
            if cfg!(target_endian = "big") {
                // The reply frames in host order; the image in little endian.
                let be = want.to_ne_bytes();
                out[off..off + 4].copy_from_slice(&be);
                out[off + frame - 4..off + frame].copy_from_slice(&be);
            }
            off += frame;
            good += 1;
        }
        out.truncate(off);
        t.set_pos(from + good);
        Ok(good)
    }

    fn read(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<Object, MediumError> {
        let t = &mut self.tape;
        let Some(o) = t.obj(t.pos()) else {
            return Ok(Object::Eod);
        };
        t.set_pos(t.pos() + 1);
        if o.is_mark() {
            return Ok(Object::Mark);
        }
        if o.bad {
            return Ok(Object::Bad);
        }
        let at = buf.len();
        if let Err(e) = t.append_data(&o, max, buf) {
            buf.truncate(at);
            return Err(e.into());
        }
        Ok(Object::Record(o.len as usize))
    }

    fn space_records(&mut self, n: i64) -> Result<(u64, Stop), MediumError> {
        Ok(if n >= 0 {
            self.tape.space_records_forward(n.unsigned_abs())
        } else {
            self.tape.space_records_backward(n.unsigned_abs())
        })
    }

    fn space_marks(&mut self, n: i64) -> Result<(u64, Stop), MediumError> {
        Ok(if n >= 0 {
            self.tape.space_marks_forward(n.unsigned_abs())
        } else {
            self.tape.space_marks_backward(n.unsigned_abs())
        })
    }

    fn space_eod(&mut self) -> Result<(), MediumError> {
        self.tape.set_pos(self.tape.len());
        Ok(())
    }

    fn rewind(&mut self) -> Result<(), MediumError> {
        self.tape.set_pos(0);
        Ok(())
    }

    fn locate(&mut self, addr: u64) -> Result<Stop, MediumError> {
        match usize::try_from(addr) {
            Ok(a) if a <= self.tape.len() => {
                self.tape.set_pos(a);
                Ok(Stop::Done)
            }
            _ => {
                self.tape.set_pos(self.tape.len());
                Ok(Stop::Eod)
            }
        }
    }

    fn erase(&mut self) -> Result<(), MediumError> {
        if self.readonly() {
            return Err(self.protected());
        }
        Ok(self.tape.erase()?)
    }

    fn sync(&mut self) -> Result<(), MediumError> {
        Ok(self.tape.sync()?)
    }

    fn undo_last(&mut self) -> Result<(), MediumError> {
        let p = self.tape.pos();
        if p == 0 {
            return Ok(());
        }
        self.tape.set_pos(p - 1);
        if self.readonly() {
            return Ok(());
        }
        Ok(self.tape.erase()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &Path, capacity: Option<u64>, early_warning: u64) -> TapMedium {
        let opts = TapOptions { capacity, early_warning, read_only: false };
        TapMedium::open(&dir.join("m.tap"), &opts).unwrap().0
    }

    #[test]
    fn room_early_warning_and_overflow_count_image_bytes() {
        let dir = tempfile::tempdir().unwrap();
        // 1000 bytes, early warning 300 bytes before the end.
        let mut m = open(dir.path(), Some(1000), 300);
        assert_eq!(m.room(), Room { to_ew: Some(700), to_end: Some(1000) });
        // 100-byte records take 108 bytes of image.
        for i in 0..6 {
            assert_eq!(m.write_record(&[i; 100]).unwrap(), Written { early_warning: false }, "record {i}");
        }
        assert_eq!(m.room(), Room { to_ew: Some(700 - 648), to_end: Some(1000 - 648) });
        // The 7th ends at 756, past early warning at 700.
        assert_eq!(m.write_record(&[7; 100]).unwrap(), Written { early_warning: true });
        assert_eq!(m.room().to_ew, Some(0));
        assert_eq!(m.write_record(&[8; 100]).unwrap(), Written { early_warning: true });
        // 864 used: a 200-byte record (208) would pass 1000: refused whole.
        assert!(m.write_record(&[9; 200]).unwrap_err().is_overflow());
        assert_eq!(m.tape().len(), 8, "nothing of the refused record was stored");
        // Odd lengths are padded: 127 bytes take 136, ending at exactly 1000.
        assert_eq!(m.write_record(&[1; 127]).unwrap(), Written { early_warning: true });
        assert_eq!(m.room(), Room { to_ew: Some(0), to_end: Some(0) });
        assert!(m.write_record(&[1]).unwrap_err().is_overflow());
        // Tape marks may use the reserve past the end.
        for _ in 0..16 {
            m.write_mark().unwrap();
        }
        assert!(m.write_mark().unwrap_err().is_overflow(), "the reserve is 64 bytes: 16 marks");
        let len = std::fs::metadata(m.path()).unwrap().len();
        assert_eq!(len, 1000 + FILEMARK_RESERVE);
    }

    #[test]
    fn reads_spacing_and_locate() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = open(dir.path(), None, 0);
        assert_eq!(m.room(), Room::UNKNOWN);
        m.write_record(b"hello").unwrap();
        m.write_record(b"world!").unwrap();
        m.write_mark().unwrap();
        m.write_record(b"x").unwrap();
        m.rewind().unwrap();
        assert!(m.at_bot());
        let mut buf = Vec::new();
        assert_eq!(m.read(&mut buf, 3).unwrap(), Object::Record(5));
        assert_eq!(buf, b"hel");
        buf.clear();
        assert_eq!(m.read(&mut buf, 100).unwrap(), Object::Record(6));
        assert_eq!(buf, b"world!");
        assert_eq!(m.read(&mut buf, 100).unwrap(), Object::Mark);
        assert_eq!(m.space_records(5).unwrap(), (1, Stop::Eod));
        assert_eq!(m.at_eod(), Some(true));
        assert_eq!(m.read(&mut buf, 100).unwrap(), Object::Eod);
        assert_eq!(m.position(), 4, "the end of data does not move");
        assert_eq!(m.space_records(-5).unwrap(), (1, Stop::Mark));
        assert_eq!(m.position(), 2, "before the mark");
        assert_eq!(m.space_marks(-1).unwrap(), (0, Stop::Bot), "no mark before this one");
        assert_eq!(m.space_marks(1).unwrap(), (1, Stop::Done));
        assert_eq!(m.position(), 3);
        assert_eq!(m.space_marks(-1).unwrap(), (1, Stop::Done));
        assert_eq!(m.position(), 2, "before the mark crossed");
        m.space_marks(1).unwrap();
        assert_eq!(m.locate(1).unwrap(), Stop::Done);
        assert_eq!(m.locate(4).unwrap(), Stop::Done, "the end of data is a position");
        assert_eq!(m.locate(9).unwrap(), Stop::Eod);
        assert_eq!(m.position(), 4);
    }

    #[test]
    fn undo_last_cuts_the_image_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = open(dir.path(), None, 0);
        m.write_record(b"keep").unwrap();
        let keep = std::fs::metadata(m.path()).unwrap().len();
        m.write_record(b"take back").unwrap();
        m.undo_last().unwrap();
        assert_eq!(m.position(), 1);
        assert_eq!(m.at_eod(), Some(true));
        assert_eq!(std::fs::metadata(m.path()).unwrap().len(), keep);
        m.write_mark().unwrap();
        m.undo_last().unwrap();
        assert_eq!(m.tape().len(), 1);
    }

    #[test]
    fn write_protected_volume_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        open(dir.path(), None, 0).write_record(b"data").unwrap();
        let opts = TapOptions { read_only: true, ..TapOptions::default() };
        let (mut m, _, _) = TapMedium::open(&dir.path().join("m.tap"), &opts).unwrap();
        assert!(m.readonly());
        assert!(matches!(m.write_record(b"x"), Err(MediumError::Protected { .. })));
        assert!(matches!(m.write_mark(), Err(MediumError::Protected { .. })));
        assert!(matches!(m.erase(), Err(MediumError::Protected { .. })));
        let mut buf = Vec::new();
        assert_eq!(m.read(&mut buf, 10).unwrap(), Object::Record(4));
    }
}
