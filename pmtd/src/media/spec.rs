//! The textual form of the media in [`crate::media`], as the command line
//! gives them.
//!
//! ```text
//! spec     = tape | rmt | rmt-tap
//! tape     = "tape:" PATH *("," tape-opt)
//! rmt      = "rmt:" remote *("," rmt-opt)
//! rmt-tap  = "rmt-tap:" remote *("," image-opt)
//! remote   = [USER "@"] HOST ":" PATH        ; HOST may be "[v6 address]"
//! tape-opt = "max-block=" SIZE               ; largest record read (default 16M-1)
//!          | "load-timeout=" SECS            ; wait for the next medium (default 300)
//! rmt-opt  = tape-opt | conn-opt
//! conn-opt = "rsh=" COMMAND                  ; remote shell (default $PMT_RSH, else ssh)
//!          | "rmt=" PATH                     ; server on the remote host (default $PMT_RMT, else /etc/rmt)
//!          | "timeout=" SECS                 ; longest wait for one reply (default 60)
//! image-opt= conn-opt
//!          | "capacity=" SIZE                ; bytes of image per volume (default unlimited)
//!          | "early-warning=" SIZE           ; zone before the end reporting early warning
//!          | "volumes=" N                    ; at most N volumes from a %d pattern
//!          | "read-only"                     ; never write the images
//! SIZE     = digits [K|M|G|T]                ; powers of 1024
//! ```
//!
//! PATH runs to the first comma, so it cannot contain one. A COMMAND is
//! split at white space (`rsh=ssh -p 2222`). In an `rmt-tap:` PATH, `%d`
//! (or `%0Nd`) stands for the volume number from 1: `rmt-tap:host:/tapes/vol%d.tap`
//! is volumes vol1.tap, vol2.tap, ...; a PATH without it is one volume.

use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

use crate::spec::parse_size;

/// The largest record a tape medium reads by default: 16 MiB - 1, the
/// largest a SCSI variable-block transfer (and a SIMH record) can be.
pub const MAX_BLOCK: usize = (1 << 24) - 1;

/// A spec that could not be parsed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SpecError {
    /// The kind before the first colon is not one of ours.
    #[error("{spec}: unknown medium kind {kind:?} (tape:, rmt:, rmt-tap: are known here)")]
    UnknownKind {
        /// The whole spec.
        spec: String,
        /// The kind it names.
        kind: String,
    },
    /// The spec is malformed.
    #[error("{spec}: {why}")]
    Bad {
        /// The whole spec.
        spec: String,
        /// What is wrong.
        why: String,
    },
}

/// Settings of a tape medium, local or remote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TapeOptions {
    /// Size of the read buffer: the largest record that can be read. A
    /// device that refuses a read this large (EINVAL, EOVERFLOW) makes the
    /// medium halve it, down to 64 KiB.
    pub max_block: usize,
    /// How long to wait for the next medium after an unload.
    pub load_timeout: Duration,
    /// How often to look for it meanwhile.
    pub poll: Duration,
}

impl Default for TapeOptions {
    fn default() -> TapeOptions {
        TapeOptions { max_block: MAX_BLOCK, load_timeout: Duration::from_secs(300), poll: Duration::from_millis(500) }
    }
}

/// `tape:PATH[,options]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TapeSpec {
    /// The device node.
    pub path: PathBuf,
    /// Its settings.
    pub opts: TapeOptions,
}

/// Where an rmt server runs and how to start it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote {
    /// The remote user, if not the local one.
    pub user: Option<String>,
    /// The host.
    pub host: String,
    /// The device or file on the host.
    pub path: String,
    /// The remote shell command; None: `$PMT_RSH`, else `ssh`.
    pub rsh: Option<String>,
    /// The rmt program on the host; None: `$PMT_RMT`, else `/etc/rmt`.
    pub rmt: Option<String>,
    /// The longest wait for one reply.
    pub timeout: Duration,
}

impl Remote {
    /// `[user@]host:path`, for logs and errors.
    pub fn display(&self) -> String {
        match &self.user {
            Some(u) => format!("{u}@{}:{}", self.host, self.path),
            None => format!("{}:{}", self.host, self.path),
        }
    }

