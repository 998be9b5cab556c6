//! A mirrored library's sides, as its TOML describes them:
//!
//! ```toml
//! [[side]]
//! name = "A"
//! [[side.library]]
//! changer = "/dev/sg5"                          # SG_IO: /dev/sgN, /dev/schN, /dev/pmcmN
//! drives = ["tape:/dev/nst0", "tape:/dev/nst1"] # its drives 0, 1, ... as media
//! # slots = "1-108"                             # which of its slots (mtx numbering), in
//! #                                             # order; default: all of them
//! # import-export = "1-4"                       # the same for its import/export slots
//!
//! [[side]]
//! name = "B"
//! [[side.library]]
//! changer = "remote:backup@vault:/dev/sg3,rsh=ssh -p 2222,pmtd=/usr/local/bin/pmtd"
//! drives = [{ drive = 2, medium = "rmt:backup@vault:/dev/nst2" }]  # a partition
//! slots = "1-54"
//! [side.labels]                                 # barcodes that differ on this side
//! "ABC001L6" = "VLT001L6"
//! ```
//!
//! A changer on another host is `remote:[USER@]HOST:NODE` with options
//! `rsh=COMMAND` (default `$PMT_RSH`, else ssh), `pmtd=PATH` (the pmtd
//! there; `$PMT_REMOTE_PMTD`, else pmtd) and `timeout=SECS` (the longest
//! wait for any reply, 600: a robot's slowest move).

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::changer::remote::RemotePort;
use crate::changer::sg::SgPort;
use crate::changer::ScsiPort;
use crate::media::rmt::Remote;
use crate::spec::parse_remote;

/// The longest wait for a remote changer's reply unless `timeout=` says.
pub const REMOTE_TIMEOUT: Duration = Duration::from_secs(600);

/// Opens a port to a side's library (again, after a connection dropped).
pub trait PortOpener: fmt::Debug + Send + Sync {
    /// Opens it.
    fn open(&self) -> io::Result<Box<dyn ScsiPort>>;
    /// Its name for logs and errors.
    fn name(&self) -> String;
}

/// Where a side's library is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangerAddress {
    /// A node on this host.
    Local(PathBuf),
    /// A node on another host, through the remote changer protocol.
    Remote {
        /// The host, the node there, the remote shell, the timeout.
        remote: Remote,
        /// The pmtd to run there.
        pmtd: Option<String>,
    },
}

impl ChangerAddress {
    /// Parses `NODE` or `remote:[USER@]HOST:NODE[,rsh=CMD][,pmtd=PATH][,timeout=SECS]`.
    pub fn parse(text: &str) -> Result<ChangerAddress, String> {
        let bad = |why: String| format!("changer {text:?}: {why}");
        let Some(rest) = text.strip_prefix("remote:") else {
            if text.is_empty() || text.contains(',') {
                return Err(bad("a node (/dev/sgN, /dev/schN, /dev/pmcmN) or remote:HOST:NODE".into()));
            }
            return Ok(ChangerAddress::Local(PathBuf::from(text)));
        };
        let mut parts = rest.split(',');
        let mut remote = parse_remote(parts.next().unwrap_or_default()).map_err(bad)?;
        remote.timeout = REMOTE_TIMEOUT;
        let mut pmtd = None;
        for p in parts {
            match p.split_once('=') {
                Some(("rsh", v)) if !v.trim().is_empty() => remote.rsh = Some(v.to_string()),
                Some(("pmtd", v)) if !v.trim().is_empty() => pmtd = Some(v.to_string()),
                Some(("timeout", v)) => {
                    let s: f64 = v.trim().parse().map_err(|_| bad(format!("timeout={v}: not a number of seconds")))?;
                    if !(s.is_finite() && s > 0.0 && s <= 1e6) {
                        return Err(bad(format!("timeout={v}: out of range")));
                    }
                    remote.timeout = Duration::from_secs_f64(s);
                }
                _ => return Err(bad(format!("unknown option {p:?} (rsh=, pmtd=, timeout=)"))),
            }
        }
        Ok(ChangerAddress::Remote { remote, pmtd })
    }
}

impl PortOpener for ChangerAddress {
    fn open(&self) -> io::Result<Box<dyn ScsiPort>> {
        Ok(match self {
            ChangerAddress::Local(p) => Box::new(SgPort::open(p)?),
            ChangerAddress::Remote { remote, pmtd } => Box::new(RemotePort::connect(remote, pmtd.as_deref())?),
        })
    }

    fn name(&self) -> String {
        match self {
            ChangerAddress::Local(p) => p.display().to_string(),
            ChangerAddress::Remote { remote, .. } => remote.display(),
        }
    }
}

impl PortOpener for crate::changer::memory::MemoryLibrary {
    fn open(&self) -> io::Result<Box<dyn ScsiPort>> {
        Ok(Box::new(self.port()))
    }
    fn name(&self) -> String {
        self.name().to_string()
    }
}

/// One library of a side (or the part of it the side uses).
#[derive(Clone, Debug)]
pub struct SideLibrarySetup {
    /// How to reach its changer.
    pub changer: Arc<dyn PortOpener>,
    /// The drives the side uses: each one's number in the library (from
    /// 0) and the medium spec that reaches it (`tape:`, `rmt:`).
    pub drives: Vec<(u16, String)>,
    /// Its storage slots the side uses, in order (from 0); all if None.
    pub slots: Option<Vec<u16>>,
    /// Its import/export slots the side uses, in order; all if None.
    pub portals: Option<Vec<u16>>,
}

