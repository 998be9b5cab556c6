//! Helpers shared by pmtd's integration tests: image volumes in a
//! temporary directory, deterministic records, a medium that fails on
//! demand.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use pmtd::media::image::{ImageOptions, LocalImage};
use pmtd::media::{Medium, MediumError, Object, Written};

/// Deterministic test data: record `i` of `len` bytes (compressible).
pub fn record(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i.wrapping_mul(31).wrapping_add(j / 16) % 251) as u8).collect()
}

/// Incompressible data.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Opens image `name` in `dir` with a capacity and early-warning zone.
pub fn tap(dir: &Path, name: &str, capacity: Option<u64>, early_warning: u64) -> LocalImage {
    let opts = ImageOptions { capacity, early_warning, read_only: false };
    LocalImage::open(&dir.join(name), &opts).expect("open image").0
}

/// Every object of a medium from its beginning: Some(data) or None for a
/// mark (bad records as Some of "BAD").
pub fn objects<M: Medium>(m: &mut M) -> Vec<Option<Vec<u8>>> {
    m.rewind().expect("rewind");
    let mut v = Vec::new();
    loop {
        let mut buf = Vec::new();
        match m.read(&mut buf, usize::MAX).expect("read") {
            Object::Record(n) => {
                assert_eq!(n, buf.len());
                v.push(Some(buf));
            }
            Object::Mark => v.push(None),
            Object::Bad => v.push(Some(b"BAD".to_vec())),
            Object::Eod => return v,
        }
    }
}

/// The paths of `names` in `dir`.
pub fn paths(dir: &Path, names: &[&str]) -> Vec<PathBuf> {
    names.iter().map(|n| dir.join(n)).collect()
}

/// Switches shared by a test and a [`Flaky`] medium.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Writes and marks fail once this many more have succeeded (when armed).
    pub writes_left: Arc<AtomicUsize>,
    /// Arm the write failure.
    pub armed: Arc<AtomicBool>,
    /// Reads fail.
    pub reads: Arc<AtomicBool>,
    /// Records are stored with their last byte changed.
    pub corrupt: Arc<AtomicBool>,
}

impl Faults {
    /// Fail every write and mark after `n` more.
    pub fn fail_writes_after(&self, n: usize) {
        self.writes_left.store(n, Ordering::SeqCst);
        self.armed.store(true, Ordering::SeqCst);
    }
}

/// A medium that fails when told to (a drive that dies).
#[derive(Debug)]
pub struct Flaky<M> {
    /// The medium underneath.
    pub inner: M,
    /// The switches.
    pub faults: Faults,
}

impl<M: Medium> Flaky<M> {
    fn write_fault(&self) -> Result<(), MediumError> {
        if !self.faults.armed.load(Ordering::SeqCst) {
            return Ok(());
        }
        let left = self.faults.writes_left.load(Ordering::SeqCst);
        if left == 0 {
            return Err(MediumError::io(self.inner.name(), std::io::Error::other("the drive died")));
        }
        self.faults.writes_left.store(left - 1, Ordering::SeqCst);
        Ok(())
    }
}

impl<M: Medium> Medium for Flaky<M> {
    pmtd::forward_medium!(
        inner: name, readonly, position, at_eod, room, space_records, space_marks, space_eod, rewind, locate, erase,
        sync, undo_last,
    );
    fn write_record(&mut self, data: &[u8]) -> Result<Written, MediumError> {
        self.write_fault()?;
        if self.faults.corrupt.load(Ordering::SeqCst) {
            let mut d = data.to_vec();
            if let Some(b) = d.last_mut() {
                *b ^= 0xff;
            }
            return self.inner.write_record(&d);
        }
        self.inner.write_record(data)
    }
    fn write_mark(&mut self) -> Result<Written, MediumError> {
        self.write_fault()?;
        self.inner.write_mark()
    }
    fn read(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<Object, MediumError> {
        if self.faults.reads.load(Ordering::SeqCst) {
            return Err(MediumError::io(self.inner.name(), std::io::Error::other("read failed")));
        }
        self.inner.read(buf, max)
    }
}

/// A volume sequence of [`Flaky`] image volumes sharing one set of switches.
#[derive(Debug)]
pub struct FlakyVolumes {
    /// The magazine underneath.
    pub inner: pmtd::media::magazine::Magazine,
    /// The switches of every volume.
    pub faults: Faults,
}

impl pmtd::media::Volumes for FlakyVolumes {
    type Medium = Flaky<LocalImage>;
    fn load_next(&mut self) -> Result<Option<Flaky<LocalImage>>, MediumError> {
        Ok(self.inner.load_next()?.map(|inner| Flaky { inner, faults: self.faults.clone() }))
    }
    fn unload(&mut self, m: Flaky<LocalImage>) -> Result<(), MediumError> {
        self.inner.unload(m.inner)
    }
    fn has_next(&self) -> bool {
        self.inner.has_next()
    }
    fn volume(&self) -> Option<usize> {
        self.inner.volume()
    }
}
