//! The persistent index beside an image (`IMAGE.pmtidx`).

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::simh::{Obj, LEN_MASK};

/// The persistent index beside an image: `IMAGE.pmtidx`.
///
/// A 64-byte header (magic, version, entry size, object count, the image
/// offset the index covers, a CRC32C of the image's first 4 KiB, a CRC32C of
/// the entries) and a 16-byte entry per object (offset, length, flags),
/// appended as the tape grows and cut with it. On load the header must
/// match the image, and the last indexed objects are read back from the
/// image; objects written after
/// the index was last updated are found by scanning on from where it ends.
/// Anything else (no index, a damaged or foreign one) means a full scan.
#[derive(Debug)]
pub struct Sidecar {
    path: PathBuf,
    /// Objects written to the sidecar file.
    synced: usize,
    /// The header must be rewritten (or the whole file, if `synced` is 0).
    dirty: bool,
    /// The lowest image offset cut since the last store: the entries of
    /// objects at or past it no longer describe the image.
    cut_at: Option<u64>,
    /// CRC32C of the first `crc_of` entries as stored (kept running, so an
    /// append costs only the new entries).
    crc: u32,
    crc_of: usize,
}

const IDX_MAGIC: &[u8; 8] = b"PMTIDX\x01\x00";
/// 2: the header carries a CRC32C of the entries.
const IDX_VERSION: u32 = 2;
const IDX_HEADER: u64 = 64;
const IDX_ENTRY: u64 = 16;
/// Indexed objects read back from the image when the index is loaded.
const IDX_CHECK_TAIL: usize = 8;

impl Sidecar {
    /// The sidecar of `image`.
    pub fn path_for(image: &Path) -> PathBuf {
        let mut p = image.as_os_str().to_owned();
        p.push(".pmtidx");
        PathBuf::from(p)
    }

    /// The sidecar of `image` holding `synced` objects whose entries have
    /// CRC32C `crc`.
    pub(super) fn new(image: &Path, synced: usize, crc: u32, dirty: bool) -> Sidecar {
        Sidecar { path: Sidecar::path_for(image), synced, dirty, cut_at: None, crc, crc_of: synced }
    }

    fn header(count: u64, end: u64, head_crc: u32, entries_crc: u32) -> [u8; IDX_HEADER as usize] {
        let mut h = [0u8; IDX_HEADER as usize];
        h[0..8].copy_from_slice(IDX_MAGIC);
        h[8..12].copy_from_slice(&IDX_VERSION.to_le_bytes());
        h[12..16].copy_from_slice(&(IDX_ENTRY as u32).to_le_bytes());
        h[16..24].copy_from_slice(&count.to_le_bytes());
        h[24..32].copy_from_slice(&end.to_le_bytes());
        h[32..36].copy_from_slice(&head_crc.to_le_bytes());
        h[36..40].copy_from_slice(&entries_crc.to_le_bytes());
        h
    }

    fn entry(o: &Obj) -> [u8; IDX_ENTRY as usize] {
        let mut e = [0u8; IDX_ENTRY as usize];
        e[0..8].copy_from_slice(&o.off.to_le_bytes());
        e[8..12].copy_from_slice(&o.len.to_le_bytes());
        e[12..16].copy_from_slice(&u32::from(o.bad).to_le_bytes());
        e
    }

