//! `pmtd convert`: a tape image from one format to the other, SIMH `.tap`
//! and AWS (the format of Hercules' AWSTAPE devices, read by its `tapemap`,
//! `tapecopy` and `hetupd` and by z/OS emulators), record for record with
//! its tape marks, in one pass.
//!
//! An AWS image is a sequence of blocks, each a 6-byte header and its data:
//!
//! | bytes | field | |
//! |---|---|---|
//! | 0-1 | `curblkl` | bytes of data after this header, little endian |
//! | 2-3 | `prvblkl` | `curblkl` of the header before (0 for the first) |
//! | 4 | `flags1` | 0x80 a record starts, 0x40 tape mark, 0x20 the record ends |
//! | 5 | `flags2` | 0 |
//!
//! A tape mark is a header with no data and flags 0x40. A record is one or
//! more blocks: the first flagged 0x80, the last 0x20 (one block alone,
//! 0xA0), those between 0. Hercules writes a record of up to 65535 bytes as
//! one block, and so does pmtd, which splits a longer record into blocks of
//! 65535 bytes (the last one shorter); Hercules' "strict" form (`hetupd
//! -s`) cuts every record into blocks of 4096 bytes, which `--segment 4096`
//! writes too. The end of the file is the end of data.
//! Compressed blocks (HET's flags 0x01 and 0x02, Bus-Tech's flags2 0x80) are
//! refused: `hetupd` decompresses them.
//!
//! What one format holds and the other cannot is an error, never a silent
//! loss: a SIMH record flagged bad, an AWS record of zero bytes (SIMH has
//! none: its zero word is a tape mark), a record longer than a SIMH length
//! word holds (16 MiB - 1). SIMH erase gaps carry no data and are skipped;
//! an end-of-medium marker ends the data (what follows it is beyond the end
//! of the medium). So an image pmtd or SIMH wrote, converted to AWS and
//! back, is the same file byte for byte, and so is an AWS image Hercules
//! wrote, converted to SIMH and back.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::media::image::simh::{EOM_MARKER, ERROR_FLAG, GAP, HALF_GAP, LEN_MASK, MARK, RESERVED_BITS};
use crate::progress::{human_bytes, Progress};

/// AWS header flag: a record starts in this block.
pub const AWS_NEWREC: u8 = 0x80;
/// AWS header flag: a tape mark.
pub const AWS_TAPEMARK: u8 = 0x40;
/// AWS header flag: the record ends with this block.
pub const AWS_ENDREC: u8 = 0x20;
/// HET's compression bits in flags1 (zlib 0x01, bzip2 0x02).
const HET_COMPRESSED: u8 = 0x03;
/// Bus-Tech's zlib flag in flags2.
const BUSTECH_COMPRESSED: u8 = 0x80;
/// The most data one AWS block holds, and the size pmtd cuts records into.
pub const AWS_MAX_SEGMENT: usize = 0xffff;
/// Bytes of an AWS block header.
pub const AWS_HEADER: usize = 6;
/// The longest record a SIMH length word holds.
pub const SIMH_MAX_RECORD: usize = LEN_MASK as usize;

/// An image format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// SIMH `.tap`.
    Tap,
    /// AWS (Hercules AWSTAPE).
    Aws,
}

impl Format {
    /// The format a file name's extension says (`.tap`, `.aws`), if any.
    pub fn of_path(p: &Path) -> Option<Format> {
        match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "tap" | "simh" => Some(Format::Tap),
            "aws" | "awstape" => Some(Format::Aws),
            _ => None,
        }
    }

    /// Parses `tap` (or `simh`) and `aws`.
    pub fn parse(s: &str) -> Result<Format, String> {
        match s.to_ascii_lowercase().as_str() {
            "tap" | "simh" => Ok(Format::Tap),
            "aws" | "awstape" => Ok(Format::Aws),
            _ => Err(format!("unknown image format {s:?} (tap or aws)")),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Tap => "SIMH",
            Format::Aws => "AWS",
        })
    }
}

/// Why a conversion failed.
#[derive(Debug, Error)]
pub enum ConvertError {
    /// Reading or writing failed.
    #[error("{path}: {err}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        err: io::Error,
    },
    /// The input is damaged or holds what the output format cannot.
    #[error("{path}: offset {off}: {why}")]
    Input {
        /// The input.
        path: PathBuf,
        /// Byte offset in the input.
        off: u64,
        /// What is wrong.
        why: String,
    },
    /// The output exists.
    #[error("{0}: exists (--force replaces it)")]
    Exists(PathBuf),
    /// Input and output are the same file.
    #[error("{0}: input and output are the same file")]
    Same(PathBuf),
}

/// One object of a tape, as a reader hands it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    /// A record, its data in the reader's buffer.
    Record,
    /// A tape mark.
    Mark,
}

