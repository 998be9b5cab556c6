//! The drive's answers to the SCSI commands SG_IO passes it (PMT_OP_SCSI):
//! what `sg_inq`, `tapeinfo`, `sg_logs` and TapeAlert readers get, each
//! reply passing the core's reply boundary.

use std::path::Path;

use pmt::proto::{Op, Rep, Req, ReqFlags, REP_SIZE};
use pmtd::drive::{Drive, DriveConfig};
use pmtd::media::image::ImageOptions;
use pmtd::media::magazine::Magazine;
use pmtd::media::{boxed, DynVolumes};
use pmtd::scsi::Identity;

fn drive(dir: &Path, images: &[&str], opts: ImageOptions) -> Drive<DynVolumes> {
    let paths = images.iter().map(|n| dir.join(n)).collect();
    let identity = Identity::new("PMT", "VIRTUAL TAPE", "0100", "HU0000042").unwrap();
    let cfg = DriveConfig { min_block: 1, max_block: 1 << 20, identity, ..DriveConfig::default() };
    Drive::new(boxed(Magazine::new(paths, opts)), cfg).unwrap()
}

fn cmd(d: &mut Drive<DynVolumes>, op: Op, flags: ReqFlags, count: i32, length: u64, data: &[u8]) -> (Rep, Vec<u8>) {
    let mut req = Req::new(op);
    req.flags = flags.bits();
    req.count = count;
    req.length = length;
    let mut out = Vec::new();
    d.execute(&req, data, &mut out);
    let rep = Rep::from_bytes(&out);
    let n = rep.hdr.len as usize - REP_SIZE;
    let data = out[REP_SIZE..REP_SIZE + n].to_vec();
    pmt::boundary::check_reply(&req, &rep, data.len()).expect("the core takes the reply");
    (rep, data)
}

/// A pass-through command allowing `len` bytes: its data, or its sense.
fn scsi(d: &mut Drive<DynVolumes>, cdb: &[u8], len: u64) -> Result<Vec<u8>, (u8, u8, u8)> {
    let (rep, data) = cmd(d, Op::Scsi, ReqFlags::empty(), 0, len, cdb);
    assert_eq!(rep.resid, len as i64 - data.len() as i64, "the residue is what was not returned");
    if rep.sense == 0 {
        Ok(data)
    } else {
        assert!(data.is_empty());
        Err((rep.sense, rep.asc, rep.ascq))
    }
}

#[test]
fn inquiry_sense_limits_luns() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = drive(dir.path(), &["a.tap"], ImageOptions::default());
    let inq = scsi(&mut d, &[0x12, 0, 0, 0, 96, 0], 96).unwrap();
    assert_eq!((inq[0], inq[1], inq[2], inq[3]), (0x01, 0x80, 0x06, 0x02), "tape, removable, SPC-4");
    assert_eq!(&inq[8..36], b"PMT     VIRTUAL TAPE    0100");
    assert_eq!(scsi(&mut d, &[0x12, 0, 0, 0, 36, 0], 36).unwrap().len(), 36, "sg_inq's first, short INQUIRY");
    assert_eq!(&scsi(&mut d, &[0x12, 1, 0x80, 0, 30, 0], 30).unwrap()[4..], b"HU0000042", "tapeinfo's serial");
    assert_eq!(scsi(&mut d, &[0x12, 1, 0x83, 0, 255, 0], 255).unwrap()[7], 33, "8 + 16 + 9 bytes of T10 identification");
    assert_eq!(scsi(&mut d, &[0x12, 1, 0xb0, 0, 255, 0], 255), Err((5, 0x24, 0)));
    assert_eq!(scsi(&mut d, &[0, 0, 0, 0, 0, 0], 0), Ok(vec![]), "TEST UNIT READY");
    let s = scsi(&mut d, &[0x03, 0, 0, 0, 18, 0], 18).unwrap();
    assert_eq!((s[0], s[2], s[7]), (0x70, 0, 10), "NO SENSE");
    assert_eq!(scsi(&mut d, &[0x05, 0, 0, 0, 0, 0], 6), Ok(vec![0, 0x10, 0, 0, 0, 1]), "blocks of 1 to 1 MiB");
    assert_eq!(scsi(&mut d, &[0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0], 16).unwrap()[3], 8, "one LUN");
    assert_eq!(scsi(&mut d, &[0x44, 0, 0, 0, 0, 0, 0, 0, 255, 0], 255), Err((5, 0x20, 0)), "REPORT DENSITY SUPPORT");
}

#[test]
fn mode_pages_follow_the_drive() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = drive(dir.path(), &["a.tap"], ImageOptions::default());
    cmd(&mut d, Op::Mode, ReqFlags::SET_BLKSIZE | ReqFlags::SET_COMPRESS, 1, 512, &[]);
    let m = scsi(&mut d, &[0x1a, 0, 0x3f, 0, 255, 0], 255).unwrap();
    assert_eq!(usize::from(m[0]) + 1, m.len());
    assert_eq!((m[2] & 0x80, m[2] & 0x70, m[3]), (0, 0x10, 8), "not protected, buffered, one block descriptor");
    assert_eq!(&m[9..12], &[0, 2, 0], "block length 512");
    assert_eq!((m[12], m[13], m[14] & 0xc0), (0x0f, 0x0e, 0xc0), "data compression: enabled, capable");
    assert_eq!((m[28], m[29], m[42]), (0x10, 0x0e, 1), "device configuration: compression selected");
    let ten = scsi(&mut d, &[0x5a, 0x08, 0x0f, 0, 0, 0, 0, 0, 255, 0], 255).unwrap();
    assert_eq!(&ten[..8], &[0, 22, 0, 0x10, 0, 0, 0, 0], "MODE SENSE(10), DBD: no descriptor");
    assert_eq!(&ten[8..], &m[12..28]);
    let ch = scsi(&mut d, &[0x1a, 0, 0x4f, 0, 255, 0], 255).unwrap();
    assert_eq!((ch[14], ch[15]), (0x80, 0), "only compression can change");
    assert_eq!(scsi(&mut d, &[0x1a, 0, 0xcf, 0, 255, 0], 255), Err((5, 0x39, 0)), "no saved values");
    assert_eq!(scsi(&mut d, &[0x1a, 0, 0x11, 0, 255, 0], 255), Err((5, 0x24, 0)), "no partition page");
}

