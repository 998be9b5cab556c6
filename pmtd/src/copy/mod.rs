//! `pmtd copy`: duplicates a tape, or a whole set of volumes, to one or
//! more destinations, record for record with its tape marks.
//!
//! The source is a sequence of volumes (every volume of the source spec, in
//! order); its files are copied one after the other, as one stream of files
//! across the set, so a set spanned by its program (dump, `tar -M`) keeps
//! its order on the destination's volumes, which end where each needs.
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
//! Each source volume ends at its end of data or at two consecutive tape
//! marks. With `verify`, every destination volume is read back before it is
//! unloaded and compared record for record (length and a 64-bit digest of
//! each record, taken as the source was read) with the source files it
//! holds. The result is a map: for each destination volume, which source
//! volume and file landed on it.

use std::hash::{Hash, Hasher};

use crate::media::{Medium, MediumError, Object, Volumes};
use crate::progress::Progress;
use tracing::warn;

mod map;
pub use map::{CopyError, CopyMap, CopyOptions, DestMap, SourceFile, VolumeMap};

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

/// A record as verify checks it: its length and a digest of its bytes.
type Digest = (usize, u64);

fn digest(data: &[u8]) -> Digest {
    let mut h = std::hash::DefaultHasher::new();
    data.hash(&mut h);
    (data.len(), h.finish())
}

/// The files of the source set copied so far.
#[derive(Default)]
struct Files {
    /// Source volume and file, by number across the set.
    names: Vec<SourceFile>,
    /// The digest of every record, by number across the set (kept for
    /// verify, filled by the first pass over the file that reads it whole).
    digests: Vec<Vec<Digest>>,
    /// More than one source volume.
    set: bool,
}

impl Files {
    /// "file 3", or "source volume 2 file 0" in a set.
    fn name(&self, g: u64) -> String {
        match self.names.get(g as usize) {
            Some(n) if self.set => format!("source volume {} file {}", n.volume, n.file),
            Some(n) => format!("file {}", n.file),
            None => format!("file {g}"),
        }
    }
}

