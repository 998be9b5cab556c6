//! pmt without a kernel module: pmtd creates the master devices itself
//! through CUSE (`cuse.ko`, libfuse3's `cuse_lowlevel`), and the core runs
//! in this process with CUSE as its host. One core, another host: the st
//! engine, the reply boundary and the changer translation are the `pmt`
//! crate's, called exactly as the kernel shim calls them.
//!
//! - [`ffi`]: the thin layer over libfuse3 (the only `unsafe` here);
//! - [`device`]: the kernel's requests as the core's master calls
//!   (records across the kernel's 128 KiB requests, open files);
//! - [`ioctl`]: unrestricted ioctls and their FUSE_IOCTL_RETRY exchange;
//! - [`host`]: the core's [`pmt::Host`]: waits, interrupts, privileges;
//! - [`caller`]: what /proc says of the calling thread;
//! - [`slave`]: the in-process slave the drive's serve loop reads.
//!
//! Each node is its own CUSE channel (one /dev/cuse open makes one node):
//! a tape pair has two (rewinding and no-rewind) over one pair, a changer
//! one. Each channel's requests run on libfuse's worker threads, so a
//! master call waiting for the drive blocks one worker, not the device.

pub mod caller;
pub mod device;
pub mod ffi;
pub mod host;
pub mod ioctl;
pub mod slave;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use pmt::{Abi, Config, HostArea, HostLock, Kind, Pair};

use crate::library::LibraryConfig;
use crate::scsi::unit_number;

pub use device::{Device, Node};
pub use host::{Daemon, Shared};
pub use slave::{serve_in_process, PairSlave};

/// Worker threads per channel at most (each master call waiting for the
/// drive holds one; a tape opens once at a time).
const THREADS: u32 = 16;

/// The limits of a CUSE pair: the module's defaults (`ring`, `window_kb`,
/// `timeout`).
pub const CONFIG: Config = Config { ring: 512, window: 4096 << 10, timeout: 900 };

/// Who may open the nodes, and who the daemon becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// The nodes' mode (0660 by default).
    pub mode: u32,
    /// Their group (`tape` by default; root's if there is no such group).
    pub group: Option<String>,
    /// The user the daemon runs as once the nodes exist.
    pub user: Option<String>,
}

impl Default for Access {
    fn default() -> Access {
        Access { mode: 0o660, group: Some("tape".into()), user: None }
    }
}

/// The node names of pair `index` of `kind`, with each one's no-rewind
/// flag: the module's names, or `name` (and `n` + `name` for a tape's
/// no-rewind node, as st's st0 and nst0).
pub fn node_names(kind: Kind, index: u32, name: Option<&str>) -> Vec<(String, bool)> {
    match (kind, name) {
        (Kind::Tape, None) => vec![(format!("pmtm{index}"), false), (format!("npmtm{index}"), true)],
        (Kind::Tape, Some(n)) => vec![(n.to_string(), false), (format!("n{n}"), true)],
        (Kind::Changer, None) => vec![(format!("pmcm{index}"), false)],
        (Kind::Changer, Some(n)) => vec![(n.to_string(), false)],
    }
}

/// A pair whose master nodes exist, not yet served.
pub struct Devices {
    device: Arc<Device>,
    channels: Vec<ffi::Channel>,
    nodes: Vec<PathBuf>,
}

