//! `pmtd inspect` and `pmtd verify`: the map of an image and a framing check.

use std::fmt::Write as _;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::media::record::{self, Header, VolumeId};
use crate::media::image::{scan, Obj, Scan};

/// The filters found on the records of a file (read from their headers,
/// no key needed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilterMap {
    /// Records with a filter header.
    pub filtered: u64,
    /// Of those, compressed with zstd.
    pub zstd: u64,
    /// Stored raw by a compressing writer (they did not shrink).
    pub raw: u64,
    /// Sealed (encrypted and authenticated).
    pub sealed: u64,
    /// Their original bytes.
    pub original: u64,
}

/// One file of the tape: the records between two tape marks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileMap {
    /// Records in the file.
    pub records: u64,
    /// Data bytes in the file.
    pub bytes: u64,
    /// Smallest record.
    pub min: u32,
    /// Largest record.
    pub max: u32,
    /// Records flagged bad.
    pub bad: u64,
    /// What filters wrote the records.
    pub filter: FilterMap,
}

/// The map of a tape: files, then what ends the data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TapeMap {
    /// Files ended by a tape mark.
    pub files: Vec<FileMap>,
    /// Records after the last tape mark (a file not closed).
    pub tail: Option<FileMap>,
    /// Tape marks at the end of data beyond the one closing the last file.
    pub trailing_marks: u64,
}

/// Builds the map of a list of objects.
pub fn map(objs: &[Obj]) -> TapeMap {
    map_with(objs, &[])
}

/// Reads the filter header of every record of an image (None for a record
/// without one).
pub fn headers(image: &File, objs: &[Obj]) -> Vec<Option<Header>> {
    let mut h = [0u8; record::HEADER];
    objs.iter()
        .map(|o| {
            if o.is_mark() || (o.len as usize) < record::HEADER || image.read_exact_at(&mut h, o.off + 4).is_err() {
                return None;
            }
            Header::parse(&h)
        })
        .collect()
}

/// Builds the map of a list of objects with their filter headers (one per
/// object, or none at all).
pub fn map_with(objs: &[Obj], headers: &[Option<Header>]) -> TapeMap {
    let mut m = TapeMap::default();
    let mut cur: Option<FileMap> = None;
    for (i, o) in objs.iter().enumerate() {
        if o.is_mark() {
            match cur.take() {
                Some(f) => m.files.push(f),
                None if m.files.is_empty() && m.trailing_marks == 0 => m.files.push(FileMap::default()),
                None => m.trailing_marks += 1,
            }
        } else {
            if m.trailing_marks > 0 {
                // Empty files in the middle of the tape.
                for _ in 0..m.trailing_marks {
                    m.files.push(FileMap::default());
                }
                m.trailing_marks = 0;
            }
            let f = cur.get_or_insert(FileMap { min: u32::MAX, ..FileMap::default() });
            f.records += 1;
            f.bytes += u64::from(o.len);
            f.min = f.min.min(o.len);
            f.max = f.max.max(o.len);
            f.bad += u64::from(o.bad);
            if let Some(Some(h)) = headers.get(i) {
                f.filter.filtered += 1;
                f.filter.zstd += u64::from(h.flags & record::ZSTD != 0);
                f.filter.raw += u64::from(h.flags & (record::ZSTD | record::COMPRESSING) == record::COMPRESSING);
                f.filter.sealed += u64::from(h.flags & record::SEALED != 0);
                f.filter.original += u64::from(h.length);
            }
        }
    }
    m.tail = cur;
    m
}

fn describe(f: &FileMap) -> String {
    if f.records == 0 {
        return "empty".into();
    }
    let mut s = format!("{} records, {} bytes", f.records, f.bytes);
    if f.min == f.max {
        let _ = write!(s, " ({} x {})", f.records, f.min);
    } else {
        let _ = write!(s, " (records of {} to {} bytes)", f.min, f.max);
    }
    if f.bad > 0 {
        let _ = write!(s, ", {} bad", f.bad);
    }
    let fm = &f.filter;
    if fm.filtered > 0 {
        let mut what = Vec::new();
        if fm.zstd + fm.raw > 0 {
            what.push(format!("zstd ({} of {} compressed)", fm.zstd, fm.filtered));
        }
        if fm.sealed > 0 {
            what.push(if fm.sealed == fm.filtered { "XChaCha20-Poly1305".to_string() } else { format!("XChaCha20-Poly1305 ({} sealed)", fm.sealed) });
        }
        if what.is_empty() {
            what.push("raw".into());
        }
        let _ = write!(s, "; filter: {}, {} bytes before filtering", what.join(", "), fm.original);
        if fm.filtered < f.records {
            let _ = write!(s, ", {} records unfiltered", f.records - fm.filtered);
        }
    }
    s
}

