//! An autoloader magazine of image volumes, loaded in order: a list of
//! `.tap` files (each created when missing), or the images a pattern names
//! on another host over rmt. The drive's autoloader and an image member of
//! a mirror both use it, and so will the media changer that serves a
//! library.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use thiserror::Error;
use tracing::{info, warn};

use crate::media::image::{FileStore, ImageMedium, ImageOptions, RmtStore, Store};
use crate::media::rmt::Remote;
use crate::media::{Medium, MediumError, Volumes};

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

/// A volume name with a number in it: `%d` (or `%0Nd`, zero-padded to N
/// digits) stands for the volume number from 1, `%%` for a `%`. A name
/// without `%d` names one volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumePattern {
    head: String,
    /// The width of the number, if the name has one.
    width: Option<usize>,
    tail: String,
}

impl VolumePattern {
    /// Parses a pattern (at most one `%d`).
    pub fn parse(pattern: &str) -> Result<VolumePattern, String> {
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
                return Err("more than one %d".into());
            }
            let mut digits = String::new();
            while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                digits.push(d);
                chars.next();
            }
            if chars.next() != Some('d') {
                return Err("a % must be %d, %0Nd or %%".into());
            }
            let w = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| "bad %0Nd width")? };
            if w > 12 {
                return Err("a %0Nd width above 12".into());
            }
            width = Some(w);
        }
        Ok(VolumePattern { head, width, tail })
    }

    /// True if the name holds a number: it names one volume per number.
    pub fn is_numbered(&self) -> bool {
        self.width.is_some()
    }

    /// The name of volume `n` (from 1).
    pub fn name(&self, n: usize) -> String {
        match self.width {
            Some(w) => format!("{}{n:0w$}{}", self.head, self.tail),
            None => format!("{}{}", self.head, self.tail),
        }
    }
}

/// The names a pattern with one `%d` (or `%0Nd`, zero-padded to N digits)
/// gives for volumes 1 to `count`. `%%` is a literal `%`.
pub fn expand_pattern(pattern: &str, count: usize) -> Result<Vec<PathBuf>, VolumesError> {
    let bad = |why: String| VolumesError::Pattern { pattern: pattern.to_string(), why };
    let p = VolumePattern::parse(pattern).map_err(bad)?;
    if !p.is_numbered() {
        return Err(bad("no %d for the volume number".into()));
    }
    Ok((1..=count).map(|i| PathBuf::from(p.name(i))).collect())
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

/// Where the volumes of a magazine are: opens the store of each.
pub trait ImageSet: fmt::Debug + Send {
    /// The store of a volume.
    type Store: Store;

    /// True if the set has volume `n` (from 1).
    fn has(&self, n: usize) -> bool;

    /// Opens the store of volume `n` (from 1).
    fn open(&self, n: usize, read_only: bool) -> Result<Self::Store, MediumError>;
}

/// Image files on this host, in loading order.
pub struct LocalImages(Vec<PathBuf>);

impl fmt::Debug for LocalImages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalImages({} volumes)", self.0.len())
    }
}

impl ImageSet for LocalImages {
    type Store = FileStore;

    fn has(&self, n: usize) -> bool {
        (1..=self.0.len()).contains(&n)
    }

    fn open(&self, n: usize, read_only: bool) -> Result<FileStore, MediumError> {
        let path = self.0.get(n.wrapping_sub(1)).ok_or_else(|| MediumError::Unsupported {
            medium: "magazine".into(),
            what: format!("no volume {n}"),
        })?;
        FileStore::open(path, read_only).map_err(|e| MediumError::io(path.display(), e))
    }
}

/// Image files on another host, over rmt: the names of a pattern, one
/// session per volume.
#[derive(Debug)]
pub struct RemoteImages {
    remote: Remote,
    names: VolumePattern,
    /// At most this many volumes (a numbered pattern without it has no end).
    max: Option<usize>,
}

impl RemoteImages {
    /// The images `names` on `remote`'s host (its path is ignored), at
    /// most `max` of them.
    pub fn new(remote: Remote, names: VolumePattern, max: Option<usize>) -> RemoteImages {
        RemoteImages { remote, names, max }
    }
}

impl ImageSet for RemoteImages {
    type Store = RmtStore;

    fn has(&self, n: usize) -> bool {
        n >= 1 && (n == 1 || self.names.is_numbered()) && self.max.is_none_or(|m| n <= m)
    }

    fn open(&self, n: usize, read_only: bool) -> Result<RmtStore, MediumError> {
        let path = self.names.name(n);
        RmtStore::open(&self.remote, &path, read_only).map_err(|e| {
            let mut r = self.remote.clone();
            r.path = path;
            MediumError::io(r.display(), e)
        })
    }
}

/// An autoloader magazine: image volumes loaded one after the other,
/// local files by default, or files on another host.
#[derive(Debug)]
pub struct Magazine<I: ImageSet = LocalImages> {
    images: I,
    opts: ImageOptions,
    /// Volumes loaded so far: the next one is `loaded + 1`.
    loaded: usize,
}

impl Magazine {
    /// A magazine of the image files `volumes`, each opened with `opts`.
    pub fn new(volumes: Vec<PathBuf>, opts: ImageOptions) -> Magazine {
        Magazine::of(LocalImages(volumes), opts)
    }

    /// The volumes, in loading order.
    pub fn volumes(&self) -> &[PathBuf] {
        &self.images.0
    }
}

impl<I: ImageSet> Magazine<I> {
    /// A magazine of the volumes of `images`, each opened with `opts`.
    pub fn of(images: I, opts: ImageOptions) -> Magazine<I> {
        Magazine { images, opts, loaded: 0 }
    }

    /// The options each volume is opened with.
    pub fn options(&self) -> &ImageOptions {
        &self.opts
    }
}

impl<I: ImageSet> Volumes for Magazine<I> {
    type Medium = ImageMedium<I::Store>;

    fn load_next(&mut self) -> Result<Option<ImageMedium<I::Store>>, MediumError> {
        if !self.has_next() {
            return Ok(None);
        }
        let t0 = Instant::now();
        let store = self.images.open(self.loaded + 1, self.opts.read_only)?;
        let (medium, loaded) = ImageMedium::load(store, &self.opts)?;
        let load_us = t0.elapsed().as_micros();
        let name = medium.name();
        for p in &loaded.scan.problems {
            warn!(image = %name, "{p}; the medium ends at byte {}", loaded.scan.end);
        }
        self.loaded += 1;
        info!(
            image = %name,
            objects = medium.objects().len(),
            write_protected = medium.readonly(),
            index = ?loaded.how,
            load_us,
            "volume {} loaded",
            self.loaded
        );
        Ok(Some(medium))
    }

    fn unload(&mut self, mut medium: ImageMedium<I::Store>) -> Result<(), MediumError> {
        let r = medium.close();
        info!(image = %medium.name(), "volume {} unloaded", self.loaded);
        r
    }

    fn has_next(&self) -> bool {
        self.images.has(self.loaded + 1)
    }

    fn volume(&self) -> Option<usize> {
        (self.loaded > 0).then_some(self.loaded)
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
        let mut m = Magazine::new(vols.clone(), ImageOptions::default());
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
