//! The stored form of a filtered record (see docs/DESIGN.md, "Filters").
//!
//! ```text
//! offset size
//!  0      4   magic "PMTf"
//!  4      1   version (2; 1 for records written before volume binding)
//!  5      1   flags: 1 ZSTD (the payload is a zstd frame), 2 SEALED
//!             (XChaCha20-Poly1305), 4 COMPRESSING (the writer compresses:
//!             without ZSTD the record did not shrink and is stored raw)
//!  6      4   original length (little endian)
//! 10      4   CRC32C of everything after the header
//! 14          payload: the data, raw or a zstd frame; when SEALED, a
//!             24-byte random nonce, the ciphertext, the 16-byte tag
//! ```
//!
//! A sealed record's associated data is the first 10 header bytes, the
//! record's logical position on the tape (64-bit little endian) and, from
//! version 2 on, the volume's identity: the first 16 bytes of the nonce of
//! the volume's first record, random and fixed when the volume is first
//! written (that record binds its own nonce). So a record altered,
//! truncated, swapped with another, moved elsewhere on the tape or onto
//! another volume written with the same key, or a volume whose first record
//! was replaced by another's, fails its check. Version 1 records (written
//! before the binding) still read, bound to their position only. The
//! overhead is at most
//! [`MAX_OVERHEAD`] (54) bytes per record: with SIMH's framing and pad it
//! stays within the 64 bytes per record the slave protocol charges.

use chacha20poly1305::aead::{AeadInOut, Generate, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};

/// First bytes of a filtered record.
pub const MAGIC: [u8; 4] = *b"PMTf";
/// Version of the format written: records bound to their volume.
pub const VERSION: u8 = 2;
/// The version before the volume binding, still read.
pub const VERSION_1: u8 = 1;
/// Bytes of a volume identity.
pub const VOLUME_ID: usize = 16;

/// A volume's identity: the first [`VOLUME_ID`] bytes of the nonce of its
/// first sealed record.
pub type VolumeId = [u8; VOLUME_ID];

/// How a record is bound to its volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bind {
    /// The volume's first record: its own nonce is the volume's identity.
    First,
    /// Another record of the volume with this identity.
    Volume(VolumeId),
    /// The identity is not known (no first record was found): a version 2
    /// sealed record that is not the first does not open.
    Unknown,
}
/// Bytes of the header.
pub const HEADER: usize = 14;
/// Bytes of the nonce of a sealed record.
pub const NONCE: usize = 24;
/// Bytes of the authentication tag of a sealed record.
pub const TAG: usize = 16;
/// The most a filter adds to a record.
pub const MAX_OVERHEAD: usize = HEADER + NONCE + TAG;

/// The payload is a zstd frame.
pub const ZSTD: u8 = 0x01;
/// The payload is sealed with XChaCha20-Poly1305.
pub const SEALED: u8 = 0x02;
/// The writer compresses (a record without [`ZSTD`] did not shrink).
pub const COMPRESSING: u8 = 0x04;
const KNOWN: u8 = ZSTD | SEALED | COMPRESSING;

/// Bytes of header the associated data covers.
const AD_HEADER: usize = 10;

/// The header of a stored record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The format version ([`VERSION`] or [`VERSION_1`]).
    pub version: u8,
    /// [`ZSTD`], [`SEALED`], [`COMPRESSING`].
    pub flags: u8,
    /// The original length.
    pub length: u32,
    /// CRC32C of what follows the header.
    pub crc: u32,
}

impl Header {
    /// Parses the header at the start of a stored record; `None` if it is
    /// not one (no magic, another version, unknown flags).
    pub fn parse(rec: &[u8]) -> Option<Header> {
        let h = rec.get(..HEADER)?;
        let version = *h.get(4)?;
        if h.get(..4)? != MAGIC || !(version == VERSION || version == VERSION_1) {
            return None;
        }
        let flags = *h.get(5)?;
        if flags & !KNOWN != 0 {
            return None;
        }
        let length = u32::from_le_bytes(h.get(6..10)?.try_into().ok()?);
        let crc = u32::from_le_bytes(h.get(10..14)?.try_into().ok()?);
        Some(Header { version, flags, length, crc })
    }

