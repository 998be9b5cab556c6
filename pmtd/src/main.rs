//! pmtd: serve a pmt unit as a tape drive over SIMH .tap images, a mirror
//! of media, filters; copy tapes; inspect images.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use pmtd::convert::{ConvertOptions, Format, AWS_MAX_SEGMENT};
use pmtd::{cuse, inspect};
use pmtd::spec::{parse_level, parse_size};

mod run;
use run::{run_convert, run_copy, run_library, run_serve};

const SPECS: &str = "\
Medium specs (--mirror, --medium, copy):
  tap:FILE                  one image volume (created if missing)
  tap:PATTERN,volumes=N     N volumes named by a %d (or %0Nd) pattern:
                            tap:/t/vol%d.tap,volumes=3 is /t/vol1.tap .. /t/vol3.tap
  tap:DIR                   the *.tap files of DIR, in name order
  FILE                      the same as tap:FILE
  tape:/dev/nst0            a tape device (any st-compatible no-rewind node)
  rmt:[USER@]HOST:PATH      a tape drive on another host, through its rmt server
  rmt-tap:[USER@]HOST:PATH  SIMH images on another host (PATH may hold a %d pattern)
  Options after the target, separated by commas:
    capacity=SIZE, early-warning=SIZE, read-only, volumes=N   (tap, rmt-tap)
    max-block=SIZE, load-timeout=SECS                         (tape, rmt)
    early-warning=SIZE   (tape, rmt) the drive's early-warning zone, at least;
                         1M if not given. A drive does not say how far early
                         warning is, so pmtd keeps what the driver holds
                         unanswered to half of it: the zone must hold that and
                         what the program writes after early warning
    rsh=CMD, rmt=PATH, timeout=SECS                           (rmt, rmt-tap)
    compress[=LEVEL], key-file=FILE                           (a filter on this medium)
  SIZE takes K, M, G, T suffixes (powers of 1024).

A tape library (a media changer and its drives, for mtx, Bacula, Amanda):
  pmtd library --config FILE          serve it (also: pmtd --library FILE, or
                                      pmtd --config FILE: the file names a changer)
  pmtd library --config FILE --cuse   serve it without pmt.ko (CUSE nodes)
  pmtd library --config FILE status   its inventory
  pmtd library --config FILE import BARCODE [--medium SPEC]... [--portal N]
  pmtd library --config FILE export BARCODE | --portal N
  See pmtd library --help for the configuration file.

Examples:
  pmtd --image /var/tapes/vol1.tap /dev/pmts0
  pmtd --cuse 0 --image /var/tapes/vol1.tap     # no pmt.ko: /dev/pmtm0, /dev/npmtm0 by CUSE
  pmtd --cuse --config /etc/pmt/tape0.toml      # the unit of its device (pmtd-cuse@tape0)
  pmtd --mirror tap:/a/vol%d.tap,volumes=3,capacity=4G --mirror tape:/dev/nst0 /dev/pmts0
  pmtd --image /var/tapes/s.tap --compress --key-file /etc/pmt/tape.key /dev/pmts0
  pmtd copy --verify tap:/a/full.tap tap:/b/half%d.tap,volumes=4,capacity=2G
  pmtd convert vol1.tap vol1.aws";