    /// The remote shell as a program and its arguments.
    pub fn rsh_argv(&self) -> Vec<String> {
        let s = self.rsh.clone().or_else(|| std::env::var("PMT_RSH").ok()).unwrap_or_else(|| "ssh".into());
        let v: Vec<String> = s.split_whitespace().map(str::to_owned).collect();
        if v.is_empty() {
            vec!["ssh".into()]
        } else {
            v
        }
    }

    /// The rmt program to run on the host.
    pub fn rmt_program(&self) -> String {
        self.rmt.clone().or_else(|| std::env::var("PMT_RMT").ok()).unwrap_or_else(|| "/etc/rmt".into())
    }
}

/// `rmt:[user@]host:/dev/nst0[,options]`: a tape drive on another host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RmtSpec {
    /// The server and the device.
    pub remote: Remote,
    /// Tape settings.
    pub opts: TapeOptions,
}

/// `rmt-tap:[user@]host:/path/vol%d.tap[,options]`: SIMH images on another host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RmtTapSpec {
    /// The server and the image path (or pattern).
    pub remote: Remote,
    /// Bytes of image per volume, if limited.
    pub capacity: Option<u64>,
    /// The early-warning zone before the end of a limited volume.
    pub early_warning: u64,
    /// At most this many volumes from a pattern.
    pub volumes: Option<usize>,
    /// Open every image read only.
    pub read_only: bool,
}

/// A parsed medium spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Spec {
    /// A local tape device.
    Tape(TapeSpec),
    /// A tape drive on another host.
    Rmt(RmtSpec),
    /// SIMH images on another host.
    RmtTap(RmtTapSpec),
}

/// Parses `tape:`, `rmt:` and `rmt-tap:` specs (grammar in the module doc).
pub fn parse(spec: &str) -> Result<Spec, SpecError> {
    let bad = |why: String| SpecError::Bad { spec: spec.to_owned(), why };
    let Some((kind, rest)) = spec.split_once(':') else {
        return Err(bad("no medium kind (tape:, rmt:, rmt-tap:)".into()));
    };
    let mut parts = rest.split(',');
    let target = parts.next().unwrap_or_default();
    let opts: Vec<(&str, Option<&str>)> = parts
        .map(|o| match o.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (o.trim(), None),
        })
        .collect();
    match kind {
        "tape" => {
            if target.is_empty() {
                return Err(bad("no device path".into()));
            }
            let mut t = TapeOptions::default();
            for (k, v) in opts {
                if !tape_opt(&mut t, k, v).map_err(bad)? {
                    return Err(bad(format!("unknown option {k:?} for tape: (max-block, load-timeout)")));
                }
            }
            Ok(Spec::Tape(TapeSpec { path: PathBuf::from(target), opts: t }))
        }
        "rmt" => {
            let mut remote = parse_remote(target).map_err(bad)?;
            let mut t = TapeOptions::default();
            for (k, v) in opts {
                if !tape_opt(&mut t, k, v).map_err(bad)? && !conn_opt(&mut remote, k, v).map_err(bad)? {
                    return Err(bad(format!(
                        "unknown option {k:?} for rmt: (max-block, load-timeout, rsh, rmt, timeout)"
                    )));
                }
            }
            Ok(Spec::Rmt(RmtSpec { remote, opts: t }))
        }
        "rmt-tap" => {
            let mut remote = parse_remote(target).map_err(bad)?;
            let mut s = RmtTapSpec {
                remote: remote.clone(),
                capacity: None,
                early_warning: 0,
                volumes: None,
                read_only: false,
            };
            for (k, v) in opts {
                if conn_opt(&mut remote, k, v).map_err(bad)? {
                    continue;
                }
                match (k, v) {
                    ("capacity", Some(v)) => s.capacity = Some(parse_size(v).map_err(bad)?),
                    ("early-warning", Some(v)) => s.early_warning = parse_size(v).map_err(bad)?,
                    ("volumes", Some(v)) => {
                        let n: usize = v.parse().map_err(|_| bad(format!("volumes={v}: not a number")))?;
                        if n == 0 {
                            return Err(bad("volumes=0: at least one volume".into()));
                        }
                        s.volumes = Some(n);
                    }
                    ("read-only", None) => s.read_only = true,
                    _ => {
                        return Err(bad(format!(
                            "unknown option {k:?} for rmt-tap: (capacity, early-warning, volumes, read-only, rsh, rmt, timeout)"
                        )))
                    }
                }
            }
            if let Some(c) = s.capacity {
                if s.early_warning >= c {
                    return Err(bad(format!("early-warning={} is not smaller than capacity={c}", s.early_warning)));
                }
            } else if s.early_warning > 0 {
                return Err(bad("early-warning needs a capacity".into()));
            }
            volume_path(&remote.path, 1).map_err(bad)?;
            s.remote = remote;
            Ok(Spec::RmtTap(s))
        }
        _ => Err(SpecError::UnknownKind { spec: spec.to_owned(), kind: kind.to_owned() }),
    }
}

