//! The CUSE host without /dev/cuse: a [`Kernel`] plays the kernel's side of
//! CUSE (reads and writes split into 128 KiB requests each starting a call
//! at offset 0, the FUSE_IOCTL_RETRY exchange over a simulated caller
//! memory) against the real core and a real pmtd drive, served by pmtd's
//! serve loop through the in-process slave on its own thread.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use pmt::abi::{linux, linux_changer, linux_sg};
use pmt::proto::scsi::{ScsiRep, ScsiReq, REQ_SIZE as SCSI_REQ};
use pmt::{Abi, HostArea, HostLock, Kind, Pair};
use pmtd::cuse::device::{Caller, Request};
use pmtd::cuse::ioctl::{plan, Plan, Region};
use pmtd::cuse::{serve_in_process, Device, Node, PairSlave, Shared, CONFIG};
use pmtd::drive::{Drive, DriveConfig};
use pmtd::media::boxed;
use pmtd::media::image::ImageOptions;
use pmtd::media::magazine::Magazine;

#[derive(Debug, PartialEq, Eq)]
enum Reply {
    Err(i32),
    Open(u64),
    Data(Vec<u8>),
    Write(usize),
    Ioctl(i32, Vec<u8>),
    Retry(Vec<Region>, Vec<Region>),
}

struct Fake {
    caller: Caller,
    id: usize,
    slot: Arc<Mutex<Option<Reply>>>,
}

static IDS: AtomicUsize = AtomicUsize::new(1);

impl Fake {
    fn new(pid: i32) -> (Fake, Arc<Mutex<Option<Reply>>>) {
        let slot = Arc::new(Mutex::new(None));
        (Fake { caller: Caller { uid: 0, gid: 0, pid }, id: IDS.fetch_add(1, Ordering::Relaxed), slot: Arc::clone(&slot) }, slot)
    }

    fn put(self, r: Reply) {
        assert!(self.slot.lock().unwrap().replace(r).is_none(), "answered twice");
    }
}

impl Request for Fake {
    fn caller(&self) -> Caller {
        self.caller
    }
    fn id(&self) -> usize {
        self.id
    }
    fn watch_interrupts(&mut self, _: &Arc<Shared>) {}
    fn reply_err(self, errno: i32) {
        self.put(Reply::Err(errno))
    }
    fn reply_open(self, fh: u64) {
        self.put(Reply::Open(fh))
    }
    fn reply_data(self, data: &[u8]) {
        self.put(Reply::Data(data.to_vec()))
    }
    fn reply_write(self, n: usize) {
        self.put(Reply::Write(n))
    }
    fn reply_ioctl(self, result: i32, out: &[u8]) {
        self.put(Reply::Ioctl(result, out.to_vec()))
    }
    fn reply_ioctl_retry(self, ins: &[Region], outs: &[Region]) {
        self.put(Reply::Retry(ins.to_vec(), outs.to_vec()))
    }
}

/// The largest request CUSE makes (32 pages).
const CHUNK: usize = 128 << 10;

/// The kernel's side, with the caller's memory: allocations at made-up
/// addresses.
#[derive(Default)]
struct Kernel {
    mem: BTreeMap<u64, Vec<u8>>,
    next: u64,
}

impl Kernel {
    fn alloc(&mut self, bytes: &[u8]) -> u64 {
        let a = 0x1000_0000 + self.next;
        self.next += (bytes.len() as u64 + 0xfff) & !0xfff;
        self.next += 0x1000;
        self.mem.insert(a, bytes.to_vec());
        a
    }

    fn at(&mut self, addr: u64, len: usize) -> &mut [u8] {
        let (base, v) = self.mem.range_mut(..=addr).next_back().expect("mapped");
        let o = (addr - base) as usize;
        &mut v[o..o + len]
    }

    fn get(&mut self, addr: u64) -> Vec<u8> {
        self.mem[&addr].clone()
    }

