//! A fake rmt server for the tests of the remote-drive medium: it speaks
//! the rmt protocol on stdin/stdout as rmt-dump does, and runs every `O`,
//! `R`, `W`, `I` and `C` on a pmt master simulated in process (the real
//! core's st engine over a pmtd drive), so the drive behind it behaves as
//! /dev/npmtm<N> does under a real rmt-dump.
//!
//! ```text
//! fake-rmt --dir DIR [--volume NAME]... [--capacity N] [--early-warning N] [--read-only]
//! ```
//!
//! The volumes are images in DIR; which one is loaded survives the process
//! (DIR/loaded), since a client starts a new session per volume. Every
//! request is appended to DIR/requests.log (command letter and arguments).
//! Requests other than O, C, R, W, I are logged and refused with EINVAL.

use std::fs::OpenOptions;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use pmt::abi::linux;
use pmt::{Config, Errno, OpenFlags};
use pmt_tests::Sim;
use pmtd::media::image::ImageOptions;

struct Args {
    dir: PathBuf,
    volumes: Vec<String>,
    cfg: ImageOptions,
}

fn args() -> Result<Args, String> {
    let mut a = Args { dir: PathBuf::new(), volumes: Vec::new(), cfg: ImageOptions::default() };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut val = || it.next().ok_or(format!("{k} needs a value"));
        match k.as_str() {
            "--dir" => a.dir = PathBuf::from(val()?),
            "--volume" => a.volumes.push(val()?),
            "--capacity" => a.cfg.capacity = Some(val()?.parse().map_err(|_| "bad --capacity")?),
            "--early-warning" => a.cfg.early_warning = val()?.parse().map_err(|_| "bad --early-warning")?,
            "--read-only" => a.cfg.read_only = true,
            _ => return Err(format!("unknown argument {k}")),
        }
    }
    if a.dir.as_os_str().is_empty() {
        return Err("--dir is required".into());
    }
    if a.volumes.is_empty() {
        a.volumes.push("drive.tap".into());
    }
    Ok(a)
}

fn line(r: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut s = String::new();
    if r.read_line(&mut s)? == 0 {
        return Ok(None);
    }
    Ok(Some(s.trim_end_matches('\n').to_owned()))
}

fn main() -> ExitCode {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("fake-rmt: {e}");
            return ExitCode::from(2);
        }
    };
    match serve(&a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fake-rmt: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(a: &Args) -> io::Result<()> {
    let state = a.dir.join("loaded");
    let first: usize = std::fs::read_to_string(&state).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
    let vols: Vec<String> =
        a.volumes.iter().skip(first).map(|v| a.dir.join(v).to_string_lossy().into_owned()).collect();
    let names: Vec<&str> = vols.iter().map(String::as_str).collect();
    let sim = Sim::new(&names, a.cfg, Config::default());
    let mut log = OpenOptions::new().create(true).append(true).open(a.dir.join("requests.log"))?;
    let mut input = BufReader::new(io::stdin().lock());
    let mut out = io::stdout().lock();
    let mut loaded = first;
    loop {
        let mut c = [0u8; 1];
        if input.read(&mut c)? == 0 {
            return Ok(());
        }
        let reply: Result<(u64, Vec<u8>), Errno> = match c[0] {
            b'O' => {
                let (Some(dev), Some(flags)) = (line(&mut input)?, line(&mut input)?) else { return Ok(()) };
                writeln!(log, "O {dev} {flags}")?;
                let write = flags.contains("O_RDWR") || flags.contains("O_WRONLY");
                let f = OpenFlags { read: true, write, nonblock: false, norewind: true };
                sim.open(f).map(|()| (0, Vec::new()))
            }
            b'C' => {
                let dev = line(&mut input)?.unwrap_or_default();
                writeln!(log, "C {dev}")?;
                sim.close().map(|()| (0, Vec::new()))
            }
            b'R' => {
                let n: usize = line(&mut input)?.unwrap_or_default().parse().unwrap_or(0);
                writeln!(log, "R {n}")?;
                sim.read(n).map(|v| (v.len() as u64, v))
            }
            b'W' => {
                let n: usize = line(&mut input)?.unwrap_or_default().parse().unwrap_or(0);
                let mut data = vec![0u8; n];
                input.read_exact(&mut data)?;
                writeln!(log, "W {n}")?;
                sim.write(&data).map(|k| (k as u64, Vec::new()))
            }
            b'I' => {
                let op: i16 = line(&mut input)?.unwrap_or_default().parse().unwrap_or(-99);
                let count: i32 = line(&mut input)?.unwrap_or_default().parse().unwrap_or(0);
                writeln!(log, "I {op} {count}")?;
                let r = sim.mt(op, count);
                if r.is_ok() && (op == linux::op::OFFL || op == linux::op::UNLOAD) {
                    loaded += 1;
                    std::fs::write(&state, format!("{loaded}\n"))?;
                }
                r.map(|()| (count.max(0) as u64, Vec::new()))
            }
            b'\n' => continue,
            other => {
                let rest = line(&mut input)?.unwrap_or_default();
                writeln!(log, "unexpected {} {rest}", other as char)?;
                Err(Errno::Inval)
            }
        };
        log.flush()?;
        match reply {
            Ok((n, data)) => {
                writeln!(out, "A{n}")?;
                out.write_all(&data)?;
            }
            Err(e) => write!(out, "E{}\n{e:?}\n", e.linux())?,
        }
        out.flush()?;
    }
}