/// A tape drive for a pmt unit: requests from /dev/pmts<N>, media in SIMH
/// .tap images, mirrors of media, compression and encryption.
#[derive(Debug, Parser)]
#[command(version, args_conflicts_with_subcommands = true, subcommand_negates_reqs = true, after_long_help = SPECS)]
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
    /// A medium spec (see below). Once: the drive's medium; repeated: a
    /// mirror, every record goes to every member and the first member to
    /// reach early warning ends the volume for all.
    #[arg(short, long = "mirror", visible_alias = "medium", value_name = "SPEC")]
    mirror: Vec<String>,
    /// A mirror member that fails is dropped (with an error in the log)
    /// and the others go on, instead of failing the operation.
    #[arg(long)]
    degraded: bool,
    /// A TOML file describing the setup (device, image, volumes, mirror,
    /// degraded, capacity, early-warning, max-block, read-only, compress,
    /// key-file, vendor, product, revision, serial, write-after-enospc);
    /// options given here win. A file that names a changer describes a
    /// tape library, served as pmtd library --config FILE.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Serve the tape library this TOML file describes: its media changer
    /// and its drives (the same as pmtd library --config FILE).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["config", "images", "volumes", "mirror", "device", "unit"])]
    library: Option<PathBuf>,
    /// Slave device of the unit to serve.
    #[arg(value_name = "DEVICE", env = "PMT_SLAVE", required_unless_present_any = ["config", "library", "unit"])]
    device: Option<PathBuf>,
    #[command(flatten)]
    cuse: CuseArgs,
    /// The drive's serial number (INQUIRY, VPD page 0x80); by default
    /// PMTD and the unit number of DEVICE (or --cuse N).
    #[arg(long)]
    serial: Option<String>,
    /// Capacity of each volume in bytes of image (K, M, G suffixes); unlimited if absent.
    #[arg(long, value_parser = parse_size)]
    capacity: Option<u64>,
    /// Early-warning zone before the end of a volume: writes there succeed but
    /// report end of medium (ENOSPC on the next write under st). Default 0:
    /// end of medium only at the end, so a write either fits or is refused
    /// whole. What the program writes after ENOSPC is refused whole unless
    /// --write-after-enospc.
    #[arg(long, value_parser = parse_size)]
    early_warning: Option<u64>,
    /// Let the program write records after it was told of the end of a
    /// volume (ENOSPC), into the early-warning zone, as st lets one write
    /// through after each ENOSPC on a real drive: for programs that write
    /// labels after the end (Bacula), and for a unit that is another
    /// pmtd's tape: member (it must store what that mirror had on its way
    /// after its early warning). By default such a record is refused
    /// whole, as at the physical end: the zone then takes only what the
    /// driver had on its way and the closing filemarks, and dump writes no
    /// record on two volumes (dump retries the record refused with ENOSPC;
    /// restore 0.4b47 skips such duplicates wrongly from the third volume on).
    #[arg(long)]
    write_after_enospc: bool,
    /// Largest record the drive accepts (at most 16M-1, less the overhead of
    /// a filter).
    #[arg(long, value_parser = parse_size)]
    max_block: Option<u64>,
    /// Load every volume write protected.
    #[arg(long)]
    read_only: bool,
    /// Compress every record with zstd (LEVEL 1-22, default 3); records
    /// that do not shrink are stored raw.
    #[arg(long, value_name = "LEVEL", num_args = 0..=1, require_equals = true, default_missing_value = "3", value_parser = parse_level)]
    compress: Option<i32>,
    /// Encrypt and authenticate every record (XChaCha20-Poly1305) with the
    /// key in FILE: 32 raw bytes or 64 hex digits. Never on the command line.
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
}

/// Devices without the kernel module (CUSE).
#[derive(Debug, Args)]
struct CuseArgs {
    /// Create tape pair N's master devices, /dev/pmtm<N> and /dev/npmtm<N>,
    /// through CUSE (the cuse module, no pmt.ko) and serve them: the same
    /// devices as the module's, with the pmt core running in this daemon.
    /// Without N, with --config: the unit of the file's device (pmts<N>), or
    /// the library the file describes (as pmtd library --cuse).
    #[arg(long = "cuse", value_name = "N", num_args = 0..=1, conflicts_with = "device")]
    unit: Option<Option<u32>>,
    /// With --cuse: name the nodes NAME and nNAME (no-rewind) instead.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    #[command(flatten)]
    access: NodeAccess,
}