    /// "zstd", "raw", "zstd, sealed"...: what was done to the record.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.flags & ZSTD != 0 {
            parts.push("zstd");
        } else if self.flags & COMPRESSING != 0 {
            parts.push("stored raw");
        }
        if self.flags & SEALED != 0 {
            parts.push("sealed");
        }
        if parts.is_empty() {
            parts.push("raw");
        }
        parts.join(", ")
    }
}

/// Why a stored record does not decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not a filtered record at all.
    NotFiltered,
    /// The CRC does not match: the stored bytes changed.
    Checksum,
    /// A sealed record and no key to open it.
    NoKey,
    /// The tag does not match: altered, moved, or another key.
    Authentication,
    /// The payload does not give the original length back.
    Corrupt(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotFiltered => write!(f, "not a filtered record"),
            Refusal::Checksum => write!(f, "its checksum does not match"),
            Refusal::NoKey => write!(f, "it is encrypted and no key was given"),
            Refusal::Authentication => write!(f, "it does not authenticate (altered, moved, or another key)"),
            Refusal::Corrupt(why) => write!(f, "{why}"),
        }
    }
}

/// Encodes and decodes records with one filter setting.
pub struct Codec {
    compressor: Option<zstd::bulk::Compressor<'static>>,
    decompressor: zstd::bulk::Decompressor<'static>,
    cipher: Option<XChaCha20Poly1305>,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codec").field("compress", &self.compressor.is_some()).field("sealed", &self.cipher.is_some()).finish()
    }
}

/// The associated data of a sealed record: its header's first bytes, its
/// position and (version 2) its volume's identity.
fn ad(header: &[u8], position: u64, volume: Option<&VolumeId>) -> Vec<u8> {
    let mut a = Vec::with_capacity(AD_HEADER + 8 + VOLUME_ID);
    a.extend_from_slice(&header[..AD_HEADER]);
    a.extend_from_slice(&position.to_le_bytes());
    if let Some(v) = volume {
        a.extend_from_slice(v);
    }
    a
}

/// The volume identity a sealed record at the start of the volume carries
/// (its nonce's first bytes; a version 1 volume gets one too, for the
/// records appended to it), if `stored` is a sealed record.
pub fn identity_of(stored: &[u8]) -> Option<VolumeId> {
    let h = Header::parse(stored)?;
    if h.flags & SEALED == 0 {
        return None;
    }
    stored.get(HEADER..HEADER + VOLUME_ID)?.try_into().ok()
}

impl Codec {
    /// A codec compressing at zstd `level` (if any) and sealing with `key`
    /// (if any).
    pub fn new(level: Option<i32>, key: Option<&[u8; 32]>) -> std::io::Result<Codec> {
        let compressor = level.map(zstd::bulk::Compressor::new).transpose()?;
        let cipher = key.map(|k| XChaCha20Poly1305::new(&(*k).into()));
        Ok(Codec { compressor, decompressor: zstd::bulk::Decompressor::new()?, cipher, scratch: Vec::new() })
    }

    /// True if records are sealed.
    pub fn sealed(&self) -> bool {
        self.cipher.is_some()
    }

    /// Bytes this codec may add to a record.
    pub fn overhead(&self) -> usize {
        if self.sealed() {
            MAX_OVERHEAD
        } else {
            HEADER
        }
    }

