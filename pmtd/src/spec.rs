//! Medium specs: the one grammar of the text that names media (or a
//! sequence of volumes) and their options, parsed once into a typed
//! [`Spec`] that [`Spec::build`] turns into volumes.
//!
//! ```text
//! spec      = [KIND ":"] TARGET *("," option)   ; without KIND: a tap spec
//! tap       = "tap:" FILE                       ; one image volume (created if missing)
//!           | "tap:" PATTERN ",volumes=" N      ; N volumes, %d (or %0Nd) the number:
//!                                               ; tap:/t/vol%d.tap,volumes=3 is /t/vol1.tap../t/vol3.tap
//!           | "tap:" DIR                        ; the *.tap files of DIR, in name order
//! tape      = "tape:" PATH                      ; an st-compatible no-rewind node
//! rmt       = "rmt:" REMOTE                     ; a tape drive on another host
//! rmt-tap   = "rmt-tap:" REMOTE                 ; SIMH images on another host; PATH may
//!                                               ; hold a %d pattern (at most volumes=N)
//! REMOTE    = [USER "@"] HOST ":" PATH          ; HOST may be "[v6 address]"
//! image-opt = "capacity=" SIZE | "early-warning=" SIZE | "read-only" | "volumes=" N
//!                                               ; tap and rmt-tap
//! device-opt= "max-block=" SIZE                 ; largest record read (default 16M-1)
//!           | "load-timeout=" SECS              ; wait for the next tape (default 300)
//!           | "unload=" ("offline" | "rewind")  ; what an unload does: eject (default),
//!                                               ; or rewind and leave it for a robot
//!           | "early-warning=" SIZE             ; the drive's early-warning zone, at
//!                                               ; least (default 1M): half of it may
//!                                               ; be in flight unanswered
//!                                               ; tape and rmt
//! conn-opt  = "rsh=" COMMAND                    ; remote shell (default $PMT_RSH, else ssh)
//!           | "rmt=" PATH                       ; server on the host (default $PMT_RMT, else /etc/rmt)
//!           | "timeout=" SECS                   ; longest wait for a reply (default 60)
//!                                               ; rmt and rmt-tap
//! filter-opt= "compress" ["=" LEVEL] | "key-file=" FILE   ; any kind
//! SIZE      = digits [K|M|G|T]                  ; powers of 1024
//! ```
//!
//! Options are separated by commas, so a path in a spec cannot hold one. A
//! COMMAND is split at white space (`rsh=ssh -p 2222`). The options of tap
//! volumes default to the command line's (`--capacity`, `--early-warning`,
//! `--read-only`); a spec's own options win.
//!
//! A new kind of medium gets a variant of [`MediumSpec`], its options
//! parsed in [`Spec::parse`], and its volumes built in [`Spec::build`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;

use crate::media::device::{DeviceOptions, DeviceVolumes, RmtDriveVolumes, Unload, MAX_BLOCK};
use crate::media::filter::{Filter, FilterVolumes, Key};
use crate::media::image::ImageOptions;
use crate::media::magazine::{check_volumes, expand_pattern, volumes_in, Magazine, RemoteImages, VolumePattern, VolumesError};
use crate::media::rmt::Remote;
use crate::media::{boxed, DynVolumes};

/// A spec that cannot be used: the spec and why, said once.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{spec}: {why}")]
pub struct SpecError {
    /// The spec as given.
    pub spec: String,
    /// What is wrong.
    pub why: String,
}

impl SpecError {
    /// An error about `spec`.
    pub fn new(spec: impl Into<String>, why: impl Into<String>) -> SpecError {
        SpecError { spec: spec.into(), why: why.into() }
    }
}

/// Parses "4096", "64K", "10M", "2G", "1T" (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("unknown size suffix in {s:?}")),
            };
            (&s[..i], m)
        }
        _ => (s, 1),
    };
    let n: u64 = num.trim().parse().map_err(|_| format!("not a size: {s:?}"))?;
    n.checked_mul(mult).ok_or_else(|| format!("size too large: {s:?}"))
}

