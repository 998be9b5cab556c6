//! `pmtd library`: the daemon (on FIFOs standing for its slaves, which
//! stay silent) answering operators over its socket, one daemon per
//! library, killed and restarted, stopped by SIGTERM.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::unistd::{mkfifo, Pid};

fn pmtd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pmtd")).args(args).output().expect("run pmtd")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A library of two drives on FIFOs in `dir`; its configuration file.
fn setup(dir: &Path) -> PathBuf {
    for n in ["pmcs0", "pmts0", "pmts1"] {
        mkfifo(&dir.join(n), Mode::from_bits_truncate(0o600)).unwrap();
    }
    let d = dir.display();
    let cfg = format!(
        "changer = \"{d}/pmcs0\"\nslots = 6\nimport-export = 2\n\
         [[drive]]\ndevice = \"{d}/pmts0\"\n[[drive]]\ndevice = \"{d}/pmts1\"\n\
         [[cartridges]]\nbarcodes = \"ABC%03dL6\"\ncount = 3\n"
    );
    let path = dir.join("lib.toml");
    std::fs::write(&path, cfg).unwrap();
    path
}

/// A running daemon, killed if the test fails.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Daemon {
    fn signal(&mut self, s: Signal) -> std::process::ExitStatus {
        kill(Pid::from_raw(self.0.id() as i32), s).unwrap();
        self.0.wait().unwrap()
    }
}

/// How the daemon is started: `pmtd library --config FILE`, `pmtd
/// --library FILE`, or `pmtd --config FILE` (what pmtd@NAME.service runs).
#[derive(Clone, Copy)]
enum How {
    Library,
    Alias,
    Config,
}