    fn call(f: impl FnOnce(Fake), pid: i32) -> Reply {
        let (req, slot) = Fake::new(pid);
        f(req);
        let r = slot.lock().unwrap().take();
        r.expect("no reply")
    }

    /// ioctl(2) as cuse_file_ioctl and fuse_do_ioctl make it.
    fn ioctl(&mut self, node: &Node, fh: u64, cmd: u32, arg: u64, compat: bool) -> Result<i32, i32> {
        let (mut ins, mut outs): (Vec<Region>, Vec<Region>) = (vec![], vec![]);
        for _ in 0..4 {
            let mut have = Vec::new();
            for r in &ins {
                have.extend_from_slice(self.at(r.addr, r.len));
            }
            assert!(have.len() <= CHUNK, "the kernel takes 128 KiB at most");
            let out_size: usize = outs.iter().map(|r| r.len).sum();
            match Kernel::call(|q| node.ioctl(q, fh, cmd, arg, u32::from(compat), &have, out_size), 1) {
                Reply::Retry(i, o) => (ins, outs) = (i, o),
                Reply::Ioctl(v, data) => {
                    assert!(data.len() <= out_size, "the reply fits the out regions");
                    let mut off = 0;
                    for r in &outs {
                        let n = r.len.min(data.len() - off);
                        self.at(r.addr, n).copy_from_slice(&data[off..off + n]);
                        off += n;
                    }
                    return Ok(v);
                }
                Reply::Err(e) => return Err(e),
                other => panic!("{other:?}"),
            }
        }
        panic!("more than three retries");
    }
}

/// write(2) as cuse_write_iter and fuse_direct_io make it, from caller `pid`.
fn write(node: &Node, fh: u64, data: &[u8], pid: i32) -> Result<usize, i32> {
    let mut done = 0;
    while done < data.len() {
        let n = (data.len() - done).min(CHUNK);
        match Kernel::call(|q| node.write(q, fh, &data[done..done + n], done as i64), pid) {
            Reply::Write(k) => {
                assert!(k <= n);
                done += k;
                if k < n {
                    break;
                }
            }
            Reply::Err(e) if done == 0 => return Err(e),
            Reply::Err(_) => break,
            other => panic!("{other:?}"),
        }
    }
    Ok(done)
}

/// read(2) of `count` bytes.
fn read(node: &Node, fh: u64, count: usize, pid: i32) -> Result<Vec<u8>, i32> {
    let mut got = Vec::new();
    while got.len() < count {
        let n = (count - got.len()).min(CHUNK);
        match Kernel::call(|q| node.read(q, fh, n, got.len() as i64), pid) {
            Reply::Data(d) => {
                let short = d.len() < n;
                got.extend_from_slice(&d);
                if short {
                    break;
                }
            }
            Reply::Err(e) if got.is_empty() => return Err(e),
            Reply::Err(_) => break,
            other => panic!("{other:?}"),
        }
    }
    Ok(got)
}

fn open(node: &Node, flags: i32) -> Result<u64, i32> {
    match Kernel::call(|q| node.open(q, flags), 1) {
        Reply::Open(fh) => Ok(fh),
        Reply::Err(e) => Err(e),
        other => panic!("{other:?}"),
    }
}

fn close(node: &Node, fh: u64) {
    assert_eq!(Kernel::call(|q| node.release(q, fh), 1), Reply::Err(0));
}