/// What a conversion did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Records converted.
    pub records: u64,
    /// Tape marks converted.
    pub marks: u64,
    /// Data bytes converted.
    pub bytes: u64,
    /// SIMH erase gaps skipped.
    pub gaps: u64,
    /// Bytes after a SIMH end-of-medium marker, left out.
    pub beyond_eom: u64,
}

/// Reads SIMH objects from a stream.
pub struct SimhReader<R: Read> {
    r: R,
    off: u64,
    len: u64,
    done: bool,
    gaps: u64,
    beyond_eom: u64,
}

impl<R: Read> SimhReader<R> {
    /// A reader of a stream of `len` bytes.
    pub fn new(r: R, len: u64) -> Self {
        SimhReader { r, off: 0, len, done: false, gaps: 0, beyond_eom: 0 }
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<(), (u64, String)> {
        self.r.read_exact(buf).map_err(|e| (self.off, e.to_string()))?;
        self.off += buf.len() as u64;
        Ok(())
    }

    /// The next object, its data in `data` for a record; None at the end.
    pub fn next(&mut self, data: &mut Vec<u8>) -> Result<Option<Item>, (u64, String)> {
        loop {
            if self.done || self.off == self.len {
                return Ok(None);
            }
            let at = self.off;
            if self.len - at < 4 {
                return Err((at, format!("{} stray bytes at the end", self.len - at)));
            }
            let mut w = [0u8; 4];
            self.fill(&mut w)?;
            let word = u32::from_le_bytes(w);
            match word {
                MARK => return Ok(Some(Item::Mark)),
                EOM_MARKER => {
                    self.done = true;
                    self.beyond_eom = self.len - self.off;
                    return Ok(None);
                }
                GAP => self.gaps += 1,
                HALF_GAP => return Err((at, "a half erase gap (not on a 4-byte boundary)".into())),
                _ if word & 0xff00_0000 == 0xff00_0000 => return Err((at, format!("reserved marker {word:#010x}"))),
                _ if word & ERROR_FLAG != 0 => {
                    return Err((at, format!("a record of {} bytes flagged bad: AWS cannot carry the flag", word & LEN_MASK)))
                }
                _ if word & RESERVED_BITS != 0 => return Err((at, format!("bad record length word {word:#010x}"))),
                _ => {
                    let n = (word & LEN_MASK) as usize;
                    let padded = n + (n & 1);
                    if self.len - self.off < padded as u64 + 4 {
                        return Err((at, format!("a record of {n} bytes is cut short")));
                    }
                    data.resize(padded, 0);
                    self.fill(data)?;
                    data.truncate(n);
                    self.fill(&mut w)?;
                    let trail = u32::from_le_bytes(w);
                    if trail != word {
                        return Err((at, format!("leading length {word:#010x}, trailing length {trail:#010x}")));
                    }
                    return Ok(Some(Item::Record));
                }
            }
        }
    }
}

/// Writes SIMH objects to a stream.
pub struct SimhWriter<W: Write> {
    w: W,
}

impl<W: Write> SimhWriter<W> {
    /// A writer to `w`.
    pub fn new(w: W) -> Self {
        SimhWriter { w }
    }

    /// Writes a record (at most [`SIMH_MAX_RECORD`] bytes, at least one).
    pub fn record(&mut self, data: &[u8]) -> io::Result<()> {
        let word = (data.len() as u32).to_le_bytes();
        self.w.write_all(&word)?;
        self.w.write_all(data)?;
        if data.len() & 1 == 1 {
            self.w.write_all(&[0])?;
        }
        self.w.write_all(&word)
    }

    /// Writes a tape mark.
    pub fn mark(&mut self) -> io::Result<()> {
        self.w.write_all(&MARK.to_le_bytes())
    }

    /// The stream, flushed.
    pub fn finish(mut self) -> io::Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }
}

/// Reads AWS objects from a stream, joining the segments of a record.
pub struct AwsReader<R: Read> {
    r: R,
    off: u64,
    len: u64,
    prev: u16,
}