    /// Encodes `data`, a record to be stored at logical `position` of a
    /// volume (`bind`), into `out` (replacing its contents). Returns the
    /// volume's identity when the record is its first and sealed.
    pub fn encode(&mut self, data: &[u8], position: u64, bind: Bind, out: &mut Vec<u8>) -> Result<Option<VolumeId>, String> {
        out.clear();
        out.resize(HEADER, 0);
        let mut flags = 0;
        if self.cipher.is_some() {
            let nonce = XNonce::try_generate().map_err(|e| format!("no random nonce: {e}"))?;
            out.extend_from_slice(&nonce);
            flags |= SEALED;
        }
        let body = out.len();
        let mut stored_raw = true;
        if let Some(c) = self.compressor.as_mut() {
            flags |= COMPRESSING;
            // Kept only if it is smaller than the data.
            if data.len() > 1 {
                out.resize(body + data.len() - 1, 0);
                if let Ok(n) = c.compress_to_buffer(data, &mut out[body..]) {
                    out.truncate(body + n);
                    flags |= ZSTD;
                    stored_raw = false;
                } else {
                    out.truncate(body);
                }
            }
        }
        if stored_raw {
            out.extend_from_slice(data);
        }
        let length = u32::try_from(data.len()).map_err(|_| format!("a record of {} bytes", data.len()))?;
        out[..4].copy_from_slice(&MAGIC);
        out[4] = VERSION;
        out[5] = flags;
        out[6..10].copy_from_slice(&length.to_le_bytes());
        let mut first = None;
        if let Some(cipher) = &self.cipher {
            let volume = match bind {
                Bind::First => {
                    let id: VolumeId = out[HEADER..HEADER + VOLUME_ID].try_into().map_err(|_| "nonce".to_string())?;
                    first = Some(id);
                    id
                }
                Bind::Volume(id) => id,
                Bind::Unknown => return Err("the volume's identity is not known (its first record cannot be read)".into()),
            };
            let a = ad(out, position, Some(&volume));
            let (head, payload) = out.split_at_mut(HEADER + NONCE);
            let nonce = XNonce::try_from(&head[HEADER..]).map_err(|_| "nonce".to_string())?;
            let tag = cipher
                .encrypt_inout_detached(&nonce, &a, payload.into())
                .map_err(|_| "the record is too large to encrypt".to_string())?;
            out.extend_from_slice(&tag);
        }
        let crc = crc32c::crc32c(&out[HEADER..]);
        out[10..14].copy_from_slice(&crc.to_le_bytes());
        Ok(first)
    }

