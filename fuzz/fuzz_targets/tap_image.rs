//! pmtd's image and index readers on arbitrary files: a SIMH image and its
//! sidecar index (`IMAGE.pmtidx`), both from the fuzz input. Loading never
//! panics; the objects the loader finds are exactly those a full scan of
//! the image finds (an index, damaged or foreign, never makes a record
//! appear, vanish or move); every record's data reads back from its
//! offset; and a scan's result is a prefix-closed: the image cut at the end
//! of its last complete object scans to the same objects.
#![no_main]

use std::fs::File;
use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use pmtd::tap::{self, Sidecar, Tape};

/// A sidecar with a valid header (the format of pmtd/src/tap.rs: 64-byte
/// header, 16-byte entries) whose entries and end offset come from `rest`.
fn well_formed(image: &[u8], rest: &[u8]) -> Vec<u8> {
    let entries = &rest[..rest.len() / 16 * 16];
    let count = (entries.len() / 16) as u64;
    // The end the index claims: where its last entry ends, as a loader
    // would expect, unless the input says otherwise.
    let end = entries.chunks_exact(16).last().map_or(0, |e| {
        let off = u64::from_le_bytes(e[0..8].try_into().unwrap());
        let len = u64::from(u32::from_le_bytes(e[8..12].try_into().unwrap()));
        let size = if len == 0 { 4 } else { 8 + len + (len & 1) };
        off.wrapping_add(size)
    });
    let head = &image[..image.len().min(4096).min(end as usize)];
    let mut h = vec![0u8; 64];
    h[0..8].copy_from_slice(b"PMTIDX\x01\x00");
    h[8..12].copy_from_slice(&1u32.to_le_bytes());
    h[12..16].copy_from_slice(&16u32.to_le_bytes());
    h[16..24].copy_from_slice(&count.to_le_bytes());
    h[24..32].copy_from_slice(&end.to_le_bytes());
    h[32..36].copy_from_slice(&crc32c::crc32c(head).to_le_bytes());
    h.extend_from_slice(entries);
    h
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    // The first two bytes say where the image ends and the index begins.
    let split = (usize::from(u16::from_le_bytes([data[0], data[1]])) % data.len()).max(2);
    let image = &data[2..split];
    let index = &data[split..];

    let scan = tap::scan(&mut Cursor::new(image), false).expect("scan of memory");
    assert!(scan.end <= image.len() as u64);
    let mut at = 0;
    for o in &scan.objs {
        assert!(o.off >= at, "objects in order");
        at = o.off + o.size();
    }
    assert_eq!(at, scan.end);
    let again = tap::scan(&mut Cursor::new(&image[..scan.end as usize]), false).expect("scan");
    assert_eq!(again.objs, scan.objs, "the cut image scans to the same objects");

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("f.tap");
    std::fs::write(&path, image).expect("image");
    if !index.is_empty() {
        // Half the time the index is raw bytes; half the time a well-formed
        // header (magic, version, a matching checksum of the image's head)
        // over entries from the input, so the loader's checks of the
        // entries themselves are what stands between them and the tape.
        let idx = if index[0] & 1 == 0 { index.to_vec() } else { well_formed(image, &index[1..]) };
        std::fs::write(Sidecar::path_for(&path), idx).expect("index");
    }
    // Read-only: the loader must not repair anything on disk here.
    let Ok((tape, _, _)) = Tape::open(&path, true) else {
        return;
    };
    assert_eq!(tape.objs(), &scan.objs[..], "the index changed what the image holds");
    let f = File::open(&path).expect("open");
    drop(f);
    for o in tape.objs().iter().filter(|o| !o.is_mark()).take(8) {
        let mut buf = vec![0u8; o.len as usize];
        tape.read_data(o, &mut buf).expect("a record reads back");
        let start = o.off as usize + 4;
        assert_eq!(&buf[..], &image[start..start + o.len as usize]);
    }
});
