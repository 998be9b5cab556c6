//! `pmtd copy`: duplicates a tape to one or more destinations, record for
//! record with its tape marks.
//!
//! A destination that reaches early warning (or its end) before the source
//! is exhausted does not abort, as tcopy does, and does not split a tape
//! file: its volume ends after the last whole file (the partial file is cut
//! off and the end of data is written as a double tape mark), the
//! destination's next volume is loaded, and the file that did not fit is
//! read again from the source and written there. The first file on a volume
//! may use the early-warning zone up to the physical end; a file that does
//! not fit an empty volume can never fit, and is an error.
//!
//! The source ends at its end of data or at two consecutive tape marks.
//! With `verify`, every destination volume is read back and compared record
//! for record with the source before it is unloaded. The result is a map:
//! for each destination, which source files landed on which volume.

use std::fmt::Write as _;

use thiserror::Error;

use crate::media::{Medium, MediumError, Object, Volumes};
use crate::progress::{human_bytes, Progress};

/// Why a copy failed.
#[derive(Debug, Error)]
pub enum CopyError {
    /// A medium failed.
    #[error(transparent)]
    Medium(#[from] MediumError),
    /// The source holds nothing.
    #[error("{source_name}: the source is blank (no file before the end of data)")]
    EmptySource {
        /// The source.
        source_name: String,
    },
    /// A source record cannot be read.
    #[error("{source_name}: object {at} (file {file}) cannot be read")]
    BadSource {
        /// The source.
        source_name: String,
        /// Its logical address.
        at: u64,
        /// The file.
        file: u64,
    },
    /// A source file larger than an empty destination volume.
    #[error("{dest}: source file {file} does not fit on an empty volume ({name})")]
    TooLarge {
        /// The destination.
        dest: String,
        /// The source file.
        file: u64,
        /// The volume.
        name: String,
    },
    /// The destination has no volume left.
    #[error("{dest}: no volume left for source file {file}")]
    OutOfVolumes {
        /// The destination.
        dest: String,
        /// The source file.
        file: u64,
    },
    /// A destination volume cannot be written.
    #[error("{dest}: volume {name} is write protected")]
    Protected {
        /// The destination.
        dest: String,
        /// The volume.
        name: String,
    },
    /// A destination volume is the source itself.
    #[error("{dest}: volume {name} is the source")]
    SameAsSource {
        /// The destination.
        dest: String,
        /// The volume.
        name: String,
    },
    /// Reading back a destination volume found a difference.
    #[error("{dest}: verify of volume {name}: {why}")]
    Verify {
        /// The destination.
        dest: String,
        /// The volume.
        name: String,
        /// The difference.
        why: String,
    },
}

/// What a copy does besides copying.
#[derive(Clone, Copy, Debug, Default)]
pub struct CopyOptions {
    /// Read every destination volume back and compare it with the source.
    pub verify: bool,
}

/// One destination volume in the map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VolumeMap {
    /// Its number in the destination's volume sequence (1-based).
    pub volume: usize,
    /// Its name (an image path, a device).
    pub name: String,
    /// The source files on it, in order.
    pub files: Vec<u64>,
    /// Records on it.
    pub records: u64,
    /// Data bytes on it.
    pub bytes: u64,
    /// It was read back and matched the source.
    pub verified: bool,
}

/// One destination in the map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DestMap {
    /// The destination as given.
    pub label: String,
    /// Its volumes, in order.
    pub volumes: Vec<VolumeMap>,
}

/// Where everything went.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyMap {
    /// The source's name.
    pub source: String,
    /// Files copied.
    pub files: u64,
    /// Records copied.
    pub records: u64,
    /// Data bytes copied.
    pub bytes: u64,
    /// Each destination.
    pub dests: Vec<DestMap>,
}