/// A tape pair served by a pmtd drive on its own thread.
struct Tape {
    rewind: Node,
    norewind: Node,
    stop: Arc<AtomicBool>,
    daemon: Option<JoinHandle<()>>,
    image: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tape {
    fn new() -> Tape {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("t.tap");
        let pair = Pair::new(Kind::Tape, 0, CONFIG, Abi::Linux, HostLock::NONE, HostArea::NONE).unwrap();
        let shared = Arc::new(Shared::new(pair));
        let dev = Arc::new(Device::new(Arc::clone(&shared)));
        dev.setup_op(linux::op::SETDRVBUFFER, (pmt::drv::mtst::CLEARBOOLEANS | pmt::drv::mtst::ASYNC_WRITES) as i32).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let vols = boxed(Magazine::new(vec![image.clone()], ImageOptions::default()));
        let drive = Drive::new(vols, DriveConfig::default()).unwrap();
        let s = Arc::clone(&stop);
        let sh = Arc::clone(&shared);
        let daemon = std::thread::spawn(move || serve_in_process(&sh, drive, &s).unwrap());
        while !shared.has_daemon() {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        Tape {
            rewind: Node::new(Arc::clone(&dev), false),
            norewind: Node::new(dev, true),
            stop,
            daemon: Some(daemon),
            image,
            _dir: dir,
        }
    }

    /// The daemon stops (its slave closes).
    fn kill_daemon(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.daemon.take().unwrap().join().unwrap();
    }
}

impl Drop for Tape {
    fn drop(&mut self) {
        if self.daemon.is_some() {
            self.kill_daemon();
        }
    }
}

fn mtop(k: &mut Kernel, node: &Node, fh: u64, op: i16, count: i32) -> Result<i32, i32> {
    let mut a = [0u8; 8];
    a[..2].copy_from_slice(&op.to_ne_bytes());
    a[4..].copy_from_slice(&count.to_ne_bytes());
    let addr = k.alloc(&a);
    k.ioctl(node, fh, linux::MTIOCTOP, addr, false)
}

/// (file, block) from MTIOCGET.
fn position(k: &mut Kernel, node: &Node, fh: u64) -> (i32, i32) {
    let addr = k.alloc(&[0xeeu8; 48]);
    k.ioctl(node, fh, 0x8030_6d02, addr, false).unwrap();
    let g = k.get(addr);
    (i32::from_ne_bytes(g[40..44].try_into().unwrap()), i32::from_ne_bytes(g[44..48].try_into().unwrap()))
}

fn record(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 31 + j * 7 + j / 251) as u8).collect()
}

#[test]
fn records_filemarks_and_status_through_the_core() {
    let t = Tape::new();
    let mut k = Kernel::default();
    let fh = open(&t.norewind, libc::O_RDWR).unwrap();
    for i in 0..5 {
        assert_eq!(write(&t.norewind, fh, &record(i, 10240), 1), Ok(10240));
    }
    assert_eq!(mtop(&mut k, &t.norewind, fh, linux::op::WEOF, 1), Ok(0));
    assert_eq!(position(&mut k, &t.norewind, fh), (1, 0));
    assert_eq!(mtop(&mut k, &t.norewind, fh, linux::op::REW, 1), Ok(0));
    for i in 0..5 {
        assert_eq!(read(&t.norewind, fh, 65536, 1).unwrap(), record(i, 10240), "record {i}");
    }
    assert_eq!(read(&t.norewind, fh, 65536, 1).unwrap(), Vec::<u8>::new(), "the filemark");
    assert_eq!(position(&mut k, &t.norewind, fh), (1, 0));
    close(&t.norewind, fh);
    // The no-rewind node kept the position; the rewinding node rewinds at
    // close; a second open is refused while one is open, as st does.
    let fh = open(&t.rewind, libc::O_RDONLY).unwrap();
    assert_eq!(open(&t.norewind, libc::O_RDONLY), Err(libc::EBUSY));
    assert_eq!(position(&mut k, &t.rewind, fh), (1, 0));
    close(&t.rewind, fh);
    let fh = open(&t.norewind, libc::O_RDONLY).unwrap();
    assert_eq!(position(&mut k, &t.norewind, fh), (0, 0), "rewound at close");
    close(&t.norewind, fh);
}

#[test]
fn writes_are_acknowledged_once_stored() {
    let t = Tape::new();
    let fh = open(&t.norewind, libc::O_WRONLY).unwrap();
    for i in 0..3 {
        assert_eq!(write(&t.norewind, fh, &record(i, 4096), 1), Ok(4096));
        // Synchronous writes: the image holds every acknowledged record.
        let len = std::fs::metadata(&t.image).unwrap().len();
        assert_eq!(len, (i as u64 + 1) * (4096 + 8), "record {i} is in the image when write returns");
    }
    close(&t.norewind, fh);
}

