//! What pmtd's commands do, once main.rs's command line has parsed them:
//! serving a drive (through pmt.ko's slave or CUSE), a tape library, and
//! the copy and convert commands.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{bail, Context, Result};
use clap::error::ErrorKind;
use clap::CommandFactory;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use pmtd::convert::{self, ConvertOptions, Format};
use pmtd::copy::{self, CopyOptions};
use pmtd::drive::Drive;
use pmtd::library::operator::{self, Request};
use pmtd::library::{serve_library, LibraryConfig};
use pmtd::media::image::ImageOptions;
use pmtd::progress::Progress;
use pmtd::setup::Setup;
use pmtd::spec;
use pmtd::transport::DeviceSlave;
use pmtd::{cuse, serve};

use super::{Cli, CuseArgs, LibraryArgs, LibraryCmd, NodeAccess, ServeArgs};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// SIGTERM and SIGINT interrupt the blocking read of the slave (no
/// SA_RESTART), so the loop syncs the medium and exits.
#[allow(unsafe_code)]
fn catch_signals() -> Result<()> {
    let action = SigAction::new(SigHandler::Handler(on_signal), SaFlags::empty(), SigSet::empty());
    for sig in [Signal::SIGTERM, Signal::SIGINT] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe, and no other handler of these signals is
        // replaced behind anyone's back (pmtd installs none elsewhere).
        unsafe { sigaction(sig, &action) }.context("sigaction")?;
    }
    Ok(())
}

/// The setup the configuration file and the options describe.
pub(crate) fn setup(a: ServeArgs) -> Result<Setup> {
    let mut s = match &a.config {
        Some(path) => Setup::from_file(path)?,
        None => Setup::default(),
    };
    if a.device.is_some() {
        s.device = a.device;
    }
    if !a.images.is_empty() {
        s.images = a.images;
    }
    if a.volumes.is_some() {
        s.volumes = a.volumes;
    }
    if !a.mirror.is_empty() {
        s.media = a.mirror;
    }
    s.degraded |= a.degraded;
    s.write_after_enospc |= a.write_after_enospc;
    if a.capacity.is_some() {
        s.image.capacity = a.capacity;
    }
    if let Some(e) = a.early_warning {
        s.image.early_warning = e;
    }
    s.image.read_only |= a.read_only;
    if a.serial.is_some() {
        s.ident.serial = a.serial;
    }
    if a.max_block.is_some() {
        s.max_block = a.max_block;
    }
    if a.compress.is_some() {
        s.compress = a.compress;
    }
    if a.key_file.is_some() {
        s.key_file = a.key_file;
    }
    Ok(s)
}

pub(crate) fn run_library(a: LibraryArgs) -> Result<ExitCode> {
    let cfg = LibraryConfig::from_file(&a.config).map_err(anyhow::Error::msg)?;
    if a.cmd.is_some() && (a.cuse || a.access.user.is_some()) {
        bail!("--cuse and --user go with serving the library, not with a command to it");
    }
    let request = match a.cmd {
        None if a.cuse => {
            // The nodes are made and privileges dropped before any
            // thread starts; then SIGTERM stops it as it stops the other.
            catch_signals()?;
            cuse::serve_library(&cfg, &a.access.access(), &STOP)?;
            return Ok(ExitCode::SUCCESS);
        }
        None => {
            if a.access.user.is_some() {
                bail!("--user goes with --cuse");
            }
            catch_signals()?;
            serve_library(&cfg, &STOP)?;
            return Ok(ExitCode::SUCCESS);
        }
        Some(LibraryCmd::Status) => {
            return match operator::request(&cfg, &Request::Status) {
                Ok(r) => {
                    print!("{}", r.message);
                    Ok(ExitCode::SUCCESS)
                }
                Err(_) => {
                    print!("{}", operator::offline_status(&cfg)?);
                    Ok(ExitCode::SUCCESS)
                }
            };
        }
        Some(LibraryCmd::Import { barcode, medium, portal }) => {
            Request::Import { barcode, medium, portal: portal.map(operator::portal_number).transpose()? }
        }
        Some(LibraryCmd::Export { barcode, portal }) => {
            Request::Export { barcode, portal: portal.map(operator::portal_number).transpose()? }
        }
    };
    let r = operator::request(&cfg, &request)?;
    if r.ok {
        println!("{}", r.message);
        Ok(ExitCode::SUCCESS)
    } else {
        bail!("{}", r.message)
    }
}

