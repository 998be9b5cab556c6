//! Record filters over any medium: zstd compression and authenticated
//! encryption (XChaCha20-Poly1305), per record. The stored form is in
//! [`crate::media::record`]. The filter sits above the medium, so room and
//! early warning count stored bytes; tape marks pass unchanged.
//!
//! A record that fails its check reads as [`Object::Bad`] (the drive
//! answers MEDIUM ERROR, the master gets EIO), never as wrong data. A
//! volume whose first record does not decode with this filter (another
//! key, no key for an encrypted volume, a volume written without filters)
//! is refused when it is loaded.

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use thiserror::Error;
use tracing::warn;

use pmt::proto::run;

use crate::media::record::{self, Bind, Codec, Header, Refusal, VolumeId};
use crate::media::{Medium, MediumError, Object, Volumes, Written};

/// A 256-bit key.
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; 32]);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(..)")
    }
}

/// Why a key file was refused.
#[derive(Debug, Error)]
pub enum KeyError {
    /// The file cannot be read.
    #[error("{}: {cause}", path.display())]
    Io {
        /// The key file.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// The file does not hold a key.
    #[error("{}: not a key: expected 32 raw bytes or 64 hex digits", path.display())]
    Format {
        /// The key file.
        path: PathBuf,
    },
}

impl Key {
    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Key {
        Key(bytes)
    }

    /// Parses a key file's contents: 32 raw bytes, or 64 hex digits with an
    /// optional final newline.
    pub fn parse(contents: &[u8]) -> Option<Key> {
        if let Ok(raw) = <[u8; 32]>::try_from(contents) {
            return Some(Key(raw));
        }
        let hex = contents.strip_suffix(b"\n").unwrap_or(contents);
        let hex = hex.strip_suffix(b"\r").unwrap_or(hex);
        if hex.len() != 64 {
            return None;
        }
        let mut k = [0u8; 32];
        for (i, pair) in hex.chunks_exact(2).enumerate() {
            let s = std::str::from_utf8(pair).ok()?;
            k[i] = u8::from_str_radix(s, 16).ok()?;
        }
        Some(Key(k))
    }

    /// Reads a key file; warns if it is readable by group or others.
    pub fn from_file(path: &Path) -> Result<Key, KeyError> {
        let io = |cause| KeyError::Io { path: path.to_path_buf(), cause };
        let meta = std::fs::metadata(path).map_err(io)?;
        if key_file_too_open(meta.permissions().mode()) {
            warn!(key_file = %path.display(), "the key file is readable by group or others (chmod 600 it)");
        }
        let contents = std::fs::read(path).map_err(io)?;
        Key::parse(&contents).ok_or_else(|| KeyError::Format { path: path.to_path_buf() })
    }

    fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// True if a key file with this mode can be read by group or others.
pub fn key_file_too_open(mode: u32) -> bool {
    mode & 0o044 != 0
}

/// What a filter does to each record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Compress with zstd at this level (0: zstd's default).
    pub compress: Option<i32>,
    /// Encrypt with this key.
    pub key: Option<Key>,
}

impl Filter {
    /// True if the filter does nothing.
    pub fn is_empty(&self) -> bool {
        self.compress.is_none() && self.key.is_none()
    }

    /// The most the filter adds to a record.
    pub fn overhead(&self) -> usize {
        match (&self.compress, &self.key) {
            (None, None) => 0,
            (_, None) => record::HEADER,
            (_, Some(_)) => record::MAX_OVERHEAD,
        }
    }

    /// "zstd level 3, XChaCha20-Poly1305".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(l) = self.compress {
            parts.push(format!("zstd level {l}"));
        }
        if self.key.is_some() {
            parts.push("XChaCha20-Poly1305".to_string());
        }
        if parts.is_empty() {
            parts.push("none".to_string());
        }
        parts.join(", ")
    }

    fn codec(&self) -> std::io::Result<Codec> {
        Codec::new(self.compress, self.key.as_ref().map(Key::bytes))
    }
}

