//! The operators' side of a running library, as mhVTL's vtlcmd offers it:
//! see the inventory, import a cartridge into an import/export slot, export
//! one from there. The daemon listens on a Unix socket next to its
//! inventory (mode 0600: root's, as the slaves are); `pmtd library status`,
//! `import` and `export` talk to it, one request and one answer per
//! connection, each a line of JSON.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use tracing::warn;

use super::config::LibraryConfig;
use super::daemon::{lock_library, Library};
use super::element::{ElemType, Layout};
use super::inventory::{Inventory, InventoryFile};
use super::robot::DriveState;

/// What an operator asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Request {
    /// The inventory, with the drives' states.
    Status,
    /// Put a cartridge in an import/export slot.
    Import {
        /// Its barcode.
        barcode: String,
        /// Its medium (specs), or the library's default medium.
        #[serde(default)]
        medium: Vec<String>,
        /// The import/export slot (from 0), or the first empty one.
        portal: Option<u16>,
    },
    /// Take a cartridge out of its import/export slot.
    Export {
        /// The cartridge, by barcode...
        barcode: Option<String>,
        /// ...or by import/export slot (from 0).
        portal: Option<u16>,
    },
}

/// The daemon's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// It was done.
    pub ok: bool,
    /// What to show the operator.
    pub message: String,
}

/// The operators' socket of a daemon.
#[derive(Debug)]
pub struct Listener(UnixListener);

/// Listens on `path` (mode 0600), replacing a socket left by a daemon that
/// is gone.
pub fn listen(path: &Path) -> anyhow::Result<Listener> {
    if UnixStream::connect(path).is_ok() {
        bail!("{}: a daemon already listens there", path.display());
    }
    let _ = std::fs::remove_file(path);
    let l = UnixListener::bind(path).with_context(|| format!("{}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).with_context(|| format!("{}", path.display()))?;
    l.set_nonblocking(true)?;
    Ok(Listener(l))
}

/// Answers operators until `stop`.
pub fn serve(l: &Listener, lib: &Mutex<Library>, stop: &AtomicBool, poll: Duration) {
    while !stop.load(Ordering::Relaxed) {
        match l.0.accept() {
            Ok((s, _)) => {
                if let Err(e) = answer(s, lib) {
                    warn!("operator: {e}");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(poll.min(Duration::from_millis(100))),
            Err(e) => {
                warn!("operator socket: {e}");
                std::thread::sleep(poll);
            }
        }
    }
}

fn answer(s: UnixStream, lib: &Mutex<Library>) -> anyhow::Result<()> {
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut line = String::new();
    BufReader::new(&s).read_line(&mut line)?;
    let response = match serde_json::from_str::<Request>(&line) {
        Ok(r) => execute(lib, r),
        Err(e) => Response { ok: false, message: format!("not a request: {e}") },
    };
    let mut w = &s;
    writeln!(w, "{}", serde_json::to_string(&response)?)?;
    Ok(())
}

/// Runs an operator's request.
pub fn execute(lib: &Mutex<Library>, r: Request) -> Response {
    let mut l = lock_library(lib);
    let result = match r {
        Request::Status => {
            let states: Vec<Option<DriveState>> =
                (0..l.robot.layout().count(ElemType::Drive)).map(|n| l.robot.drive_state(n)).collect();
            let mut text = render(l.robot.layout(), l.robot.inventory(), Some(&states), l.robot.prevented());
            text.push_str(&l.robot.sides().unwrap_or_default());
            Ok(text)
        }
        Request::Import { barcode, medium, portal } => {
            l.robot.import(&barcode, Some(medium), portal).map(|e| format!("{barcode} is in {e}"))
        }
        Request::Export { barcode, portal } => {
            l.robot.export(barcode.as_deref(), portal).map(|(e, c)| format!("{} left {e}", c.barcode))
        }
    };
    match result {
        Ok(message) => Response { ok: true, message },
        Err(message) => Response { ok: false, message },
    }
}

/// The inventory as operators read it, element by element in mtx's order
/// (drives, slots, import/export slots), with each drive's state when the
/// daemon gives it.
pub fn render(layout: &Layout, inv: &Inventory, drives: Option<&[Option<DriveState>]>, prevented: bool) -> String {
    let mut out = format!(
        "{} drives, {} slots, {} import/export slots; removal through them {}\n",
        layout.count(ElemType::Drive),
        layout.count(ElemType::Slot),
        layout.count(ElemType::Portal),
        if prevented { "prevented" } else { "allowed" }
    );
    for t in [ElemType::Drive, ElemType::Slot, ElemType::Portal] {
        for e in layout.all(Some(t)) {
            let mut line = format!("{:<12} {:>5}  ", e.to_string(), layout.address(e));
            match inv.at(e) {
                None => line.push_str("empty"),
                Some(c) => {
                    line.push_str(&c.barcode);
                    if let Some(n) = e.drive() {
                        match drives.and_then(|d| d.get(usize::from(n))).cloned().flatten() {
                            Some(s) if s.loaded => line.push_str(" loaded"),
                            Some(_) => line.push_str(" unloaded"),
                            None => {}
                        }
                    }
                    if c.imported {
                        line.push_str(" (imported)");
                    }
                    if let Some(f) = c.from {
                        line.push_str(&format!(", from {f}"));
                    }
                }
            }
            if let Some(s) = e.drive().and_then(|n| drives.and_then(|d| d.get(usize::from(n))).cloned().flatten()) {
                if s.in_use {
                    line.push_str(", in use");
                }
                if s.locked {
                    line.push_str(", removal prevented");
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

/// Sends `r` to the daemon of `cfg`'s library.
pub fn request(cfg: &LibraryConfig, r: &Request) -> anyhow::Result<Response> {
    let s = UnixStream::connect(&cfg.socket).with_context(|| format!("{}: is the library's pmtd running?", cfg.socket.display()))?;
    s.set_read_timeout(Some(Duration::from_secs(600)))?;
    let mut w = &s;
    writeln!(w, "{}", serde_json::to_string(r)?)?;
    let mut line = String::new();
    BufReader::new(&s).read_line(&mut line)?;
    serde_json::from_str(&line).with_context(|| format!("{}: a reply that is not one", cfg.socket.display()))
}

/// `pmtd library status` without a running daemon: the inventory file.
pub fn offline_status(cfg: &LibraryConfig) -> anyhow::Result<String> {
    let f = InventoryFile::new(&cfg.inventory);
    let inv = match f.load()? {
        Some(i) => i,
        None => {
            let mut i = Inventory::default();
            for (e, c) in &cfg.cartridges {
                i.place(*e, c.clone()).map_err(anyhow::Error::msg)?;
            }
            i
        }
    };
    Ok(format!("(the library's pmtd is not running: its inventory file)\n{}", render(&cfg.layout, &inv, None, false)))
}

/// An import/export slot as operators name it (`1` is the first).
pub fn portal_number(n: u32) -> anyhow::Result<u16> {
    match n.checked_sub(1).and_then(|n| u16::try_from(n).ok()) {
        Some(p) => Ok(p),
        None => bail!("portals count from 1"),
    }
}