/// One volume of the source while it is copied.
struct Source<'a, S: Medium> {
    medium: &'a mut S,
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

    fn next_volume(&mut self, file: u64, sources: &[String]) -> Result<(), CopyError> {
        let Some(mut m) = self.volumes.load_next()? else {
            return Err(CopyError::OutOfVolumes { dest: self.label.clone(), file });
        };
        let name = m.name();
        let refuse = if m.readonly() {
            Some(CopyError::Protected { dest: self.label.clone(), name: name.clone() })
        } else if sources.contains(&name) {
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

    /// Ends file `file` (numbered across the set; `name`: source volume and
    /// file) with its tape mark.
    fn put_mark(&mut self, file: u64, name: SourceFile, records: u64, bytes: u64) -> Result<(), CopyError> {
        let first = self.files_here() == 0;
        let m = self.medium()?;
        match m.write_mark() {
            Ok(w) => {
                self.last_end = m.position();
                self.full = w.early_warning;
                self.active = false;
                let v = self.current();
                v.files.push(file);
                v.sources.push(name);
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
    fn end_volume(&mut self, files: &Files, verify: bool, progress: &mut Progress) -> Result<(), CopyError> {
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
            let here = self.current().files.clone();
            let name = m.name();
            progress.note(&format!("verifying {} volume {}", self.label, name));
            if let Err(why) = verify_volume(&mut m, files, &here, progress) {
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
/// it holds (`here`, numbered across the set), then checks it ends with the
/// double tape mark.
fn verify_volume<M: Medium>(m: &mut M, files: &Files, here: &[u64], progress: &mut Progress) -> Result<(), Fail> {
    m.rewind()?;
    let mut copy = Vec::new();
    for &f in here {
        let want = files.digests.get(f as usize).map(Vec::as_slice).unwrap_or_default();
        let mut rec = 0usize;
        loop {
            copy.clear();
            let b = m.read(&mut copy, MAX)?;
            let a = want.get(rec);
            match (a, b) {
                (Some(&d), Object::Record(y)) if d.0 == y && digest(&copy) == d => {
                    progress.checked();
                    rec += 1;
                }
                (Some(_), Object::Record(_)) => {
                    return Err(Fail::Differs(format!("{}, record {rec}: the data differs", files.name(f))));
                }
                (None, Object::Mark) => break,
                (a, b) => {
                    let src = if a.is_some() { "a record".to_string() } else { "the end of the file".to_string() };
                    return Err(Fail::Differs(format!("{}, record {rec}: the source has {src}, the copy {}", files.name(f), describe(&b))));
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

/// Copies `source`, one volume, from its beginning: [`copy_set`] with a set
/// of one.
pub fn copy<S: Medium, C: Volumes>(
    source: &mut S,
    dests: Vec<(String, C)>,
    opts: &CopyOptions,
    progress: &mut Progress,
) -> Result<CopyMap, CopyError> {
    let name = source.name();
    let mut map = CopyMap { source: name.clone(), source_volumes: vec![name], ..CopyMap::default() };
    let mut state = Copying::new(dests);
    let r = state.volume(source, 1, opts, progress, &mut map).and_then(|()| state.finish(opts, progress));
    state.close(r, map)
}

/// Copies every volume of `source`, in order, from its beginning, to every
/// destination volume sequence (label, volume sequence). See the module
/// documentation.
pub fn copy_set<SV: Volumes, C: Volumes>(
    source: &mut SV,
    dests: Vec<(String, C)>,
    opts: &CopyOptions,
    progress: &mut Progress,
) -> Result<CopyMap, CopyError> {
    let mut map = CopyMap::default();
    let mut state = Copying::new(dests);
    let r = (|| -> Result<(), CopyError> {
        let mut v = 0;
        while let Some(mut m) = source.load_next()? {
            v += 1;
            let name = m.name();
            if v == 1 {
                map.source = name.clone();
            }
            map.source_volumes.push(name.clone());
            state.files.set = v > 1 || source.has_next();
            progress.note(&format!("source volume {v} ({name})"));
            let r = state.volume(&mut m, v, opts, progress, &mut map);
            let u = source.unload(m);
            r?;
            u?;
        }
        if map.source_volumes.len() > 1 {
            map.source = format!("{} and {} more volume(s)", map.source, map.source_volumes.len() - 1);
        }
        state.finish(opts, progress)
    })();
    state.close(r, map)
}

/// A copy under way: the destinations and the files copied so far.
struct Copying<C: Volumes> {
    dests: Vec<Dest<C>>,
    files: Files,
    /// Source volume names seen (no destination volume may be one).
    sources: Vec<String>,
}

impl<C: Volumes> Copying<C> {
    fn new(dests: Vec<(String, C)>) -> Copying<C> {
        let dests = dests
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
        Copying { dests, files: Files::default(), sources: Vec::new() }
    }

    /// Copies the files of one source volume (number `v`).
    fn volume<S: Medium>(&mut self, source: &mut S, v: usize, opts: &CopyOptions, progress: &mut Progress, map: &mut CopyMap) -> Result<(), CopyError> {
        let source_name = source.name();
        self.sources.push(source_name.clone());
        source.rewind()?;
        let mut src = Source { medium: source, buf: Vec::new() };
        let dests = &mut self.dests;
        let files = &mut self.files;
        let mut file = 0u64;
        loop {
            // Where the file starts, and whether there is one.
            let start = src.medium.position();
            match src.read(file)? {
                Object::Eod => break,
                Object::Mark if file > 0 => break,
                _ => {}
            }
            let g = files.names.len() as u64;
            let name = SourceFile { volume: v, file };
            files.names.push(name);
            files.digests.push(Vec::new());
            if g == 0 {
                for d in dests.iter_mut() {
                    d.next_volume(0, &self.sources)?;
                }
            }
            progress.file(g);
            for d in dests.iter_mut().filter(|d| d.full) {
                d.end_volume(files, opts.verify, progress)?;
                d.next_volume(g, &self.sources)?;
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
                let mut digests = Vec::new();
                loop {
                    match src.read(file)? {
                        Object::Record(n) => {
                            for &i in &todo {
                                if dests[i].active {
                                    dests[i].put_record(&src.buf, g)?;
                                }
                            }
                            if !counted && opts.verify {
                                digests.push(digest(&src.buf));
                            }
                            records += 1;
                            bytes += n as u64;
                            progress.record(n);
                        }
                        o => {
                            ended_by_eod = o == Object::Eod;
                            if !counted {
                                map.records += records;
                                map.bytes += bytes;
                                if let Some(d) = files.digests.last_mut() {
                                    *d = std::mem::take(&mut digests);
                                }
                                counted = true;
                            }
                            for &i in &todo {
                                if dests[i].active {
                                    dests[i].put_mark(g, name, records, bytes)?;
                                }
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
                    progress.note(&format!("{}: {} goes on the next volume", dests[i].label, files.name(g)));
                    dests[i].end_volume(files, opts.verify, progress)?;
                    dests[i].next_volume(g, &self.sources)?;
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
            warn!("{source_name}: a blank source volume, nothing to copy from it");
        }
        Ok(())
    }

    /// Ends every destination's last volume.
    fn finish(&mut self, opts: &CopyOptions, progress: &mut Progress) -> Result<(), CopyError> {
        if self.files.names.is_empty() {
            let source_name = self.sources.first().cloned().unwrap_or_default();
            return Err(CopyError::EmptySource { source_name });
        }
        for d in self.dests.iter_mut() {
            d.end_volume(&self.files, opts.verify, progress)?;
        }
        Ok(())
    }

    /// Unloads whatever is still loaded (no volume stays half written in a
    /// volume sequence) and gives the map.
    fn close(mut self, r: Result<(), CopyError>, mut map: CopyMap) -> Result<CopyMap, CopyError> {
        for d in self.dests.iter_mut() {
            if let Some(m) = d.medium.take() {
                let _ = d.volumes.unload(m);
            }
        }
        r?;
        map.files = self.files.names.len() as u64;
        map.dests = self.dests.into_iter().map(|d| d.map).collect();
        Ok(map)
    }
}