/// A medium whose records go through a [`Filter`].
pub struct Filtered<M: Medium> {
    inner: M,
    codec: Codec,
    stored: Vec<u8>,
    /// A run of stored records read ahead from the medium below.
    run: Vec<u8>,
    max_data: usize,
    /// The position of the volume's first record, if it has one.
    first: Option<u64>,
    /// The volume's identity (from its first record, if sealed).
    volume: Option<VolumeId>,
}

impl<M: Medium> fmt::Debug for Filtered<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Filtered").field("inner", &self.inner).field("codec", &self.codec).finish()
    }
}

/// Objects read at load while looking for the first record to check.
const CHECK_OBJECTS: usize = 16;

/// The largest stored record: what the filter asks of the medium below.
const STORED_MAX: usize = pmt::proto::MAX_RECORD as usize;

impl<M: Medium> Filtered<M> {
    /// Puts `filter` over `inner`, a volume just loaded (at its beginning).
    /// Checks that its first record decodes with this filter; if it does
    /// not, the volume is refused and given back with the error.
    pub fn open(inner: M, filter: &Filter) -> Result<Filtered<M>, (M, MediumError)> {
        let codec = match filter.codec() {
            Ok(c) => c,
            Err(e) => {
                let name = inner.name();
                return Err((inner, MediumError::io(name, e)));
            }
        };
        let max_data = pmt::proto::MAX_RECORD as usize - codec.overhead();
        let mut f = Filtered { inner, codec, stored: Vec::new(), run: Vec::new(), max_data, first: None, volume: None };
        match f.check_first() {
            Ok(()) => Ok(f),
            Err(e) => Err((f.inner, e)),
        }
    }

    fn check_first(&mut self) -> Result<(), MediumError> {
        let name = self.inner.name();
        let refuse = |what: String| MediumError::Unsupported { medium: name.clone(), what };
        self.inner.rewind()?;
        let mut result = Ok(());
        for _ in 0..CHECK_OBJECTS {
            let at = self.inner.position();
            self.stored.clear();
            match self.inner.read(&mut self.stored, STORED_MAX)? {
                Object::Eod => break,
                Object::Mark | Object::Bad => continue,
                Object::Record(_) => {
                    let mut scratch = Vec::new();
                    self.first = Some(at);
                    self.volume = record::identity_of(&self.stored);
                    result = match self.codec.decode(&mut self.stored, at, Bind::First, &mut scratch, 0) {
                        Ok(_) => Ok(()),
                        Err(Refusal::Authentication) => {
                            Err(refuse("wrong key: the volume's first record does not authenticate".into()))
                        }
                        Err(Refusal::NoKey) => Err(refuse("the volume is encrypted: give its key file".into())),
                        Err(Refusal::NotFiltered) => Err(refuse(
                            "the volume was not written through a filter (no compression or key on its first record)".into(),
                        )),
                        Err(r) => Err(refuse(format!("the volume's first record cannot be decoded: {r}"))),
                    };
                    break;
                }
            }
        }
        self.inner.rewind()?;
        result
    }

    /// The volume's identity: the first bytes of the nonce of its first
    /// record, if that record is sealed.
    pub fn volume_id(&self) -> Option<VolumeId> {
        self.volume
    }

    /// How a record at `at` is bound to the volume.
    fn bind(&self, at: u64) -> Bind {
        bind_at(self.first, self.volume, at)
    }

    /// How a record written at `at` is bound: the first record of the
    /// volume (nothing recorded before it, what follows is cut off) makes a
    /// new identity.
    fn bind_for_write(&self, at: u64) -> Bind {
        match self.first {
            Some(f) if at > f => self.volume.map_or(Bind::Unknown, Bind::Volume),
            _ => Bind::First,
        }
    }

    /// What was recorded from the position on is gone (a mark, an erase, an
    /// undo): if that took the first record, the identity goes with it.
    fn cut_at_position(&mut self) {
        if self.first.is_some_and(|f| self.inner.position() <= f) {
            self.first = None;
            self.volume = None;
        }
    }

