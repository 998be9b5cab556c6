//! Medium specs: a short text that names a medium (or a volume sequence of them)
//! and its options, and the registry that builds them.
//!
//! ```text
//! KIND:TARGET[,OPTION[=VALUE]]...
//!   tap:FILE                one image volume
//!   tap:PATTERN,volumes=N   N volumes, PATTERN with %d (or %0Nd) for the
//!                           number: tap:/t/vol%d.tap,volumes=3 is
//!                           /t/vol1.tap.../t/vol3.tap, created when missing
//!   tap:DIR                 the *.tap files of DIR, in name order
//!   FILE                    a spec without KIND: is a tap spec
//!   tape:/dev/nst0          a tape device (when this pmtd has that medium)
//!   rmt:[USER@]HOST:PATH    a drive or file on another host over rmt (idem)
//! tap options:    capacity=SIZE, early-warning=SIZE, read-only
//! filter options: compress[=LEVEL], key-file=FILE (any kind)
//! ```
//!
//! SIZE takes K, M, G, T suffixes (powers of 1024). Options are separated
//! by commas, so a path in a spec cannot hold one.

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::media::filter::{Filter, FilterVolumes, Key};
use crate::media::magazine::{check_volumes, expand_pattern, volumes_in, Magazine, VolumesError};
use crate::media::tap::TapOptions;
use crate::medium::{boxed, DynVolumes};

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

/// A parsed spec: `KIND:TARGET,OPTION,KEY=VALUE...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediumSpec {
    /// The spec as given.
    pub text: String,
    /// The medium kind (`tap` when the spec has none).
    pub kind: String,
    /// What the kind opens: a path, a device, `host:path`.
    pub target: String,
    /// The options, in order: a name and maybe a value.
    pub options: Vec<(String, Option<String>)>,
}

fn is_kind(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_lowercase()) && c.all(|x| x.is_ascii_lowercase() || x.is_ascii_digit() || x == '-')
}

impl MediumSpec {
    /// Parses a spec.
    pub fn parse(text: &str) -> Result<MediumSpec, SpecError> {
        let bad = |why: &str| SpecError::new(text, why);
        let (kind, rest) = match text.split_once(':') {
            Some((k, r)) if is_kind(k) => (k.to_string(), r),
            _ => ("tap".to_string(), text),
        };
        let mut parts = rest.split(',');
        let target = parts.next().unwrap_or_default().to_string();
        if target.is_empty() {
            return Err(bad("nothing to open (the spec is KIND:TARGET[,OPTION]...)"));
        }
        let mut options = Vec::new();
        for p in parts {
            let (k, v) = match p.split_once('=') {
                Some((k, v)) => (k.trim().to_string(), Some(v.to_string())),
                None => (p.trim().to_string(), None),
            };
            if k.is_empty() {
                return Err(bad("an empty option"));
            }
            if options.iter().any(|(o, _): &(String, Option<String>)| *o == k) {
                return Err(bad(&format!("option {k} given twice")));
            }
            options.push((k, v));
        }
        Ok(MediumSpec { text: text.to_string(), kind, target, options })
    }

    /// The spec back as text (with the options left).
    pub fn render(&self) -> String {
        let mut s = format!("{}:{}", self.kind, self.target);
        for (k, v) in &self.options {
            s.push(',');
            s.push_str(k);
            if let Some(v) = v {
                s.push('=');
                s.push_str(v);
            }
        }
        s
    }

    fn error(&self, why: impl Into<String>) -> SpecError {
        SpecError::new(&self.text, why)
    }

    /// Takes option `name` out: `None` if absent, `Some(value)` if given.
    pub fn take(&mut self, name: &str) -> Option<Option<String>> {
        let i = self.options.iter().position(|(k, _)| k == name)?;
        Some(self.options.remove(i).1)
    }

    /// Takes option `name`, which must have a value.
    pub fn take_value(&mut self, name: &str) -> Result<Option<String>, SpecError> {
        match self.take(name) {
            None => Ok(None),
            Some(Some(v)) if !v.is_empty() => Ok(Some(v)),
            Some(_) => Err(self.error(format!("{name}= needs a value"))),
        }
    }

    /// Takes option `name`, a flag without a value.
    pub fn take_flag(&mut self, name: &str) -> Result<bool, SpecError> {
        match self.take(name) {
            None => Ok(false),
            Some(None) => Ok(true),
            Some(Some(_)) => Err(self.error(format!("{name} takes no value"))),
        }
    }

    /// Takes a size option.
    pub fn take_size(&mut self, name: &str) -> Result<Option<u64>, SpecError> {
        self.take_value(name)?.map(|v| parse_size(&v).map_err(|e| self.error(format!("{name}=: {e}")))).transpose()
    }

    /// Fails if options are left that nobody took.
    pub fn finish(&self, known: &str) -> Result<(), SpecError> {
        match self.options.first() {
            None => Ok(()),
            Some((k, _)) => Err(self.error(format!("unknown option {k} ({} takes {known})", self.kind))),
        }
    }

