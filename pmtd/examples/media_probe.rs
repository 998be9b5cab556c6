//! A guest-side check of the `tape:` and `rmt:` media against a real pmt
//! master (tests/vm/media.sh runs it in QEMU): real read(2), write(2) and
//! mtio ioctls, and rmt-dump serving a master over a remote shell.
//!
//! ```text
//! media_probe tape DEV          records, marks, spacing; positions against MTIOCPOS
//! media_probe ew DEV            fill a volume that has an early-warning zone
//! media_probe rmt DEV RSH       the same round trip through rmt-dump on DEV
//! media_probe dead DEV PID      kill the daemon (PID) mid-stream: a prompt error
//! ```
//!
//! Prints one line per check; exits 1 on the first failure.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use pmtd::media::device::rmt::connect_drive;
use pmtd::media::device::{DeviceMedium, DeviceOptions, FdDevice, StDevice};
use pmtd::media::image::ImageOptions;
use pmtd::media::{Medium, MediumError, Object, Stop};
use pmtd::spec::{MediumSpec, Spec};

type R = Result<(), String>;

/// (start, count, over marks, result, position after).
type Case = (u64, i64, bool, (u64, Stop), u64);

fn rec(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i.wrapping_mul(31).wrapping_add(j.wrapping_mul(7)) % 251) as u8).collect()
}

/// R0 R1 M2 R3 M4 M5 R6 R7 M8.
const LAYOUT: [Option<usize>; 9] = [Some(10240), Some(1), None, Some(65536), None, None, Some(513), Some(7), None];

fn check(cond: bool, what: impl FnOnce() -> String) -> R {
    if cond {
        Ok(())
    } else {
        Err(what())
    }
}

fn e(x: MediumError) -> String {
    x.to_string()
}

fn round_trip<M: Medium>(m: &mut M, tell: &mut dyn FnMut(&mut M) -> Option<u64>) -> R {
    let mut pos_ok = |m: &mut M, what: &str| -> R {
        match tell(m) {
            Some(t) => check(t == m.position(), || format!("{what}: position {} but MTIOCPOS {t}", m.position())),
            None => Ok(()),
        }
    };
    for (i, o) in LAYOUT.iter().enumerate() {
        match o {
            Some(n) => m.write_record(&rec(i, *n)).map_err(e)?,
            None => m.write_mark().map_err(e)?,
        };
        pos_ok(m, &format!("write {i}"))?;
    }
    m.rewind().map_err(e)?;
    for (i, o) in LAYOUT.iter().enumerate() {
        let mut buf = Vec::new();
        let got = m.read(&mut buf, usize::MAX).map_err(e)?;
        match o {
            Some(n) => check(got == Object::Record(*n) && buf == rec(i, *n), || format!("read {i}: {got:?}"))?,
            None => check(got == Object::Mark, || format!("read {i}: {got:?}"))?,
        }
        pos_ok(m, &format!("read {i}"))?;
    }
    let got = m.read(&mut Vec::new(), 0).map_err(e)?;
    check(got == Object::Eod, || format!("end of data: {got:?}"))?;
    println!("ok round trip");
    let cases: [Case; 8] = [
        (0, 5, false, (2, Stop::Mark), 3),
        (3, 2, true, (2, Stop::Done), 6),
        (6, 9, false, (2, Stop::Mark), 9),
        (8, -5, false, (2, Stop::Mark), 5),
        (9, -2, true, (2, Stop::Done), 5),
        (3, -3, true, (1, Stop::Bot), 0),
        (6, 5, true, (1, Stop::Eod), 9),
        (2, -5, false, (2, Stop::Bot), 0),
    ];
    for (i, (start, n, marks, want, pos)) in cases.into_iter().enumerate() {
        m.locate(start).map_err(e)?;
        let got = if marks { m.space_marks(n) } else { m.space_records(n) }.map_err(e)?;
        check(got == want && m.position() == pos, || {
            format!("spacing case {i}: {got:?} at {} (want {want:?} at {pos})", m.position())
        })?;
        pos_ok(m, &format!("spacing case {i}"))?;
        let o = m.read(&mut Vec::new(), 0).map_err(e)?;
        let expect = match LAYOUT.get(pos as usize) {
            Some(Some(n)) => Object::Record(*n),
            Some(None) => Object::Mark,
            None => Object::Eod,
        };
        check(o == expect, || format!("spacing case {i}: read {o:?} at {pos}"))?;
    }
    m.space_eod().map_err(e)?;
    check(m.position() == 9, || format!("end of data at {}", m.position()))?;
    pos_ok(m, "end of data")?;
    println!("ok spacing");
    Ok(())
}