    /// The medium under the filter.
    pub fn inner(&self) -> &M {
        &self.inner
    }

    /// The medium under the filter, by value.
    pub fn into_inner(self) -> M {
        self.inner
    }
}

impl<M: Medium> Medium for Filtered<M> {
    crate::forward_medium!(
        inner: name, readonly, position, at_bot, at_eod, room, in_flight_limit, space_records, space_marks, space_eod, rewind,
        locate, sync,
    );

    fn write_mark(&mut self) -> Result<Written, MediumError> {
        let at = self.inner.position();
        let w = self.inner.write_mark()?;
        if self.first.is_some_and(|f| at <= f) {
            self.first = None;
            self.volume = None;
        }
        Ok(w)
    }

    fn erase(&mut self) -> Result<(), MediumError> {
        self.inner.erase()?;
        self.cut_at_position();
        Ok(())
    }

    fn undo_last(&mut self) -> Result<(), MediumError> {
        self.inner.undo_last()?;
        self.cut_at_position();
        Ok(())
    }

    fn write_record(&mut self, data: &[u8]) -> Result<Written, MediumError> {
        if data.len() > self.max_data {
            return Err(MediumError::Unsupported {
                medium: self.name(),
                what: format!("a record of {} bytes through a filter (at most {})", data.len(), self.max_data),
            });
        }
        let at = self.inner.position();
        let bind = self.bind_for_write(at);
        let id = match self.codec.encode(data, at, bind, &mut self.stored) {
            Ok(id) => id,
            Err(why) => return Err(MediumError::io(self.name(), std::io::Error::other(why))),
        };
        let w = self.inner.write_record(&self.stored)?;
        if bind == Bind::First {
            self.first = Some(at);
            self.volume = id;
        }
        Ok(w)
    }

    fn read(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<Object, MediumError> {
        let at = self.inner.position();
        self.stored.clear();
        match self.inner.read(&mut self.stored, STORED_MAX)? {
            Object::Record(n) if n != self.stored.len() => {
                warn!(medium = %self.inner.name(), object = at, "bad record: {n} bytes, larger than a stored record can be");
                Ok(Object::Bad)
            }
            Object::Record(_) => {
                let mark = buf.len();
                let bind = self.bind(at);
                match self.codec.decode(&mut self.stored, at, bind, buf, max) {
                    Ok(len) => Ok(Object::Record(len)),
                    Err(why) => {
                        buf.truncate(mark);
                        warn!(medium = %self.inner.name(), object = at, "bad record: {why}");
                        Ok(Object::Bad)
                    }
                }
            }
            other => Ok(other),
        }
    }

    /// A run of stored records from the medium below, each undone into
    /// `out`; the run stops before a record that does not undo (it is then
    /// read, and reported, by a plain read) or that does not fit, and the
    /// medium below is spaced back over what was not used.
    fn read_run(&mut self, out: &mut Vec<u8>, count: usize, budget: usize, exact: Option<usize>) -> Result<usize, MediumError> {
        let start = self.inner.position();
        self.run.clear();
        let n = self.inner.read_run(&mut self.run, count, budget, None)?;
        let (mut k, mut off, mut used) = (0usize, 0usize, 0usize);
        while k < n {
            let Some((len, frame)) = self.run.get(off..).and_then(run::first).map(|(d, f)| (d.len(), f)) else {
                break;
            };
            let Some(stored) = self.run.get_mut(off + 4..off + 4 + len) else {
                break;
            };
            let Some(h) = Header::parse(stored) else {
                break;
            };
            let olen = h.length as usize;
            if exact.is_some_and(|e| e != olen) || used + run::frame_len(olen) > budget {
                break;
            }
            let Ok(f) = run::begin(out, olen) else {
                break;
            };
            let bind = bind_at(self.first, self.volume, start + k as u64);
            match self.codec.decode(stored, start + k as u64, bind, out, olen) {
                Ok(l) if l == olen && out.len() == f.data_at() + olen => run::end(out, f),
                _ => {
                    out.truncate(f.start());
                    break;
                }
            }
            used += run::frame_len(olen);
            off += frame;
            k += 1;
        }
        if k < n {
            self.inner.space_records(-((n - k) as i64))?;
        }
        Ok(k)
    }
}

/// How a record at `at` is bound to a volume whose first record is at
/// `first`, with identity `volume`.
fn bind_at(first: Option<u64>, volume: Option<VolumeId>, at: u64) -> Bind {
    match (first, volume) {
        (Some(f), _) if at == f => Bind::First,
        (_, Some(id)) => Bind::Volume(id),
        _ => Bind::Unknown,
    }
}

/// A volume sequence whose volumes go through a [`Filter`]; a volume refused by
/// the filter (see [`Filtered::open`]) is unloaded again and the load fails.
#[derive(Debug)]
pub struct FilterVolumes<C: Volumes> {
    inner: C,
    filter: Filter,
}

impl<C: Volumes> FilterVolumes<C> {
    /// `inner`'s volumes through `filter`.
    pub fn new(inner: C, filter: Filter) -> FilterVolumes<C> {
        FilterVolumes { inner, filter }
    }
}

impl<C: Volumes> Volumes for FilterVolumes<C> {
    type Medium = Filtered<C::Medium>;