/// A thread blocked in write(2) (or read(2)) of `buf` on a socket nobody
/// reads (or writes), as a tape program is blocked while its request is
/// served; its tid for /proc.
struct Blocked {
    tid: i32,
    peer: std::fs::File,
    thread: JoinHandle<Vec<u8>>,
}

impl Blocked {
    fn write(buf: Vec<u8>) -> Blocked {
        Blocked::start(buf, true)
    }

    fn read(len: usize) -> Blocked {
        Blocked::start(vec![0; len], false)
    }

    fn start(mut buf: Vec<u8>, writing: bool) -> Blocked {
        // A pipe holds 64 KiB: a longer write blocks, a read of an empty one too.
        let (r, w) = nix::unistd::pipe().unwrap();
        let (mut a, peer) = if writing { (std::fs::File::from(w), std::fs::File::from(r)) } else { (std::fs::File::from(r), std::fs::File::from(w)) };
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            tx.send(nix::unistd::gettid().as_raw()).unwrap();
            if writing {
                let _ = a.write(&buf);
            } else {
                let _ = a.read(&mut buf);
            }
            buf
        });
        let tid = rx.recv().unwrap();
        let nr = if writing { "1 " } else { "0 " };
        for _ in 0..500 {
            let s = std::fs::read_to_string(format!("/proc/{tid}/syscall")).unwrap_or_default();
            if s.starts_with(nr) && !s.starts_with("1 0x0 ") {
                // A write larger than the socket's buffer blocks in it.
                return Blocked { tid, peer, thread };
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        panic!("the thread did not block");
    }

    fn finish(self) {
        // The reader's peer closes (end of file); the writer's closes too
        // (EPIPE: Rust ignores SIGPIPE).
        drop(self.peer);
        self.thread.join().unwrap();
    }
}

#[test]
fn a_record_longer_than_a_request_is_one_record_both_ways() {
    let t = Tape::new();
    let mut k = Kernel::default();
    let fh = open(&t.norewind, libc::O_RDWR).unwrap();
    let big = record(7, 300 << 10);
    // The caller's buffer holds the whole record; the kernel sends the
    // first 128 KiB, and the rest as two more requests.
    let w = Blocked::write(big.clone());
    assert_eq!(write(&t.norewind, fh, &big, w.tid), Ok(big.len()));
    w.finish();
    assert_eq!(write(&t.norewind, fh, &record(8, 1000), 1), Ok(1000));
    assert_eq!(position(&mut k, &t.norewind, fh), (0, 2), "two records, not four");
    assert_eq!(mtop(&mut k, &t.norewind, fh, linux::op::REW, 1), Ok(0));
    let r = Blocked::read(512 << 10);
    assert_eq!(read(&t.norewind, fh, 512 << 10, r.tid).unwrap(), big, "read whole into a larger buffer");
    r.finish();
    assert_eq!(read(&t.norewind, fh, 4096, 1).unwrap(), record(8, 1000));
    // A buffer too small for the record: st's ENOMEM, for the whole call.
    assert_eq!(mtop(&mut k, &t.norewind, fh, linux::op::REW, 1), Ok(0));
    let r = Blocked::read(200 << 10);
    assert_eq!(read(&t.norewind, fh, 200 << 10, r.tid), Err(libc::ENOMEM));
    r.finish();
    close(&t.norewind, fh);
    let img = std::fs::read(&t.image).unwrap();
    assert_eq!(u32::from_le_bytes(img[..4].try_into().unwrap()) as usize, big.len(), "one SIMH record of 300 KiB");
}

