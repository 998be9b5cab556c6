//! SIMH .tap images as a [`Medium`]: one medium ([`ImageMedium`]) over a
//! byte [`Store`], a local file ([`FileStore`], `tap:`) or a file on
//! another host over rmt ([`RmtStore`], `rmt-tap:`).
//!
//! The medium keeps the [`Index`] of every object and of every tape mark,
//! so spacing over files, locating and going to the end of data cost a
//! binary search, not a pass over the image; the local store persists it
//! beside the image ([`sidecar`]) so that a large image opens without being
//! read through. A damaged tail (a record cut short, a length that does not
//! match) ends the tape at the last complete object ([`mod@scan`]): everything
//! before it reads back intact, and the next write replaces the damaged
//! tail. Writing in the middle of the tape cuts off what follows, as on a
//! real tape.
//!
//! Capacity is counted in image bytes. A record that would pass the end is
//! refused whole ([`MediumError::Overflow`]) so that no record is split
//! between volumes; tape marks may use [`FILEMARK_RESERVE`] bytes past the
//! capacity, as a drive keeps room to close a file, so a volume always ends
//! with its tape mark. Early warning is a zone before the end where writes
//! still succeed but report it.

pub mod file;
pub mod index;
pub mod remote;
pub mod scan;
pub mod sidecar;
pub mod simh;
pub mod store;
#[cfg(test)]
mod tests;

use std::io;
use std::path::Path;

use pmt::proto::run;

pub use file::FileStore;
pub use index::Index;
pub use remote::RmtStore;
pub use scan::{scan, scan_from, Scan};
pub use simh::{record_size, Obj, LEN_MASK, MARK};
pub use store::{Indexed, Loaded, Store};

use crate::media::rmt::Remote;
use crate::media::{Medium, MediumError, Object, Room, Stop, Written};

/// Image bytes past the capacity that only tape marks may use, as a drive
/// keeps room to close a file at the end of medium: a volume always ends
/// with its tape mark.
pub const FILEMARK_RESERVE: u64 = 64;

/// The size of an image volume and how it is loaded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImageOptions {
    /// Bytes of image per volume, if limited.
    pub capacity: Option<u64>,
    /// Size of the early-warning zone before the end of a limited volume.
    pub early_warning: u64,
    /// Load the volume write protected.
    pub read_only: bool,
}

impl ImageOptions {
    /// Checks that the options make sense together.
    pub fn check(&self) -> Result<(), String> {
        match self.capacity {
            Some(c) if self.early_warning >= c => Err(format!(
                "the early-warning zone ({}) must be smaller than the capacity ({c})",
                self.early_warning
            )),
            None if self.early_warning > 0 => Err("early-warning needs a capacity".into()),
            _ => Ok(()),
        }
    }
}

/// A loaded image volume.
#[derive(Debug)]
pub struct ImageMedium<S: Store> {
    store: S,
    index: Index,
    capacity: Option<u64>,
    early_warning: u64,
}

/// An image in a local file.
pub type LocalImage = ImageMedium<FileStore>;

/// An image in a file on another host, over rmt.
pub type RemoteImage = ImageMedium<RmtStore>;

impl LocalImage {
    /// Opens (creating it if missing and writable) and indexes an image
    /// file. A file without write permission is a write-protected volume.
    /// Also says what loading it found.
    pub fn open(path: &Path, opts: &ImageOptions) -> Result<(LocalImage, Loaded), MediumError> {
        let store = FileStore::open(path, opts.read_only).map_err(|e| MediumError::io(path.display(), e))?;
        ImageMedium::load(store, opts)
    }

    /// The image path.
    pub fn path(&self) -> &Path {
        self.store.path()
    }
}

impl RemoteImage {
    /// Starts an rmt session, opens the image `path` on `remote`'s host
    /// (created if missing) and scans it.
    pub fn open(remote: &Remote, path: &str, opts: &ImageOptions) -> Result<(RemoteImage, Loaded), MediumError> {
        let store = RmtStore::open(remote, path, opts.read_only).map_err(|e| {
            let mut r = remote.clone();
            r.path = path.to_owned();
            MediumError::io(r.display(), e)
        })?;
        ImageMedium::load(store, opts)
    }
}