/// The zstd level `--compress` uses without a value.
pub const DEFAULT_LEVEL: i32 = 3;

/// Parses a zstd level (1 to 22, or a negative fast level down to -7).
pub fn parse_level(s: &str) -> Result<i32, String> {
    match s.trim().parse::<i32>() {
        Ok(l) if (-7..=22).contains(&l) && l != 0 => Ok(l),
        _ => Err(format!("compression level {s:?}: 1 to 22 (or -7 to -1 for faster)")),
    }
}

/// The kinds of media, as a spec names them.
pub const KINDS: [&str; 4] = ["tap", "tape", "rmt", "rmt-tap"];

/// The options each kind takes, for messages.
const TAP_OPTIONS: &str = "capacity=, early-warning=, read-only, volumes=, compress, key-file=";
const TAPE_OPTIONS: &str = "max-block=, load-timeout=, unload=, early-warning=, compress, key-file=";
const RMT_OPTIONS: &str = "max-block=, load-timeout=, unload=, early-warning=, rsh=, rmt=, timeout=, compress, key-file=";
const RMT_TAP_OPTIONS: &str = "capacity=, early-warning=, read-only, volumes=, rsh=, rmt=, timeout=, compress, key-file=";

/// A parsed spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// The spec as given.
    pub text: String,
    /// The medium and its options.
    pub medium: MediumSpec,
    /// The filter of this medium's records (compression, encryption).
    pub filter: Filter,
}

/// A medium and its options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediumSpec {
    /// `tap:`: image volumes on this host.
    Tap(TapSpec),
    /// `tape:`: a tape device on this host.
    Tape(TapeSpec),
    /// `rmt:`: a tape drive on another host.
    Rmt(RmtSpec),
    /// `rmt-tap:`: image volumes on another host.
    RmtTap(RmtTapSpec),
}

/// `tap:TARGET[,options]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TapSpec {
    /// The volumes.
    pub target: TapTarget,
    /// Their size and protection.
    pub opts: ImageOptions,
}

/// The volumes of a tap spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TapTarget {
    /// One image file, or a directory of them (told apart when built).
    Path {
        /// The file or directory.
        path: PathBuf,
        /// `volumes=1` was given (which a directory refuses).
        counted: bool,
    },
    /// The volumes a `%d` pattern names.
    Pattern(Vec<PathBuf>),
}

/// `tape:PATH[,options]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TapeSpec {
    /// The device node.
    pub path: PathBuf,
    /// Its settings.
    pub opts: DeviceOptions,
}

/// `rmt:[user@]host:/dev/nst0[,options]`: a tape drive on another host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RmtSpec {
    /// The server and the device.
    pub remote: Remote,
    /// The medium's settings.
    pub opts: DeviceOptions,
}

/// `rmt-tap:[user@]host:/path/vol%d.tap[,options]`: SIMH images on another
/// host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RmtTapSpec {
    /// The server; its path is the image's, or the pattern of their names.
    pub remote: Remote,
    /// The names of the volumes.
    pub names: VolumePattern,
    /// At most this many volumes from a pattern.
    pub volumes: Option<usize>,
    /// The size and protection of each volume.
    pub opts: ImageOptions,
}

/// What a spec built.
#[derive(Debug)]
pub struct Built {
    /// The volumes.
    pub volumes: DynVolumes,
    /// The most its filter adds to a record (0 without a filter).
    pub overhead: usize,
}

/// The options of a spec, taken out one by one by the kind that knows them.
struct Options<'a> {
    text: &'a str,
    kind: &'a str,
    list: Vec<(String, Option<String>)>,
}