    /// Loads the index of `image` if it matches it: the objects, the offset
    /// they end at and the CRC32C of their entries. None means "scan".
    /// Every number is checked before it is used: a damaged index is
    /// refused, never believed, and never makes the loader overflow or
    /// allocate beyond the index file's size.
    pub(super) fn load(image: &File, image_len: u64, path: &Path) -> Option<(Vec<Obj>, u64, u32)> {
        let mut f = File::open(path).ok()?;
        let mut h = [0u8; IDX_HEADER as usize];
        f.read_exact(&mut h).ok()?;
        let u32at = |i: usize| u32::from_le_bytes(h[i..i + 4].try_into().unwrap_or_default());
        let u64at = |i: usize| u64::from_le_bytes(h[i..i + 8].try_into().unwrap_or_default());
        if &h[0..8] != IDX_MAGIC || u32at(8) != IDX_VERSION || u64::from(u32at(12)) != IDX_ENTRY {
            return None;
        }
        let (count, end, head_crc, entries_crc) = (u64at(16), u64at(24), u32at(32), u32at(36));
        let bytes = count.checked_mul(IDX_ENTRY)?;
        if f.metadata().ok()?.len() < IDX_HEADER.checked_add(bytes)? || head_crc != head_crc_of(image, image_len.min(end)) {
            return None;
        }
        let mut raw = vec![0u8; usize::try_from(bytes).ok()?];
        f.read_exact(&mut raw).ok()?;
        if crc32c::crc32c(&raw) != entries_crc {
            return None;
        }
        let mut objs = Vec::with_capacity(raw.len() / IDX_ENTRY as usize);
        let mut at = 0u64;
        for e in raw.chunks_exact(IDX_ENTRY as usize) {
            let o = Obj {
                off: u64::from_le_bytes(e[0..8].try_into().ok()?),
                len: u32::from_le_bytes(e[8..12].try_into().ok()?),
                bad: u32::from_le_bytes(e[12..16].try_into().ok()?) & 1 != 0,
            };
            if o.off < at || o.len > LEN_MASK {
                return None;
            }
            at = o.off.checked_add(o.size())?;
            objs.push(o);
        }
        if at != end && !(objs.is_empty() && end == 0) {
            return None;
        }
        // The image may have been cut after the index was written: keep
        // what lies wholly inside it.
        let keep = objs.partition_point(|o| o.end() <= image_len);
        objs.truncate(keep);
        // Read the last objects back: the index must describe this image.
        let from = objs.len().saturating_sub(IDX_CHECK_TAIL);
        if !objs.get(from..).unwrap_or_default().iter().all(|o| check_obj(image, o)) {
            return None;
        }
        let end = objs.last().map_or(0, |o| o.end());
        let crc = if keep == raw.len() / IDX_ENTRY as usize {
            entries_crc
        } else {
            crc32c::crc32c(raw.get(..keep * IDX_ENTRY as usize).unwrap_or_default())
        };
        Some((objs, end, crc))
    }

    /// The sidecar file's path.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The image was cut at offset `off` (objects from there on are gone
    /// or rewritten).
    pub(super) fn cut(&mut self, off: u64) {
        self.cut_at = Some(self.cut_at.map_or(off, |c| c.min(off)));
        self.dirty = true;
    }

    /// Brings the sidecar file up to date with `objs` (ending at `end`).
    pub(super) fn store(&mut self, image: &File, objs: &[Obj], end: u64) -> io::Result<()> {
        if let Some(off) = self.cut_at.take() {
            self.synced = self.synced.min(objs.partition_point(|o| o.end() <= off));
        }
        if !self.dirty && self.synced == objs.len() {
            return Ok(());
        }
        let f = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&self.path)?;
        let synced = self.synced.min(objs.len());
        if self.crc_of != synced {
            // Cut since: the running CRC starts again from the kept entries.
            self.crc = objs.get(..synced).unwrap_or_default().iter().fold(0, |c, o| crc32c::crc32c_append(c, &Sidecar::entry(o)));
            self.crc_of = synced;
        }
        let mut buf = Vec::with_capacity((objs.len() - synced) * IDX_ENTRY as usize);
        for o in objs.get(synced..).unwrap_or_default() {
            buf.extend_from_slice(&Sidecar::entry(o));
        }
        let crc = crc32c::crc32c_append(self.crc, &buf);
        f.set_len(IDX_HEADER + objs.len() as u64 * IDX_ENTRY)?;
        f.write_all_at(&buf, IDX_HEADER + synced as u64 * IDX_ENTRY)?;
        f.write_all_at(&Sidecar::header(objs.len() as u64, end, head_crc_of(image, end), crc), 0)?;
        self.synced = objs.len();
        self.crc = crc;
        self.crc_of = objs.len();
        self.dirty = false;
        Ok(())
    }
}

/// CRC32C of the first 4 KiB of the image (up to `end`): ties an index to
/// its image.
fn head_crc_of(image: &File, end: u64) -> u32 {
    let mut b = vec![0u8; end.min(4096) as usize];
    match image.read_exact_at(&mut b, 0) {
        Ok(()) => crc32c::crc32c(&b),
        Err(_) => 0,
    }
}

/// Reads an object's framing words back from the image.
fn check_obj(image: &File, o: &Obj) -> bool {
    let mut w = [0u8; 4];
    if image.read_exact_at(&mut w, o.off).is_err() || u32::from_le_bytes(w) != o.word() {
        return false;
    }
    if o.is_mark() {
        return true;
    }
    let trail = o.end() - 4;
    image.read_exact_at(&mut w, trail).is_ok() && u32::from_le_bytes(w) == o.word()
}