impl<S: Store> ImageMedium<S> {
    /// Indexes the image in `store` and mounts it at its beginning.
    pub fn load(mut store: S, opts: &ImageOptions) -> Result<(ImageMedium<S>, Loaded), MediumError> {
        let loaded = store.load().map_err(|e| MediumError::io(store.name(), e))?;
        let index = Index::new(loaded.scan.objs.clone(), loaded.scan.end);
        Ok((ImageMedium { store, index, capacity: opts.capacity, early_warning: opts.early_warning }, loaded))
    }

    /// The store of the image's bytes.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The objects of the tape.
    pub fn objects(&self) -> &[Obj] {
        self.index.objs()
    }

    /// Makes the image durable and closes it (what an unload does; a
    /// remote image's session ends when the medium is dropped).
    pub fn close(&mut self) -> Result<(), MediumError> {
        self.sync()?;
        self.store.close().map_err(|e| self.err(e))
    }

    fn err(&self, e: io::Error) -> MediumError {
        MediumError::io(self.store.name(), e)
    }

    fn ew_offset(&self) -> Option<u64> {
        self.capacity.map(|c| c.saturating_sub(self.early_warning))
    }

    /// Whether an object of `size` image bytes that ends at `after` fits
    /// (with `reserve` bytes allowed past the capacity) and whether it ends
    /// past early warning.
    fn fits(&self, after: u64, reserve: u64) -> (bool, bool) {
        let fits = self.capacity.is_none_or(|c| after <= c + reserve);
        let ew = self.ew_offset().is_some_and(|e| after > e) || self.capacity.is_some_and(|c| after > c);
        (fits, ew)
    }

    fn protected(&self) -> MediumError {
        MediumError::Protected { medium: self.name() }
    }

    /// Refuses a record the image cannot hold, or a write-protected image.
    fn check_record(&self, data: &[u8]) -> Result<(), MediumError> {
        if self.readonly() {
            return Err(self.protected());
        }
        if data.is_empty() || data.len() > LEN_MASK as usize {
            return Err(MediumError::Unsupported {
                medium: self.name(),
                what: format!("a record of {} bytes (1 to {LEN_MASK})", data.len()),
            });
        }
        Ok(())
    }

    /// Writes `records` (or a tape mark, when there are none) at the
    /// position, cutting off what follows, with one store write: length,
    /// data, pad, length, straight from the callers' buffers.
    fn append(&mut self, records: &[&[u8]]) -> Result<(), MediumError> {
        let off = self.index.cut();
        let words: Vec<[u8; 4]> = records.iter().map(|d| (d.len() as u32).to_le_bytes()).collect();
        let pad = [0u8; 1];
        let mark = MARK.to_le_bytes();
        let mut parts: Vec<&[u8]> = Vec::with_capacity(records.len() * 4);
        for (d, w) in records.iter().zip(&words) {
            parts.extend_from_slice(&[w, d]);
            if d.len() % 2 == 1 {
                parts.push(&pad);
            }
            parts.push(w);
        }
        if records.is_empty() {
            parts.push(&mark);
        }
        self.store.write_end(off, &parts).map_err(|e| self.err(e))?;
        if records.is_empty() {
            self.index.push(0);
        }
        for d in records {
            self.index.push(d.len() as u32);
        }
        Ok(())
    }

    /// Cuts off everything from the position on.
    fn cut(&mut self) -> Result<(), MediumError> {
        let off = self.index.cut();
        self.store.cut(off).map_err(|e| self.err(e))
    }
}

impl<S: Store> Medium for ImageMedium<S> {
    fn name(&self) -> String {
        self.store.name()
    }

    fn readonly(&self) -> bool {
        self.store.readonly()
    }

