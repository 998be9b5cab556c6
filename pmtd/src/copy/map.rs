//! What `pmtd copy` reports: why a copy failed, and the map of where each
//! source file went, as it prints it.

use std::fmt::Write as _;

use thiserror::Error;

use crate::media::MediumError;
use crate::progress::human_bytes;

/// Why a copy failed.
#[derive(Debug, Error)]
pub enum CopyError {
    /// A medium failed.
    #[error(transparent)]
    Medium(#[from] MediumError),
    /// The source holds nothing.
    #[error("{source_name}: the source is blank (no file before the end of data on any volume)")]
    EmptySource {
        /// The source.
        source_name: String,
    },
    /// A source record cannot be read.
    #[error("{source_name}: object {at} (file {file} of that volume) cannot be read")]
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

/// A file of the source set: the source volume (1-based) and the file on it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceFile {
    /// The source volume, 1-based.
    pub volume: usize,
    /// The file on that volume, from 0.
    pub file: u64,
}

/// One destination volume in the map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VolumeMap {
    /// Its number in the destination's volume sequence (1-based).
    pub volume: usize,
    /// Its name (an image path, a device).
    pub name: String,
    /// The source files on it, in order, numbered across the whole set
    /// (with one source volume, the file numbers of that volume).
    pub files: Vec<u64>,
    /// The same files as source volume and file.
    pub sources: Vec<SourceFile>,
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
    /// The source's name (its first volume's, with the count of volumes
    /// when there are more).
    pub source: String,
    /// The source volumes copied, with their names.
    pub source_volumes: Vec<String>,
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

/// "source volume 1 files 3-4, source volume 2 files 0-1".
fn source_list(sources: &[SourceFile]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sources.len() {
        let v = sources[i].volume;
        let files: Vec<u64> = sources[i..].iter().take_while(|s| s.volume == v).map(|s| s.file).collect();
        i += files.len();
        parts.push(format!("source volume {v} {}", file_list(&files)));
    }
    if parts.is_empty() {
        "no file".into()
    } else {
        parts.join(", ")
    }
}

impl CopyMap {
    /// The map as `pmtd copy` prints it.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "source {}: {} files, {} records, {}", self.source, self.files, self.records, human_bytes(self.bytes));
        let set = self.source_volumes.len() > 1;
        if set {
            for (i, name) in self.source_volumes.iter().enumerate() {
                let _ = writeln!(s, "  source volume {} ({name})", i + 1);
            }
        }
        for d in &self.dests {
            let _ = writeln!(s, "{}:", d.label);
            for v in &d.volumes {
                let _ = writeln!(
                    s,
                    "  volume {} ({}): {}, {} records, {}{}",
                    v.volume,
                    v.name,
                    if set { source_list(&v.sources) } else { file_list(&v.files) },
                    v.records,
                    human_bytes(v.bytes),
                    if v.verified { ", verified" } else { "" }
                );
            }
        }
        s
    }
}