/// Who may open the nodes pmtd makes through CUSE, and who pmtd becomes.
#[derive(Debug, Args)]
struct NodeAccess {
    /// With --cuse: the nodes' mode, in octal.
    #[arg(long, value_name = "OCTAL", default_value = "660", value_parser = parse_mode)]
    mode: u32,
    /// With --cuse: the nodes' group ("" leaves them root's).
    #[arg(long, value_name = "GROUP", default_value = "tape")]
    group: String,
    /// With --cuse: once the nodes exist, run as USER (keeping only
    /// CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH, to read callers' records
    /// longer than 124 KiB).
    #[arg(long, value_name = "USER")]
    user: Option<String>,
}

impl NodeAccess {
    fn access(&self) -> cuse::Access {
        cuse::Access { mode: self.mode, group: Some(self.group.clone()).filter(|g| !g.is_empty()), user: self.user.clone() }
    }
}

fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("{s}: not an octal mode"))
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Print the map of an image: files, record counts and sizes, filters.
    Inspect {
        /// The image.
        image: PathBuf,
    },
    /// Check the framing of an image, and the checksum of its filtered
    /// records (no key needed); exit status 1 if it is damaged.
    Verify {
        /// The image.
        image: PathBuf,
    },
    /// Duplicate a tape or a whole set of volumes, record for record with
    /// its tape marks, to one or more destinations. Every volume of the
    /// source is copied, in order, as one stream of files. A destination
    /// volume that fills up ends after its last whole file and the copy goes
    /// on on its next volume; the map of which source volume and file landed
    /// on which volume is printed at the end.
    #[command(after_long_help = SPECS)]
    Copy {
        /// Read every destination volume back and compare it with the source.
        #[arg(long)]
        verify: bool,
        /// The tape or set to copy: a medium spec (every volume of it, in order).
        #[arg(value_name = "SOURCE")]
        source: String,
        /// Where to copy it: medium specs, each with the volumes it may fill.
        #[arg(value_name = "DEST", required = true)]
        dests: Vec<String>,
    },
    /// Convert a tape image between the SIMH format (tap) and the AWS format
    /// of Hercules' AWSTAPE devices (aws), record for record with its tape
    /// marks; converted there and back, an image is the same file. What the
    /// other format cannot hold (a record flagged bad, an AWS record of zero
    /// bytes, a record over 16 MiB - 1 in SIMH) is an error.
    Convert {
        /// The input's format: tap or aws (default: from its extension).
        #[arg(long, value_name = "FORMAT", value_parser = Format::parse)]
        from: Option<Format>,
        /// The output's format: tap or aws (default: from its extension).
        #[arg(long, value_name = "FORMAT", value_parser = Format::parse)]
        to: Option<Format>,
        /// Replace OUTPUT if it exists.
        #[arg(long)]
        force: bool,
        /// Cut records into AWS blocks of SIZE bytes (1-65535; 4096 is
        /// Hercules' strict form, hetupd -s).
        #[arg(long, value_name = "SIZE", default_value_t = AWS_MAX_SEGMENT, value_parser = parse_segment)]
        segment: usize,
        /// The image to convert.
        #[arg(value_name = "INPUT")]
        input: PathBuf,
        /// The image to write (written beside its name, then renamed).
        #[arg(value_name = "OUTPUT")]
        output: PathBuf,
    },
    /// A tape library: serve a SCSI media changer (/dev/pmcs<N>) and its
    /// drives (/dev/pmts<N>) in one process, or, with a command, ask the
    /// running library.
    #[command(after_long_help = LIBRARY)]
    Library(LibraryArgs),
    /// The far side of the remote changer protocol: executes the SMC
    /// commands read on stdin on the changer DEVICE (SG_IO), and nothing
    /// else, answering on stdout. Another pmtd starts it through a remote
    /// shell (a side of a mirrored library: changer = "remote:HOST:DEVICE").
    ChangerServer {
        /// The changer's node on this host: /dev/sgN, /dev/schN, /dev/pmcmN.
        device: PathBuf,
    },
}