fn file_list(files: &[u64]) -> String {
    match files {
        [] => "no file".into(),
        [one] => format!("file {one}"),
        [first, .., last] if (last - first) as usize + 1 == files.len() => format!("files {first}-{last}"),
        _ => format!("files {}", files.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")),
    }
}

impl CopyMap {
    /// The map as `pmtd copy` prints it.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "source {}: {} files, {} records, {}", self.source, self.files, self.records, human_bytes(self.bytes));
        for d in &self.dests {
            let _ = writeln!(s, "{}:", d.label);
            for v in &d.volumes {
                let _ = writeln!(
                    s,
                    "  volume {} ({}): {}, {} records, {}{}",
                    v.volume,
                    v.name,
                    file_list(&v.files),
                    v.records,
                    human_bytes(v.bytes),
                    if v.verified { ", verified" } else { "" }
                );
            }
        }
        s
    }
}

/// A destination during the copy.
struct Dest<C: Volumes> {
    label: String,
    volumes: C,
    medium: Option<C::Medium>,
    map: DestMap,
    /// The position after the last whole file's tape mark on the volume.
    last_end: u64,
    /// The volume reached early warning with the mark of its last file.
    full: bool,
    /// Still taking the file being copied in this pass.
    active: bool,
    /// The file did not fit: it goes to the next volume.
    spill: bool,
}

/// What the source looks like while it is copied.
struct Source<'a, S: Medium> {
    medium: &'a mut S,
    /// Where each file starts.
    starts: Vec<u64>,
    buf: Vec<u8>,
}

const MAX: usize = pmt::proto::MAX_RECORD as usize;

impl<S: Medium> Source<'_, S> {
    fn read(&mut self, file: u64) -> Result<Object, CopyError> {
        let at = self.medium.position();
        self.buf.clear();
        match self.medium.read(&mut self.buf, MAX)? {
            Object::Bad => Err(CopyError::BadSource { source_name: self.medium.name(), at, file }),
            o => Ok(o),
        }
    }
}

impl<C: Volumes> Dest<C> {
    fn current(&mut self) -> &mut VolumeMap {
        if self.map.volumes.is_empty() {
            self.map.volumes.push(VolumeMap::default());
        }
        let n = self.map.volumes.len();
        &mut self.map.volumes[n - 1]
    }

    fn medium(&mut self) -> Result<&mut C::Medium, CopyError> {
        let label = self.label.clone();
        self.medium.as_mut().ok_or(CopyError::OutOfVolumes { dest: label, file: 0 })
    }

    fn files_here(&self) -> usize {
        self.map.volumes.last().map_or(0, |v| v.files.len())
    }

    fn next_volume(&mut self, file: u64, source: &str) -> Result<(), CopyError> {
        let Some(mut m) = self.volumes.load_next()? else {
            return Err(CopyError::OutOfVolumes { dest: self.label.clone(), file });
        };
        let name = m.name();
        let refuse = if m.readonly() {
            Some(CopyError::Protected { dest: self.label.clone(), name: name.clone() })
        } else if name == source {
            Some(CopyError::SameAsSource { dest: self.label.clone(), name: name.clone() })
        } else {
            None
        };
        if let Some(e) = refuse {
            let _ = self.volumes.unload(m);
            return Err(e);
        }
        m.rewind()?;
        self.map.volumes.push(VolumeMap { volume: self.volumes.volume().unwrap_or(0), name, ..VolumeMap::default() });
        self.medium = Some(m);
        self.last_end = 0;
        self.full = false;
        Ok(())
    }

    /// Writes one record of file `file`; a record that does not fit (or
    /// reaches early warning, unless this is the volume's first file) makes
    /// the file spill to the next volume.
    fn put_record(&mut self, data: &[u8], file: u64) -> Result<(), CopyError> {
        let first = self.files_here() == 0;
        let m = self.medium()?;
        match m.write_record(data) {
            Ok(w) if w.early_warning && !first => self.spill(),
            Ok(_) => Ok(()),
            Err(e) if e.is_overflow() && first => {
                let name = m.name();
                Err(CopyError::TooLarge { dest: self.label.clone(), file, name })
            }
            Err(e) if e.is_overflow() => self.spill(),
            Err(e) => Err(e.into()),
        }
    }