pub(crate) fn run_serve(mut a: ServeArgs) -> Result<ExitCode> {
    let empty = CuseArgs { unit: None, name: None, access: NodeAccess { mode: 0, group: String::new(), user: None } };
    let cuse = std::mem::replace(&mut a.cuse, empty);
    if let Some(config) = a.library {
        return run_library(LibraryArgs { config, cuse: false, access: cuse.access, cmd: None });
    }
    if cuse.unit.is_none() && (cuse.name.is_some() || cuse.access.user.is_some()) {
        bail!("--name and --user go with --cuse");
    }
    // A configuration that describes a library (pmtd@NAME.service runs
    // pmtd --config for either, pmtd-cuse@NAME.service pmtd --cuse --config).
    if let Some(config) = &a.config {
        let text = std::fs::read_to_string(config).with_context(|| config.display().to_string())?;
        if LibraryConfig::describes_library(&text) {
            if drive_options(&a) || cuse.name.is_some() {
                bail!("{}: a library's configuration takes no drive options", config.display());
            }
            if matches!(cuse.unit, Some(Some(_))) {
                bail!("{}: a library's units are its devices' (pmtd --cuse without N)", config.display());
            }
            return run_library(LibraryArgs { config: config.clone(), cuse: cuse.unit.is_some(), access: cuse.access, cmd: None });
        }
    }
    let s = setup(a)?;
    match cuse.unit {
        Some(Some(unit)) => return run_cuse(unit, &cuse, s),
        Some(None) => {
            let Some(unit) = s.device.as_deref().and_then(pmtd::scsi::unit_number) else {
                bail!("--cuse without N takes the unit from the configuration's device (device = \"/dev/pmts<N>\")");
            };
            return run_cuse(unit, &cuse, s);
        }
        None => {}
    }
    let Some(device) = s.device.clone() else {
        bail!("no slave device given (DEVICE, $PMT_SLAVE or device = in the configuration)");
    };
    let (volumes, cfg) = s.build()?;
    let mut drive = Drive::new(volumes, cfg).context("loading the first volume")?;
    let mut slave = DeviceSlave::open(&device)?;
    catch_signals()?;
    serve::serve(&mut slave, &mut drive, &STOP)?;
    drive.shut_down()?;
    Ok(ExitCode::SUCCESS)
}

/// Whether options of a drive were given besides --config (DEVICE, which
/// may come from the environment, is not one: a library names its own).
pub(crate) fn drive_options(a: &ServeArgs) -> bool {
    !a.images.is_empty()
        || a.volumes.is_some()
        || !a.mirror.is_empty()
        || a.degraded
        || a.serial.is_some()
        || a.capacity.is_some()
        || a.early_warning.is_some()
        || a.write_after_enospc
        || a.max_block.is_some()
        || a.read_only
        || a.compress.is_some()
        || a.key_file.is_some()
}

/// Serves tape pair `unit` through CUSE: the core runs here, its masters
/// are CUSE devices, its slave the drive's serve loop.
pub(crate) fn run_cuse(unit: u32, a: &CuseArgs, mut s: Setup) -> Result<ExitCode> {
    // No slave is opened; the drive's default serial is the unit's, as
    // with the module's /dev/pmts<N>.
    s.device = Some(PathBuf::from(format!("/dev/pmts{unit}")));
    let (volumes, cfg) = s.build()?;
    let drive = Drive::new(volumes, cfg).context("loading the first volume")?;
    let access = a.access.access();
    let names = cuse::node_names(pmt::Kind::Tape, unit, a.name.as_deref());
    let devices = cuse::Devices::create(pmt::Kind::Tape, unit, &names, &access)?;
    if let Some(user) = &access.user {
        cuse::drop_privileges(user)?;
    }
    catch_signals()?;
    let shared = devices.serve()?;
    // Until SIGTERM; then the volume is unloaded and every master call
    // fails at once.
    cuse::serve_in_process(&shared, drive, &STOP)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn run_copy(verify: bool, source: &str, dests: &[String]) -> Result<ExitCode> {
    let defaults = ImageOptions::default();
    let mut src_volumes = spec::build(source, &defaults)?.volumes;
    let mut targets = Vec::new();
    for d in dests {
        targets.push((d.clone(), spec::build(d, &defaults)?.volumes));
    }
    let mut progress = Progress::new("copy");
    let r = copy::copy_set(&mut src_volumes, targets, &CopyOptions { verify }, &mut progress);
    let line = progress.finish();
    let map = r?;
    tracing::info!("{line}");
    print!("{}", map.render());
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn run_convert(from: Option<Format>, to: Option<Format>, opts: &ConvertOptions, input: &Path, output: &Path) -> Result<ExitCode> {
    // Without a format the command line is incomplete: a usage error.
    let format = |given: Option<Format>, path: &Path, opt: &str| match given.or_else(|| Format::of_path(path)) {
        Some(f) => f,
        None => Cli::command()
            .error(
                ErrorKind::MissingRequiredArgument,
                format!("{}: no .tap or .aws extension to take its format from: give {opt}", path.display()),
            )
            .exit(),
    };
    let from = format(from, input, "--from");
    let to = format(to, output, "--to");
    let mut progress = Progress::new("convert");
    let r = convert::convert(input, from, output, to, opts, &mut progress);
    let line = progress.finish();
    let summary = r?;
    tracing::debug!("{line}");
    println!("{}", summary.render(input, from, output, to));
    Ok(ExitCode::SUCCESS)
}
