//! pmtd: serve a pmt unit as a tape drive storing SIMH .tap images.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use pmtd::drive::{Drive, DriveConfig};
use pmtd::{inspect, serve};

/// A tape drive for a pmt unit: requests from /dev/pmts<N>, media in SIMH .tap images.
#[derive(Debug, Parser)]
#[command(version, args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    serve: ServeArgs,
    /// More log output (-v debug, -vv trace); logs go to stderr.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Image file of a volume (created if missing). Repeat for an autoloader
    /// magazine: volumes load in order. With no volume the drive is empty.
    /// An image without write permission is a write-protected volume.
    #[arg(short, long = "image", value_name = "FILE")]
    images: Vec<PathBuf>,
    /// A directory of volumes: its *.tap files, in name order, after the
    /// --image ones.
    #[arg(long, value_name = "DIR")]
    volumes: Option<PathBuf>,
    /// Slave device of the unit to serve.
    #[arg(value_name = "DEVICE", env = "PMT_SLAVE", required = true)]
    device: Option<PathBuf>,
    /// Capacity of each volume in bytes of image (K, M, G suffixes); unlimited if absent.
    #[arg(long, value_parser = parse_size)]
    capacity: Option<u64>,
    /// Early-warning zone before the end of a volume: writes there succeed but
    /// report end of medium (ENOSPC on the next write under st). Default 0:
    /// end of medium only at the end, so a write either fits or is refused
    /// whole (what dump and restore handle best across many volumes).
    #[arg(long, value_parser = parse_size, default_value = "0")]
    early_warning: u64,
    /// Largest record the drive accepts (at most 16M-1).
    #[arg(long, value_parser = parse_size, default_value = "16777215")]
    max_block: u64,
    /// Load every volume write protected.
    #[arg(long)]
    read_only: bool,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Print the map of an image: files, record counts and sizes.
    Inspect {
        /// The image.
        image: PathBuf,
    },
    /// Check the framing of an image; exit status 1 if it is damaged.
    Verify {
        /// The image.
        image: PathBuf,
    },
}

/// Parses "4096", "64K", "10M", "2G" (powers of 1024).
fn parse_size(s: &str) -> Result<u64, String> {
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

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// SIGTERM and SIGINT interrupt the blocking read of the slave (no
/// SA_RESTART), so the loop syncs the image and exits.
fn catch_signals() -> Result<()> {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: a zeroed sigaction is valid; the handler only stores to an
        // atomic, which is async-signal-safe.
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            bail!("sigaction: {}", std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn run_serve(a: ServeArgs) -> Result<ExitCode> {
    let Some(device) = a.device else {
        bail!("no slave device given");
    };
    if a.max_block == 0 || a.max_block > u64::from(pmt::proto::MAX_RECORD) {
        bail!("--max-block must be between 1 and {}", pmt::proto::MAX_RECORD);
    }
    let early_warning = a.early_warning;
    if let Some(c) = a.capacity {
        if early_warning >= c {
            bail!("the early-warning zone ({early_warning}) must be smaller than the capacity ({c})");
        }
    }
    let cfg = DriveConfig {
        capacity: a.capacity,
        early_warning,
        min_block: 1,
        max_block: a.max_block as u32,
        read_only: a.read_only,
    };
    let mut volumes = a.images;
    if let Some(dir) = &a.volumes {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "tap"))
            .collect();
        found.sort();
        volumes.extend(found);
    }
    let mut drive = Drive::new(volumes, cfg).context("loading the first volume")?;
    let mut slave = serve::open_slave(&device)?;
    catch_signals()?;
    serve::serve(&mut slave, &mut drive, &STOP)?;
    drive.sync()?;
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => tracing::Level::INFO,
        1 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    // Colours only on a terminal: logs redirected to a file stay plain text.
    let ansi = std::io::stderr().is_terminal();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_max_level(level)
        .with_target(false)
        .init();
    let r = match cli.cmd {
        Some(Cmd::Inspect { image }) => inspect::scan_file(&image, false)
            .with_context(|| format!("reading {}", image.display()))
            .map(|scan| {
                print!("{}", inspect::render(&image, &scan));
                ExitCode::SUCCESS
            }),
        Some(Cmd::Verify { image }) => inspect::scan_file(&image, true)
            .with_context(|| format!("reading {}", image.display()))
            .map(|scan| {
                if scan.problems.is_empty() {
                    println!("{}: {} objects, framing ok", image.display(), scan.objs.len());
                    ExitCode::SUCCESS
                } else {
                    for p in &scan.problems {
                        println!("{}: {p}", image.display());
                    }
                    ExitCode::FAILURE
                }
            }),
        None => run_serve(cli.serve),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pmtd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("10m"), Ok(10 << 20));
        assert!(parse_size("10X").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn serve_and_subcommands_parse() {
        let c = Cli::try_parse_from(["pmtd", "--image", "a.tap", "--image", "b.tap", "/dev/pmts0"]).unwrap();
        assert!(c.cmd.is_none());
        assert_eq!(c.serve.images.len(), 2);
        let c = Cli::try_parse_from(["pmtd", "inspect", "a.tap"]).unwrap();
        assert!(matches!(c.cmd, Some(Cmd::Inspect { .. })));
        // No volume: an empty drive.
        let c = Cli::try_parse_from(["pmtd", "/dev/pmts0"]).unwrap();
        assert!(c.serve.images.is_empty());
        assert!(Cli::try_parse_from(["pmtd"]).is_err(), "the device is required");
    }
}