impl Options<'_> {
    fn error(&self, why: impl Into<String>) -> SpecError {
        SpecError::new(self.text, why)
    }

    /// Takes option `name` out: `None` if absent, `Some(value)` if given.
    fn take(&mut self, name: &str) -> Option<Option<String>> {
        let i = self.list.iter().position(|(k, _)| k == name)?;
        Some(self.list.remove(i).1)
    }

    /// Takes option `name`, which must have a value.
    fn value(&mut self, name: &str) -> Result<Option<String>, SpecError> {
        match self.take(name) {
            None => Ok(None),
            Some(Some(v)) if !v.trim().is_empty() => Ok(Some(v)),
            Some(_) => Err(self.error(format!("{name}= needs a value"))),
        }
    }

    /// Takes option `name`, a flag without a value.
    fn flag(&mut self, name: &str) -> Result<bool, SpecError> {
        match self.take(name) {
            None => Ok(false),
            Some(None) => Ok(true),
            Some(Some(_)) => Err(self.error(format!("{name} takes no value"))),
        }
    }

    /// Takes a size option.
    fn size(&mut self, name: &str) -> Result<Option<u64>, SpecError> {
        self.value(name)?.map(|v| parse_size(&v).map_err(|e| self.error(format!("{name}=: {e}")))).transpose()
    }

    /// Takes a number of seconds, with an optional fraction: "60", "0.5".
    fn secs(&mut self, name: &str) -> Result<Option<Duration>, SpecError> {
        let Some(v) = self.value(name)? else {
            return Ok(None);
        };
        let f: f64 = v.trim().parse().map_err(|_| self.error(format!("{name}={v}: not a number of seconds")))?;
        if !f.is_finite() || !(0.0..=1e7).contains(&f) {
            return Err(self.error(format!("{name}={v}: out of range")));
        }
        Ok(Some(Duration::from_secs_f64(f)))
    }

    /// Takes a count of volumes.
    fn count(&mut self) -> Result<Option<usize>, SpecError> {
        let Some(v) = self.value("volumes")? else {
            return Ok(None);
        };
        match v.trim().parse::<usize>() {
            Ok(n) if (1..=100_000).contains(&n) => Ok(Some(n)),
            _ => Err(self.error(format!("volumes={v}: a count from 1 to 100000"))),
        }
    }

    /// The filter options (`compress[=LEVEL]`, `key-file=FILE`).
    fn filter(&mut self) -> Result<Filter, SpecError> {
        let compress = match self.take("compress") {
            None => None,
            Some(None) => Some(DEFAULT_LEVEL),
            Some(Some(l)) => Some(parse_level(&l).map_err(|e| self.error(e))?),
        };
        let key = match self.value("key-file")? {
            None => None,
            Some(p) => Some(Key::from_file(Path::new(&p)).map_err(|e| self.error(e.to_string()))?),
        };
        Ok(Filter { compress, key })
    }

    /// The image options, over `defaults`.
    fn image(&mut self, defaults: &ImageOptions) -> Result<ImageOptions, SpecError> {
        let mut opts = *defaults;
        if let Some(c) = self.size("capacity")? {
            opts.capacity = Some(c);
        }
        if let Some(e) = self.size("early-warning")? {
            opts.early_warning = e;
        }
        opts.read_only |= self.flag("read-only")?;
        Ok(opts)
    }

    /// The options of a tape device.
    fn device(&mut self) -> Result<DeviceOptions, SpecError> {
        let mut opts = DeviceOptions::default();
        if let Some(v) = self.value("max-block")? {
            let n = parse_size(&v).map_err(|e| self.error(format!("max-block=: {e}")))?;
            if n == 0 || n > MAX_BLOCK as u64 {
                return Err(self.error(format!("max-block={v}: must be 1 to 16M-1")));
            }
            opts.max_block = n as usize;
        }
        if let Some(t) = self.secs("load-timeout")? {
            opts.load_timeout = t;
        }
        match self.value("unload")?.as_deref() {
            None | Some("offline") => {}
            Some("rewind") => opts.unload = Unload::Rewind,
            Some(v) => return Err(self.error(format!("unload={v}: offline (the default) or rewind"))),
        }
        if let Some(z) = self.size("early-warning")? {
            opts.early_warning = z;
        }
        Ok(opts)
    }

    /// The connection options of an rmt server, over `remote`.
    fn connection(&mut self, mut remote: Remote) -> Result<Remote, SpecError> {
        remote.rsh = self.value("rsh")?;
        remote.rmt = self.value("rmt")?;
        if let Some(t) = self.secs("timeout")? {
            if t.is_zero() {
                return Err(self.error("timeout=0: must be positive"));
            }
            remote.timeout = t;
        }
        Ok(remote)
    }

    /// Fails if options are left that nobody took.
    fn finish(&self, known: &str) -> Result<(), SpecError> {
        match self.list.first() {
            None => Ok(()),
            Some((k, _)) => Err(self.error(format!("unknown option {k} ({} takes {known})", self.kind))),
        }
    }
}