    fn spill(&mut self) -> Result<(), CopyError> {
        self.active = false;
        self.spill = true;
        Ok(())
    }

    /// Ends file `file` with its tape mark.
    fn put_mark(&mut self, file: u64, records: u64, bytes: u64) -> Result<(), CopyError> {
        let first = self.files_here() == 0;
        let m = self.medium()?;
        match m.write_mark() {
            Ok(w) => {
                self.last_end = m.position();
                self.full = w.early_warning;
                self.active = false;
                let v = self.current();
                v.files.push(file);
                v.records += records;
                v.bytes += bytes;
                Ok(())
            }
            Err(e) if e.is_overflow() && first => {
                let name = m.name();
                Err(CopyError::TooLarge { dest: self.label.clone(), file, name })
            }
            Err(e) if e.is_overflow() => self.spill(),
            Err(e) => Err(e.into()),
        }
    }

    /// Ends the volume after its last whole file (the double tape mark),
    /// verifies it if asked, and unloads it.
    fn end_volume<S: Medium>(&mut self, src: &mut Source<'_, S>, verify: bool, progress: &mut Progress) -> Result<(), CopyError> {
        let last_end = self.last_end;
        let Some(mut m) = self.medium.take() else {
            return Ok(());
        };
        let r = (|| -> Result<(), CopyError> {
            if m.position() != last_end {
                m.locate(last_end)?;
            }
            m.write_mark()?;
            m.sync()?;
            Ok(())
        })();
        if let Err(e) = r {
            let _ = self.volumes.unload(m);
            return Err(e);
        }
        if verify {
            let files = self.current().files.clone();
            let name = m.name();
            progress.note(&format!("verifying {} volume {}", self.label, name));
            if let Err(why) = verify_volume(&mut m, src, &files, progress) {
                let _ = self.volumes.unload(m);
                return Err(match why {
                    Fail::Medium(e) => e,
                    Fail::Differs(why) => CopyError::Verify { dest: self.label.clone(), name, why },
                });
            }
            self.current().verified = true;
        }
        self.volumes.unload(m)?;
        Ok(())
    }
}

enum Fail {
    Medium(CopyError),
    Differs(String),
}

impl From<MediumError> for Fail {
    fn from(e: MediumError) -> Fail {
        Fail::Medium(e.into())
    }
}

impl From<CopyError> for Fail {
    fn from(e: CopyError) -> Fail {
        Fail::Medium(e)
    }
}

fn describe(o: &Object) -> String {
    match o {
        Object::Record(n) => format!("a record of {n} bytes"),
        Object::Mark => "a tape mark".into(),
        Object::Bad => "a bad record".into(),
        Object::Eod => "the end of data".into(),
    }
}

/// Reads a destination volume back and compares it with the source files
/// it holds, then checks it ends with the double tape mark.
fn verify_volume<M: Medium, S: Medium>(m: &mut M, src: &mut Source<'_, S>, files: &[u64], progress: &mut Progress) -> Result<(), Fail> {
    m.rewind()?;
    let mut copy = Vec::new();
    for &f in files {
        let start = src.starts.get(f as usize).copied().unwrap_or(0);
        src.medium.locate(start)?;
        let mut rec = 0u64;
        loop {
            let a = src.read(f)?;
            copy.clear();
            let b = m.read(&mut copy, MAX)?;
            match (a, b) {
                (Object::Record(x), Object::Record(y)) if x == y && src.buf == copy => {
                    progress.checked();
                    rec += 1;
                }
                (Object::Record(_), Object::Record(_)) => {
                    return Err(Fail::Differs(format!("file {f}, record {rec}: the data differs")));
                }
                (Object::Mark | Object::Eod, Object::Mark) => break,
                (a, b) => {
                    return Err(Fail::Differs(format!(
                        "file {f}, record {rec}: the source has {}, the copy {}",
                        describe(&a),
                        describe(&b)
                    )));
                }
            }
        }
    }
    copy.clear();
    match m.read(&mut copy, MAX)? {
        Object::Mark => Ok(()),
        o => Err(Fail::Differs(format!("after the last file: {} instead of the closing tape mark", describe(&o)))),
    }
}