const LIBRARY: &str = "\
The configuration (TOML); the addresses shown are the defaults:
  changer = \"/dev/pmcs0\"             # the changer pair's slave
  slots = 120                         # storage slots (1000, 1001, ...)
  import-export = 4                   # import/export slots (10, 11, ...)
  # transport-address = 1, slot-address = 1000, import-export-address = 10,
  # drive-address = 500 (each type's addresses are contiguous)
  # inventory = \"FILE\"               # default: next to this file, NAME.inventory;
  #                                   # the operators' socket is INVENTORY.sock
  # tapes = \"/var/tapes\"             # cartridges' default images: TAPES/BARCODE.tap
  # vendor, product, revision, serial = \"PMTL0000\"  (INQUIRY)
  # capacity, early-warning, max-block, degraded (as for a drive)

  [[drive]]                           # drive 0 (address 500), and so on
  device = \"/dev/pmts0\"
  # serial = \"PMTD0000\"              # vendor, product, revision too

  [[cartridges]]                      # a series, in the first free slots
  barcodes = \"ABC%03dL6\"             # ABC001L6 ...
  count = 100                         # first = 1; slot = N to start at slot N
  # medium = \"tap:/var/tapes/{barcode}.tap,capacity=400G\"  or mirror = [...]

  [[cartridges]]                      # one cartridge
  barcode = \"CLN001L1\"
  slot = 120

  [[side]]                            # a mirrored library: every move made on each
  name = \"A\"                          # side, every record written to each side's drive
  [[side.library]]                    # (one or more per side; no [[cartridges]] then)
  changer = \"/dev/sg5\"               # or remote:[USER@]HOST:NODE[,rsh=,pmtd=,timeout=]
  drives = [\"tape:/dev/nst0\"]        # its drives as media (tape:, rmt:)
  # slots = \"1-108\", import-export = \"1-4\"   (mtx numbering; default all)

The cartridges are placed when the library has no inventory yet; from then
on the inventory file is the truth (rewritten atomically at every move).
Programs move cartridges with mtx (SCSI Media Changer commands) or CHIO;
operators import and export them through the import/export slots.

With --cuse, no module: pmtd makes /dev/pmcm<N> (N the unit of `changer`)
and each drive's /dev/pmtm<N> and /dev/npmtm<N> (N the unit of its
`device`) itself; --mode, --group and --user as for pmtd --cuse.";

#[derive(Debug, Args)]
struct LibraryArgs {
    /// The library's configuration file.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Serve it without pmt.ko: create the changer's master device
    /// (/dev/pmcm<N>, N the unit of `changer`) and each drive's
    /// (/dev/pmtm<N>, /dev/npmtm<N>, N the unit of its `device`) through
    /// CUSE; the slave devices the file names are not opened.
    #[arg(long)]
    cuse: bool,
    #[command(flatten)]
    access: NodeAccess,
    #[command(subcommand)]
    cmd: Option<LibraryCmd>,
}

#[derive(Debug, Subcommand)]
enum LibraryCmd {
    /// Show the inventory: what each drive, slot and import/export slot
    /// holds, where it came from, each drive's state.
    Status,
    /// Put a cartridge into an import/export slot (the first empty one);
    /// a program then moves it into the library.
    Import {
        /// Its barcode (volume tag), such as ABC123L6.
        barcode: String,
        /// Its medium (repeat for a mirror); by default TAPES/BARCODE.tap.
        #[arg(long = "medium", value_name = "SPEC")]
        medium: Vec<String>,
        /// The import/export slot (from 1).
        #[arg(long, value_name = "N")]
        portal: Option<u32>,
    },
    /// Take a cartridge out of its import/export slot.
    Export {
        /// Its barcode.
        #[arg(required_unless_present = "portal")]
        barcode: Option<String>,
        /// The import/export slot (from 1) instead.
        #[arg(long, value_name = "N", conflicts_with = "barcode")]
        portal: Option<u32>,
    },
}

