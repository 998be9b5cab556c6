//! The grammar of every kind, the errors it gives, the tap volumes it lists.

use super::*;

fn tap_defaults() -> ImageOptions {
    ImageOptions::default()
}

fn parse(text: &str) -> Result<Spec, SpecError> {
    Spec::parse(text, &tap_defaults())
}

fn medium(text: &str) -> MediumSpec {
    parse(text).unwrap_or_else(|e| panic!("{e}")).medium
}

#[test]
fn sizes() {
    assert_eq!(parse_size("4096"), Ok(4096));
    assert_eq!(parse_size("64K"), Ok(65536));
    assert_eq!(parse_size("10m"), Ok(10 << 20));
    assert!(parse_size("10X").is_err());
    assert!(parse_size("").is_err());
    assert!(parse_size("99999999999T").is_err());
}

#[test]
fn spec_grammar() {
    let MediumSpec::Tap(t) = medium("tap:/a/vol%d.tap,volumes=3,read-only") else { panic!() };
    assert_eq!(t.target, TapTarget::Pattern(["/a/vol1.tap", "/a/vol2.tap", "/a/vol3.tap"].map(PathBuf::from).to_vec()));
    assert!(t.opts.read_only);
    let MediumSpec::Rmt(r) = medium("rmt:backup@host:/dev/nst0") else { panic!() };
    assert_eq!((r.remote.user.as_deref(), r.remote.host.as_str(), r.remote.path.as_str()), (Some("backup"), "host", "/dev/nst0"));
    let target = |p: &str| TapTarget::Path { path: PathBuf::from(p), counted: false };
    assert_eq!(medium("/x/y.tap"), MediumSpec::Tap(TapSpec { target: target("/x/y.tap"), opts: tap_defaults() }));
    let MediumSpec::Tap(t) = medium("./A:b.tap") else { panic!("not a kind: a path with a colon") };
    assert_eq!(t.target, target("./A:b.tap"));
    assert_eq!(parse("tap:").unwrap_err().why, "nothing to open (the spec is KIND:TARGET[,OPTION]...)");
    assert_eq!(parse("tape:").unwrap_err().why, "nothing to open (the spec is KIND:TARGET[,OPTION]...)");
    assert_eq!(parse("tap:a,x,x").unwrap_err().to_string(), "tap:a,x,x: option x given twice");
    assert!(parse("tap:a,,b").is_err());
}

#[test]
fn tap_specs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let tap = |text: &str, defaults: &ImageOptions| match Spec::parse(text, defaults).unwrap().medium {
        MediumSpec::Tap(t) => t,
        other => panic!("{other:?}"),
    };
    let t = tap(&format!("tap:{d}/v%02d.tap,volumes=2,capacity=1M,early-warning=64K"), &tap_defaults());
    assert_eq!(t.volumes().unwrap(), [dir.path().join("v01.tap"), dir.path().join("v02.tap")]);
    assert_eq!(t.opts, ImageOptions { capacity: Some(1 << 20), early_warning: 64 << 10, read_only: false });
    std::fs::write(dir.path().join("b.tap"), b"").unwrap();
    std::fs::write(dir.path().join("a.tap"), b"").unwrap();
    let t = tap(&format!("{d}"), &tap_defaults());
    assert_eq!(t.volumes().unwrap(), [dir.path().join("a.tap"), dir.path().join("b.tap")]);
    // Defaults from the command line, the spec's own options win.
    let defaults = ImageOptions { capacity: Some(5000), early_warning: 100, read_only: true };
    let t = tap(&format!("{d}/one.tap,capacity=9000"), &defaults);
    assert_eq!(t.opts, ImageOptions { capacity: Some(9000), early_warning: 100, read_only: true });
}