    /// Takes the filter options (`compress[=LEVEL]`, `key-file=FILE`).
    pub fn take_filter(&mut self) -> Result<Filter, SpecError> {
        let compress = match self.take("compress") {
            None => None,
            Some(None) => Some(DEFAULT_LEVEL),
            Some(Some(l)) => Some(parse_level(&l).map_err(|e| self.error(e))?),
        };
        let key = match self.take_value("key-file")? {
            None => None,
            Some(p) => Some(Key::from_file(Path::new(&p)).map_err(|e| self.error(e.to_string()))?),
        };
        Ok(Filter { compress, key })
    }
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

/// Builds a volume sequence from a spec's text (the spec without the filter
/// options, which the registry handles for every kind).
pub type MediaHook = fn(&str) -> Result<DynVolumes, SpecError>;

/// What a spec built.
#[derive(Debug)]
pub struct Built {
    /// The volume sequence.
    pub volumes: DynVolumes,
    /// The most its filter adds to a record (0 without a filter).
    pub overhead: usize,
}

/// The media kinds a pmtd knows, and how to build each.
#[derive(Clone, Debug)]
pub struct Registry {
    hooks: Vec<(String, MediaHook)>,
    tap: TapOptions,
}

/// The tap kind's options, for messages.
const TAP_OPTIONS: &str = "capacity=, early-warning=, read-only, volumes=, compress, key-file=";

impl Registry {
    /// A registry with the built-in `tap` kind, whose volumes default to
    /// `tap` (a spec's own options win).
    pub fn new(tap: TapOptions) -> Registry {
        Registry { hooks: Vec::new(), tap }
    }

    /// Adds (or replaces) a medium kind.
    pub fn register(&mut self, kind: &str, hook: MediaHook) {
        self.hooks.retain(|(k, _)| k != kind);
        self.hooks.push((kind.to_string(), hook));
    }

    /// The kinds known.
    pub fn kinds(&self) -> Vec<String> {
        let mut k = vec!["tap".to_string()];
        k.extend(self.hooks.iter().map(|(n, _)| n.clone()));
        k
    }

    /// Builds the volume sequence a spec describes, with its filter if it has one.
    pub fn build(&self, text: &str) -> Result<Built, SpecError> {
        let mut spec = MediumSpec::parse(text)?;
        let filter = spec.take_filter()?;
        let volumes = if spec.kind == "tap" {
            boxed(self.tap_volumes(&mut spec)?)
        } else if let Some((_, hook)) = self.hooks.iter().find(|(k, _)| *k == spec.kind) {
            hook(&spec.render()).map_err(|e| SpecError::new(text, e.why))?
        } else {
            return Err(spec.error(format!(
                "this pmtd has no {} media (it knows {})",
                spec.kind,
                self.kinds().join(", ")
            )));
        };
        let overhead = filter.overhead();
        let volumes = if filter.is_empty() { volumes } else { boxed(FilterVolumes::new(volumes, filter)) };
        Ok(Built { volumes, overhead })
    }