/// An AWS block size: 1 to 65535 bytes.
fn parse_segment(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=AWS_MAX_SEGMENT).contains(&n) => Ok(n),
        _ => Err(format!("{s}: an AWS block holds 1 to {AWS_MAX_SEGMENT} bytes")),
    }
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
        Some(Cmd::Inspect { image }) => inspect::scan_with_headers(&image)
            .with_context(|| image.display().to_string())
            .map(|(scan, headers, identity)| {
                print!("{}", inspect::render(&image, &scan, &headers, identity));
                ExitCode::SUCCESS
            }),
        Some(Cmd::Verify { image }) => inspect::scan_file(&image, true)
            .and_then(|mut scan| {
                let filtered = inspect::check_filtered(&image, &scan.objs)?;
                scan.problems.extend(filtered);
                Ok(scan)
            })
            .with_context(|| image.display().to_string())
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
        Some(Cmd::Copy { verify, source, dests }) => run_copy(verify, &source, &dests),
        Some(Cmd::Library(a)) => run_library(a),
        Some(Cmd::ChangerServer { device }) => {
            let (mut input, mut output) = (std::io::stdin().lock(), std::io::stdout().lock());
            pmtd::changer::remote::serve(&device, &mut input, &mut output)
                .map(|()| ExitCode::SUCCESS)
                .with_context(|| format!("changer server for {}", device.display()))
        }
        Some(Cmd::Convert { from, to, force, segment, input, output }) => {
            run_convert(from, to, &ConvertOptions { force, aws_segment: segment }, &input, &output)
        }
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
    use crate::run::setup;
    use clap::CommandFactory;
    use pmtd::media::image::ImageOptions;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
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

    #[test]
    fn mirror_filters_and_config_parse() {
        let c = Cli::try_parse_from([
            "pmtd",
            "--mirror",
            "tap:/a/vol%d.tap,volumes=3",
            "--medium",
            "tape:/dev/nst0",
            "--degraded",
            "--compress",
            "--key-file",
            "/k",
            "/dev/pmts0",
        ])
        .unwrap();
        assert_eq!(c.serve.mirror, ["tap:/a/vol%d.tap,volumes=3", "tape:/dev/nst0"]);
        assert!(c.serve.degraded);
        assert_eq!(c.serve.compress, Some(3), "--compress alone does not eat the device");
        assert_eq!(c.serve.device, Some(PathBuf::from("/dev/pmts0")));
        let c = Cli::try_parse_from(["pmtd", "--compress=19", "/dev/pmts0"]).unwrap();
        assert_eq!(c.serve.compress, Some(19));
        assert!(Cli::try_parse_from(["pmtd", "--compress=23", "/dev/pmts0"]).is_err());
        let c = Cli::try_parse_from(["pmtd", "--config", "/etc/pmt.toml"]).unwrap();
        assert!(c.serve.device.is_none(), "the configuration may name the device");
        let s = setup(Cli::try_parse_from(["pmtd", "--capacity", "1M", "--early-warning", "64K", "/dev/x"]).unwrap().serve).unwrap();
        assert_eq!(s.image, ImageOptions { capacity: Some(1 << 20), early_warning: 64 << 10, read_only: false });
    }

    #[test]
    fn cuse_parses() {
        let c = Cli::try_parse_from(["pmtd", "--cuse", "3", "--image", "a.tap"]).unwrap();
        assert_eq!(c.serve.cuse.unit, Some(Some(3)));
        assert_eq!(c.serve.cuse.access.mode, 0o660);
        assert_eq!(c.serve.cuse.access.group, "tape");
        let c = Cli::try_parse_from(["pmtd", "--cuse", "0", "--name", "st7", "--mode", "640", "--group", "backup", "--user", "pmt"]).unwrap();
        assert_eq!(c.serve.cuse.name.as_deref(), Some("st7"));
        assert_eq!(c.serve.cuse.access.mode, 0o640);
        assert_eq!(c.serve.cuse.access.user.as_deref(), Some("pmt"));
        assert!(Cli::try_parse_from(["pmtd", "--cuse", "0", "/dev/pmts0"]).is_err(), "a slave device or CUSE, not both");
        let c = Cli::try_parse_from(["pmtd", "--name", "x", "/dev/pmts0"]).unwrap();
        assert!(run_serve(c.serve).is_err(), "--name needs --cuse");
        assert!(Cli::try_parse_from(["pmtd", "--cuse", "0", "--mode", "999"]).is_err());
        let c = Cli::try_parse_from(["pmtd", "library", "--config", "l.toml", "--cuse", "--user", "pmt", "--group", ""]).unwrap();
        match c.cmd {
            Some(Cmd::Library(a)) => {
                assert!(a.cuse);
                assert_eq!(a.access.access(), cuse::Access { mode: 0o660, group: None, user: Some("pmt".into()) });
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["pmtd", "--library", "l.toml", "--cuse", "0"]).is_err(), "pmtd library --cuse instead");
        // pmtd-cuse@NAME.service: the unit from the configuration's device.
        let c = Cli::try_parse_from(["pmtd", "--cuse", "--config", "/etc/pmt/tape0.toml"]).unwrap();
        assert_eq!(c.serve.cuse.unit, Some(None));
        assert_eq!(c.serve.config, Some(PathBuf::from("/etc/pmt/tape0.toml")));
        let c = Cli::try_parse_from(["pmtd", "--cuse", "--image", "a.tap"]).unwrap();
        let e = run_serve(c.serve).unwrap_err().to_string();
        assert!(e.contains("--cuse without N"), "{e}");
    }

    #[test]
    fn copy_parses() {
        let c = Cli::try_parse_from(["pmtd", "copy", "--verify", "a.tap", "tap:b%d.tap,volumes=2", "c.tap"]).unwrap();
        match c.cmd {
            Some(Cmd::Copy { verify, source, dests }) => {
                assert!(verify);
                assert_eq!(source, "a.tap");
                assert_eq!(dests, ["tap:b%d.tap,volumes=2", "c.tap"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["pmtd", "copy", "a.tap"]).is_err(), "a destination is required");
    }

    #[test]
    fn library_parses() {
        let c = Cli::try_parse_from(["pmtd", "library", "--config", "/etc/pmt/lib.toml"]).unwrap();
        assert!(matches!(c.cmd, Some(Cmd::Library(LibraryArgs { cmd: None, .. }))));
        let c = Cli::try_parse_from(["pmtd", "library", "--config", "l.toml", "import", "ABC001L6", "--portal", "2"]).unwrap();
        match c.cmd {
            Some(Cmd::Library(LibraryArgs { cmd: Some(LibraryCmd::Import { barcode, portal, .. }), .. })) => {
                assert_eq!((barcode.as_str(), portal), ("ABC001L6", Some(2)));
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["pmtd", "library", "--config", "l.toml", "export"]).is_err(), "which cartridge?");
        assert!(Cli::try_parse_from(["pmtd", "library", "--config", "l.toml", "export", "--portal", "1"]).is_ok());
        let c = Cli::try_parse_from(["pmtd", "--library", "l.toml"]).unwrap();
        assert_eq!(c.serve.library, Some(PathBuf::from("l.toml")));
        assert!(Cli::try_parse_from(["pmtd", "--library", "l.toml", "--image", "a.tap"]).is_err());
        let c = Cli::try_parse_from(["pmtd", "--serial", "ABC0001", "/dev/pmts0"]).unwrap();
        assert_eq!(setup(c.serve).unwrap().ident.serial.as_deref(), Some("ABC0001"));
    }
}
