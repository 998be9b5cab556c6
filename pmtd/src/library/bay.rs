//! A library drive's volumes: the cartridge the library's picker put in
//! the drive, if any ([`Bay`]).
//!
//! A drive of a library has no magazine: its volume sequence is the one
//! cartridge in it. The picker puts a cartridge in ([`Bay::put`]) and the
//! drive loads it; `mt offline` (MTOFFL, MTUNLOAD) ejects it, and it stays
//! in the drive, unloaded, until the picker takes it ([`Bay::take`]) or a
//! load command (MTLOAD) pulls it in again. The drive never changes tapes
//! by itself: there is no next volume.
//!
//! A cartridge's medium is any medium spec, or a mirror of several, built
//! when it is loaded and dropped when it is unloaded; a cartridge is the
//! first volume of what its spec describes.

use crate::media::image::ImageOptions;
use crate::media::{DynMedium, MediumError, Volumes};
use crate::setup::Setup;

/// How cartridges' media are built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MediaDefaults {
    /// The default options of tap volumes.
    pub image: ImageOptions,
    /// A mirror member that fails is dropped instead of failing.
    pub degraded: bool,
}

#[derive(Debug)]
struct Held {
    barcode: String,
    medium: Vec<String>,
    /// Built while the cartridge is loaded.
    volumes: Option<crate::media::DynVolumes>,
}

/// The cartridge in a library drive.
#[derive(Debug)]
pub struct Bay {
    defaults: MediaDefaults,
    held: Option<Held>,
    /// The drive ejected the cartridge: it waits for the picker.
    ejected: bool,
}

impl Bay {
    /// An empty drive.
    pub fn new(defaults: MediaDefaults) -> Bay {
        Bay { defaults, held: None, ejected: false }
    }

    /// The picker puts cartridge `barcode` of `medium` in (the drive is
    /// empty); the drive's next load loads it.
    pub fn put(&mut self, barcode: &str, medium: &[String]) {
        self.held = Some(Held { barcode: barcode.to_string(), medium: medium.to_vec(), volumes: None });
        self.ejected = false;
    }

    /// The picker takes the cartridge out (the drive has unloaded it).
    /// Its barcode.
    pub fn take(&mut self) -> Option<String> {
        self.ejected = false;
        self.held.take().map(|h| h.barcode)
    }

    /// The cartridge waits in the drive unloaded, as after an eject: only
    /// a load command (or the picker) moves it.
    pub fn mark_ejected(&mut self) {
        self.ejected = self.held.is_some();
    }

    /// The barcode of the cartridge in the drive, loaded or not.
    pub fn barcode(&self) -> Option<&str> {
        self.held.as_ref().map(|h| h.barcode.as_str())
    }
}

impl Volumes for Bay {
    type Medium = DynMedium;

    fn load_next(&mut self) -> Result<Option<DynMedium>, MediumError> {
        let defaults = self.defaults;
        let Some(h) = self.held.as_mut().filter(|h| h.volumes.is_none()) else {
            return Ok(None);
        };
        if self.ejected {
            return Ok(None);
        }
        let fail = |what: String| MediumError::Unsupported { medium: h.barcode.clone(), what };
        // A mirrored library's cartridge: the drives of the sides that
        // loaded it (a side dropped meanwhile has its placeholder).
        let media: Vec<String> = h.medium.iter().filter(|m| !super::mirror::is_placeholder(m)).cloned().collect();
        if media.is_empty() {
            return Err(fail("no drive holds it on any side".into()));
        }
        let setup = Setup {
            degraded: defaults.degraded && media.len() > 1,
            media,
            image: defaults.image,
            ..Setup::default()
        };
        let (mut volumes, _) = setup.build().map_err(|e| fail(e.to_string()))?;
        match volumes.load_next()? {
            Some(m) => {
                h.volumes = Some(volumes);
                Ok(Some(m))
            }
            None => Err(fail("its medium has no volume".into())),
        }
    }

    fn unload(&mut self, medium: DynMedium) -> Result<(), MediumError> {
        self.ejected = true;
        match self.held.as_mut().and_then(|h| h.volumes.take()) {
            Some(mut v) => v.unload(medium),
            None => Err(MediumError::Unsupported { medium: medium.name(), what: "not the cartridge in this drive".into() }),
        }
    }

    fn has_next(&self) -> bool {
        false
    }

    fn volume(&self) -> Option<usize> {
        self.held.as_ref().and_then(|h| h.volumes.as_ref()).map(|_| 1)
    }

    fn load_again(&mut self) -> Result<Option<DynMedium>, MediumError> {
        self.ejected = false;
        self.load_next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drive::{Drive, DriveConfig};

    #[test]
    fn a_cartridge_is_put_in_ejected_and_taken() {
        let dir = tempfile::tempdir().unwrap();
        let spec = format!("tap:{}/A.tap", dir.path().display());
        let mut d = Drive::new(Bay::new(MediaDefaults::default()), DriveConfig::default()).unwrap();
        assert!(!d.loaded());
        d.volumes_mut().put("A00001L6", std::slice::from_ref(&spec));
        assert!(d.load_medium().unwrap());
        assert_eq!(d.volume(), Some(1));
        d.unload_medium().unwrap();
        assert!(!d.loaded());
        assert_eq!(d.volumes().barcode(), Some("A00001L6"), "ejected, still in the drive");
        assert!(d.volumes_mut().load_next().unwrap().is_none(), "no next volume");
        assert!(d.volumes_mut().load_again().unwrap().is_some(), "MTLOAD pulls it in again");
        let mut b = Bay::new(MediaDefaults::default());
        b.put("B", &["floppy:/dev/fd0".to_string()]);
        assert!(b.load_next().is_err(), "a medium that cannot be built");
        assert_eq!(b.take().as_deref(), Some("B"));
        assert_eq!(b.barcode(), None);
    }
}