impl<R: Read> AwsReader<R> {
    /// A reader of a stream of `len` bytes.
    pub fn new(r: R, len: u64) -> Self {
        AwsReader { r, off: 0, len, prev: 0 }
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<(), (u64, String)> {
        self.r.read_exact(buf).map_err(|e| (self.off, e.to_string()))?;
        self.off += buf.len() as u64;
        Ok(())
    }

    /// The next object, its data in `data` for a record; None at the end.
    pub fn next(&mut self, data: &mut Vec<u8>) -> Result<Option<Item>, (u64, String)> {
        data.clear();
        let mut open: Option<u64> = None;
        loop {
            let at = self.off;
            if at == self.len {
                return match open {
                    None => Ok(None),
                    Some(start) => Err((start, "the last record has no end (no block flagged 0x20)".into())),
                };
            }
            if self.len - at < AWS_HEADER as u64 {
                return Err((at, format!("{} stray bytes at the end (a header is 6)", self.len - at)));
            }
            let mut h = [0u8; AWS_HEADER];
            self.fill(&mut h)?;
            let cur = u16::from_le_bytes([h[0], h[1]]);
            let prv = u16::from_le_bytes([h[2], h[3]]);
            let (f1, f2) = (h[4], h[5]);
            if prv != self.prev {
                return Err((at, format!("the previous block length says {prv}, the block before holds {}", self.prev)));
            }
            self.prev = cur;
            if f1 & HET_COMPRESSED != 0 || f2 & BUSTECH_COMPRESSED != 0 {
                return Err((at, "a compressed block (HET or Bus-Tech): decompress the image first (hetupd -d)".into()));
            }
            if f1 & AWS_TAPEMARK != 0 {
                if cur != 0 {
                    return Err((at, format!("a tape mark with {cur} bytes of data")));
                }
                if let Some(start) = open {
                    return Err((start, "a record cut by a tape mark".into()));
                }
                return Ok(Some(Item::Mark));
            }
            match (open, f1 & AWS_NEWREC != 0) {
                (None, false) => return Err((at, format!("a block that starts no record (flags {f1:#04x})"))),
                (Some(start), true) => return Err((start, "a record cut by the start of another".into())),
                (None, true) => open = Some(at),
                (Some(_), false) => {}
            }
            if self.len - self.off < u64::from(cur) {
                return Err((at, format!("a block of {cur} bytes is cut short")));
            }
            let old = data.len();
            if old + usize::from(cur) > SIMH_MAX_RECORD {
                return Err((open.unwrap_or(at), format!("a record longer than {SIMH_MAX_RECORD} bytes, the most a SIMH image holds")));
            }
            data.resize(old + usize::from(cur), 0);
            let off = self.off;
            self.r.read_exact(&mut data[old..]).map_err(|e| (off, e.to_string()))?;
            self.off += u64::from(cur);
            if f1 & AWS_ENDREC != 0 {
                if data.is_empty() {
                    return Err((open.unwrap_or(at), "a record of zero bytes: SIMH has none (its zero word is a tape mark)".into()));
                }
                return Ok(Some(Item::Record));
            }
        }
    }
}

/// Writes AWS objects to a stream.
pub struct AwsWriter<W: Write> {
    w: W,
    prev: u16,
    segment: usize,
}

impl<W: Write> AwsWriter<W> {
    /// A writer to `w` cutting records into blocks of `segment` bytes (at
    /// most [`AWS_MAX_SEGMENT`], at least 1).
    pub fn new(w: W, segment: usize) -> Self {
        AwsWriter { w, prev: 0, segment: segment.clamp(1, AWS_MAX_SEGMENT) }
    }

    fn header(&mut self, len: u16, flags: u8) -> io::Result<()> {
        let mut h = [0u8; AWS_HEADER];
        h[0..2].copy_from_slice(&len.to_le_bytes());
        h[2..4].copy_from_slice(&self.prev.to_le_bytes());
        h[4] = flags;
        self.prev = len;
        self.w.write_all(&h)
    }

    /// Writes a record (at least one byte), in blocks of the writer's
    /// segment size.
    pub fn record(&mut self, data: &[u8]) -> io::Result<()> {
        let n = data.chunks(self.segment).count();
        for (i, seg) in data.chunks(self.segment).enumerate() {
            let mut flags = 0;
            if i == 0 {
                flags |= AWS_NEWREC;
            }
            if i + 1 == n {
                flags |= AWS_ENDREC;
            }
            self.header(seg.len() as u16, flags)?;
            self.w.write_all(seg)?;
        }
        Ok(())
    }

    /// Writes a tape mark.
    pub fn mark(&mut self) -> io::Result<()> {
        self.header(0, AWS_TAPEMARK)
    }

    /// The stream, flushed.
    pub fn finish(mut self) -> io::Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }
}

enum Input {
    Tap(SimhReader<BufReader<File>>),
    Aws(AwsReader<BufReader<File>>),
}

impl Input {
    fn next(&mut self, data: &mut Vec<u8>) -> Result<Option<Item>, (u64, String)> {
        match self {
            Input::Tap(r) => r.next(data),
            Input::Aws(r) => r.next(data),
        }
    }
}

enum Output {
    Tap(SimhWriter<BufWriter<File>>),
    Aws(AwsWriter<BufWriter<File>>),
}

