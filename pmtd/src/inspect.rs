//! `pmtd inspect` and `pmtd verify`: the map of an image and a framing check.

use std::fmt::Write as _;
use std::fs::File;
use std::path::Path;

use crate::tap::{self, Obj};

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
    let mut m = TapeMap::default();
    let mut cur: Option<FileMap> = None;
    for o in objs {
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
    s
}

/// The text `pmtd inspect` prints.
pub fn render(path: &Path, scan: &tap::Scan) -> String {
    let m = map(&scan.objs);
    let mut s = String::new();
    let _ = writeln!(s, "{}: {} objects, {} bytes of image", path.display(), scan.objs.len(), scan.end);
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
pub fn scan_file(path: &Path, strict: bool) -> std::io::Result<tap::Scan> {
    let mut f = File::open(path)?;
    tap::scan(&mut f, strict)
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
        assert_eq!(m.files[0], FileMap { records: 2, bytes: 20, min: 10, max: 10, bad: 0 });
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