#[test]
fn bad_specs_say_what_and_why_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let err = |spec: &str| build(spec, &tap_defaults()).map(|_| ()).unwrap_err().to_string();
    assert_eq!(err("tap:/nonexistent-pmt/y.tap"), "tap:/nonexistent-pmt/y.tap: the directory /nonexistent-pmt does not exist");
    assert_eq!(err(&format!("tap:{d}/v%d.tap")), format!("tap:{d}/v%d.tap: a %d pattern needs volumes=N"));
    assert_eq!(err(&format!("tap:{d}/v.tap,volumes=3")), format!("tap:{d}/v.tap,volumes=3: one file is one volume: give a %d pattern for several"));
    assert_eq!(err(&format!("tap:{d},volumes=1")), format!("tap:{d},volumes=1: volumes= goes with a %d pattern (such as DIR/vol%d.tap), not a directory"));
    assert_eq!(err(&format!("tap:{d}/v.tap,size=3")), format!("tap:{d}/v.tap,size=3: unknown option size (tap takes {TAP_OPTIONS})"));
    assert_eq!(err(&format!("tap:{d}/v.tap,capacity=3Q")), format!("tap:{d}/v.tap,capacity=3Q: capacity=: unknown size suffix in \"3Q\""));
    assert_eq!(
        err(&format!("tap:{d}/v.tap,capacity=1K,early-warning=2K")),
        format!("tap:{d}/v.tap,capacity=1K,early-warning=2K: the early-warning zone (2048) must be smaller than the capacity (1024)")
    );
    assert_eq!(err("floppy:/dev/fd0"), "floppy:/dev/fd0: this pmtd has no floppy media (it knows tap, tape, rmt, rmt-tap)");
    assert_eq!(err(&format!("tap:{d}/v.tap,compress=99")), format!("tap:{d}/v.tap,compress=99: compression level \"99\": 1 to 22 (or -7 to -1 for faster)"));
    let e = err(&format!("tap:{d}/v.tap,key-file={d}/nokey"));
    assert_eq!(e, format!("tap:{d}/v.tap,key-file={d}/nokey: {d}/nokey: No such file or directory (os error 2)"));
}

#[test]
fn filter_options_go_with_every_kind() {
    let s = parse("tape:/dev/nst0,compress,max-block=64K").unwrap();
    assert_eq!(s.filter, Filter { compress: Some(DEFAULT_LEVEL), key: None });
    let MediumSpec::Tape(t) = s.medium else { panic!() };
    assert_eq!(t.opts.max_block, 64 << 10, "the kind's own options are its");
    let s = parse("rmt-tap:h:/t/v%d.tap,compress=9,volumes=2").unwrap();
    assert_eq!(s.filter.compress, Some(9));
    let e = parse("tape:/dev/nst0,compress,density=3").unwrap_err();
    assert_eq!(e.to_string(), format!("tape:/dev/nst0,compress,density=3: unknown option density (tape takes {TAPE_OPTIONS})"));
}

#[test]
fn tape_spec_with_options() {
    let MediumSpec::Tape(t) = medium("tape:/dev/nst0,max-block=256K,load-timeout=2.5") else { panic!() };
    assert_eq!(t.path, PathBuf::from("/dev/nst0"));
    assert_eq!(t.opts.max_block, 256 * 1024);
    assert_eq!(t.opts.load_timeout, Duration::from_millis(2500));
    assert_eq!(t.opts.early_warning, 1 << 20, "a drive's zone is assumed to be 1M");
    let MediumSpec::Tape(t) = medium("tape:/dev/nst0,early-warning=8M") else { panic!() };
    assert_eq!(t.opts.early_warning, 8 << 20);
    let MediumSpec::Tape(t) = medium("tape:/dev/npmtm1") else { panic!() };
    assert_eq!(t.opts, DeviceOptions::default());
    assert_eq!(t.opts.unload, Unload::Offline);
    let MediumSpec::Tape(t) = medium("tape:/dev/npmtm1,unload=rewind") else { panic!() };
    assert_eq!(t.opts.unload, Unload::Rewind);
    let MediumSpec::Rmt(r) = medium("rmt:vault:/dev/nst0,unload=rewind") else { panic!() };
    assert_eq!(r.opts.unload, Unload::Rewind);
    assert!(Spec::parse("tape:/dev/nst0,unload=eject", &ImageOptions::default()).unwrap_err().to_string().contains("offline (the default) or rewind"));
    assert!(Spec::parse("tap:/t/a.tap,unload=rewind", &ImageOptions::default()).is_err(), "images have no unload");
}

