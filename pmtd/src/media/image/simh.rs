//! The SIMH .tap format: a sequence of objects from the beginning of tape.
//! A record is a 32-bit little-endian length n, n data bytes padded to an
//! even count, and n again; a tape mark is a zero word. Bit 31 of a record
//! length flags a bad record; 0xFFFFFFFF marks the end of medium and
//! 0xFFFFFFFE an erase gap.
//!
//! A record is framed exactly as a READRUN reply frames it
//! ([`pmt::proto::run`]), in little endian rather than host order.

use pmt::proto::run;

/// A tape mark word.
pub const MARK: u32 = 0;
/// The end-of-medium marker word.
pub const EOM_MARKER: u32 = 0xffff_ffff;
/// An erase gap word.
pub const GAP: u32 = 0xffff_fffe;
/// A half gap (two bytes of gap).
pub const HALF_GAP: u32 = 0xfffe_ffff;
/// Error flag of a record length.
pub const ERROR_FLAG: u32 = 0x8000_0000;
/// Length bits of a record length.
pub const LEN_MASK: u32 = 0x00ff_ffff;
/// Bits 24-30 must be zero in a record length.
pub const RESERVED_BITS: u32 = 0x7f00_0000;

/// Image bytes a record of `len` bytes takes: two length words and the
/// data padded to an even count.
pub fn record_size(len: usize) -> u64 {
    run::frame_len(len) as u64
}

/// One object on the tape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Obj {
    /// Byte offset of the object in the image.
    pub off: u64,
    /// Record length; 0 for a tape mark.
    pub len: u32,
    /// The record carries the SIMH error flag.
    pub bad: bool,
}

impl Obj {
    /// True for a tape mark.
    pub fn is_mark(&self) -> bool {
        self.len == 0
    }

    /// Bytes the object takes in the image.
    pub fn size(&self) -> u64 {
        if self.is_mark() {
            4
        } else {
            record_size(self.len as usize)
        }
    }

    /// The offset just past the object.
    pub fn end(&self) -> u64 {
        self.off + self.size()
    }

    /// The length word that starts (and, for a record, ends) the object.
    pub fn word(&self) -> u32 {
        self.len | if self.bad { ERROR_FLAG } else { 0 }
    }
}

/// The little-endian length words at `at` and `at + frame - 4` of `b` in
/// host order, as a run frames them (a no-op on a little-endian host).
pub fn words_to_host(b: &mut [u8], at: usize, frame: usize) {
    for w in [at, at + frame.saturating_sub(4)] {
        if let Some(word) = b.get_mut(w..w + 4) {
            let v = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
            word.copy_from_slice(&v.to_ne_bytes());
        }
    }
}