fn mount(dev: &str) -> Result<DeviceMedium<FdDevice>, String> {
    let opts = DeviceOptions { max_block: 256 * 1024, ..DeviceOptions::default() };
    let d = FdDevice::open(dev.as_ref(), false).map_err(|x| format!("{dev}: {x}"))?;
    DeviceMedium::mount(d, &opts).map_err(e)
}

fn tell(m: &mut DeviceMedium<FdDevice>) -> Option<u64> {
    m.device_mut().mtpos().ok()
}

fn ew(dev: &str) -> R {
    let mut m = mount(dev)?;
    let mut flags = Vec::new();
    loop {
        match m.write_record(&rec(flags.len(), 10240)) {
            Ok(w) => flags.push(w.early_warning),
            Err(MediumError::Overflow { .. }) => break,
            Err(x) => return Err(e(x)),
        }
        check(flags.len() < 1000, || "no end of medium".into())?;
    }
    let first = flags.iter().position(|&f| f).ok_or("no early warning")?;
    check(flags[first..].iter().all(|&f| f), || format!("early warning not sticky: {flags:?}"))?;
    check(flags.len() - first >= 2, || format!("nothing written in the zone: {flags:?}"))?;
    let w = m.write_mark().map_err(e)?;
    check(w.early_warning, || "the closing mark without early warning".into())?;
    let t = tell(&mut m);
    check(t == Some(m.position()), || format!("position {} against MTIOCPOS {t:?}", m.position()))?;
    println!("ok early warning: {} records, early warning from record {first}, then overflow", flags.len());
    Ok(())
}

fn dead(dev: &str, pid: &str) -> R {
    let mut m = mount(dev)?;
    for i in 0..20 {
        m.write_record(&rec(i, 4096)).map_err(e)?;
    }
    let st = std::process::Command::new("kill").arg("-9").arg(pid).status().map_err(|x| x.to_string())?;
    check(st.success(), || format!("kill {pid}"))?;
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    let r = m.write_record(&rec(99, 4096));
    check(matches!(r, Err(MediumError::Io { .. })), || format!("write after the daemon died: {r:?}"))?;
    let r = m.rewind();
    check(r.is_err(), || "rewind after the daemon died succeeded".into())?;
    check(t.elapsed() < Duration::from_secs(2), || format!("errors took {:?}", t.elapsed()))?;
    println!("ok dead daemon: {} ({:?})", r.err().map(e).unwrap_or_default(), t.elapsed());
    Ok(())
}

fn run(args: &[String]) -> R {
    match args {
        [mode, dev] if mode == "tape" => {
            let mut m = mount(dev)?;
            check(m.exact(), || "MTIOCPOS did not work".into())?;
            round_trip(&mut m, &mut tell)
        }
        [mode, dev] if mode == "ew" => ew(dev),
        [mode, dev, rsh] if mode == "rmt" => {
            let s = format!("rmt:localhost:{dev},rsh={rsh},rmt=/usr/sbin/rmt-dump,max-block=256K,timeout=20");
            let Ok(MediumSpec::Rmt(spec)) = Spec::parse(&s, &ImageOptions::default()).map(|s| s.medium) else {
                return Err(format!("{s}: not an rmt spec"));
            };
            let mut m = connect_drive(&spec.remote, &spec.opts).map_err(e)?;
            round_trip(&mut m, &mut |_| None)
        }
        [mode, dev, pid] if mode == "dead" => dead(dev, pid),
        _ => Err("usage: media_probe tape|ew DEV | rmt DEV RSH | dead DEV PID".into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(x) => {
            println!("FAIL {}: {x}", args.join(" "));
            ExitCode::FAILURE
        }
    }
}
