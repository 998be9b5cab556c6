//! An autoloader magazine of image volumes: a list of `.tap` paths loaded in
//! order, each created when missing. The drive's autoloader and a tap member
//! of a mirror both use it, and so will the media changer that serves a library.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use thiserror::Error;
use tracing::{info, warn};

use crate::media::tap::{TapMedium, TapOptions};
use crate::medium::{Volumes, Medium, MediumError};

/// Why a list of volumes could not be made.
#[derive(Debug, Error)]
pub enum VolumesError {
    /// The directory a volume would be created in does not exist.
    #[error("{}: the directory {} does not exist", volume.display(), dir.display())]
    NoDirectory {
        /// The volume.
        volume: PathBuf,
        /// Its directory.
        dir: PathBuf,
    },
    /// A directory of volumes cannot be read.
    #[error("{}: {cause}", dir.display())]
    ReadDir {
        /// The directory.
        dir: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// A volume path is a directory.
    #[error("{}: is a directory, not an image", path.display())]
    IsDirectory {
        /// The path.
        path: PathBuf,
    },
    /// A pattern that does not give volume names.
    #[error("{pattern}: {why}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        why: String,
    },
}

/// The `*.tap` files of `dir`, in name order.
pub fn volumes_in(dir: &Path) -> Result<Vec<PathBuf>, VolumesError> {
    let rd = std::fs::read_dir(dir).map_err(|cause| VolumesError::ReadDir { dir: dir.to_path_buf(), cause })?;
    let mut found: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tap") && !p.is_dir())
        .collect();
    found.sort();
    Ok(found)
}

/// The names a pattern with one `%d` (or `%0Nd`, zero-padded to N digits)
/// gives for volumes 1 to `count`. `%%` is a literal `%`.
pub fn expand_pattern(pattern: &str, count: usize) -> Result<Vec<PathBuf>, VolumesError> {
    let bad = |why: &str| VolumesError::Pattern { pattern: pattern.to_string(), why: why.to_string() };
    let mut head = String::new();
    let mut tail = String::new();
    let mut width: Option<usize> = None;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        let dst = if width.is_some() { &mut tail } else { &mut head };
        if c != '%' {
            dst.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            dst.push('%');
            continue;
        }
        if width.is_some() {
            return Err(bad("more than one %d"));
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
            digits.push(d);
            chars.next();
        }
        if chars.next() != Some('d') {
            return Err(bad("a % must be %d, %0Nd or %%"));
        }
        let w = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| bad("bad %0Nd width"))? };
        if w > 12 {
            return Err(bad("a %0Nd width above 12"));
        }
        width = Some(w);
    }
    let Some(w) = width else {
        return Err(bad("no %d for the volume number"));
    };
    Ok((1..=count).map(|i| PathBuf::from(format!("{head}{i:0w$}{tail}"))).collect())
}

/// Checks that each volume can be opened or created: an existing file, or
/// a name in an existing directory.
pub fn check_volumes(volumes: &[PathBuf]) -> Result<(), VolumesError> {
    for v in volumes {
        if v.is_dir() {
            return Err(VolumesError::IsDirectory { path: v.clone() });
        }
        if v.exists() {
            continue;
        }
        let dir = match v.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            return Err(VolumesError::NoDirectory { volume: v.clone(), dir: dir.to_path_buf() });
        }
    }
    Ok(())
}

/// An autoloader magazine: image volumes loaded one after the other.
pub struct Magazine {
    volumes: Vec<PathBuf>,
    opts: TapOptions,
    /// The next volume the loader takes (an index in `volumes`).
    next: usize,
}

impl fmt::Debug for Magazine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Magazine").field("volumes", &self.volumes.len()).field("next", &self.next).finish()
    }
}

impl Magazine {
    /// A magazine of `volumes`, each opened with `opts`.
    pub fn new(volumes: Vec<PathBuf>, opts: TapOptions) -> Magazine {
        Magazine { volumes, opts, next: 0 }
    }

    /// The volumes, in loading order.
    pub fn volumes(&self) -> &[PathBuf] {
        &self.volumes
    }

    /// The options each volume is opened with.
    pub fn options(&self) -> &TapOptions {
        &self.opts
    }
}

impl Volumes for Magazine {
    type Medium = TapMedium;

    fn load_next(&mut self) -> Result<Option<TapMedium>, MediumError> {
        let Some(path) = self.volumes.get(self.next) else {
            return Ok(None);
        };
        let t0 = Instant::now();
        let (medium, scan, how) = TapMedium::open(path, &self.opts)?;
        let load_us = t0.elapsed().as_micros();
        for p in &scan.problems {
            warn!(image = %path.display(), "{p}; the medium ends at byte {}", scan.end);
        }
        self.next += 1;
        info!(
            image = %path.display(),
            objects = medium.tape().len(),
            write_protected = medium.readonly(),
            index = ?how,
            load_us,
            "volume {} loaded",
            self.next
        );
        Ok(Some(medium))
    }

    fn unload(&mut self, mut medium: TapMedium) -> Result<(), MediumError> {
        let r = medium.sync();
        info!(image = %medium.path().display(), "volume {} unloaded", self.next);
        r
    }

    fn has_next(&self) -> bool {
        self.next < self.volumes.len()
    }

    fn volume(&self) -> Option<usize> {
        (self.next > 0).then_some(self.next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let v = expand_pattern("/t/vol%d.tap", 3).unwrap();
        assert_eq!(v, ["/t/vol1.tap", "/t/vol2.tap", "/t/vol3.tap"].map(PathBuf::from));
        let v = expand_pattern("a%03d-100%%.tap", 2).unwrap();
        assert_eq!(v, ["a001-100%.tap", "a002-100%.tap"].map(PathBuf::from));
        assert!(expand_pattern("plain.tap", 2).unwrap_err().to_string().contains("no %d"));
        assert!(expand_pattern("%d%d", 2).is_err());
        assert!(expand_pattern("%s", 2).is_err());
    }

    #[test]
    fn magazine_loads_in_order_and_creates_volumes() {
        let dir = tempfile::tempdir().unwrap();
        let vols = expand_pattern(&format!("{}/v%d.tap", dir.path().display()), 2).unwrap();
        check_volumes(&vols).unwrap();
        let mut m = Magazine::new(vols.clone(), TapOptions::default());
        assert_eq!(m.volume(), None);
        assert!(m.has_next());
        let a = m.load_next().unwrap().unwrap();
        assert_eq!(a.path(), vols[0]);
        assert_eq!(m.volume(), Some(1));
        m.unload(a).unwrap();
        let b = m.load_next().unwrap().unwrap();
        assert_eq!(b.path(), vols[1]);
        assert!(!m.has_next());
        m.unload(b).unwrap();
        assert!(m.load_next().unwrap().is_none());
        assert!(vols.iter().all(|v| v.is_file()), "volumes are created when missing");
        assert_eq!(volumes_in(dir.path()).unwrap(), vols);
    }

    #[test]
    fn a_missing_directory_is_named_once() {
        let e = check_volumes(&[PathBuf::from("/nonexistent-pmt-dir/y.tap")]).unwrap_err();
        assert_eq!(e.to_string(), "/nonexistent-pmt-dir/y.tap: the directory /nonexistent-pmt-dir does not exist");
        let e = volumes_in(Path::new("/nonexistent-pmt-dir")).unwrap_err();
        assert_eq!(e.to_string(), "/nonexistent-pmt-dir: No such file or directory (os error 2)");
        assert!(std::error::Error::source(&e).is_none(), "the cause is printed once");
    }
}
