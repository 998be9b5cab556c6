//! The core's slave-write path on arbitrary reply streams, through a real
//! `Unit`: a master runs a fixed script of calls (open, writes, reads in
//! both block modes, tape operations, status, close) and, whenever it
//! waits, the daemon side reads the queued requests and writes the next
//! chunk of the fuzz input as its replies. Nothing may panic or allocate
//! under the channel lock (the lock checker aborts), reads return at most
//! their count, and the bytes past a read's count keep their fill.
#![no_main]

use std::cell::{Cell, RefCell};

use libfuzzer_sys::fuzz_target;
use pmt::abi::linux;
use pmt::{Abi, Config, Errno, Host, KernelBuf, OpenFlags, Sleep, Unit, Wait, WaitError};

#[global_allocator]
static ALLOC: pmt_lockcheck::Checked = pmt_lockcheck::Checked;

struct Daemon<'a> {
    unit: &'a Unit,
    input: RefCell<&'a [u8]>,
    /// Request ids seen, so that chunks can be patched to answer them.
    last: Cell<Option<(u64, u16)>>,
}

impl Daemon<'_> {
    /// Reads what is queued, then writes the next chunk as replies. False
    /// when the input is used up.
    fn pump(&self) -> bool {
        let mut buf = vec![0u8; 1 << 16];
        if let Ok(n) = self.unit.sread(&mut &mut buf[..], 1 << 16) {
            if n >= 48 {
                let req = pmt::proto::Req::from_bytes(&buf[..n]);
                self.last.set(Some((req.hdr.id, req.hdr.op)));
            }
        }
        let mut input = self.input.borrow_mut();
        if input.len() < 2 {
            return false;
        }
        // Two bytes: the chunk length, and whether to aim it at the oldest
        // request seen (so that the fuzzer reaches past the frame checks).
        let len = (usize::from(input[0]) * 4).min(input.len() - 2);
        let aim = input[1] & 1 == 1;
        let mut chunk = input[2..2 + len].to_vec();
        *input = &input[2 + len..];
        if aim && chunk.len() >= 16 {
            if let Some((id, op)) = self.last.get() {
                chunk[4..6].copy_from_slice(&pmt::proto::VERSION.to_ne_bytes());
                chunk[6..8].copy_from_slice(&op.to_ne_bytes());
                chunk[8..16].copy_from_slice(&id.to_ne_bytes());
            }
        }
        let _ = self.unit.swrite(&mut &chunk[..], chunk.len());
        true
    }
}

struct H<'a, 'b>(&'a Daemon<'b>);

impl Host for H<'_, '_> {
    fn wait(&mut self, what: Wait, _how: Sleep, _t: u32) -> Result<(), WaitError> {
        loop {
            if self.0.unit.cond(what) {
                return Ok(());
            }
            if !self.0.pump() {
                return Err(WaitError::TimedOut);
            }
        }
    }
    fn wake_slave(&mut self) {}
    fn privileged(&self) -> bool {
        true
    }
}

fn mt(unit: &Unit, d: &Daemon<'_>, op: i16, count: i32) -> Result<(), Errno> {
    let mut arg = [0u8; 8];
    arg[0..2].copy_from_slice(&op.to_ne_bytes());
    arg[4..8].copy_from_slice(&count.to_ne_bytes());
    unit.mioctl(&mut H(d), u64::from(linux::MTIOCTOP), &mut KernelBuf(&mut arg), false).map(|_| ())
}

fn read(unit: &Unit, d: &Daemon<'_>, n: usize) {
    let mut buf = vec![0xa5u8; n + 16];
    if let Ok(k) = unit.mread(&mut H(d), &mut &mut buf[..n], n) {
        assert!(k <= n);
        assert!(buf[k..].iter().all(|b| *b == 0xa5), "bytes past the count were written");
    }
}

fuzz_target!(|data: &[u8]| {
    let unit = Unit::new(0, Config { ring: 8, window: 64 * 1024, timeout: 1 }, Abi::Linux, pmt::HostLock::new(pmt_lockcheck::enter, pmt_lockcheck::exit, 0), pmt::HostArea::NONE).unwrap();
    unit.sopen().unwrap();
    let d = Daemon { unit: &unit, input: RefCell::new(data), last: Cell::new(None) };
    let rw = OpenFlags { read: true, write: true, nonblock: false, norewind: false };
    for round in 0..2 {
        if unit.mopen(&mut H(&d), rw).is_err() {
            continue;
        }
        for i in 0..4 {
            let _ = unit.mwrite(&mut H(&d), &mut &vec![i as u8; 100 + i * 300][..], 100 + i * 300);
        }
        let _ = mt(&unit, &d, 6, 1); // MTREW
        for n in [16usize, 400, 4096] {
            read(&unit, &d, n);
        }
        let _ = mt(&unit, &d, 20, if round == 0 { 512 } else { 0 }); // MTSETBLK
        let _ = unit.mwrite(&mut H(&d), &mut &[7u8; 1024][..], 1024);
        for n in [512usize, 1536] {
            read(&unit, &d, n);
        }
        for (op, n) in [(1i16, 2), (2, 1), (3, 3), (4, 2), (5, 1), (12, 1), (22, 3)] {
            let _ = mt(&unit, &d, op, n);
        }
        let mut st = [0u8; linux::MTGET_SIZE];
        let _ = unit.mioctl(&mut H(&d), u64::from(linux::MTIOCGET), &mut KernelBuf(&mut st), false);
        let mut pos = [0u8; 8];
        let _ = unit.mioctl(&mut H(&d), u64::from(linux::MTIOCPOS), &mut KernelBuf(&mut pos), false);
        let _ = unit.mflush(&mut H(&d));
        let _ = unit.mrelease(&mut H(&d));
    }
    unit.sclose();
});