    /// Decodes `stored`, the record read at logical `position` of a volume
    /// (`bind`), appending at most `max` bytes of the original to `out`.
    /// Returns the original length. `stored` is used as scratch space
    /// (decrypted in place).
    pub fn decode(&mut self, stored: &mut [u8], position: u64, bind: Bind, out: &mut Vec<u8>, max: usize) -> Result<usize, Refusal> {
        let h = Header::parse(stored).ok_or(Refusal::NotFiltered)?;
        let payload = stored.get(HEADER..).ok_or(Refusal::NotFiltered)?;
        if crc32c::crc32c(payload) != h.crc {
            return Err(Refusal::Checksum);
        }
        let length = h.length as usize;
        if length == 0 || length > pmt::proto::MAX_RECORD as usize {
            return Err(Refusal::Corrupt(format!("an original length of {length} bytes")));
        }
        let sealed_len = payload.len();
        let body: &[u8] = if h.flags & SEALED != 0 {
            let cipher = self.cipher.as_ref().ok_or(Refusal::NoKey)?;
            if sealed_len < NONCE + TAG {
                return Err(Refusal::Authentication);
            }
            let volume = match (h.version, bind) {
                (VERSION_1, _) => None,
                (_, Bind::First) => Some(identity_of(stored).ok_or(Refusal::Authentication)?),
                (_, Bind::Volume(id)) => Some(id),
                (_, Bind::Unknown) => return Err(Refusal::Authentication),
            };
            let head = stored.get(..HEADER).ok_or(Refusal::NotFiltered)?;
            let a = ad(head, position, volume.as_ref());
            let sealed = stored.get_mut(HEADER..).ok_or(Refusal::NotFiltered)?;
            let (nonce, rest) = sealed.split_at_mut(NONCE);
            let (ct, tag) = rest.split_at_mut(rest.len() - TAG);
            let nonce = XNonce::try_from(&*nonce).map_err(|_| Refusal::Authentication)?;
            let tag = Tag::try_from(&*tag).map_err(|_| Refusal::Authentication)?;
            cipher.decrypt_inout_detached(&nonce, &a, ct.into(), &tag).map_err(|_| Refusal::Authentication)?;
            &*ct
        } else {
            stored.get(HEADER..).ok_or(Refusal::NotFiltered)?
        };
        let at = out.len();
        if h.flags & ZSTD != 0 {
            let into_out = max >= length;
            let dst: &mut Vec<u8> = if into_out { &mut *out } else { &mut self.scratch };
            let base = if into_out { at } else { 0 };
            dst.truncate(base);
            dst.resize(base + length, 0);
            let n = self
                .decompressor
                .decompress_to_buffer(body, &mut dst[base..])
                .map_err(|e| Refusal::Corrupt(format!("zstd: {e}")))?;
            if n != length {
                dst.truncate(base);
                return Err(Refusal::Corrupt(format!("{n} bytes decompressed, {length} expected")));
            }
            if !into_out {
                out.extend_from_slice(&self.scratch[..max]);
            }
        } else {
            if body.len() != length {
                return Err(Refusal::Corrupt(format!("{} bytes stored, {length} expected", body.len())));
            }
            out.extend_from_slice(&body[..length.min(max)]);
        }
        Ok(length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];
    const VOL: Bind = Bind::Volume([3; VOLUME_ID]);

    fn text(n: usize) -> Vec<u8> {
        (0..n).map(|i| b"the quick brown fox "[i % 20]).collect()
    }

    fn noise(n: usize) -> Vec<u8> {
        let mut x = 0x1234_5678_9abc_def0u64;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn round_trip(c: &mut Codec, data: &[u8], pos: u64) -> (Vec<u8>, Header) {
        let mut stored = Vec::new();
        c.encode(data, pos, VOL, &mut stored).unwrap();
        let h = Header::parse(&stored).unwrap();
        let mut out = b"prefix".to_vec();
        assert_eq!(c.decode(&mut stored.clone(), pos, VOL, &mut out, usize::MAX), Ok(data.len()));
        assert_eq!(&out[..6], b"prefix");
        assert_eq!(&out[6..], data);
        // A short read gets the head of the record and its true length.
        let mut short = Vec::new();
        assert_eq!(c.decode(&mut stored.clone(), pos, VOL, &mut short, 10), Ok(data.len()));
        assert_eq!(short, &data[..10]);
        (stored, h)
    }

    #[test]
    fn compression_only_when_it_saves_space() {
        let mut c = Codec::new(Some(3), None).unwrap();
        let (stored, h) = round_trip(&mut c, &text(10000), 0);
        assert_eq!(h.flags, ZSTD | COMPRESSING);
        assert!(stored.len() < 1000, "{}", stored.len());
        let (stored, h) = round_trip(&mut c, &noise(10000), 1);
        assert_eq!(h.flags, COMPRESSING, "incompressible: stored raw, flagged");
        assert_eq!(stored.len(), 10000 + HEADER);
        assert_eq!(h.describe(), "stored raw");
    }

    #[test]
    fn sealed_records_are_bound_to_their_position_and_bytes() {
        let mut c = Codec::new(Some(3), Some(&KEY)).unwrap();
        let data = text(5000);
        let (stored, h) = round_trip(&mut c, &data, 42);
        assert_eq!(h.flags, ZSTD | SEALED | COMPRESSING);
        let (raw, _) = round_trip(&mut c, &noise(3000), 43);
        assert_eq!(raw.len(), 3000 + MAX_OVERHEAD);
        let mut out = Vec::new();
        // Moved to another position.
        assert_eq!(c.decode(&mut stored.clone(), 41, VOL, &mut out, usize::MAX), Err(Refusal::Authentication));
        // Any byte changed (with the CRC fixed up, as an attacker would).
        for at in [0, 5, 7, 20, HEADER + NONCE + 3, stored.len() - 1] {
            let mut bad = stored.clone();
            bad[at] ^= 0x40;
            let crc = crc32c::crc32c(&bad[HEADER..]);
            bad[10..14].copy_from_slice(&crc.to_le_bytes());
            assert!(c.decode(&mut bad, 42, VOL, &mut out, usize::MAX).is_err(), "byte {at}");
        }
        // Truncated.
        let mut cut = stored[..stored.len() - 1].to_vec();
        assert_eq!(c.decode(&mut cut, 42, VOL, &mut out, usize::MAX), Err(Refusal::Checksum));
        // Another key.
        let mut other = Codec::new(None, Some(&[8; 32])).unwrap();
        assert_eq!(other.decode(&mut stored.clone(), 42, VOL, &mut out, usize::MAX), Err(Refusal::Authentication));
        // No key.
        let mut none = Codec::new(Some(1), None).unwrap();
        assert_eq!(none.decode(&mut stored.clone(), 42, VOL, &mut out, usize::MAX), Err(Refusal::NoKey));
        assert!(out.is_empty(), "nothing of a refused record is returned");
        // Fresh nonces: the same data twice is stored differently.
        let mut again = Vec::new();
        c.encode(&data, 42, VOL, &mut again).unwrap();
        assert_ne!(again, stored);
    }

    #[test]
    fn sealed_records_are_bound_to_their_volume() {
        let mut c = Codec::new(None, Some(&KEY)).unwrap();
        // The first record of a volume makes its identity: its nonce.
        let mut first = Vec::new();
        let id = c.encode(&text(100), 0, Bind::First, &mut first).unwrap().expect("an identity");
        assert_eq!(identity_of(&first), Some(id));
        assert_eq!(&first[HEADER..HEADER + VOLUME_ID], &id);
        let mut out = Vec::new();
        assert_eq!(c.decode(&mut first.clone(), 0, Bind::First, &mut out, usize::MAX), Ok(100));
        // Another volume's record at the same position, under the same key.
        let mut other_first = Vec::new();
        let other = c.encode(&text(100), 0, Bind::First, &mut other_first).unwrap().expect("an identity");
        assert_ne!(id, other, "identities are random");
        let mut rec = Vec::new();
        c.encode(&text(300), 1, Bind::Volume(other), &mut rec).unwrap();
        out.clear();
        assert_eq!(c.decode(&mut rec.clone(), 1, Bind::Volume(id), &mut out, usize::MAX), Err(Refusal::Authentication));
        assert_eq!(c.decode(&mut rec.clone(), 1, Bind::Unknown, &mut out, usize::MAX), Err(Refusal::Authentication));
        assert_eq!(c.decode(&mut rec.clone(), 1, Bind::Volume(other), &mut out, usize::MAX), Ok(300));
        // Nothing to bind to: a sealed record is not written unbound.
        assert!(c.encode(&text(10), 5, Bind::Unknown, &mut rec).is_err());
        // A compressing codec without a key needs no identity.
        let mut z = Codec::new(Some(3), None).unwrap();
        assert_eq!(z.encode(&text(10), 5, Bind::Unknown, &mut rec), Ok(None));
    }

    #[test]
    fn version_1_records_still_read() {
        // A version 1 sealed record: associated data without the volume.
        let mut c = Codec::new(None, Some(&KEY)).unwrap();
        let data = text(200);
        let mut v1 = vec![0u8; HEADER];
        v1[..4].copy_from_slice(&MAGIC);
        v1[4] = VERSION_1;
        v1[5] = SEALED;
        v1[6..10].copy_from_slice(&(data.len() as u32).to_le_bytes());
        let nonce = [9u8; NONCE];
        v1.extend_from_slice(&nonce);
        v1.extend_from_slice(&data);
        let a = ad(&v1, 7, None);
        let cipher = XChaCha20Poly1305::new(&KEY.into());
        let (head, payload) = v1.split_at_mut(HEADER + NONCE);
        let n = XNonce::try_from(&head[HEADER..]).unwrap();
        let tag = cipher.encrypt_inout_detached(&n, &a, payload.into()).unwrap();
        v1.extend_from_slice(&tag);
        let crc = crc32c::crc32c(&v1[HEADER..]);
        v1[10..14].copy_from_slice(&crc.to_le_bytes());
        let mut out = Vec::new();
        assert_eq!(c.decode(&mut v1.clone(), 7, VOL, &mut out, usize::MAX), Ok(200));
        assert_eq!(out, data);
        assert_eq!(Header::parse(&v1).map(|h| h.version), Some(VERSION_1));
        assert_eq!(c.decode(&mut v1.clone(), 8, VOL, &mut out, usize::MAX), Err(Refusal::Authentication));
        // An unknown version is not a filtered record.
        let mut v9 = v1.clone();
        v9[4] = 9;
        assert_eq!(c.decode(&mut v9, 7, VOL, &mut out, usize::MAX), Err(Refusal::NotFiltered));
    }

    #[test]
    fn plain_data_is_not_a_filtered_record() {
        let mut c = Codec::new(Some(3), None).unwrap();
        let mut out = Vec::new();
        assert_eq!(c.decode(&mut text(100), 0, VOL, &mut out, 100), Err(Refusal::NotFiltered));
        assert_eq!(Header::parse(b"PMTf"), None);
    }
}