    fn position(&self) -> u64 {
        self.index.pos() as u64
    }

    fn at_eod(&self) -> Option<bool> {
        Some(self.index.at_eod())
    }

    fn room(&self) -> Room {
        let here = self.index.here();
        Room {
            to_ew: self.ew_offset().map(|e| e.saturating_sub(here)),
            to_end: self.capacity.map(|c| c.saturating_sub(here)),
        }
    }

    fn write_record(&mut self, data: &[u8]) -> Result<Written, MediumError> {
        self.check_record(data)?;
        let (fits, ew) = self.fits(self.index.here() + record_size(data.len()), 0);
        if !fits {
            return Err(MediumError::Overflow { medium: self.name() });
        }
        self.append(&[data])?;
        Ok(Written { early_warning: ew })
    }

    /// Records that fit go to the store in stretches, one write each; each
    /// record's result is what `write_record` would have given.
    fn write_records(&mut self, records: &[&[u8]]) -> Vec<Result<Written, MediumError>> {
        let mut results = Vec::with_capacity(records.len());
        let mut i = 0;
        while i < records.len() {
            // The stretch records[i..j] fits, each checked where it will land.
            let mut j = i;
            let mut after = self.index.here();
            let mut ews = Vec::new();
            while let Some(d) = records.get(j) {
                let end = after + record_size(d.len());
                let (fits, ew) = self.fits(end, 0);
                if self.check_record(d).is_err() || !fits {
                    break;
                }
                ews.push(ew);
                after = end;
                j += 1;
            }
            let Some(stretch) = records.get(i..j).filter(|s| !s.is_empty()) else {
                // This one is refused as write_record refuses it.
                results.push(self.write_record(records[i]));
                i += 1;
                continue;
            };
            match self.append(stretch) {
                Ok(()) => results.extend(ews.into_iter().map(|early_warning| Ok(Written { early_warning }))),
                Err(e) => {
                    for _ in i..j {
                        results.push(Err(MediumError::io(self.name(), io::Error::other(e.to_string()))));
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
        let (fits, ew) = self.fits(self.index.here() + 4, FILEMARK_RESERVE);
        if !fits {
            return Err(MediumError::Overflow { medium: self.name() });
        }
        self.append(&[])?;
        Ok(Written { early_warning: ew })
    }

    /// A run of records straight from the image: they are framed as a
    /// READRUN reply frames them (little endian there, host order here), so
    /// they go from the store into the reply with one read per stretch.
    /// Each record's framing is checked again as it arrives
    /// ([`run::first`]): an image changed under pmtd ends the run before
    /// the record, never a bad reply.
    fn read_run(&mut self, out: &mut Vec<u8>, count: usize, budget: usize, exact: Option<usize>) -> Result<usize, MediumError> {
        let (from, n, used) = self.run_plan(count, budget, exact);
        let mark = out.len();
        out.try_reserve(used).map_err(|_| self.err(io::ErrorKind::OutOfMemory.into()))?;
        let objs = self.index.objs().get(from..from + n).unwrap_or_default();
        for (off, len) in stretches(objs) {
            if let Err(e) = self.store.read_at(off, len, out) {
                out.truncate(mark);
                return Err(self.err(e));
            }
        }
        let (good, bytes) = checked_run(objs, out.get_mut(mark..).unwrap_or_default());
        out.truncate(mark + bytes);
        self.index.set_pos(from + good);
        Ok(good)
    }

    /// As [`Medium::read_run`], straight into `buf` (the data area).
    fn read_run_into(&mut self, buf: &mut [u8], count: usize, exact: Option<usize>) -> Option<Result<(usize, usize), MediumError>> {
        let (from, n, used) = self.run_plan(count, buf.len(), exact);
        let objs = self.index.objs().get(from..from + n).unwrap_or_default();
        let mut at = 0usize;
        for (off, len) in stretches(objs) {
            let Some(dst) = buf.get_mut(at..at + len) else { break };
            if let Err(e) = self.store.read_into(off, dst) {
                return Some(Err(self.err(e)));
            }
            at += len;
        }
        let (good, bytes) = checked_run(objs, buf.get_mut(..used.min(at)).unwrap_or_default());
        self.index.set_pos(from + good);
        Some(Ok((good, bytes)))
    }

    fn read(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<Object, MediumError> {
        let p = self.index.pos();
        let Some(o) = self.index.obj(p) else {
            return Ok(Object::Eod);
        };
        self.index.set_pos(p + 1);
        if o.is_mark() {
            return Ok(Object::Mark);
        }
        if o.bad {
            return Ok(Object::Bad);
        }
        let at = buf.len();
        if let Err(e) = self.store.read_at(o.off + 4, max.min(o.len as usize), buf) {
            buf.truncate(at);
            return Err(self.err(e));
        }
        Ok(Object::Record(o.len as usize))
    }

    fn space_records(&mut self, n: i64) -> Result<(u64, Stop), MediumError> {
        Ok(self.index.space_records(n))
    }

    fn space_marks(&mut self, n: i64) -> Result<(u64, Stop), MediumError> {
        Ok(self.index.space_marks(n))
    }

    fn space_eod(&mut self) -> Result<(), MediumError> {
        self.index.set_pos(self.index.len());
        Ok(())
    }

    fn rewind(&mut self) -> Result<(), MediumError> {
        self.index.set_pos(0);
        Ok(())
    }

    fn locate(&mut self, addr: u64) -> Result<Stop, MediumError> {
        Ok(self.index.locate(addr))
    }

    fn erase(&mut self) -> Result<(), MediumError> {
        if self.readonly() {
            return Err(self.protected());
        }
        self.cut()
    }

    fn sync(&mut self) -> Result<(), MediumError> {
        let r = self.store.sync(self.index.objs(), self.index.end());
        r.map_err(|e| self.err(e))
    }

    fn undo_last(&mut self) -> Result<(), MediumError> {
        let p = self.index.pos();
        if p == 0 {
            return Ok(());
        }
        self.index.set_pos(p - 1);
        if self.readonly() {
            return Ok(());
        }
        self.cut()
    }
}

impl<S: Store> ImageMedium<S> {
    /// The records a run takes from the position: where it starts, how
    /// many, and their bytes framed, within `budget`.
    fn run_plan(&self, count: usize, budget: usize, exact: Option<usize>) -> (usize, usize, usize) {
        let from = self.index.pos();
        let (mut n, mut used) = (0usize, 0usize);
        while n < count {
            let Some(o) = self.index.obj(from + n) else { break };
            let size = o.size() as usize;
            if o.is_mark() || o.bad || exact.is_some_and(|e| e != o.len as usize) || used + size > budget {
                break;
            }
            used += size;
            n += 1;
        }
        (from, n, used)
    }
}

/// The stretches of `objs` contiguous in the image: offset and length.
fn stretches(objs: &[Obj]) -> impl Iterator<Item = (u64, usize)> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        let first = objs.get(i)?;
        let mut j = i + 1;
        while j < objs.len() && objs[j].off == objs[j - 1].end() {
            j += 1;
        }
        let s = (first.off, (objs[j - 1].end() - first.off) as usize);
        i = j;
        Some(s)
    })
}

/// Turns the records of `objs`, read into `run`, into the run's framing
/// (host order) and checks each one: the records and bytes that are good,
/// from the first.
fn checked_run(objs: &[Obj], run: &mut [u8]) -> (usize, usize) {
    let (mut at, mut good) = (0usize, 0usize);
    for o in objs {
        let frame = run::frame_len(o.len as usize);
        if at + frame > run.len() {
            break;
        }
        simh::words_to_host(run, at, frame);
        match run.get(at..).and_then(run::first) {
            Some((d, f)) if d.len() == o.len as usize && f == frame => {}
            _ => break,
        }
        at += frame;
        good += 1;
    }
    (good, at)
}