/// Copies `source` (from its beginning) to every destination volume sequence
/// (label, volume sequence). See the module documentation.
pub fn copy<S: Medium, C: Volumes>(
    source: &mut S,
    dests: Vec<(String, C)>,
    opts: &CopyOptions,
    progress: &mut Progress,
) -> Result<CopyMap, CopyError> {
    let source_name = source.name();
    source.rewind()?;
    let mut src = Source { medium: source, starts: Vec::new(), buf: Vec::new() };
    let mut dests: Vec<Dest<C>> = dests
        .into_iter()
        .map(|(label, volumes)| Dest {
            map: DestMap { label: label.clone(), volumes: Vec::new() },
            label,
            volumes,
            medium: None,
            last_end: 0,
            full: false,
            active: false,
            spill: false,
        })
        .collect();
    let mut map = CopyMap { source: source_name.clone(), ..CopyMap::default() };
    let mut file = 0u64;
    let r = (|| -> Result<(), CopyError> {
        loop {
            // Where the file starts, and whether there is one.
            let start = src.medium.position();
            match src.read(file)? {
                Object::Eod => break,
                Object::Mark if file > 0 => break,
                _ => {}
            }
            if file == 0 {
                for d in dests.iter_mut() {
                    d.next_volume(0, &source_name)?;
                }
            }
            src.starts.push(start);
            progress.file(file);
            for d in dests.iter_mut().filter(|d| d.full) {
                d.end_volume(&mut src, opts.verify, progress)?;
                d.next_volume(file, &source_name)?;
            }
            let mut todo: Vec<usize> = (0..dests.len()).collect();
            let mut ended_by_eod = false;
            let mut counted = false;
            while !todo.is_empty() {
                src.medium.locate(start)?;
                for &i in &todo {
                    dests[i].active = true;
                    dests[i].spill = false;
                }
                let (mut records, mut bytes) = (0u64, 0u64);
                loop {
                    match src.read(file)? {
                        Object::Record(n) => {
                            for &i in &todo {
                                if dests[i].active {
                                    dests[i].put_record(&src.buf, file)?;
                                }
                            }
                            records += 1;
                            bytes += n as u64;
                            progress.record(n);
                        }
                        o => {
                            ended_by_eod = o == Object::Eod;
                            for &i in &todo {
                                if dests[i].active {
                                    dests[i].put_mark(file, records, bytes)?;
                                }
                            }
                            if !counted {
                                map.records += records;
                                map.bytes += bytes;
                                counted = true;
                            }
                            break;
                        }
                    }
                    if todo.iter().all(|&i| !dests[i].active) {
                        break;
                    }
                }
                todo.retain(|&i| dests[i].spill);
                for &i in &todo {
                    progress.note(&format!("{}: file {file} goes on the next volume", dests[i].label));
                    dests[i].end_volume(&mut src, opts.verify, progress)?;
                    dests[i].next_volume(file, &source_name)?;
                }
            }
            file += 1;
            if ended_by_eod {
                break;
            }
            // The probe read moved past the mark; the next file starts
            // after this one's mark, where the pass left the source.
        }
        if file == 0 {
            return Err(CopyError::EmptySource { source_name: source_name.clone() });
        }
        for d in dests.iter_mut() {
            d.end_volume(&mut src, opts.verify, progress)?;
        }
        Ok(())
    })();
    // Whatever happened, no volume stays half written in a volume sequence.
    for d in dests.iter_mut() {
        if let Some(m) = d.medium.take() {
            let _ = d.volumes.unload(m);
        }
    }
    r?;
    map.files = file;
    map.dests = dests.into_iter().map(|d| d.map).collect();
    Ok(map)
}