/// Starts the daemon and waits for its socket.
fn start(cfg: &Path, how: How) -> Daemon {
    let c = cfg.to_str().unwrap();
    let args: Vec<&str> = match how {
        How::Library => vec!["library", "--config", c],
        How::Alias => vec!["--library", c],
        How::Config => vec!["--config", c],
    };
    let child = Daemon(Command::new(env!("CARGO_BIN_EXE_pmtd")).args(args).stderr(Stdio::null()).spawn().unwrap());
    let sock = cfg.with_file_name("lib.inventory.sock");
    let until = Instant::now() + Duration::from_secs(20);
    while std::os::unix::net::UnixStream::connect(&sock).is_err() {
        assert!(Instant::now() < until, "the daemon never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn lib(cfg: &Path, args: &[&str]) -> Output {
    let mut a = vec!["library", "--config", cfg.to_str().unwrap()];
    a.extend_from_slice(args);
    pmtd(&a)
}

#[test]
fn operators_import_export_and_see_the_inventory() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = setup(dir.path());
    let mut daemon = start(&cfg, How::Library);
    let sock = dir.path().join("lib.inventory.sock");
    assert_eq!(std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777, 0o600, "root's socket");

    let s = lib(&cfg, &["status"]);
    let out = text(&s.stdout);
    assert!(s.status.success(), "{}", text(&s.stderr));
    assert!(out.starts_with("2 drives, 6 slots, 2 import/export slots; removal through them allowed\n"), "{out}");
    assert!(out.contains("drive 0        500  empty\n"), "{out}");
    assert!(out.contains("slot 1        1000  ABC001L6\n"), "{out}");
    assert!(out.contains("slot 4        1003  empty\n"), "{out}");

    let i = lib(&cfg, &["import", "NEW001L6"]);
    assert_eq!(text(&i.stdout), "NEW001L6 is in portal 1\n", "{}", text(&i.stderr));
    let out = text(&lib(&cfg, &["status"]).stdout);
    assert!(out.contains("portal 1        10  NEW001L6 (imported)\n"), "{out}");
    let again = lib(&cfg, &["import", "NEW001L6"]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(text(&again.stderr), "pmtd: NEW001L6 is already in the library (portal 1)\n");
    assert_eq!(text(&lib(&cfg, &["import", "BAD CODE"]).stderr).lines().count(), 1);
    assert!(text(&lib(&cfg, &["export", "--portal", "2"]).stderr).contains("portal 2 is empty"));
    assert!(text(&lib(&cfg, &["export", "ABC001L6"]).stderr).contains("is in slot 1"));
    assert_eq!(text(&lib(&cfg, &["export", "NEW001L6"]).stdout), "NEW001L6 left portal 1\n");
    assert!(lib(&cfg, &["import", "NEW002L6", "--portal", "2", "--medium", "tap:/nonexistent-pmt/x.tap"]).status.success());

    // A second daemon for the same library is refused.
    let second = Command::new(env!("CARGO_BIN_EXE_pmtd")).args(["library", "--config", cfg.to_str().unwrap()]).output().unwrap();
    assert_eq!(second.status.code(), Some(1));
    assert!(text(&second.stderr).contains("another pmtd serves this library"), "{}", text(&second.stderr));

    // Killed: the inventory is on disk, status reads it.
    daemon.signal(Signal::SIGKILL);
    let out = text(&lib(&cfg, &["status"]).stdout);
    assert!(out.starts_with("(the library's pmtd is not running: its inventory file)\n"), "{out}");
    assert!(out.contains("portal 2        11  NEW002L6 (imported)"), "{out}");
    assert!(!lib(&cfg, &["import", "X"]).status.success(), "nobody to import into");

    // Restarted over the socket and the lock a killed daemon left.
    let mut daemon = start(&cfg, How::Alias);
    let out = text(&lib(&cfg, &["status"]).stdout);
    assert!(out.contains("NEW002L6") && !out.contains("NEW001L6"), "{out}");
    let st = daemon.signal(Signal::SIGTERM);
    assert!(st.success(), "SIGTERM stops it cleanly: {st:?}");
    assert!(!sock.exists(), "the socket goes with the daemon");
    let inv = std::fs::read_to_string(dir.path().join("lib.inventory")).unwrap();
    assert!(inv.contains("barcode = \"NEW002L6\"") && inv.contains("at = \"portal 2\""), "{inv}");
}

#[test]
fn help_tells_of_the_library() {
    let h = text(&pmtd(&["--help"]).stdout);
    assert!(h.contains("pmtd library --config FILE") && h.contains("--library"), "{h}");
    let h = text(&pmtd(&["library", "--help"]).stdout);
    for s in ["slots = 120", "import-export = 4", "drive-address = 500", "[[cartridges]]", "barcodes = \"ABC%03dL6\"", "status", "import", "export"] {
        assert!(h.contains(s), "library --help lacks {s}: {h}");
    }
    let e = pmtd(&["library", "--config", "/nonexistent-pmt/lib.toml"]);
    assert_eq!(text(&e.stderr), "pmtd: /nonexistent-pmt/lib.toml: No such file or directory (os error 2)\n");
}

/// pmtd --config serves a library when the file describes one (it names a
/// changer), so one systemd unit, pmtd@NAME, runs a drive or a library; a
/// drive's options beside it are refused.
#[test]
fn config_serves_a_library_too() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = setup(dir.path());
    let mut daemon = start(&cfg, How::Config);
    let out = text(&lib(&cfg, &["status"]).stdout);
    assert!(out.contains("ABC001L6") && !out.contains("not running"), "{out}");
    assert!(daemon.signal(Signal::SIGTERM).success());
    let e = pmtd(&["--config", cfg.to_str().unwrap(), "--capacity", "1G"]);
    assert_eq!(e.status.code(), Some(1));
    assert!(text(&e.stderr).contains("a library's configuration takes no drive options"), "{}", text(&e.stderr));
    let e = pmtd(&["--cuse", "0", "--config", cfg.to_str().unwrap()]);
    assert_eq!(e.status.code(), Some(1));
    assert!(text(&e.stderr).contains("a library's units are its devices'"), "{}", text(&e.stderr));
}
