//! The remote changer protocol between two real processes: this test is
//! the client ([`RemotePort`]); `pmtd changer-server` is started through
//! a local remote shell (tests/rsh-local), as ssh would start it on the
//! far host. A node that is not a changer (a plain file: SG_IO fails on
//! it) stands for the changer: what matters here is what crosses the
//! wire, what the far side refuses, and how a dropped connection fails.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use pmtd::changer::remote::RemotePort;
use pmtd::changer::{Command, Dir, ScsiPort};
use pmtd::media::rmt::Remote;

fn remote(path: &str, timeout: Duration) -> Remote {
    let rsh = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/rsh-local");
    Remote { timeout, rsh: Some(rsh.display().to_string()), ..Remote::new(None, "localhost".into(), path.into()) }
}

fn pmtd() -> &'static str {
    env!("CARGO_BIN_EXE_pmtd")
}

#[test]
fn the_far_side_executes_smc_commands_only_and_a_cut_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join("changer");
    std::fs::write(&node, b"").unwrap();
    let mut port = RemotePort::connect(&remote(&node.display().to_string(), Duration::from_secs(20)), Some(pmtd())).expect("connect");
    assert!(port.identity.contains("changer"), "{}", port.identity);

    // TEST UNIT READY crosses; the node cannot take SG_IO: the far side
    // says so with its errno.
    let tur = Command::read(&[0, 0, 0, 0, 0, 0], 0, Duration::from_secs(5));
    let e = port.execute(&tur).unwrap_err();
    assert!(e.to_string().contains("SG_IO"), "{e}");
    // WRITE(10) is not an SMC command: refused, nothing reaches the node.
    let w = Command { cdb: vec![0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0], dir: Dir::ToDev, data_out: vec![0xaa; 512], alloc: 0, timeout: Duration::from_secs(5) };
    let e = port.execute(&w).unwrap_err();
    assert_eq!(e.raw_os_error(), None);
    assert!(e.to_string().contains("not an SMC command"), "{e}");
    assert_eq!(std::fs::read(&node).unwrap(), b"");
    // The session goes on after refusals.
    assert!(port.execute(&tur).unwrap_err().to_string().contains("SG_IO"));

    // The far pmtd killed: the next command fails at once, and so does
    // every later one.
    let pid = port.connection().pid();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
    let t = Instant::now();
    let e = port.execute(&tur).unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert!(e.to_string().contains("closed") || e.kind() == std::io::ErrorKind::BrokenPipe, "{e}");
    assert!(port.execute(&tur).is_err());
}

#[test]
fn a_node_that_cannot_be_opened_is_said_at_connect() {
    let e = RemotePort::connect(&remote("/nonexistent/sg9", Duration::from_secs(20)), Some(pmtd())).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/sg9"), "{e}");
}

#[test]
fn a_silent_far_side_is_an_error_within_the_timeout() {
    // A "pmtd" that never answers: sleep.
    let t = Instant::now();
    let e = RemotePort::connect(&remote("/dev/null", Duration::from_millis(500)), Some("sleep 30;")).unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(e.to_string().contains("no answer"), "{e}");
}