#[test]
fn rmt_spec_user_host_and_connection_options() {
    let MediumSpec::Rmt(r) = medium("rmt:backup@vault:/dev/nst0,rsh=ssh -p 2222,rmt=/usr/sbin/rmt-dump,timeout=5") else {
        panic!()
    };
    assert_eq!(r.remote.user.as_deref(), Some("backup"));
    assert_eq!(r.remote.host, "vault");
    assert_eq!(r.remote.path, "/dev/nst0");
    assert_eq!(r.remote.rsh_argv(), vec!["ssh", "-p", "2222"]);
    assert_eq!(r.remote.rmt_program(), "/usr/sbin/rmt-dump");
    assert_eq!(r.remote.timeout, Duration::from_secs(5));
    assert_eq!(r.remote.display(), "backup@vault:/dev/nst0");
    let MediumSpec::Rmt(r) = medium("rmt:[fe80::1]:/dev/nst1") else { panic!() };
    assert_eq!((r.remote.host.as_str(), r.remote.path.as_str(), r.remote.user), ("fe80::1", "/dev/nst1", None));
    assert_eq!(r.remote.timeout, Remote::TIMEOUT);
}

#[test]
fn rmt_tap_spec_pattern_and_capacity() {
    let MediumSpec::RmtTap(r) = medium("rmt-tap:vault:/tapes/vol%03d.tap,capacity=10M,early-warning=1M,volumes=3,read-only") else {
        panic!()
    };
    assert_eq!(r.opts.capacity, Some(10 << 20));
    assert_eq!(r.opts.early_warning, 1 << 20);
    assert_eq!(r.volumes, Some(3));
    assert!(r.opts.read_only);
    assert_eq!(r.names.name(7), "/tapes/vol007.tap");
    assert!(r.names.is_numbered());
    assert!(!VolumePattern::parse("/tapes/one.tap").unwrap().is_numbered());
    assert_eq!(VolumePattern::parse("/t/100%%-%d.tap").unwrap().name(2), "/t/100%-2.tap");
    assert_eq!(VolumePattern::parse("/t/100%%.tap").unwrap().name(2), "/t/100%.tap");
}

#[test]
fn bad_specs_say_what_is_wrong() {
    let cases = [
        ("floppy:/dev/fd0", "this pmtd has no floppy media"),
        ("tape:", "nothing to open"),
        ("tape:/dev/nst0,speed=9", "unknown option speed (tape takes"),
        ("tape:/dev/nst0,max-block=32M", "max-block=32M: must be 1 to 16M-1"),
        ("tape:/dev/nst0,max-block=12Q", "unknown size suffix"),
        ("rmt:/dev/nst0", "no host"),
        ("rmt:host:", "no path after the host"),
        ("rmt::/dev/nst0", "empty host"),
        ("rmt:-oProxyCommand=x:/dev/nst0", "may not start with -"),
        ("rmt:h:/dev/nst0,timeout=abc", "timeout=abc: not a number of seconds"),
        ("rmt:h:/dev/nst0,timeout=0", "timeout=0"),
        ("rmt:h:/dev/nst0,rsh=", "rsh= needs a value"),
        ("rmt:h:/dev/nst0,capacity=1M", "unknown option capacity (rmt takes"),
        ("rmt-tap:h:/t/v.tap,early-warning=1M", "early-warning needs a capacity"),
        ("rmt-tap:h:/t/v.tap,capacity=1M,early-warning=1M", "must be smaller than the capacity"),
        ("rmt-tap:h:/t/v%s.tap", "a % must be %d, %0Nd or %%"),
        ("rmt-tap:h:/t/v.tap,volumes=0", "volumes=0: a count from 1 to 100000"),
        ("rmt-tap:h:/t/v.tap,max-block=1M", "unknown option max-block (rmt-tap takes"),
    ];
    for (spec, want) in cases {
        let e = parse(spec).expect_err(spec);
        let msg = e.to_string();
        assert!(msg.starts_with(spec), "{spec}: {msg}");
        assert!(msg.contains(want), "{spec}: {msg}");
    }
}