#[test]
fn without_the_callers_call_each_request_is_a_record() {
    // The documented fallback when /proc cannot tell the caller's count
    // (here: the "caller" is a running thread).
    let t = Tape::new();
    let mut k = Kernel::default();
    let fh = open(&t.norewind, libc::O_RDWR).unwrap();
    let me = nix::unistd::gettid().as_raw();
    assert_eq!(write(&t.norewind, fh, &record(1, 200 << 10), me), Ok(200 << 10));
    assert_eq!(position(&mut k, &t.norewind, fh), (0, 2), "split at the request");
    close(&t.norewind, fh);
}

#[test]
fn the_daemon_gone_fails_every_call_at_once() {
    let mut t = Tape::new();
    let fh = open(&t.norewind, libc::O_WRONLY).unwrap();
    assert_eq!(write(&t.norewind, fh, &record(0, 10240), 1), Ok(10240));
    t.kill_daemon();
    let start = std::time::Instant::now();
    assert_eq!(write(&t.norewind, fh, &record(1, 10240), 1), Err(libc::EIO));
    close(&t.norewind, fh);
    assert_eq!(open(&t.norewind, libc::O_RDONLY), Err(libc::EIO), "no drive: EIO at open, as st");
    assert!(start.elapsed() < std::time::Duration::from_secs(2), "no wait for a timeout");
    let img = std::fs::read(&t.image).unwrap();
    assert_eq!(&img[..4], &10240u32.to_le_bytes(), "the acknowledged record is stored");
}

/// The sg ioctls the tape master answers itself, through the retry
/// exchange (their numbers encode no size).
#[test]
fn sg_ioctls_on_the_tape_master() {
    let t = Tape::new();
    let mut k = Kernel::default();
    let fh = open(&t.norewind, libc::O_RDONLY | libc::O_NONBLOCK).unwrap();
    let v = k.alloc(&[0; 4]);
    assert_eq!(k.ioctl(&t.norewind, fh, linux_sg::SG_GET_VERSION_NUM, v, false), Ok(0));
    assert_eq!(i32::from_ne_bytes(k.get(v)[..4].try_into().unwrap()), pmt::sgio::VERSION_NUM);
    let id = k.alloc(&[0xee; 32]);
    assert_eq!(k.ioctl(&t.norewind, fh, linux_sg::SG_GET_SCSI_ID, id, false), Ok(0));
    assert_eq!(i32::from_ne_bytes(k.get(id)[16..20].try_into().unwrap()), 1, "scsi_type: a tape");
    close(&t.norewind, fh);
}

#[test]
fn compat32_status() {
    let t = Tape::new();
    let mut k = Kernel::default();
    let fh = open(&t.norewind, libc::O_RDWR).unwrap();
    assert_eq!(write(&t.norewind, fh, &record(0, 512), 1), Ok(512));
    // MTIOCGET from a 32-bit process: 28 bytes.
    let addr = k.alloc(&[0; 28]);
    assert_eq!(k.ioctl(&t.norewind, fh, 0x801c_6d02, addr, true), Ok(0));
    let g = k.get(addr);
    assert_eq!(i32::from_ne_bytes(g[24..28].try_into().unwrap()), 1, "mt_blkno");
    close(&t.norewind, fh);
}

/// `struct sg_io_hdr` for a command reading `len` bytes.
fn sg_io_hdr(compat: bool, cdb: u64, data: u64, len: u32, sense: u64, mx_sb: u8) -> Vec<u8> {
    let mut h = vec![0u8; if compat { 64 } else { 88 }];
    h[0..4].copy_from_slice(&i32::from(b'S').to_ne_bytes());
    h[4..8].copy_from_slice(&pmt::sgio::DXFER_FROM_DEV.to_ne_bytes());
    h[8] = 6;
    h[9] = mx_sb;
    h[12..16].copy_from_slice(&len.to_ne_bytes());
    if compat {
        h[16..20].copy_from_slice(&(data as u32).to_ne_bytes());
        h[20..24].copy_from_slice(&(cdb as u32).to_ne_bytes());
        h[24..28].copy_from_slice(&(sense as u32).to_ne_bytes());
    } else {
        h[16..24].copy_from_slice(&data.to_ne_bytes());
        h[24..32].copy_from_slice(&cdb.to_ne_bytes());
        h[32..40].copy_from_slice(&sense.to_ne_bytes());
    }
    h
}

