//! Scanning an image: every object from a byte offset on, stopping at the
//! first damaged one.

use std::io::{self, BufReader, Read, Seek, SeekFrom};

use super::simh::{Obj, EOM_MARKER, ERROR_FLAG, GAP, HALF_GAP, LEN_MASK, MARK, RESERVED_BITS};

/// What a scan of an image found.
#[derive(Debug, Default)]
pub struct Scan {
    /// The objects, in order.
    pub objs: Vec<Obj>,
    /// Offset just past the last complete object.
    pub end: u64,
    /// Size of the file.
    pub file_len: u64,
    /// Problems found; the first one ended the scan.
    pub problems: Vec<String>,
    /// An end-of-medium marker ended the data.
    pub eom_marker: bool,
}

/// Scans an image from the beginning. Stops at the first problem: the medium
/// ends at the last complete object before it. With `strict`, non-zero pad
/// bytes are reported too. Bytes after an end-of-medium marker are not a
/// problem: SIMH puts them beyond the end of the medium, and a medium that
/// cannot truncate its file (an image written over rmt) cuts a tape there.
pub fn scan<R: Read + Seek>(r: &mut R, strict: bool) -> io::Result<Scan> {
    scan_from(r, 0, Vec::new(), strict)
}

/// Scans from byte `start`, appending to `objs` (the objects before it).
pub fn scan_from<R: Read + Seek>(r: &mut R, start: u64, objs: Vec<Obj>, strict: bool) -> io::Result<Scan> {
    let file_len = r.seek(SeekFrom::End(0))?;
    r.seek(SeekFrom::Start(start))?;
    let mut rd = BufReader::with_capacity(1 << 16, r);
    let mut s = Scan { file_len, objs, ..Scan::default() };
    let mut off = start;
    let mut word = [0u8; 4];
    while off < file_len {
        if file_len - off < 4 {
            s.problems.push(format!("{} stray bytes at offset {off}", file_len - off));
            break;
        }
        rd.read_exact(&mut word)?;
        let w = u32::from_le_bytes(word);
        match w {
            MARK => {
                s.objs.push(Obj { off, len: 0, bad: false });
                off += 4;
            }
            EOM_MARKER => {
                s.eom_marker = true;
                break;
            }
            GAP => off += 4,
            HALF_GAP => {
                // Two bytes of gap: the next word starts two bytes on.
                rd.seek_relative(-2)?;
                off += 2;
            }
            _ if w & 0xff00_0000 == 0xff00_0000 => {
                s.problems.push(format!("reserved marker {w:#010x} at offset {off}"));
                break;
            }
            _ if w & RESERVED_BITS != 0 || w & LEN_MASK == 0 => {
                s.problems.push(format!("bad record length word {w:#010x} at offset {off}"));
                break;
            }
            _ => {
                let len = w & LEN_MASK;
                let padded = u64::from(len) + u64::from(len & 1);
                if off + 8 + padded > file_len {
                    s.problems.push(format!("record of {len} bytes at offset {off} is cut short"));
                    break;
                }
                if strict && len & 1 == 1 {
                    rd.seek_relative(i64::from(len))?;
                    let mut pad = [0u8; 1];
                    rd.read_exact(&mut pad)?;
                    if pad[0] != 0 {
                        s.problems.push(format!("non-zero pad byte after the record at offset {off}"));
                    }
                } else {
                    rd.seek_relative(padded as i64)?;
                }
                rd.read_exact(&mut word)?;
                let trail = u32::from_le_bytes(word);
                if trail != w {
                    s.problems.push(format!(
                        "record at offset {off}: leading length {w:#010x}, trailing length {trail:#010x}"
                    ));
                    break;
                }
                s.objs.push(Obj { off, len, bad: w & ERROR_FLAG != 0 });
                off += 8 + padded;
            }
        }
    }
    // Trailing gaps and a damaged tail are overwritten by the next write.
    s.end = s.objs.last().map_or(start.min(off), |o| o.end());
    Ok(s)
}