impl Output {
    fn record(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Output::Tap(w) => w.record(data),
            Output::Aws(w) => w.record(data),
        }
    }

    fn mark(&mut self) -> io::Result<()> {
        match self {
            Output::Tap(w) => w.mark(),
            Output::Aws(w) => w.mark(),
        }
    }

    fn finish(self) -> io::Result<File> {
        let w = match self {
            Output::Tap(w) => w.finish()?,
            Output::Aws(w) => w.finish()?,
        };
        w.into_inner().map_err(|e| e.into_error())
    }
}

/// The name the output has while it is written: OUTPUT.part beside it.
fn partial_name(output: &Path) -> PathBuf {
    let mut s = output.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

/// How a conversion writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvertOptions {
    /// Replace an existing output.
    pub force: bool,
    /// The size of the AWS blocks records are cut into.
    pub aws_segment: usize,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions { force: false, aws_segment: AWS_MAX_SEGMENT }
    }
}

/// Converts the image `input` (in format `from`) to `output` (in format
/// `to`), counting on `progress`. The output is written beside its name and
/// renamed over it once complete and synced, so a failed conversion leaves
/// no partial image; an existing output is replaced only with `force`.
pub fn convert(
    input: &Path,
    from: Format,
    output: &Path,
    to: Format,
    opts: &ConvertOptions,
    progress: &mut Progress,
) -> Result<Summary, ConvertError> {
    let io_in = |err| ConvertError::Io { path: input.to_path_buf(), err };
    let file = File::open(input).map_err(io_in)?;
    let len = file.metadata().map_err(io_in)?.len();
    match fs::metadata(output) {
        Ok(m) => {
            let i = file.metadata().map_err(io_in)?;
            use std::os::unix::fs::MetadataExt;
            if (m.dev(), m.ino()) == (i.dev(), i.ino()) {
                return Err(ConvertError::Same(output.to_path_buf()));
            }
            if !opts.force {
                return Err(ConvertError::Exists(output.to_path_buf()));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(ConvertError::Io { path: output.to_path_buf(), err }),
    }
    let rd = BufReader::with_capacity(1 << 20, file);
    let mut src = match from {
        Format::Tap => Input::Tap(SimhReader::new(rd, len)),
        Format::Aws => Input::Aws(AwsReader::new(rd, len)),
    };
    let part = partial_name(output);
    let io_out = |err| ConvertError::Io { path: part.clone(), err };
    let out = File::create(&part).map_err(io_out)?;
    let wr = BufWriter::with_capacity(1 << 20, out);
    let mut dst = match to {
        Format::Tap => Output::Tap(SimhWriter::new(wr)),
        Format::Aws => Output::Aws(AwsWriter::new(wr, opts.aws_segment)),
    };
    let r = copy_objects(&mut src, &mut dst, progress).map_err(|e| match e {
        Failure::Input(off, why) => ConvertError::Input { path: input.to_path_buf(), off, why },
        Failure::Output(err) => io_out(err),
    });
    let r = r.and_then(|mut sum| {
        if let Input::Tap(t) = &src {
            sum.gaps = t.gaps;
            sum.beyond_eom = t.beyond_eom;
        }
        let f = dst.finish().map_err(io_out)?;
        f.sync_all().map_err(io_out)?;
        fs::rename(&part, output).map_err(|err| ConvertError::Io { path: output.to_path_buf(), err })?;
        Ok(sum)
    });
    if r.is_err() {
        let _ = fs::remove_file(&part);
    }
    r
}

enum Failure {
    Input(u64, String),
    Output(io::Error),
}

fn copy_objects(src: &mut Input, dst: &mut Output, progress: &mut Progress) -> Result<Summary, Failure> {
    let mut sum = Summary::default();
    let mut data = Vec::with_capacity(1 << 16);
    while let Some(item) = src.next(&mut data).map_err(|(off, why)| Failure::Input(off, why))? {
        match item {
            Item::Record => {
                dst.record(&data).map_err(Failure::Output)?;
                sum.records += 1;
                sum.bytes += data.len() as u64;
                progress.record(data.len());
            }
            Item::Mark => {
                dst.mark().map_err(Failure::Output)?;
                sum.marks += 1;
                progress.file(sum.marks);
            }
        }
    }
    Ok(sum)
}

impl Summary {
    /// One line: what was converted.
    pub fn render(&self, input: &Path, from: Format, output: &Path, to: Format) -> String {
        let mut s = format!(
            "{} ({from}) -> {} ({to}): {} records, {} tape marks, {}",
            input.display(),
            output.display(),
            self.records,
            self.marks,
            human_bytes(self.bytes)
        );
        if self.gaps > 0 {
            s.push_str(&format!("; {} erase gaps left out", self.gaps));
        }
        if self.beyond_eom > 0 {
            s.push_str(&format!("; {} bytes after the end-of-medium marker left out", self.beyond_eom));
        }
        s
    }
}