/// Commands the fake changer served.
static SERVED: Mutex<usize> = Mutex::new(0);

/// A changer pair's slave answering INQUIRY (and anything else with
/// ILLEGAL REQUEST), on its own thread.
fn fake_changer(shared: Arc<Shared>, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    let mut slave = PairSlave::open(Arc::clone(&shared)).unwrap();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 20];
        while !stop.load(Ordering::Relaxed) {
            use pmtd::transport::{Received, Transport};
            let Received::Batch(n) = slave.receive(&mut buf).unwrap() else { continue };
            let mut off = 0;
            let mut out = Vec::new();
            while off < n {
                let req = ScsiReq::from_bytes(&buf[off..]);
                off += pmt::proto::align_frame(req.hdr.len as usize);
                let inquiry = [8u8, 0x80, 5, 2, 31, 0, 0, 0, b'P', b'M', b'T', b' ', b' ', b' ', b' ', b' '];
                *SERVED.lock().unwrap() += 1;
                let data: &[u8] = if req.cdb[0] == 0x12 { &inquiry } else { &[] };
                let n = data.len().min(req.xfer_len as usize);
                let mut rep = ScsiRep::good(&req);
                if req.cdb[0] != 0x12 {
                    rep.status = 2;
                    let s = pmt::proto::scsi::sense::fixed(5, 0x20, 0);
                    rep.sense[..s.len()].copy_from_slice(&s);
                    rep.sense_len = s.len() as u8;
                }
                rep.resid = req.xfer_len - n as u32;
                rep.hdr.len = (pmt::proto::scsi::REP_SIZE + n) as u32;
                out.extend_from_slice(&rep.to_bytes());
                out.extend_from_slice(&data[..n]);
                out.resize(pmt::proto::align_frame(out.len()), 0);
            }
            slave.send(&out).unwrap();
        }
        let _ = SCSI_REQ;
    })
}

