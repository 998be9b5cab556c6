//! A whole drive setup: the volumes or media behind the drive, their
//! filters, the drive's limits, from the command line or a TOML file:
//!
//! ```toml
//! device = "/dev/pmts0"
//! mirror = ["tap:/var/tapes/a%d.tap,volumes=3", "tape:/dev/nst0"]
//! degraded = false
//! capacity = "4G"        # default for tap volumes (or a number of bytes)
//! early-warning = "64M"
//! max-block = "1M"
//! read-only = false
//! compress = 3           # or true (level 3)
//! key-file = "/etc/pmt/tape.key"
//! # or, instead of mirror: image = ["/var/tapes/a.tap"], volumes = "/var/tapes"
//! serial = "PMTD0000"    # what the drive says it is (INQUIRY); also vendor,
//!                        # product, revision
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;
use tracing::info;

use crate::drive::DriveConfig;
use crate::media::filter::{Filter, FilterVolumes, Key, KeyError};
use crate::media::image::ImageOptions;
use crate::media::magazine::{check_volumes, volumes_in, Magazine, VolumesError};
use crate::media::mirror::MirrorVolumes;
use crate::media::{boxed, DynVolumes};
use crate::scsi::{Identity, IdentityError};
use crate::spec::{self, parse_level, parse_size, SpecError, DEFAULT_LEVEL};

/// Why a setup cannot be built.
#[derive(Debug, Error)]
pub enum SetupError {
    /// A medium spec is wrong.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A volume list is wrong.
    #[error(transparent)]
    Volumes(#[from] VolumesError),
    /// The key file is wrong.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The drive's identity is wrong.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The configuration file is wrong.
    #[error("{}: {why}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// Options that do not go together, or a value out of range.
    #[error("{0}")]
    Invalid(String),
}

/// A described setup (see the module documentation).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Setup {
    /// The slave device to serve.
    pub device: Option<PathBuf>,
    /// Image volumes of the drive's magazine.
    pub images: Vec<PathBuf>,
    /// A directory whose `*.tap` files follow the images in the magazine.
    pub volumes: Option<PathBuf>,
    /// Medium specs: one is the drive's medium, more make a mirror.
    pub media: Vec<String>,
    /// Drop a failing mirror member instead of failing.
    pub degraded: bool,
    /// The options of image volumes (defaults for tap specs).
    pub image: ImageOptions,
    /// The largest record the drive accepts.
    pub max_block: Option<u64>,
    /// Compress every record at this zstd level.
    pub compress: Option<i32>,
    /// Encrypt every record with the key in this file.
    pub key_file: Option<PathBuf>,
    /// What the drive says it is: vendor, product, revision, serial (each
    /// defaults to pmt's, the serial from the device's unit number).
    pub ident: Ident,
    /// Take records the program writes after it was told of the end of a
    /// volume (ENOSPC), as a real drive does; by default they are refused
    /// whole ([`DriveConfig::refuse_after_enospc`]).
    pub write_after_enospc: bool,
}

/// The parts of a device's identity given (the others take pmt's defaults).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ident {
    /// INQUIRY's vendor (8 characters).
    pub vendor: Option<String>,
    /// INQUIRY's product (16 characters).
    pub product: Option<String>,
    /// INQUIRY's revision (4 characters).
    pub revision: Option<String>,
    /// The unit serial number.
    pub serial: Option<String>,
}

impl Ident {
    /// The identity, each missing part from `defaults`.
    pub fn over(&self, defaults: &Identity) -> Result<Identity, IdentityError> {
        Identity::new(
            self.vendor.as_deref().unwrap_or(defaults.vendor()),
            self.product.as_deref().unwrap_or(defaults.product()),
            self.revision.as_deref().unwrap_or(defaults.revision()),
            self.serial.as_deref().unwrap_or(defaults.serial()),
        )
    }
}

/// A size in a configuration file: a number of bytes or a string with a
/// suffix.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum SizeValue {
    Bytes(u64),
    Text(String),
}