impl Devices {
    /// Creates pair `index` of `kind` and its nodes (`names`, from
    /// [`node_names`]), with the access `access` asks for. The nodes exist
    /// when it returns; nobody serves them yet.
    pub fn create(kind: Kind, index: u32, names: &[(String, bool)], access: &Access) -> Result<Devices> {
        let pair = Pair::new(kind, index, CONFIG, Abi::Linux, HostLock::NONE, HostArea::NONE)
            .map_err(|e| anyhow::anyhow!("cannot create the pair: {e:?}"))?;
        let device = Arc::new(Device::new(Arc::new(Shared::new(pair))));
        if kind == Kind::Tape {
            // Writes are acknowledged once the drive has stored them
            // (st's async-writes off): a CUSE close reports no error, and
            // the write-behind window would die with this process. Root
            // may turn it on: mt -f DEV stsetoptions async-writes.
            device
                .setup_op(pmt::abi::linux::op::SETDRVBUFFER, (pmt::drv::mtst::CLEARBOOLEANS | pmt::drv::mtst::ASYNC_WRITES) as i32)
                .map_err(|e| anyhow::anyhow!("cannot set the drive's options: {e:?}"))?;
        }
        let gid = match &access.group {
            None => None,
            Some(g) => match nix::unistd::Group::from_name(g).context("looking up the group")? {
                Some(g) => Some(g.gid),
                None => {
                    tracing::warn!("no group {g}: the nodes stay root's");
                    None
                }
            },
        };
        let mut channels = Vec::new();
        let mut nodes = Vec::new();
        for (name, norewind) in names {
            let path = PathBuf::from("/dev").join(name);
            if path.exists() {
                bail!("{} exists already (is pmt.ko loaded with this unit, or another pmtd running?)", path.display());
            }
            let node = Arc::new(Node::new(Arc::clone(&device), *norewind));
            let mut ch = ffi::Channel::new(name, node).map_err(|e| match e.raw_os_error() {
                Some(libc::ENOENT | libc::ENODEV) => anyhow::anyhow!("no /dev/cuse: load the cuse module (modprobe cuse)"),
                _ => anyhow::anyhow!("cannot open /dev/cuse: {e}"),
            })?;
            ch.init().with_context(|| format!("creating {}", path.display()))?;
            wait_for(&path)?;
            nix::unistd::chown(&path, None, gid).with_context(|| format!("chown {}", path.display()))?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(access.mode & 0o7777))
                .with_context(|| format!("chmod {}", path.display()))?;
            tracing::info!("created {}", path.display());
            channels.push(ch);
            nodes.push(path);
        }
        Ok(Devices { device, channels, nodes })
    }

    /// The pair and its waits, for the daemon's side.
    pub fn shared(&self) -> Arc<Shared> {
        Arc::clone(self.device.shared())
    }

    /// The node paths.
    pub fn nodes(&self) -> &[PathBuf] {
        &self.nodes
    }

    /// Serves every node on threads of its own, for the life of the
    /// process (the kernel removes a node when this process ends).
    pub fn serve(self) -> Result<Arc<Shared>> {
        let shared = self.shared();
        for (ch, path) in self.channels.into_iter().zip(&self.nodes) {
            let name = path.display().to_string();
            std::thread::Builder::new()
                .name(format!("cuse {name}"))
                .spawn(move || {
                    let r = ch.serve(THREADS);
                    tracing::debug!("{name}: CUSE session ended ({r})");
                })
                .context("starting a CUSE thread")?;
        }
        Ok(shared)
    }
}

/// Serves the library `cfg` describes with its master nodes made here
/// through CUSE, under the module's names: the changer's `/dev/pmcm<N>`
/// (N the unit of its `changer` slave, `/dev/pmcs<N>`), each drive's
/// `/dev/pmtm<N>` and `/dev/npmtm<N>` (N the unit of its `device`). The
/// library daemon is the module's, its slaves the pairs' in-process ends;
/// until `stop`.
pub fn serve_library(cfg: &LibraryConfig, access: &Access, stop: &AtomicBool) -> Result<()> {
    let held = crate::library::daemon::lock_file(&cfg.inventory)?;
    let unit = |p: &std::path::Path| unit_number(p).with_context(|| format!("{}: no unit number in the name", p.display()));
    let n = unit(&cfg.changer)?;
    let changer = Devices::create(Kind::Changer, n, &node_names(Kind::Changer, n, None), access)?;
    let mut drives = Vec::new();
    for d in &cfg.drives {
        let n = unit(&d.device)?;
        drives.push(Devices::create(Kind::Tape, n, &node_names(Kind::Tape, n, None), access)?);
    }
    if let Some(user) = &access.user {
        drop_privileges(user)?;
    }
    let changer = PairSlave::open(changer.serve()?)?;
    let drives = drives.into_iter().map(|d| Ok(PairSlave::open(d.serve()?)?)).collect::<Result<Vec<_>>>()?;
    crate::library::daemon::serve_on(cfg, held, changer, drives, stop)
}

/// Waits for devtmpfs (or udev) to make the node.
fn wait_for(path: &std::path::Path) -> Result<()> {
    for _ in 0..100 {
        if path.exists() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    bail!("{} did not appear", path.display())
}

/// Becomes `user` (its uid, its group alone), keeping only CAP_SYS_PTRACE
/// and CAP_DAC_READ_SEARCH: reading a caller's blocked call in
/// /proc/<tid>/syscall (a file only its owner may read) and its buffer,
/// which records longer than 124 KiB need (see [`device`]). Run before
/// any other thread starts (capabilities are per thread).
pub fn drop_privileges(user: &str) -> Result<()> {
    use rustix::thread::{set_capabilities, set_keep_capabilities, CapabilitySet, CapabilitySets};
    let u = nix::unistd::User::from_name(user).context("looking up the user")?.with_context(|| format!("no user {user}"))?;
    nix::unistd::setgroups(&[u.gid]).context("setgroups")?;
    nix::unistd::setgid(u.gid).context("setgid")?;
    set_keep_capabilities(true).context("PR_SET_KEEPCAPS")?;
    nix::unistd::setuid(u.uid).context("setuid")?;
    let keep = CapabilitySet::SYS_PTRACE | CapabilitySet::DAC_READ_SEARCH;
    set_capabilities(None, CapabilitySets { effective: keep, permitted: keep, inheritable: CapabilitySet::empty() })
        .context("capset")?;
    set_keep_capabilities(false).context("PR_SET_KEEPCAPS")?;
    tracing::info!("running as {user} (uid {}, gid {})", u.uid, u.gid);
    Ok(())
}