#[test]
fn a_changer_pair_through_the_same_host() {
    let pair = Pair::new(Kind::Changer, 0, CONFIG, Abi::Linux, HostLock::NONE, HostArea::NONE).unwrap();
    let shared = Arc::new(Shared::new(pair));
    let node = Node::new(Arc::new(Device::new(Arc::clone(&shared))), false);
    let stop = Arc::new(AtomicBool::new(false));
    let daemon = fake_changer(Arc::clone(&shared), Arc::clone(&stop));
    let mut k = Kernel::default();
    let fh = open(&node, libc::O_RDWR).unwrap();
    for compat in [false, true] {
        // INQUIRY, answered; then an unknown command, CHECK CONDITION with
        // sense in the caller's buffer. Each runs once, after the header,
        // then the command, data and sense buffers came in.
        for (op, want_status) in [(0x12u8, 0u8), (0xc0, 2)] {
            let cdb = k.alloc(&[op, 0, 0, 0, 36, 0]);
            let data = k.alloc(&[0xaa; 36]);
            let sense = k.alloc(&[0xbb; 32]);
            let hdr = k.alloc(&sg_io_hdr(compat, cdb, data, 36, sense, 32));
            let before = *SERVED.lock().unwrap();
            assert_eq!(k.ioctl(&node, fh, linux_sg::SG_IO, hdr, compat), Ok(0), "op {op:#x} compat {compat}");
            assert_eq!(*SERVED.lock().unwrap(), before + 1, "the command ran once");
            let h = k.get(hdr);
            let o = if compat { 44 } else { 64 };
            assert_eq!(h[o], want_status);
            if op == 0x12 {
                assert_eq!(&k.get(data)[..3], &[8, 0x80, 5], "a medium changer answered");
                assert_eq!(&k.get(data)[16..], &[0xaa; 20][..], "the rest of the data buffer is the caller's");
                assert_eq!(i32::from_ne_bytes(h[o + 8..o + 12].try_into().unwrap()), 20, "resid");
            } else {
                let sb_len = h[o + 3] as usize;
                let s = k.get(sense);
                assert_eq!(s[2] & 0x0f, 5, "ILLEGAL REQUEST");
                assert_eq!(&s[sb_len..], &vec![0xbb; 32 - sb_len][..], "the rest of the sense buffer is the caller's");
            }
        }
    }
    // A changer has no read or write.
    assert_eq!(write(&node, fh, &[0; 10], 1), Err(libc::EINVAL));
    close(&node, fh);
    stop.store(true, Ordering::Relaxed);
    shared.stop();
    daemon.join().unwrap();

    // CHIOGSTATUS's array: asked for once the changer said its length,
    // then taken from what the kernel brought.
    let pair = shared.pair();
    let arg = 0x5000u64;
    let mut st = [0u8; 16];
    st[8..16].copy_from_slice(&0x9000u64.to_ne_bytes());
    let mut asked = 0;
    let mut count = |ty: i32| {
        asked += 1;
        (ty == 1).then_some(40)
    };
    let first = plan(pair, linux_changer::CHIOGSTATUS, arg, false, &[], &mut count);
    assert_eq!(first, Plan::Retry(vec![Region { addr: arg, len: 16, out: false }]));
    st[0] = 1;
    let second = plan(pair, linux_changer::CHIOGSTATUS, arg, false, &st, &mut count);
    let want = vec![Region { addr: arg, len: 16, out: false }, Region { addr: 0x9000, len: 40, out: true }];
    assert_eq!(second, Plan::Retry(want.clone()));
    let mut have = st.to_vec();
    have.extend_from_slice(&[0; 40]);
    assert_eq!(plan(pair, linux_changer::CHIOGSTATUS, arg, false, &have, &mut count), Plan::Run(want));
    assert_eq!(asked, 1, "the length is asked once");
}

/// FUSE_INTERRUPT during a wait for the drive (killable): ignored while the
/// caller lives, the end of the call when it is being killed (or gone).
#[test]
fn an_interrupt_ends_a_drive_wait_only_for_a_dying_caller() {
    let pair = Pair::new(Kind::Tape, 0, CONFIG, Abi::Linux, HostLock::NONE, HostArea::NONE).unwrap();
    let shared = Arc::new(Shared::new(pair));
    let node = Arc::new(Node::new(Arc::new(Device::new(Arc::clone(&shared))), true));
    // A daemon that holds the slave and never answers.
    let slave = PairSlave::open(Arc::clone(&shared)).unwrap();
    let start = |pid: i32| {
        let (req, slot) = Fake::new(pid);
        let id = req.id;
        let n = Arc::clone(&node);
        let t = std::thread::spawn(move || n.open(req, libc::O_RDONLY));
        (id, slot, t)
    };
    let alive = nix::unistd::gettid().as_raw();
    let (id, slot, t) = start(alive);
    std::thread::sleep(std::time::Duration::from_millis(100));
    shared.interrupt(id);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(slot.lock().unwrap().is_none(), "a live caller's drive wait goes on");
    // The daemon goes: the open fails at once.
    drop(slave);
    t.join().unwrap();
    assert_eq!(slot.lock().unwrap().take(), Some(Reply::Err(libc::EIO)));

    let slave = PairSlave::open(Arc::clone(&shared)).unwrap();
    let (id, slot, t) = start(i32::MAX);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let t0 = std::time::Instant::now();
    shared.interrupt(id);
    t.join().unwrap();
    assert!(t0.elapsed() < std::time::Duration::from_secs(1));
    assert!(matches!(slot.lock().unwrap().take(), Some(Reply::Err(e)) if e != 0), "a dying caller's call ends");
    drop(slave);
}

