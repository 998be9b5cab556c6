//! The pmtd binary: errors said once, copy and inspect from the command
//! line, a setup from a configuration file (served on /dev/null, which
//! ends at once).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn pmtd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pmtd")).args(args).env_remove("PMT_SLAVE").output().expect("run pmtd")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_missing_directory_is_named_once() {
    let o = pmtd(&["--image", "/nonexistent-pmt/y.tap", "/dev/null"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), "pmtd: /nonexistent-pmt/y.tap: the directory /nonexistent-pmt does not exist\n");
    let o = pmtd(&["--mirror", "tap:/nonexistent-pmt/v%d.tap,volumes=2", "--mirror", "x.tap", "/dev/null"]);
    assert_eq!(stderr(&o), "pmtd: tap:/nonexistent-pmt/v%d.tap,volumes=2: the directory /nonexistent-pmt does not exist\n");
    let o = pmtd(&["--mirror", "tape:/nonexistent-pmt/nst0", "/dev/null"]);
    assert_eq!(stderr(&o), "pmtd: loading the first volume: /nonexistent-pmt/nst0: No such file or directory (os error 2)\n");
    let o = pmtd(&["--mirror", "floppy:/dev/fd0", "/dev/null"]);
    assert_eq!(stderr(&o), "pmtd: floppy:/dev/fd0: this pmtd has no floppy media (it knows tap, tape, rmt, rmt-tap)\n");
    let o = pmtd(&["--volumes", "/nonexistent-pmt", "/dev/null"]);
    assert_eq!(stderr(&o), "pmtd: /nonexistent-pmt: No such file or directory (os error 2)\n");
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("a.tap");
    let o = pmtd(&["--image", img.to_str().unwrap(), "/nonexistent-pmt/pmts0"]);
    assert_eq!(stderr(&o).lines().last(), Some("pmtd: cannot open /nonexistent-pmt/pmts0: No such file or directory (os error 2)"));
}

#[test]
fn help_explains_the_specs() {
    let o = pmtd(&["--help"]);
    let h = stdout(&o);
    for s in ["tap:PATTERN,volumes=N", "rmt:[USER@]HOST:PATH", "key-file=FILE", "--degraded", "--config"] {
        assert!(h.contains(s), "--help lacks {s}");
    }
}

fn write_source(dir: &Path) -> String {
    // A source image with three files, written by the library.
    use pmtd::media::image::{ImageOptions, LocalImage};
    use pmtd::media::Medium;
    let p = dir.join("src.tap");
    let (mut t, _) = LocalImage::open(&p, &ImageOptions::default()).unwrap();
    for f in 0..3u8 {
        for r in 0..20u8 {
            t.write_record(&vec![f.wrapping_mul(40).wrapping_add(r); 4000]).unwrap();
        }
        t.write_mark().unwrap();
    }
    t.write_mark().unwrap();
    t.sync().unwrap();
    p.display().to_string()
}

#[test]
fn copy_inspect_and_verify_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let src = write_source(dir.path());
    let key = dir.path().join("key");
    std::fs::write(&key, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let dest = format!("tap:{d}/c%d.tap,volumes=3,capacity=200K,key-file={}", key.display());
    let o = pmtd(&["copy", "--verify", &src, &dest, &format!("{d}/plain.tap")]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("the key file is readable by group or others"), "{}", stderr(&o));
    let map = stdout(&o);
    assert!(map.starts_with(&format!("source {src}: 3 files, 60 records")), "{map}");
    assert!(map.contains(&format!("  volume 1 ({d}/c1.tap): files 0-1, 40 records, 156.25 KiB, verified")), "{map}");
    assert!(map.contains(&format!("  volume 2 ({d}/c2.tap): file 2, 20 records, 78.12 KiB, verified")), "{map}");
    assert!(map.contains(&format!("  volume 1 ({d}/plain.tap): files 0-2, 60 records")), "{map}");
    let o = pmtd(&["inspect", &format!("{d}/c1.tap")]);
    let text = stdout(&o);
    assert!(text.contains("file 0: 20 records"), "{text}");
    assert!(text.contains("filter: XChaCha20-Poly1305, 80000 bytes before filtering"), "{text}");
    let o = pmtd(&["verify", &format!("{d}/c1.tap")]);
    assert!(o.status.success(), "{}", stdout(&o));
    // One byte changed: verify says so without the key.
    let p = dir.path().join("c1.tap");
    let mut b = std::fs::read(&p).unwrap();
    b[3000] ^= 4;
    std::fs::write(&p, b).unwrap();
    let o = pmtd(&["verify", &format!("{d}/c1.tap")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("filtered record 0 at offset 0: its checksum does not match"), "{}", stdout(&o));
    // A destination too small for a file.
    let o = pmtd(&["copy", &src, &format!("tap:{d}/s%d.tap,volumes=2,capacity=10K")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).ends_with(&format!("pmtd: tap:{d}/s%d.tap,volumes=2,capacity=10K: source file 0 does not fit on an empty volume ({d}/s1.tap)\n")), "{}", stderr(&o));
}

#[test]
fn a_configuration_file_describes_a_mirror() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let cfg = dir.path().join("pmtd.toml");
    std::fs::write(&cfg, format!("device = \"/dev/null\"\nmirror = [\"tap:{d}/a%d.tap,volumes=2\", \"{d}/b.tap\"]\ncompress = 5\ncapacity = \"1M\"\n")).unwrap();
    let o = pmtd(&["--config", cfg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.path().join("a1.tap").exists() && dir.path().join("b.tap").exists(), "both first volumes were loaded");
    assert!(!dir.path().join("a2.tap").exists());
    std::fs::write(&cfg, "device = \"/dev/null\"\nmirrors = []\n").unwrap();
    let o = pmtd(&["--config", cfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with(&format!("pmtd: {}: line 2: unknown field `mirrors`, expected one of", cfg.display())), "{}", stderr(&o));
}