    /// The magazine a `tap:` spec describes.
    pub fn tap_volumes(&self, spec: &mut MediumSpec) -> Result<Magazine, SpecError> {
        let mut opts = self.tap;
        if let Some(c) = spec.take_size("capacity")? {
            opts.capacity = Some(c);
        }
        if let Some(e) = spec.take_size("early-warning")? {
            opts.early_warning = e;
        }
        opts.read_only |= spec.take_flag("read-only")?;
        let count = match spec.take_value("volumes")? {
            None => None,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=100_000).contains(&n) => Some(n),
                _ => return Err(spec.error(format!("volumes={v}: a count from 1 to 100000"))),
            },
        };
        spec.finish(TAP_OPTIONS)?;
        opts.check().map_err(|e| spec.error(e))?;
        let target = spec.target.clone();
        let path = PathBuf::from(&target);
        let volumes = if target.contains('%') {
            let Some(n) = count else {
                return Err(spec.error("a %d pattern needs volumes=N"));
            };
            expand_pattern(&target, n).map_err(|e| spec.error(e.to_string()))?
        } else if path.is_dir() || target.ends_with('/') {
            if count.is_some() {
                return Err(spec.error("volumes= goes with a %d pattern (such as DIR/vol%d.tap), not a directory"));
            }
            volumes_in(&path).map_err(|e| spec.error(e.to_string()))?
        } else {
            if count.is_some_and(|n| n != 1) {
                return Err(spec.error("one file is one volume: give a %d pattern for several"));
            }
            vec![path]
        };
        check_volumes(&volumes).map_err(|e| match e {
            // The spec names the volume already.
            VolumesError::NoDirectory { dir, .. } => spec.error(format!("the directory {} does not exist", dir.display())),
            e => spec.error(e.to_string()),
        })?;
        Ok(Magazine::new(volumes, opts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("10m"), Ok(10 << 20));
        assert!(parse_size("10X").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn spec_grammar() {
        let s = MediumSpec::parse("tap:/a/vol%d.tap,volumes=3,read-only").unwrap();
        assert_eq!((s.kind.as_str(), s.target.as_str()), ("tap", "/a/vol%d.tap"));
        assert_eq!(s.options, vec![("volumes".into(), Some("3".into())), ("read-only".into(), None)]);
        assert_eq!(s.render(), "tap:/a/vol%d.tap,volumes=3,read-only");
        let s = MediumSpec::parse("rmt:backup@host:/dev/nst0").unwrap();
        assert_eq!((s.kind.as_str(), s.target.as_str()), ("rmt", "backup@host:/dev/nst0"));
        let s = MediumSpec::parse("/x/y.tap").unwrap();
        assert_eq!((s.kind.as_str(), s.target.as_str()), ("tap", "/x/y.tap"));
        let s = MediumSpec::parse("./A:b.tap").unwrap();
        assert_eq!(s.kind, "tap", "not a kind: a path with a colon");
        assert_eq!(MediumSpec::parse("tap:").unwrap_err().why, "nothing to open (the spec is KIND:TARGET[,OPTION]...)");
        assert_eq!(MediumSpec::parse("tap:a,x,x").unwrap_err().to_string(), "tap:a,x,x: option x given twice");
        assert!(MediumSpec::parse("tap:a,,b").is_err());
    }

    fn reg() -> Registry {
        Registry::new(TapOptions::default())
    }

    #[test]
    fn tap_specs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let mut s = MediumSpec::parse(&format!("tap:{d}/v%02d.tap,volumes=2,capacity=1M,early-warning=64K")).unwrap();
        let m = reg().tap_volumes(&mut s).unwrap();
        assert_eq!(m.volumes(), [dir.path().join("v01.tap"), dir.path().join("v02.tap")]);
        assert_eq!(*m.options(), TapOptions { capacity: Some(1 << 20), early_warning: 64 << 10, read_only: false });
        std::fs::write(dir.path().join("b.tap"), b"").unwrap();
        std::fs::write(dir.path().join("a.tap"), b"").unwrap();
        let mut s = MediumSpec::parse(&format!("{d}")).unwrap();
        let m = reg().tap_volumes(&mut s).unwrap();
        assert_eq!(m.volumes(), [dir.path().join("a.tap"), dir.path().join("b.tap")]);
        // Defaults from the registry, the spec's own options win.
        let r = Registry::new(TapOptions { capacity: Some(5000), early_warning: 100, read_only: true });
        let mut s = MediumSpec::parse(&format!("{d}/one.tap,capacity=9000")).unwrap();
        let m = r.tap_volumes(&mut s).unwrap();
        assert_eq!(*m.options(), TapOptions { capacity: Some(9000), early_warning: 100, read_only: true });
    }

    #[test]
    fn bad_specs_say_what_and_why_once() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let err = |spec: &str| reg().build(spec).map(|_| ()).unwrap_err().to_string();
        assert_eq!(err("tap:/nonexistent-pmt/y.tap"), "tap:/nonexistent-pmt/y.tap: the directory /nonexistent-pmt does not exist");
        assert_eq!(err(&format!("tap:{d}/v%d.tap")), format!("tap:{d}/v%d.tap: a %d pattern needs volumes=N"));
        assert_eq!(err(&format!("tap:{d}/v.tap,volumes=3")), format!("tap:{d}/v.tap,volumes=3: one file is one volume: give a %d pattern for several"));
        assert_eq!(err(&format!("tap:{d}/v.tap,size=3")), format!("tap:{d}/v.tap,size=3: unknown option size (tap takes {TAP_OPTIONS})"));
        assert_eq!(err(&format!("tap:{d}/v.tap,capacity=3Q")), format!("tap:{d}/v.tap,capacity=3Q: capacity=: unknown size suffix in \"3Q\""));
        assert_eq!(
            err(&format!("tap:{d}/v.tap,capacity=1K,early-warning=2K")),
            format!("tap:{d}/v.tap,capacity=1K,early-warning=2K: the early-warning zone (2048) must be smaller than the capacity (1024)")
        );
        assert_eq!(err("tape:/dev/nst0"), "tape:/dev/nst0: this pmtd has no tape media (it knows tap)");
        assert_eq!(err(&format!("tap:{d}/v.tap,compress=99")), format!("tap:{d}/v.tap,compress=99: compression level \"99\": 1 to 22 (or -7 to -1 for faster)"));
        let e = err(&format!("tap:{d}/v.tap,key-file={d}/nokey"));
        assert_eq!(e, format!("tap:{d}/v.tap,key-file={d}/nokey: {d}/nokey: No such file or directory (os error 2)"));
    }

    #[test]
    fn hooks_get_the_spec_without_filter_options() {
        fn hook(text: &str) -> Result<DynVolumes, SpecError> {
            Err(SpecError::new(text, format!("hook saw {text}")))
        }
        let mut r = reg();
        r.register("tape", hook);
        assert_eq!(r.kinds(), ["tap", "tape"]);
        let e = r.build("tape:/dev/nst0,compress,density=3").map(|_| ()).unwrap_err();
        assert_eq!(e.to_string(), "tape:/dev/nst0,compress,density=3: hook saw tape:/dev/nst0,density=3");
    }
}