/// `[user@]host:path`.
fn parse_remote(s: &str) -> Result<Remote, String> {
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
    Ok(Remote {
        user,
        host: host.to_owned(),
        path: path.to_owned(),
        rsh: None,
        rmt: None,
        timeout: Duration::from_secs(60),
    })
}

/// Applies a tape option; Ok(false) if `k` is not one.
fn tape_opt(t: &mut TapeOptions, k: &str, v: Option<&str>) -> Result<bool, String> {
    match (k, v) {
        ("max-block", Some(v)) => {
            let n = parse_size(v)?;
            if n == 0 || n > MAX_BLOCK as u64 {
                return Err(format!("max-block={v}: must be 1 to 16M-1"));
            }
            t.max_block = n as usize;
        }
        ("load-timeout", Some(v)) => t.load_timeout = parse_secs(k, v)?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// Applies a connection option; Ok(false) if `k` is not one.
fn conn_opt(r: &mut Remote, k: &str, v: Option<&str>) -> Result<bool, String> {
    match (k, v) {
        ("rsh", Some(v)) if !v.trim().is_empty() => r.rsh = Some(v.to_owned()),
        ("rmt", Some(v)) if !v.trim().is_empty() => r.rmt = Some(v.to_owned()),
        ("timeout", Some(v)) => {
            let d = parse_secs(k, v)?;
            if d.is_zero() {
                return Err("timeout=0: must be positive".into());
            }
            r.timeout = d;
        }
        ("rsh" | "rmt", _) => return Err(format!("{k}= needs a value")),
        _ => return Ok(false),
    }
    Ok(true)
}

/// Seconds, with an optional fraction: "60", "0.5".
fn parse_secs(k: &str, v: &str) -> Result<Duration, String> {
    let f: f64 = v.parse().map_err(|_| format!("{k}={v}: not a number of seconds"))?;
    if !f.is_finite() || !(0.0..=1e7).contains(&f) {
        return Err(format!("{k}={v}: out of range"));
    }
    Ok(Duration::from_secs_f64(f))
}

/// The path of volume `n` (from 1) of a pattern: `%d` or `%0Nd` is the
/// number, `%%` a percent sign. A path without a number is itself.
pub fn volume_path(pattern: &str, n: usize) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut width = String::new();
        while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
            width.push(d);
            chars.next();
        }
        match chars.next() {
            Some('%') if width.is_empty() => out.push('%'),
            Some('d') => {
                let w: usize = if width.is_empty() { 0 } else { width.parse().map_err(|_| "bad width")? };
                if w > 20 {
                    return Err(format!("{pattern}: width {w} too large"));
                }
                out.push_str(&format!("{n:0w$}"));
            }
            _ => return Err(format!("{pattern}: only %d, %0Nd and %% are understood")),
        }
    }
    Ok(out)
}