#[test]
fn position_capacity_and_tape_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ImageOptions { capacity: Some(10 << 20), early_warning: 1 << 20, read_only: false };
    let mut d = drive(dir.path(), &["a.tap"], opts);
    cmd(&mut d, Op::Open, ReqFlags::OPEN_WRITE, 0, 0, &[]);
    let pos = scsi(&mut d, &[0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0], 20).unwrap();
    assert_eq!((pos[0] & 0x80, &pos[4..12]), (0x80, &[0u8; 8][..]), "at BOP, block 0");
    for _ in 0..2 {
        cmd(&mut d, Op::Write, ReqFlags::empty(), 0, 1 << 19, &vec![7u8; 1 << 19]);
    }
    let pos = scsi(&mut d, &[0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0], 20).unwrap();
    assert_eq!((pos[0] & 0x80, pos[7], pos[11]), (0, 2, 2), "two records on");
    assert_eq!(scsi(&mut d, &[0x34, 6, 0, 0, 0, 0, 0, 0, 32, 0], 32), Err((5, 0x24, 0)), "the long form is not there");
    assert_eq!(scsi(&mut d, &[0x4d, 0, 0x00, 0, 0, 0, 0, 0, 64, 0], 64), Ok(vec![0, 0, 0, 3, 0x00, 0x2e, 0x31]));
    let cap = scsi(&mut d, &[0x4d, 0, 0x31, 0, 0, 0, 0, 0, 64, 0], 64).unwrap();
    assert_eq!(&cap[..4], &[0x31, 0, 0, 32], "tapeinfo's page: 32 bytes");
    let param = |i: usize| u32::from_be_bytes(cap[4 + i * 8 + 4..4 + i * 8 + 8].try_into().unwrap());
    assert_eq!((param(0), param(1), param(2), param(3)), (8, 0, 10, 0), "MiB remaining and in all");
    // No TapeAlert flag, then write protection.
    let alerts = |d: &mut Drive<DynVolumes>| scsi(d, &[0x4d, 0, 0x2e, 0, 0, 0, 0, 0x04, 0, 0], 1024).unwrap();
    let a = alerts(&mut d);
    assert_eq!((a[0], u16::from_be_bytes([a[2], a[3]])), (0x2e, 320));
    assert!(a[4..].chunks(5).all(|p| p[4] == 0));
    std::fs::write(dir.path().join("b.tap"), b"").unwrap();
    let ro = ImageOptions { read_only: true, ..ImageOptions::default() };
    let mut p = drive(dir.path(), &["b.tap"], ro);
    let (rep, _) = cmd(&mut p, Op::Write, ReqFlags::empty(), 0, 10, &[1; 10]);
    assert_eq!(rep.sense, 7, "DATA PROTECT");
    let a = alerts(&mut p);
    let flag = |a: &[u8], n: usize| a[4 + (n - 1) * 5 + 4];
    assert_eq!((flag(&a, 9), u16::from_be_bytes([a[4 + 8 * 5], a[5 + 8 * 5]])), (1, 9), "flag 9, write protect");
    assert_eq!(flag(&alerts(&mut p), 9), 0, "read, then cleared");
    let m = scsi(&mut p, &[0x1a, 0, 0x10, 0, 255, 0], 255).unwrap();
    assert_eq!(m[2] & 0x80, 0x80, "MODE SENSE says write protected");
    // A parameter pointer past the flags asked for.
    assert_eq!(scsi(&mut p, &[0x4d, 0, 0x2e, 0, 0, 0, 0x41, 0x04, 0, 0], 1024), Err((5, 0x24, 0)));
    assert_eq!(scsi(&mut p, &[0x4d, 0, 0x2e, 0, 0, 0, 0x40, 0x04, 0, 0], 1024).unwrap().len(), 9, "from flag 64");
}

#[test]
fn an_empty_drive_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = drive(dir.path(), &[], ImageOptions::default());
    assert_eq!(scsi(&mut d, &[0, 0, 0, 0, 0, 0], 0), Err((2, 0x3a, 0)));
    let s = scsi(&mut d, &[0x03, 0, 0, 0, 18, 0], 18).unwrap();
    assert_eq!((s[2], s[12]), (2, 0x3a), "REQUEST SENSE: medium not present");
    assert_eq!(scsi(&mut d, &[0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0], 20), Err((2, 0x3a, 0)));
    assert_eq!(scsi(&mut d, &[0x4d, 0, 0x31, 0, 0, 0, 0, 0, 64, 0], 64), Err((2, 0x3a, 0)));
    assert!(scsi(&mut d, &[0x12, 0, 0, 0, 96, 0], 96).is_ok(), "INQUIRY answers without a tape");
    assert!(scsi(&mut d, &[0x1a, 0, 0x3f, 0, 255, 0], 255).is_ok());
}