fn is_kind(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_lowercase()) && c.all(|x| x.is_ascii_lowercase() || x.is_ascii_digit() || x == '-')
}

impl Spec {
    /// Parses a spec; `image` holds the defaults of tap volumes.
    pub fn parse(text: &str, image: &ImageOptions) -> Result<Spec, SpecError> {
        let bad = |why: String| SpecError::new(text, why);
        let (kind, rest) = match text.split_once(':') {
            Some((k, r)) if is_kind(k) => (k, r),
            _ => ("tap", text),
        };
        if !KINDS.contains(&kind) {
            return Err(bad(format!("this pmtd has no {kind} media (it knows {})", KINDS.join(", "))));
        }
        let mut parts = rest.split(',');
        let target = parts.next().unwrap_or_default();
        if target.is_empty() {
            return Err(bad("nothing to open (the spec is KIND:TARGET[,OPTION]...)".into()));
        }
        let mut o = Options { text, kind, list: Vec::new() };
        for p in parts {
            let (k, v) = match p.split_once('=') {
                Some((k, v)) => (k.trim().to_string(), Some(v.to_string())),
                None => (p.trim().to_string(), None),
            };
            if k.is_empty() {
                return Err(bad("an empty option".into()));
            }
            if o.list.iter().any(|(x, _)| *x == k) {
                return Err(bad(format!("option {k} given twice")));
            }
            o.list.push((k, v));
        }
        let filter = o.filter()?;
        let medium = match kind {
            "tap" => {
                let opts = o.image(image)?;
                let count = o.count()?;
                o.finish(TAP_OPTIONS)?;
                opts.check().map_err(bad)?;
                let target = if target.contains('%') {
                    let Some(n) = count else {
                        return Err(bad("a %d pattern needs volumes=N".into()));
                    };
                    TapTarget::Pattern(expand_pattern(target, n).map_err(|e| bad(e.to_string()))?)
                } else if count.is_some_and(|n| n != 1) {
                    return Err(bad("one file is one volume: give a %d pattern for several".into()));
                } else {
                    TapTarget::Path { path: PathBuf::from(target), counted: count.is_some() }
                };
                MediumSpec::Tap(TapSpec { target, opts })
            }
            "tape" => {
                let opts = o.device()?;
                o.finish(TAPE_OPTIONS)?;
                MediumSpec::Tape(TapeSpec { path: PathBuf::from(target), opts })
            }
            "rmt" => {
                let remote = o.connection(parse_remote(target).map_err(bad)?)?;
                let opts = o.device()?;
                o.finish(RMT_OPTIONS)?;
                MediumSpec::Rmt(RmtSpec { remote, opts })
            }
            _ => {
                let remote = o.connection(parse_remote(target).map_err(bad)?)?;
                let opts = o.image(&ImageOptions::default())?;
                let volumes = o.count()?;
                o.finish(RMT_TAP_OPTIONS)?;
                opts.check().map_err(bad)?;
                let names = VolumePattern::parse(&remote.path).map_err(bad)?;
                MediumSpec::RmtTap(RmtTapSpec { remote, names, volumes, opts })
            }
        };
        Ok(Spec { text: text.to_string(), medium, filter })
    }