/// The library as `pmtd library --cuse` serves it: its daemon on the
/// pairs' in-process slaves, the changer's and the drive's nodes served by
/// the CUSE host. A CHIO move on the changer's node loads the drive its
/// node then writes (synchronously, as every CUSE tape); once the daemon
/// stops, both nodes fail at once.
#[test]
fn a_library_on_cuse_pairs() {
    use pmtd::library::daemon::{lock_file, serve_on};
    use pmtd::library::LibraryConfig;
    let dir = tempfile::tempdir().unwrap();
    let toml = "changer = \"/dev/pmcs0\"\nslots = 4\ninventory = \"lib.inventory\"\n\
                [[drive]]\ndevice = \"/dev/pmts0\"\n[[cartridges]]\nbarcodes = \"ABC%03dL6\"\ncount = 2\n";
    let cfg = LibraryConfig::from_toml(toml, dir.path(), "lib").unwrap();
    let pair = |kind| Arc::new(Shared::new(Pair::new(kind, 0, CONFIG, Abi::Linux, HostLock::NONE, HostArea::NONE).unwrap()));
    let (cs, ts) = (pair(Kind::Changer), pair(Kind::Tape));
    let changer = Node::new(Arc::new(Device::new(Arc::clone(&cs))), false);
    let dev = Arc::new(Device::new(Arc::clone(&ts)));
    dev.setup_op(linux::op::SETDRVBUFFER, (pmt::drv::mtst::CLEARBOOLEANS | pmt::drv::mtst::ASYNC_WRITES) as i32).unwrap();
    let tape = Node::new(dev, true);
    let stop = AtomicBool::new(false);
    let mut k = Kernel::default();
    std::thread::scope(|s| {
        let held = lock_file(&cfg.inventory).unwrap();
        let (c, d) = (PairSlave::open(Arc::clone(&cs)).unwrap(), PairSlave::open(Arc::clone(&ts)).unwrap());
        let daemon = s.spawn(|| serve_on(&cfg, held, c, vec![d], &stop));
        assert_eq!(open(&tape, libc::O_RDWR), Err(libc::ENOMEDIUM), "an empty drive");
        let fh = open(&changer, libc::O_RDWR).unwrap();
        // CHIOMOVE: slot 0 (CHET_ST) to drive 0 (CHET_DT).
        let mut m = [0u8; 20];
        for (i, v) in [1i32, 0, 3, 0, 0].iter().enumerate() {
            m[i * 4..i * 4 + 4].copy_from_slice(&v.to_ne_bytes());
        }
        let arg = k.alloc(&m);
        assert_eq!(k.ioctl(&changer, fh, linux_changer::CHIOMOVE, arg, false), Ok(0));
        let th = open(&tape, libc::O_RDWR).unwrap();
        let st = k.alloc(&[0u8; 48]);
        k.ioctl(&tape, th, 0x8030_6d02, st, false).unwrap();
        let gstat = i64::from_ne_bytes(k.get(st)[24..32].try_into().unwrap());
        assert_ne!(gstat & 0x0100_0000, 0, "mt status: ONLINE right after the move");
        for i in 0..3 {
            assert_eq!(write(&tape, th, &record(i, 4096), 1), Ok(4096));
        }
        let img = dir.path().join("ABC001L6.tap");
        assert_eq!(std::fs::metadata(&img).unwrap().len(), 3 * (4096 + 8), "every acknowledged record stored");
        stop.store(true, Ordering::Relaxed);
        daemon.join().unwrap().unwrap();
        let start = std::time::Instant::now();
        assert_eq!(write(&tape, th, &record(3, 4096), 1), Err(libc::EIO));
        assert!(k.ioctl(&changer, fh, linux_changer::CHIOMOVE, arg, false).is_err());
        assert!(start.elapsed() < std::time::Duration::from_secs(2), "no wait for a timeout");
        close(&tape, th);
        close(&changer, fh);
    });
}