    fn load_next(&mut self) -> Result<Option<Filtered<C::Medium>>, MediumError> {
        let Some(m) = self.inner.load_next()? else {
            return Ok(None);
        };
        match Filtered::open(m, &self.filter) {
            Ok(f) => Ok(Some(f)),
            Err((m, e)) => {
                if let Err(u) = self.inner.unload(m) {
                    warn!("{u}");
                }
                Err(e)
            }
        }
    }

    fn unload(&mut self, medium: Filtered<C::Medium>) -> Result<(), MediumError> {
        self.inner.unload(medium.into_inner())
    }

    fn has_next(&self) -> bool {
        self.inner.has_next()
    }

    fn volume(&self) -> Option<usize> {
        self.inner.volume()
    }
}

/// The header of a stored record, if it is a filtered one (what `pmtd
/// inspect` shows without the key).
pub fn header_of(stored: &[u8]) -> Option<Header> {
    Header::parse(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let k = Key::parse(format!("{hex}\n").as_bytes()).unwrap();
        assert_eq!(k.bytes()[1], 0x11);
        assert_eq!(Key::parse(hex.as_bytes()), Some(k));
        assert!(Key::parse(&[9u8; 32]).is_some());
        assert!(Key::parse(&[9u8; 31]).is_none());
        assert!(Key::parse(format!("{hex}0").as_bytes()).is_none());
        assert!(Key::parse(hex.replace('0', "g").as_bytes()).is_none());
        assert!(key_file_too_open(0o644));
        assert!(key_file_too_open(0o640));
        assert!(!key_file_too_open(0o600));
        assert!(!key_file_too_open(0o400));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        std::fs::write(&p, "short\n").unwrap();
        assert_eq!(Key::from_file(&p).unwrap_err().to_string(), format!("{}: not a key: expected 32 raw bytes or 64 hex digits", p.display()));
        let e = Key::from_file(&dir.path().join("none")).unwrap_err();
        assert!(e.to_string().ends_with("none: No such file or directory (os error 2)"), "{e}");
        assert_eq!(format!("{:?}", Key::from_bytes([1; 32])), "Key(..)", "a key is never printed");
    }

    #[test]
    fn overheads_fit_the_protocol_charge() {
        let k = Some(Key::from_bytes([0; 32]));
        assert_eq!(Filter { compress: Some(3), key: None }.overhead(), 14);
        assert_eq!(Filter { compress: None, key: k.clone() }.overhead(), 54);
        // SIMH framing (8) and pad (1) on top stay within RECORD_COST.
        assert!(Filter { compress: Some(3), key: k }.overhead() + 9 <= pmt::proto::RECORD_COST as usize);
        const { assert!(record::MAX_OVERHEAD < 56) };
    }
}
