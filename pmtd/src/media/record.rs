//! The stored form of a filtered record (see docs/DESIGN.md, "Filters").
//!
//! ```text
//! offset size
//!  0      4   magic "PMTf"
//!  4      1   version (1)
//!  5      1   flags: 1 ZSTD (the payload is a zstd frame), 2 SEALED
//!             (XChaCha20-Poly1305), 4 COMPRESSING (the writer compresses:
//!             without ZSTD the record did not shrink and is stored raw)
//!  6      4   original length (little endian)
//! 10      4   CRC32C of everything after the header
//! 14          payload: the data, raw or a zstd frame; when SEALED, a
//!             24-byte random nonce, the ciphertext, the 16-byte tag
//! ```
//!
//! A sealed record's associated data is the first 10 header bytes followed
//! by the record's logical position on the tape (64-bit little endian), so
//! a record altered, truncated, swapped with another or moved elsewhere on
//! the tape fails its check. The overhead is at most
//! [`MAX_OVERHEAD`] (54) bytes per record: with SIMH's framing and pad it
//! stays within the 64 bytes per record the slave protocol charges.

use chacha20poly1305::aead::{AeadInOut, Generate, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};

/// First bytes of a filtered record.
pub const MAGIC: [u8; 4] = *b"PMTf";
/// Version of the format.
pub const VERSION: u8 = 1;
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
        if h.get(..4)? != MAGIC || h.get(4) != Some(&VERSION) {
            return None;
        }
        let flags = *h.get(5)?;
        if flags & !KNOWN != 0 {
            return None;
        }
        let length = u32::from_le_bytes(h.get(6..10)?.try_into().ok()?);
        let crc = u32::from_le_bytes(h.get(10..14)?.try_into().ok()?);
        Some(Header { flags, length, crc })
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

fn ad(header: &[u8], position: u64) -> [u8; AD_HEADER + 8] {
    let mut a = [0u8; AD_HEADER + 8];
    a[..AD_HEADER].copy_from_slice(&header[..AD_HEADER]);
    a[AD_HEADER..].copy_from_slice(&position.to_le_bytes());
    a
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

    /// Encodes `data`, a record to be stored at logical `position`, into
    /// `out` (replacing its contents).
    pub fn encode(&mut self, data: &[u8], position: u64, out: &mut Vec<u8>) -> Result<(), String> {
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
        if let Some(cipher) = &self.cipher {
            let a = ad(out, position);
            let (head, payload) = out.split_at_mut(HEADER + NONCE);
            let nonce = XNonce::try_from(&head[HEADER..]).map_err(|_| "nonce".to_string())?;
            let tag = cipher
                .encrypt_inout_detached(&nonce, &a, payload.into())
                .map_err(|_| "the record is too large to encrypt".to_string())?;
            out.extend_from_slice(&tag);
        }
        let crc = crc32c::crc32c(&out[HEADER..]);
        out[10..14].copy_from_slice(&crc.to_le_bytes());
        Ok(())
    }

    /// Decodes `stored`, the record read at logical `position`, appending
    /// at most `max` bytes of the original to `out`. Returns the original
    /// length. `stored` is used as scratch space (decrypted in place).
    pub fn decode(&mut self, stored: &mut [u8], position: u64, out: &mut Vec<u8>, max: usize) -> Result<usize, Refusal> {
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
            let head = stored.get(..HEADER).ok_or(Refusal::NotFiltered)?;
            let a = ad(head, position);
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
        c.encode(data, pos, &mut stored).unwrap();
        let h = Header::parse(&stored).unwrap();
        let mut out = b"prefix".to_vec();
        assert_eq!(c.decode(&mut stored.clone(), pos, &mut out, usize::MAX), Ok(data.len()));
        assert_eq!(&out[..6], b"prefix");
        assert_eq!(&out[6..], data);
        // A short read gets the head of the record and its true length.
        let mut short = Vec::new();
        assert_eq!(c.decode(&mut stored.clone(), pos, &mut short, 10), Ok(data.len()));
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
        assert_eq!(c.decode(&mut stored.clone(), 41, &mut out, usize::MAX), Err(Refusal::Authentication));
        // Any byte changed (with the CRC fixed up, as an attacker would).
        for at in [0, 5, 7, 20, HEADER + NONCE + 3, stored.len() - 1] {
            let mut bad = stored.clone();
            bad[at] ^= 0x40;
            let crc = crc32c::crc32c(&bad[HEADER..]);
            bad[10..14].copy_from_slice(&crc.to_le_bytes());
            assert!(c.decode(&mut bad, 42, &mut out, usize::MAX).is_err(), "byte {at}");
        }
        // Truncated.
        let mut cut = stored[..stored.len() - 1].to_vec();
        assert_eq!(c.decode(&mut cut, 42, &mut out, usize::MAX), Err(Refusal::Checksum));
        // Another key.
        let mut other = Codec::new(None, Some(&[8; 32])).unwrap();
        assert_eq!(other.decode(&mut stored.clone(), 42, &mut out, usize::MAX), Err(Refusal::Authentication));
        // No key.
        let mut none = Codec::new(Some(1), None).unwrap();
        assert_eq!(none.decode(&mut stored.clone(), 42, &mut out, usize::MAX), Err(Refusal::NoKey));
        assert!(out.is_empty(), "nothing of a refused record is returned");
        // Fresh nonces: the same data twice is stored differently.
        let mut again = Vec::new();
        c.encode(&data, 42, &mut again).unwrap();
        assert_ne!(again, stored);
    }

    #[test]
    fn plain_data_is_not_a_filtered_record() {
        let mut c = Codec::new(Some(3), None).unwrap();
        let mut out = Vec::new();
        assert_eq!(c.decode(&mut text(100), 0, &mut out, 100), Err(Refusal::NotFiltered));
        assert_eq!(Header::parse(b"PMTf"), None);
    }
}