impl SizeValue {
    /// The size in bytes; `name` says which setting is wrong.
    pub(crate) fn bytes(&self, name: &str) -> Result<u64, String> {
        match self {
            SizeValue::Bytes(n) => Ok(*n),
            SizeValue::Text(t) => parse_size(t).map_err(|e| format!("{name}: {e}")),
        }
    }
}

/// The line of a TOML error, and its message.
pub(crate) fn toml_error(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => format!("line {}: {}", text.get(..span.start).unwrap_or(text).matches('\n').count() + 1, e.message()),
        None => e.message().to_string(),
    }
}

/// `compress = true` or `compress = LEVEL`.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum CompressValue {
    On(bool),
    Level(i32),
}

/// The configuration file, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct File {
    device: Option<PathBuf>,
    #[serde(default)]
    image: Vec<PathBuf>,
    volumes: Option<PathBuf>,
    #[serde(default, alias = "medium")]
    mirror: Vec<String>,
    #[serde(default)]
    degraded: bool,
    capacity: Option<SizeValue>,
    early_warning: Option<SizeValue>,
    max_block: Option<SizeValue>,
    #[serde(default)]
    read_only: bool,
    compress: Option<CompressValue>,
    key_file: Option<PathBuf>,
    vendor: Option<String>,
    product: Option<String>,
    revision: Option<String>,
    serial: Option<String>,
    #[serde(default)]
    write_after_enospc: bool,
}