    /// Builds the volumes the spec describes, with its filter if it has
    /// one. Nothing is opened or started yet, but the volumes of a tap
    /// spec are listed and checked: the first
    /// [`crate::media::Volumes::load_next`] does the rest.
    pub fn build(&self) -> Result<Built, SpecError> {
        let bad = |why: String| SpecError::new(&self.text, why);
        let volumes = match &self.medium {
            MediumSpec::Tap(t) => boxed(Magazine::new(t.volumes().map_err(bad)?, t.opts)),
            MediumSpec::Tape(t) => boxed(DeviceVolumes::device(&t.path, t.opts.clone())),
            MediumSpec::Rmt(r) => boxed(RmtDriveVolumes::remote(r.remote.clone(), r.opts.clone())),
            MediumSpec::RmtTap(r) => boxed(r.magazine()),
        };
        let overhead = self.filter.overhead();
        let volumes = if self.filter.is_empty() { volumes } else { boxed(FilterVolumes::new(volumes, self.filter.clone())) };
        Ok(Built { volumes, overhead })
    }
}

/// Parses and builds a spec (`image`: the defaults of tap volumes).
pub fn build(text: &str, image: &ImageOptions) -> Result<Built, SpecError> {
    Spec::parse(text, image)?.build()
}

impl TapSpec {
    /// The image files, listed (a directory) and checked: each can be opened
    /// or created.
    pub fn volumes(&self) -> Result<Vec<PathBuf>, String> {
        let volumes = match &self.target {
            TapTarget::Pattern(v) => v.clone(),
            TapTarget::Path { path, counted } if path.is_dir() || path.as_os_str().to_string_lossy().ends_with('/') => {
                if *counted {
                    return Err("volumes= goes with a %d pattern (such as DIR/vol%d.tap), not a directory".into());
                }
                volumes_in(path).map_err(|e| e.to_string())?
            }
            TapTarget::Path { path, .. } => vec![path.clone()],
        };
        check_volumes(&volumes).map_err(|e| match e {
            // The spec names the volume already.
            VolumesError::NoDirectory { dir, .. } => format!("the directory {} does not exist", dir.display()),
            e => e.to_string(),
        })?;
        Ok(volumes)
    }
}

impl RmtTapSpec {
    /// The magazine of the remote images: one session per volume.
    pub fn magazine(&self) -> Magazine<RemoteImages> {
        Magazine::of(RemoteImages::new(self.remote.clone(), self.names.clone(), self.volumes), self.opts)
    }
}

/// `[user@]host:path`.
pub fn parse_remote(s: &str) -> Result<Remote, String> {
    let (user, rest) = match s.split_once('@') {
        Some((u, r)) if !u.is_empty() && !u.contains(':') => (Some(u.to_owned()), r),
        Some((_, _)) if s.starts_with('@') => return Err("empty user before @".into()),
        _ => (None, s),
    };
    let (host, path) = if let Some(r) = rest.strip_prefix('[') {
        let (h, p) = r.split_once(']').ok_or("no ] after the [ of an address")?;
        let p = p.strip_prefix(':').ok_or("no : after the host")?;
        (h, p)
    } else {
        rest.split_once(':').ok_or("no host: expected [user@]host:path")?
    };
    if host.is_empty() {
        return Err("empty host".into());
    }
    if host.starts_with('-') || user.as_deref().is_some_and(|u| u.starts_with('-')) {
        return Err("a host or user may not start with -".into());
    }
    if path.is_empty() {
        return Err("no path after the host".into());
    }
    if path.contains('\n') || host.contains(char::is_whitespace) {
        return Err("white space in the host or a newline in the path".into());
    }
    Ok(Remote::new(user, host.to_owned(), path.to_owned()))
}

#[cfg(test)]
mod tests;