/// The identity of a sealed volume: the first bytes of the nonce of its
/// first record (no key needed), if that record is sealed.
pub fn volume_identity(image: &File, objs: &[Obj]) -> Option<VolumeId> {
    let o = objs.iter().find(|o| !o.is_mark())?;
    let mut b = [0u8; record::HEADER + record::VOLUME_ID];
    if (o.len as usize) < b.len() || image.read_exact_at(&mut b, o.off + 4).is_err() {
        return None;
    }
    record::identity_of(&b)
}

/// A volume identity in hex.
pub fn hex(id: &VolumeId) -> String {
    id.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The text `pmtd inspect` prints (`headers`: the filter header of each
/// object, see [`headers`], or none; `identity`: the volume's, if sealed).
pub fn render(path: &Path, scan: &Scan, headers: &[Option<Header>], identity: Option<VolumeId>) -> String {
    let m = map_with(&scan.objs, headers);
    let mut s = String::new();
    let _ = writeln!(s, "{}: {} objects, {} bytes of image", path.display(), scan.objs.len(), scan.end);
    if let Some(id) = identity {
        let _ = writeln!(s, "volume identity: {} (sealed records are bound to it)", hex(&id));
    }
    for (i, f) in m.files.iter().enumerate() {
        let _ = writeln!(s, "file {i}: {}", describe(f));
    }
    if let Some(t) = &m.tail {
        let _ = writeln!(s, "file {}: {} (no closing tape mark)", m.files.len(), describe(t));
    }
    if m.trailing_marks > 0 {
        let _ = writeln!(s, "end of data: {} more tape mark(s)", m.trailing_marks);
    } else {
        let _ = writeln!(s, "end of data");
    }
    for p in &scan.problems {
        let _ = writeln!(s, "problem: {p}");
    }
    if scan.end < scan.file_len && !scan.eom_marker {
        let _ = writeln!(s, "{} bytes after the end of data are ignored", scan.file_len - scan.end);
    } else if scan.eom_marker && scan.end + 4 < scan.file_len {
        let _ = writeln!(
            s,
            "end-of-medium marker at offset {}: {} bytes after it are ignored",
            scan.end,
            scan.file_len - scan.end - 4
        );
    }
    s
}

/// Scans an image file.
pub fn scan_file(path: &Path, strict: bool) -> std::io::Result<Scan> {
    let mut f = File::open(path)?;
    scan(&mut f, strict)
}

/// Checks the stored records that carry a filter header against their
/// CRC (no key needed): one problem per record that does not match.
pub fn check_filtered(path: &Path, objs: &[Obj]) -> std::io::Result<Vec<String>> {
    let f = File::open(path)?;
    let mut problems = Vec::new();
    let mut buf = Vec::new();
    for (i, (o, h)) in objs.iter().zip(headers(&f, objs)).enumerate() {
        let Some(h) = h else { continue };
        buf.resize(o.len as usize, 0);
        f.read_exact_at(&mut buf, o.off + 4)?;
        if crc32c::crc32c(buf.get(record::HEADER..).unwrap_or_default()) != h.crc {
            problems.push(format!("filtered record {i} at offset {}: its checksum does not match", o.off));
        }
    }
    Ok(problems)
}

/// Scans an image file and reads the filter headers of its records and
/// the volume's identity.
pub fn scan_with_headers(path: &Path) -> std::io::Result<(Scan, Vec<Option<Header>>, Option<VolumeId>)> {
    let mut f = File::open(path)?;
    let s = scan(&mut f, false)?;
    let h = headers(&f, &s.objs);
    let id = volume_identity(&f, &s.objs);
    Ok((s, h, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(len: u32) -> Obj {
        Obj { off: 0, len, bad: false }
    }
    fn mark() -> Obj {
        Obj { off: 0, len: 0, bad: false }
    }

    #[test]
    fn files_and_end_of_data() {
        let m = map(&[rec(10), rec(10), mark(), rec(5), rec(7), mark(), mark()]);
        assert_eq!(m.files.len(), 2);
        assert_eq!(m.files[0], FileMap { records: 2, bytes: 20, min: 10, max: 10, bad: 0, filter: FilterMap::default() });
        assert_eq!(m.files[1].records, 2);
        assert_eq!(m.trailing_marks, 1);
        assert!(m.tail.is_none());
    }

    #[test]
    fn empty_files_and_open_tail() {
        let m = map(&[mark(), mark(), rec(3)]);
        assert_eq!(m.files.len(), 2);
        assert_eq!(m.files[0].records, 0);
        assert_eq!(m.files[1].records, 0);
        assert_eq!(m.tail.as_ref().map(|t| t.records), Some(1));
    }
}