impl Setup {
    /// Reads a TOML configuration file. Relative paths in it are relative to
    /// the file's directory.
    pub fn from_file(path: &Path) -> Result<Setup, SetupError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SetupError::Config { path: path.to_path_buf(), why: e.to_string() })?;
        Setup::from_toml(&text, path.parent().unwrap_or(Path::new("")))
            .map_err(|why| SetupError::Config { path: path.to_path_buf(), why })
    }

    /// Parses a configuration (relative paths are taken from `base`).
    pub fn from_toml(text: &str, base: &Path) -> Result<Setup, String> {
        let f: File = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
        let size = |name: &str, v: Option<SizeValue>| -> Result<Option<u64>, String> { v.map(|v| v.bytes(name)).transpose() };
        let at = |p: PathBuf| if p.is_relative() && !base.as_os_str().is_empty() { base.join(p) } else { p };
        let compress = match f.compress {
            None | Some(CompressValue::On(false)) => None,
            Some(CompressValue::On(true)) => Some(DEFAULT_LEVEL),
            Some(CompressValue::Level(l)) => Some(parse_level(&l.to_string()).map_err(|e| format!("compress: {e}"))?),
        };
        Ok(Setup {
            device: f.device,
            images: f.image.into_iter().map(at).collect(),
            volumes: f.volumes.map(at),
            media: f.mirror,
            degraded: f.degraded,
            image: ImageOptions {
                capacity: size("capacity", f.capacity)?,
                early_warning: size("early-warning", f.early_warning)?.unwrap_or(0),
                read_only: f.read_only,
            },
            max_block: size("max-block", f.max_block)?,
            compress,
            key_file: f.key_file.map(at),
            ident: Ident { vendor: f.vendor, product: f.product, revision: f.revision, serial: f.serial },
            write_after_enospc: f.write_after_enospc,
        })
    }

    /// The filter every record goes through (over the mirror, if any, so
    /// that every copy stores the same bytes).
    pub fn filter(&self) -> Result<Filter, SetupError> {
        let key = self.key_file.as_deref().map(Key::from_file).transpose()?;
        Ok(Filter { compress: self.compress, key })
    }

    /// Builds the volumes and the drive settings.
    pub fn build(&self) -> Result<(DynVolumes, DriveConfig), SetupError> {
        let images = !self.images.is_empty() || self.volumes.is_some();
        if images && !self.media.is_empty() {
            return Err(SetupError::Invalid(
                "--image/--volumes and --mirror/--medium do not go together: give the images as a tap spec".into(),
            ));
        }
        if self.degraded && self.media.len() < 2 {
            return Err(SetupError::Invalid("--degraded needs a mirror (two --mirror specs or more)".into()));
        }
        let mut overhead = 0;
        let volumes = match self.media.len() {
            0 => {
                let mut volumes = self.images.clone();
                if let Some(dir) = &self.volumes {
                    volumes.extend(volumes_in(dir)?);
                }
                check_volumes(&volumes)?;
                self.image.check().map_err(SetupError::Invalid)?;
                boxed(Magazine::new(volumes, self.image))
            }
            1 => {
                let b = spec::build(&self.media[0], &self.image)?;
                overhead = b.overhead;
                b.volumes
            }
            _ => {
                let mut members = Vec::new();
                for m in &self.media {
                    let b = spec::build(m, &self.image)?;
                    overhead = overhead.max(b.overhead);
                    members.push(b.volumes);
                }
                let mirror = MirrorVolumes::new(members, self.degraded).map_err(|e| SetupError::Invalid(e.to_string()))?;
                boxed(mirror)
            }
        };
        let filter = self.filter()?;
        let volumes = if filter.is_empty() {
            volumes
        } else {
            info!(filter = %filter.describe(), "every record goes through a filter");
            overhead += filter.overhead();
            boxed(FilterVolumes::new(volumes, filter))
        };
        let limit = u64::from(pmt::proto::MAX_RECORD) - overhead as u64;
        let max_block = match self.max_block {
            None => limit,
            Some(b) if b == 0 || b > u64::from(pmt::proto::MAX_RECORD) => {
                return Err(SetupError::Invalid(format!("--max-block must be between 1 and {}", pmt::proto::MAX_RECORD)));
            }
            Some(b) if b > limit => {
                return Err(SetupError::Invalid(format!("--max-block must be at most {limit} with these filters")));
            }
            Some(b) => b,
        };
        let identity = self.ident.over(&Identity::drive_default(self.device.as_deref()))?;
        let refuse_after_enospc = !self.write_after_enospc;
        Ok((volumes, DriveConfig { min_block: 1, max_block: max_block as u32, identity, refuse_after_enospc }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_files() {
        let s = Setup::from_toml(
            r#"
            device = "/dev/pmts1"
            mirror = ["tap:/t/a%d.tap,volumes=2", "tap:/u/b.tap"]
            degraded = true
            capacity = "4M"
            early-warning = 65536
            compress = true
            key-file = "k.key"
            "#,
            Path::new("/etc/pmt"),
        )
        .unwrap();
        assert_eq!(s.device, Some(PathBuf::from("/dev/pmts1")));
        assert_eq!(s.media.len(), 2);
        assert!(s.degraded);
        assert_eq!(s.image, ImageOptions { capacity: Some(4 << 20), early_warning: 65536, read_only: false });
        assert_eq!(s.compress, Some(DEFAULT_LEVEL));
        assert_eq!(s.key_file, Some(PathBuf::from("/etc/pmt/k.key")), "relative to the file");
        let e = Setup::from_toml("capacity = \"4Q\"", Path::new("")).unwrap_err();
        assert_eq!(e, "capacity: unknown size suffix in \"4Q\"");
        let e = Setup::from_toml("colour = 3", Path::new("")).unwrap_err();
        assert!(e.contains("unknown field `colour`"), "{e}");
        assert!(Setup::from_toml("compress = 40", Path::new("")).is_err());
    }

    #[test]
    fn conflicts_and_limits() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("a.tap");
        let s = Setup { images: vec![img.clone()], media: vec!["tap:x.tap".into()], ..Setup::default() };
        assert!(s.build().unwrap_err().to_string().starts_with("--image/--volumes and --mirror"));
        let s = Setup { media: vec![img.display().to_string()], degraded: true, ..Setup::default() };
        assert_eq!(s.build().unwrap_err().to_string(), "--degraded needs a mirror (two --mirror specs or more)");
        let s = Setup { images: vec![img.clone()], compress: Some(3), ..Setup::default() };
        let (_, cfg) = s.build().unwrap();
        assert_eq!(cfg.max_block, pmt::proto::MAX_RECORD - 14, "the filter's overhead is kept free");
        let s = Setup { images: vec![img], max_block: Some(1 << 30), ..Setup::default() };
        assert!(s.build().is_err());
        let e = Setup::from_file(&dir.path().join("none.toml")).unwrap_err().to_string();
        assert!(e.ends_with("none.toml: No such file or directory (os error 2)"), "{e}");
    }
}
