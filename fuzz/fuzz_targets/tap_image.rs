//! pmtd's image and index readers on arbitrary files: a SIMH image and its
//! sidecar index (`IMAGE.pmtidx`), both from the fuzz input. Loading never
//! panics; the objects the loader finds are exactly those a full scan of
//! the image finds (an index, damaged or foreign, never makes a record
//! appear, vanish or move); every record's data reads back from its
//! offset; and a scan is prefix-closed: the image cut at the end of its
//! last complete object scans to the same objects.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use pmtd::media::image::sidecar::Sidecar;
use pmtd::media::image::{scan as scan_image, ImageOptions, LocalImage};
use pmtd::media::{Medium, Object};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    // The first two bytes say where the image ends and the index begins.
    let split = (usize::from(u16::from_le_bytes([data[0], data[1]])) % data.len()).max(2);
    let image = &data[2..split];
    let index = &data[split..];

    let scan = scan_image(&mut Cursor::new(image), false).expect("scan of memory");
    assert!(scan.end <= image.len() as u64);
    let mut at = 0;
    for o in &scan.objs {
        assert!(o.off >= at, "objects in order");
        at = o.off + o.size();
    }
    assert_eq!(at, scan.end);
    let again = scan_image(&mut Cursor::new(&image[..scan.end as usize]), false).expect("scan");
    assert_eq!(again.objs, scan.objs, "the cut image scans to the same objects");

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("f.tap");
    std::fs::write(&path, image).expect("image");
    if !index.is_empty() {
        if index[0] & 1 == 0 {
            // Raw bytes as the index.
            std::fs::write(Sidecar::path_for(&path), &index[1..]).expect("index");
        } else {
            // pmtd's own index of this image, then damaged: each 3 bytes of
            // the input flip bits at an offset.
            drop(LocalImage::open(&path, &ImageOptions::default()).map(|(mut t, _)| t.sync()));
            let ipath = Sidecar::path_for(&path);
            if let Ok(mut idx) = std::fs::read(&ipath) {
                for m in index[1..].chunks_exact(3) {
                    if !idx.is_empty() {
                        let at = usize::from(u16::from_le_bytes([m[0], m[1]])) % idx.len();
                        idx[at] ^= m[2];
                    }
                }
                std::fs::write(&ipath, idx).expect("index");
            }
        }
    }
    // Read-only: the loader must not repair anything on disk here.
    let read_only = ImageOptions { read_only: true, ..ImageOptions::default() };
    let Ok((mut tape, _)) = LocalImage::open(&path, &read_only) else {
        return;
    };
    assert_eq!(tape.objects(), &scan.objs[..], "the index changed what the image holds");
    let records: Vec<(usize, _)> = tape.objects().iter().copied().enumerate().filter(|(_, o)| !o.is_mark() && !o.bad).take(8).collect();
    for (i, o) in records {
        tape.locate(i as u64).expect("locate");
        let mut buf = Vec::new();
        assert_eq!(tape.read(&mut buf, usize::MAX).expect("a record reads back"), Object::Record(o.len as usize));
        let start = o.off as usize + 4;
        assert_eq!(&buf[..], &image[start..start + o.len as usize]);
    }
});