/// True if a pattern names several volumes.
pub fn is_pattern(pattern: &str) -> bool {
    volume_path(pattern, 1).ok() != volume_path(pattern, 2).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tape_spec_with_options() {
        let s = parse("tape:/dev/nst0,max-block=256K,load-timeout=2.5").unwrap();
        let Spec::Tape(t) = s else { panic!("{s:?}") };
        assert_eq!(t.path, PathBuf::from("/dev/nst0"));
        assert_eq!(t.opts.max_block, 256 * 1024);
        assert_eq!(t.opts.load_timeout, Duration::from_millis(2500));
        let Spec::Tape(t) = parse("tape:/dev/npmtm1").unwrap() else { panic!() };
        assert_eq!(t.opts, TapeOptions::default());
    }

    #[test]
    fn rmt_spec_user_host_and_connection_options() {
        let Spec::Rmt(r) = parse("rmt:backup@vault:/dev/nst0,rsh=ssh -p 2222,rmt=/usr/sbin/rmt-dump,timeout=5").unwrap()
        else {
            panic!()
        };
        assert_eq!(r.remote.user.as_deref(), Some("backup"));
        assert_eq!(r.remote.host, "vault");
        assert_eq!(r.remote.path, "/dev/nst0");
        assert_eq!(r.remote.rsh_argv(), vec!["ssh", "-p", "2222"]);
        assert_eq!(r.remote.rmt_program(), "/usr/sbin/rmt-dump");
        assert_eq!(r.remote.timeout, Duration::from_secs(5));
        assert_eq!(r.remote.display(), "backup@vault:/dev/nst0");
        let Spec::Rmt(r) = parse("rmt:[fe80::1]:/dev/nst1").unwrap() else { panic!() };
        assert_eq!((r.remote.host.as_str(), r.remote.path.as_str(), r.remote.user), ("fe80::1", "/dev/nst1", None));
    }

    #[test]
    fn rmt_tap_spec_pattern_and_capacity() {
        let Spec::RmtTap(r) =
            parse("rmt-tap:vault:/tapes/vol%03d.tap,capacity=10M,early-warning=1M,volumes=3,read-only").unwrap()
        else {
            panic!()
        };
        assert_eq!(r.capacity, Some(10 << 20));
        assert_eq!(r.early_warning, 1 << 20);
        assert_eq!(r.volumes, Some(3));
        assert!(r.read_only);
        assert_eq!(volume_path(&r.remote.path, 7).unwrap(), "/tapes/vol007.tap");
        assert!(is_pattern(&r.remote.path));
        assert!(!is_pattern("/tapes/one.tap"));
        assert_eq!(volume_path("/t/100%%-%d.tap", 2).unwrap(), "/t/100%-2.tap");
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let cases = [
            ("nst0", "no medium kind"),
            ("tape:", "no device path"),
            ("tape:/dev/nst0,speed=9", "unknown option \"speed\""),
            ("tape:/dev/nst0,max-block=32M", "max-block=32M: must be 1 to 16M-1"),
            ("tape:/dev/nst0,max-block=12Q", "unknown size suffix"),
            ("rmt:/dev/nst0", "no host"),
            ("rmt:host:", "no path after the host"),
            ("rmt::/dev/nst0", "empty host"),
            ("rmt:-oProxyCommand=x:/dev/nst0", "may not start with -"),
            ("rmt:h:/dev/nst0,timeout=abc", "timeout=abc: not a number of seconds"),
            ("rmt:h:/dev/nst0,timeout=0", "timeout=0"),
            ("rmt:h:/dev/nst0,rsh=", "rsh= needs a value"),
            ("rmt-tap:h:/t/v.tap,early-warning=1M", "early-warning needs a capacity"),
            ("rmt-tap:h:/t/v.tap,capacity=1M,early-warning=1M", "not smaller than capacity"),
            ("rmt-tap:h:/t/v%s.tap", "only %d"),
            ("rmt-tap:h:/t/v.tap,volumes=0", "at least one volume"),
        ];
        for (spec, want) in cases {
            let e = parse(spec).expect_err(spec);
            let msg = e.to_string();
            assert!(msg.starts_with(spec), "{spec}: {msg}");
            assert!(msg.contains(want), "{spec}: {msg}");
        }
        assert_eq!(
            parse("tap:/x.tap"),
            Err(SpecError::UnknownKind { spec: "tap:/x.tap".into(), kind: "tap".into() })
        );
    }
}
