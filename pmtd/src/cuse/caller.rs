//! What the daemon learns about the thread whose request it serves, from
//! /proc: the system call it is blocked in (so a read or write larger than
//! one FUSE request keeps st's one-record-per-call semantics), its
//! capabilities, a pending fatal signal; and its memory, read with
//! process_vm_readv.

use std::io::IoSliceMut;

use nix::sys::uio::{process_vm_readv, RemoteIoVec};
use nix::unistd::Pid;

/// CAP_SYS_RAWIO.
pub const CAP_SYS_RAWIO: u32 = 17;
/// CAP_SYS_ADMIN.
pub const CAP_SYS_ADMIN: u32 = 21;

/// A read(2) or write(2) the caller is blocked in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    /// The caller's buffer.
    pub addr: u64,
    /// The caller's count.
    pub count: usize,
}

/// x86_64's read and write, and i386's (a 32-bit caller's numbers).
const READS: [u64; 2] = [0, 3];
const WRITES: [u64; 2] = [1, 4];

/// Parses /proc/<tid>/syscall ("NR ARG1 ... ARG6 SP PC", the arguments in
/// hex) for a read (`write` false) or write call: its buffer and count.
/// None for any other call, or a thread that is running.
pub fn parse_syscall(text: &str, write: bool) -> Option<Call> {
    let mut f = text.split_whitespace();
    let nr: u64 = f.next()?.parse().ok()?;
    let wanted = if write { WRITES } else { READS };
    if !wanted.contains(&nr) {
        return None;
    }
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok();
    let _fd = hex(f.next()?)?;
    let addr = hex(f.next()?)?;
    let count = usize::try_from(hex(f.next()?)?).ok()?;
    Some(Call { addr, count })
}

/// How long to wait for a caller to fall asleep in its call: the request
/// can reach the daemon while its thread is still on the way to sleep,
/// and /proc shows a running thread's call as "running".
const SETTLE: std::time::Duration = std::time::Duration::from_millis(20);

/// The read or write call thread `tid` is blocked in, if /proc shows it.
pub fn blocked_call(tid: i32, write: bool) -> Option<Call> {
    let path = format!("/proc/{tid}/syscall");
    let start = std::time::Instant::now();
    loop {
        let text = std::fs::read_to_string(&path).ok()?;
        if text.trim() != "running" || start.elapsed() > SETTLE {
            return parse_syscall(&text, write);
        }
        std::thread::sleep(std::time::Duration::from_micros(20));
    }
}

/// Reads `len` bytes at `addr` in the memory of thread `tid`'s process.
pub fn read_memory(tid: i32, addr: u64, len: usize) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    buf.try_reserve_exact(len).ok()?;
    buf.resize(len, 0);
    let base = usize::try_from(addr).ok()?;
    let mut done = 0;
    while done < len {
        let rest = buf.get_mut(done..)?;
        let remote = [RemoteIoVec { base: base.checked_add(done)?, len: rest.len() }];
        match process_vm_readv(Pid::from_raw(tid), &mut [IoSliceMut::new(rest)], &remote) {
            Ok(0) | Err(_) => return None,
            Ok(n) => done += n,
        }
    }
    Some(buf)
}

/// A hex field of /proc/<tid>/status.
fn status_hex(text: &str, field: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
}

/// Whether the effective capabilities in a /proc status text hold `cap`.
pub fn parse_capable(status: &str, cap: u32) -> Option<bool> {
    status_hex(status, "CapEff:").map(|eff| eff & (1u64 << cap) != 0)
}

/// Whether thread `tid` holds capability `cap`; None if /proc does not say.
pub fn capable(tid: i32, cap: u32) -> Option<bool> {
    parse_capable(&std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?, cap)
}

/// Whether a /proc status text shows SIGKILL pending (the kernel adds it
/// for every fatal signal).
pub fn parse_fatal(status: &str) -> bool {
    const SIGKILL: u64 = 1 << (9 - 1);
    ["SigPnd:", "ShdPnd:"].iter().any(|f| status_hex(status, f).is_some_and(|m| m & SIGKILL != 0))
}

/// Whether thread `tid` is being killed (or is gone).
pub fn fatal_signal_pending(tid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{tid}/status")) {
        Ok(s) => parse_fatal(&s),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_lines() {
        let w = "1 0x3 0x7ffd5e1a2000 0x40000 0x0 0x0 0x0 0x7ffd5e1a1f58 0x7f0c1b2f1a37";
        assert_eq!(parse_syscall(w, true), Some(Call { addr: 0x7ffd_5e1a_2000, count: 0x40000 }));
        assert_eq!(parse_syscall(w, false), None, "a write is not a read");
        assert_eq!(parse_syscall("0 0x3 0x1000 0x20000 0 0 0 0 0", false), Some(Call { addr: 0x1000, count: 0x20000 }));
        // A 32-bit caller: i386's numbers.
        assert_eq!(parse_syscall("4 0x3 0xff801000 0x30000 0 0 0 0 0", true), Some(Call { addr: 0xff80_1000, count: 0x30000 }));
        assert_eq!(parse_syscall("3 0x3 0xff801000 0x30000 0 0 0 0 0", false).map(|c| c.count), Some(0x30000));
        assert_eq!(parse_syscall("running", true), None);
        assert_eq!(parse_syscall("-1 0x7ffd 0x4000", true), None, "blocked outside a system call");
        assert_eq!(parse_syscall("20 0x3 0x1000 0x2 0 0 0 0 0", true), None, "writev is not taken");
    }

    #[test]
    fn status_fields() {
        let s = "Name:\tdump\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000100\nCapEff:\t000001ffffffffff\n";
        assert!(parse_fatal(s));
        assert_eq!(parse_capable(s, CAP_SYS_ADMIN), Some(true));
        let s = "SigPnd:\t0000000000000002\nShdPnd:\t0000000000000000\nCapEff:\t0000000000000000\n";
        assert!(!parse_fatal(s), "SIGINT with a handler is not fatal");
        assert_eq!(parse_capable(s, CAP_SYS_RAWIO), Some(false));
        assert_eq!(parse_capable("Name:\tx\n", CAP_SYS_RAWIO), None);
    }

    #[test]
    fn reads_own_memory() {
        let data: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
        let tid = nix::unistd::gettid().as_raw();
        let got = read_memory(tid, data.as_ptr() as u64, data.len()).expect("process_vm_readv of oneself");
        assert_eq!(got, data);
        // A thread reading its own syscall file is in that read(2).
        let line = std::fs::read_to_string(format!("/proc/{tid}/syscall")).unwrap();
        assert_eq!(parse_syscall(&line, false).map(|c| c.count > 0), Some(true), "{line}");
    }
}