/// One side of a mirrored library.
#[derive(Clone, Debug)]
pub struct SideSetup {
    /// Its name, in logs and messages.
    pub name: String,
    /// Its libraries: their slots follow one another in the pseudo
    /// library's order.
    pub libraries: Vec<SideLibrarySetup>,
    /// Barcodes that differ on this side: the pseudo library's to this
    /// side's.
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct SideFile {
    name: String,
    #[serde(rename = "library")]
    libraries: Vec<SideLibraryFile>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct SideLibraryFile {
    changer: String,
    drives: Vec<DriveEntry>,
    slots: Option<String>,
    import_export: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DriveEntry {
    Medium(String),
    Numbered { drive: u16, medium: String },
}

/// Parses "1-54,60,70-72" (numbers from 1, as mtx shows them) into element
/// numbers from 0, in order.
pub fn parse_ranges(text: &str) -> Result<Vec<u16>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let num = |s: &str| -> Result<u16, String> {
            match s.trim().parse::<u16>() {
                Ok(n) if n >= 1 => Ok(n - 1),
                _ => Err(format!("{s:?}: numbers from 1 to 65535")),
            }
        };
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(part)?, num(part)?),
        };
        if b < a {
            return Err(format!("{part:?}: a range from low to high"));
        }
        out.extend(a..=b);
    }
    let mut seen = out.clone();
    seen.sort_unstable();
    seen.dedup();
    if seen.len() != out.len() {
        return Err(format!("{text:?}: an element given twice"));
    }
    if out.is_empty() {
        return Err(format!("{text:?}: no element"));
    }
    Ok(out)
}

/// The spec of a side's drive as the mirror uses it: a tape drive's unload
/// rewinds and leaves the tape to the library's robot.
fn drive_spec(spec: &str) -> String {
    let drive = spec.starts_with("tape:") || spec.starts_with("rmt:");
    if !drive || spec.split(',').any(|o| o.starts_with("unload=")) {
        spec.to_string()
    } else {
        format!("{spec},unload=rewind")
    }
}

impl SideFile {
    pub(crate) fn setup(self) -> Result<SideSetup, String> {
        let name = self.name;
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(format!("side {name:?}: a name without blanks"));
        }
        if self.libraries.is_empty() {
            return Err(format!("side {name}: at least one [[side.library]]"));
        }
        let mut libraries = Vec::new();
        for l in self.libraries {
            let changer = ChangerAddress::parse(&l.changer).map_err(|e| format!("side {name}: {e}"))?;
            let mut drives = Vec::new();
            for (i, d) in l.drives.into_iter().enumerate() {
                let (n, m) = match d {
                    DriveEntry::Medium(m) => (i as u16, m),
                    DriveEntry::Numbered { drive, medium } => (drive, medium),
                };
                if drives.iter().any(|(x, _)| *x == n) {
                    return Err(format!("side {name}: drive {n} of {} given twice", l.changer));
                }
                crate::spec::Spec::parse(&m, &Default::default()).map_err(|e| format!("side {name}: {e}"))?;
                drives.push((n, drive_spec(&m)));
            }
            if drives.is_empty() {
                return Err(format!("side {name}: {} has no drives = [...]", l.changer));
            }
            let slots = l.slots.as_deref().map(parse_ranges).transpose().map_err(|e| format!("side {name}: slots {e}"))?;
            let portals =
                l.import_export.as_deref().map(parse_ranges).transpose().map_err(|e| format!("side {name}: import-export {e}"))?;
            libraries.push(SideLibrarySetup { changer: Arc::new(changer), drives, slots, portals });
        }
        for (v, p) in &self.labels {
            crate::library::inventory::check_barcode(v).and(crate::library::inventory::check_barcode(p)).map_err(|e| format!("side {name}: labels: {e}"))?;
        }
        Ok(SideSetup { name, libraries, labels: self.labels })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_addresses() {
        assert_eq!(parse_ranges("1-3,7").unwrap(), [0, 1, 2, 6]);
        assert!(parse_ranges("0-3").is_err());
        assert!(parse_ranges("3-1").is_err());
        assert!(parse_ranges("1-3,2").is_err());
        assert_eq!(ChangerAddress::parse("/dev/sg3").unwrap(), ChangerAddress::Local("/dev/sg3".into()));
        match ChangerAddress::parse("remote:me@vault:/dev/sg3,rsh=ssh -p 2222,timeout=5").unwrap() {
            ChangerAddress::Remote { remote, pmtd } => {
                assert_eq!((remote.user.as_deref(), remote.host.as_str(), remote.path.as_str()), (Some("me"), "vault", "/dev/sg3"));
                assert_eq!(remote.rsh.as_deref(), Some("ssh -p 2222"));
                assert_eq!(remote.timeout, Duration::from_secs(5));
                assert!(pmtd.is_none());
            }
            other => panic!("{other:?}"),
        }
        assert!(ChangerAddress::parse("remote:vault:/dev/sg3,colour=red").is_err());
        assert_eq!(drive_spec("tape:/dev/nst0"), "tape:/dev/nst0,unload=rewind");
        assert_eq!(drive_spec("tape:/dev/nst0,unload=offline"), "tape:/dev/nst0,unload=offline");
        assert_eq!(drive_spec("tap:/t/a.tap"), "tap:/t/a.tap");
    }
}
