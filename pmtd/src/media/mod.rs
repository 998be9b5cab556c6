//! The media: the seam between the drive and what stores the tape, and the
//! media pmtd has built in.
//!
//! The drive ([`crate::drive`]) answers the slave protocol as a SCSI stream
//! device: sense keys, FMK/EOM/ILI, residues, drive status. Everything about
//! *where* the records go sits behind [`Medium`]: a SIMH image, a real tape
//! drive, a drive on another host over rmt, a mirror of several media, a
//! filter (compression, encryption) over another medium. A medium is one
//! mounted volume; [`Volumes`] hands out volumes one after the other (an
//! autoloader magazine, a drive whose own loader changes tapes, a mirror
//! that changes the volume of every member at once).
//!
//! Capacity and early warning belong to the medium: [`Medium::room`] says how
//! many bytes of medium are left before early warning and before the physical
//! end, counted in the medium's own stored bytes (a compressed record costs
//! what it takes once compressed; an encrypted one its ciphertext and nonce).
//! A medium that cannot know (a real drive before it reports early warning)
//! says so with `None`.
//!
//! Positions are logical object addresses: records and tape marks from the
//! beginning of the tape, as SCSI's READ POSITION reports them and as
//! MTSEEK/MTIOCPOS use them.
//!
//! The media, one module each:
//!
//! - [`image`]: SIMH `.tap` images: one medium (the object index, its
//!   navigation, capacity and early warning, recovery of a damaged tail)
//!   over a byte store, a local file (with its `.pmtidx` index) or a file on
//!   another host over rmt (`tap:`, `rmt-tap:`);
//! - [`magazine`]: the autoloader magazine of image volumes, local or remote;
//! - [`device`]: st-compatible tape devices: a local no-rewind node
//!   (`tape:`, such as `/dev/nst0` or another pmt master) or a drive on
//!   another host (`rmt:`), behind one device trait;
//! - [`rmt`]: the rmt client (one session with a remote `rmt` server), used
//!   by the remote image and the remote drive;
//! - [`mirror`]: a mirror of media, the first to reach early warning ending
//!   the volume for all;
//! - [`filter`]: compression and encryption per record, stored as [`record`]
//!   describes.
//!
//! A new medium goes in its own module here, implements [`Medium`] and
//! [`Volumes`], and gets a kind in [`crate::spec`].

pub mod device;
pub mod filter;
pub mod image;
pub mod magazine;
pub mod mirror;
pub mod record;
pub mod rmt;

use std::any::Any;
use std::fmt;
use std::io;

use thiserror::Error;

/// Where a motion stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The motion completed.
    Done,
    /// A tape mark was crossed (record spacing).
    Mark,
    /// The end of data was reached.
    Eod,
    /// The beginning of tape was reached.
    Bot,
}

/// The object a read found at the position. The position moves past it
/// (a record, a tape mark or a bad record), except at the end of data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Object {
    /// A data record of this true length; at most the asked number of its
    /// bytes was appended to the buffer.
    Record(usize),
    /// A tape mark.
    Mark,
    /// A record that cannot be read (a SIMH bad record, a read error on a
    /// drive, a filtered record whose check failed).
    Bad,
    /// The end of recorded data: nothing was read, the position is unchanged.
    Eod,
}

/// Bytes of medium left from the position on, in the medium's stored bytes.
/// `None`: not known, or unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Room {
    /// Before early warning (0 once past it).
    pub to_ew: Option<u64>,
    /// Before the physical end of medium.
    pub to_end: Option<u64>,
}

impl Room {
    /// Nothing known: no early warning ahead as far as the medium can tell.
    pub const UNKNOWN: Room = Room { to_ew: None, to_end: None };

    /// The smaller of two rooms field by field (`None` is larger than any
    /// number): what a mirror reports.
    pub fn min(self, other: Room) -> Room {
        fn m(a: Option<u64>, b: Option<u64>) -> Option<u64> {
            match (a, b) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, None) => x,
                (None, y) => y,
            }
        }
        Room { to_ew: m(self.to_ew, other.to_ew), to_end: m(self.to_end, other.to_end) }
    }
}

/// What a completed write or filemark left: whether the medium is now past
/// early warning (the drive reports EOM with the command).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// The object ended past early warning.
    pub early_warning: bool,
}

/// Why a medium operation failed.
#[derive(Debug, Error)]
pub enum MediumError {
    /// The physical end of medium: nothing of the object was written.
    #[error("{medium}: end of medium")]
    Overflow {
        /// The medium's name.
        medium: String,
    },
    /// The medium is write protected.
    #[error("{medium}: write protected")]
    Protected {
        /// The medium's name.
        medium: String,
    },
    /// The medium cannot do this (setmarks, a record size it refuses...).
    #[error("{medium}: {what}")]
    Unsupported {
        /// The medium's name.
        medium: String,
        /// What was refused.
        what: String,
    },
    /// The position is no longer known (a motion failed half way).
    #[error("{medium}: position lost: {why}")]
    PositionLost {
        /// The medium's name.
        medium: String,
        /// Why.
        why: String,
    },
    /// I/O failed (the image file, the tape device, the connection).
    ///
    /// The cause is part of the message and deliberately not an error
    /// `source`: a chain printer (anyhow's `{:#}`) would print it twice.
    #[error("{medium}: {cause}")]
    Io {
        /// The medium's name.
        medium: String,
        /// The cause.
        cause: io::Error,
    },
}

impl MediumError {
    /// An I/O error on `medium`.
    pub fn io(medium: impl fmt::Display, cause: io::Error) -> MediumError {
        MediumError::Io { medium: medium.to_string(), cause }
    }

    /// True for [`MediumError::Overflow`].
    pub fn is_overflow(&self) -> bool {
        matches!(self, MediumError::Overflow { .. })
    }
}

/// A mounted volume. Every motion is relative to the position; writing a
/// record or a tape mark anywhere but at the end of data cuts off what
/// follows, as on a real tape.
pub trait Medium: fmt::Debug + Send {
    /// A short name for logs and errors (an image path, a device, host:path).
    fn name(&self) -> String;

    /// True if the medium cannot be written.
    fn readonly(&self) -> bool;

    /// The logical object address of the position.
    fn position(&self) -> u64;

    /// True at the beginning of tape.
    fn at_bot(&self) -> bool {
        self.position() == 0
    }

    /// True at the end of recorded data, if the medium knows.
    fn at_eod(&self) -> Option<bool>;

    /// The room left from the position on.
    fn room(&self) -> Room;

    /// The most bytes that may be on their way to this medium, written
    /// behind by the driver and not yet answered, while [`Medium::room`]
    /// does not say how far early warning is: a medium that cannot tell (a
    /// real drive, before it reports early warning) may meet it with all of
    /// that still to come, and all of it, and what the program writes after
    /// early warning, must fit its early-warning zone. The drive reports the
    /// smaller of this and the room, so the driver never holds more. `None`:
    /// no bound (the medium knows its room, or is past early warning).
    fn in_flight_limit(&self) -> Option<u64> {
        None
    }

    /// Writes one record (1 byte to 16 MiB - 1).
    fn write_record(&mut self, data: &[u8]) -> Result<Written, MediumError>;

    /// Writes one tape mark. A medium keeps room to close a file at its end,
    /// as a drive does, so a tape mark right at the end still fits.
    fn write_mark(&mut self) -> Result<Written, MediumError>;

    /// Reads the object at the position, appending at most `max` bytes of a
    /// record to `buf`.
    fn read(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<Object, MediumError>;

    /// Spaces over `n` records, forward (n > 0) or backward (n < 0). A tape
    /// mark stops it, crossed as SCSI spacing does (forward: the position is
    /// after it; backward: before it); so do the end of data and the
    /// beginning of tape. Returns the records crossed and where it stopped.
    fn space_records(&mut self, n: i64) -> Result<(u64, Stop), MediumError>;

    /// Spaces over `n` tape marks, forward (after the last one crossed) or
    /// backward (before the last one crossed). Stops at the end of data or
    /// the beginning of tape. Returns the marks crossed and where it stopped.
    fn space_marks(&mut self, n: i64) -> Result<(u64, Stop), MediumError>;

    /// Goes to the end of recorded data.
    fn space_eod(&mut self) -> Result<(), MediumError>;

    /// Goes to the beginning of tape.
    fn rewind(&mut self) -> Result<(), MediumError>;

    /// Goes to logical object address `addr`; past the end of data it stops
    /// there and returns [`Stop::Eod`].
    fn locate(&mut self, addr: u64) -> Result<Stop, MediumError>;

    /// Erases from the position to the end of the medium.
    fn erase(&mut self) -> Result<(), MediumError>;

    /// Makes everything written so far durable.
    fn sync(&mut self) -> Result<(), MediumError>;

    /// Takes back the object written last, the position being just after
    /// it: the position moves back before it, so that the next write or
    /// tape mark replaces it (what a mirror does when another member refused
    /// the object at its end). A medium that can end its recorded data
    /// cheaply (an image file) cuts the object off as well. The default
    /// spaces back one record (or tape mark).
    fn undo_last(&mut self) -> Result<(), MediumError> {
        self.space_records(-1).map(|_| ())
    }

    /// Writes records one after the other, as [`Medium::write_record`]
    /// would, one result per record (a medium that can, an image file,
    /// writes them with one system call). The default writes them one by
    /// one.
    fn write_records(&mut self, records: &[&[u8]]) -> Vec<Result<Written, MediumError>> {
        records.iter().map(|d| self.write_record(d)).collect()
    }

    /// Reads ahead (the drive's READRUN): appends up to `count` whole data
    /// records from the position to `out`, each framed as a READRUN reply
    /// frames it ([`pmt::proto::run`]), at most `budget` bytes in all, each
    /// exactly `exact` bytes long when that is given. Stops before anything
    /// else: a tape mark, the end of data, a bad record, a record of another
    /// length or one that does not fit. The position moves past the records
    /// returned, and nowhere on an error. Returns how many it appended.
    /// The default reads none ahead: the drive then serves every record
    /// with a plain READ.
    fn read_run(&mut self, out: &mut Vec<u8>, count: usize, budget: usize, exact: Option<usize>) -> Result<usize, MediumError> {
        let _ = (out, count, budget, exact);
        Ok(0)
    }

    /// [`Medium::read_run`] straight into `buf` (the driver's data area),
    /// at most its length: the records and the bytes it put there. None if
    /// the medium cannot (the drive then reads the run with `read_run`
    /// and copies it).
    fn read_run_into(&mut self, buf: &mut [u8], count: usize, exact: Option<usize>) -> Option<Result<(usize, usize), MediumError>> {
        let _ = (buf, count, exact);
        None
    }
}

/// Hands out volumes: an autoloader magazine, a drive that changes its own
/// tapes, every member of a mirror at once.
pub trait Volumes: fmt::Debug + Send {
    /// The medium type of its volumes.
    type Medium: Medium;

    /// Loads the next volume. `Ok(None)`: the magazine is exhausted (the
    /// drive is then empty).
    fn load_next(&mut self) -> Result<Option<Self::Medium>, MediumError>;

    /// Ejects a volume (after making it durable).
    fn unload(&mut self, medium: Self::Medium) -> Result<(), MediumError>;

    /// True if [`Volumes::load_next`] would give another volume.
    fn has_next(&self) -> bool;

    /// The number (1-based) of the volume loaded last, if any.
    fn volume(&self) -> Option<usize>;

    /// A load command with the drive empty (MTLOAD after MTOFFL). The
    /// default loads the next volume, as an autoloader does; a library
    /// drive pulls the cartridge it ejected back in (it waits in the drive
    /// until the library's picker takes it).
    fn load_again(&mut self) -> Result<Option<Self::Medium>, MediumError> {
        self.load_next()
    }
}

/// Implements the named [`Medium`] methods of a medium that wraps another
/// one in its field `$inner`, each by calling the same method there: what a
/// medium that changes only some operations (a filter, a test's failing
/// medium) writes for the others.
///
/// ```ignore
/// impl<M: Medium> Medium for Counted<M> {
///     pmtd::forward_medium!(inner: name, readonly, position, at_eod, room, rewind);
///     // ... the methods it changes
/// }
/// ```
#[macro_export]
macro_rules! forward_medium {
    ($inner:ident: $($method:ident),+ $(,)?) => {
        $( $crate::forward_medium!(@one $inner $method); )+
    };
    (@one $i:ident name) => {
        fn name(&self) -> String { self.$i.name() }
    };
    (@one $i:ident readonly) => {
        fn readonly(&self) -> bool { self.$i.readonly() }
    };
    (@one $i:ident position) => {
        fn position(&self) -> u64 { self.$i.position() }
    };
    (@one $i:ident at_bot) => {
        fn at_bot(&self) -> bool { self.$i.at_bot() }
    };
    (@one $i:ident at_eod) => {
        fn at_eod(&self) -> Option<bool> { self.$i.at_eod() }
    };
    (@one $i:ident room) => {
        fn room(&self) -> $crate::media::Room { self.$i.room() }
    };
    (@one $i:ident in_flight_limit) => {
        fn in_flight_limit(&self) -> Option<u64> { self.$i.in_flight_limit() }
    };
    (@one $i:ident write_mark) => {
        fn write_mark(&mut self) -> Result<$crate::media::Written, $crate::media::MediumError> { self.$i.write_mark() }
    };
    (@one $i:ident space_records) => {
        fn space_records(&mut self, n: i64) -> Result<(u64, $crate::media::Stop), $crate::media::MediumError> {
            self.$i.space_records(n)
        }
    };
    (@one $i:ident space_marks) => {
        fn space_marks(&mut self, n: i64) -> Result<(u64, $crate::media::Stop), $crate::media::MediumError> {
            self.$i.space_marks(n)
        }
    };
    (@one $i:ident space_eod) => {
        fn space_eod(&mut self) -> Result<(), $crate::media::MediumError> { self.$i.space_eod() }
    };
    (@one $i:ident rewind) => {
        fn rewind(&mut self) -> Result<(), $crate::media::MediumError> { self.$i.rewind() }
    };
    (@one $i:ident locate) => {
        fn locate(&mut self, addr: u64) -> Result<$crate::media::Stop, $crate::media::MediumError> { self.$i.locate(addr) }
    };
    (@one $i:ident erase) => {
        fn erase(&mut self) -> Result<(), $crate::media::MediumError> { self.$i.erase() }
    };
    (@one $i:ident sync) => {
        fn sync(&mut self) -> Result<(), $crate::media::MediumError> { self.$i.sync() }
    };
    (@one $i:ident undo_last) => {
        fn undo_last(&mut self) -> Result<(), $crate::media::MediumError> { self.$i.undo_last() }
    };
}

/// A medium that can be turned back into its concrete type after being
/// boxed: what lets a boxed volume sequence ([`boxed`]) hand a volume back to the
/// volume sequence that made it. Every `'static` medium is one.
pub trait AnyMedium: Medium + Any {
    /// The medium as `Any`, for a downcast to its concrete type.
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

impl<T: Medium + 'static> AnyMedium for T {
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

/// A medium of any kind.
pub type DynMedium = Box<dyn AnyMedium>;

/// A volume sequence of any kind, handing out media of any kind: what a medium
/// spec builds (see [`crate::spec`]).
pub type DynVolumes = Box<dyn Volumes<Medium = DynMedium>>;

/// A volume sequence whose volumes are boxed ([`DynMedium`]).
#[derive(Debug)]
pub struct Boxed<C>(pub C);

impl<C> Volumes for Boxed<C>
where
    C: Volumes + 'static,
    C::Medium: 'static,
{
    type Medium = DynMedium;

    fn load_next(&mut self) -> Result<Option<DynMedium>, MediumError> {
        Ok(self.0.load_next()?.map(|m| Box::new(m) as DynMedium))
    }

    fn unload(&mut self, medium: DynMedium) -> Result<(), MediumError> {
        let name = medium.name();
        match medium.into_any().downcast::<C::Medium>() {
            Ok(m) => self.0.unload(*m),
            Err(_) => Err(MediumError::Unsupported { medium: name, what: "not a volume of this volumes".into() }),
        }
    }

    fn has_next(&self) -> bool {
        self.0.has_next()
    }

    fn volume(&self) -> Option<usize> {
        self.0.volume()
    }

    fn load_again(&mut self) -> Result<Option<DynMedium>, MediumError> {
        Ok(self.0.load_again()?.map(|m| Box::new(m) as DynMedium))
    }
}

/// Boxes a volume sequence and its volumes.
pub fn boxed<C>(volumes: C) -> DynVolumes
where
    C: Volumes + 'static,
    C::Medium: 'static,
{
    Box::new(Boxed(volumes))
}

impl<C: Volumes + ?Sized> Volumes for Box<C> {
    type Medium = C::Medium;

    fn load_next(&mut self) -> Result<Option<C::Medium>, MediumError> {
        (**self).load_next()
    }
    fn unload(&mut self, medium: C::Medium) -> Result<(), MediumError> {
        (**self).unload(medium)
    }
    fn has_next(&self) -> bool {
        (**self).has_next()
    }
    fn volume(&self) -> Option<usize> {
        (**self).volume()
    }
    fn load_again(&mut self) -> Result<Option<C::Medium>, MediumError> {
        (**self).load_again()
    }
}

impl<M: Medium + ?Sized> Medium for Box<M> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn readonly(&self) -> bool {
        (**self).readonly()
    }
    fn position(&self) -> u64 {
        (**self).position()
    }
    fn at_bot(&self) -> bool {
        (**self).at_bot()
    }
    fn at_eod(&self) -> Option<bool> {
        (**self).at_eod()
    }
    fn room(&self) -> Room {
        (**self).room()
    }
    fn in_flight_limit(&self) -> Option<u64> {
        (**self).in_flight_limit()
    }
    fn write_record(&mut self, data: &[u8]) -> Result<Written, MediumError> {
        (**self).write_record(data)
    }
    fn write_mark(&mut self) -> Result<Written, MediumError> {
        (**self).write_mark()
    }
    fn read(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<Object, MediumError> {
        (**self).read(buf, max)
    }
    fn space_records(&mut self, n: i64) -> Result<(u64, Stop), MediumError> {
        (**self).space_records(n)
    }
    fn space_marks(&mut self, n: i64) -> Result<(u64, Stop), MediumError> {
        (**self).space_marks(n)
    }
    fn space_eod(&mut self) -> Result<(), MediumError> {
        (**self).space_eod()
    }
    fn rewind(&mut self) -> Result<(), MediumError> {
        (**self).rewind()
    }
    fn locate(&mut self, addr: u64) -> Result<Stop, MediumError> {
        (**self).locate(addr)
    }
    fn erase(&mut self) -> Result<(), MediumError> {
        (**self).erase()
    }
    fn sync(&mut self) -> Result<(), MediumError> {
        (**self).sync()
    }
    fn undo_last(&mut self) -> Result<(), MediumError> {
        (**self).undo_last()
    }
    fn read_run(&mut self, out: &mut Vec<u8>, count: usize, budget: usize, exact: Option<usize>) -> Result<usize, MediumError> {
        (**self).read_run(out, count, budget, exact)
    }
    fn read_run_into(&mut self, buf: &mut [u8], count: usize, exact: Option<usize>) -> Option<Result<(usize, usize), MediumError>> {
        (**self).read_run_into(buf, count, exact)
    }
    fn write_records(&mut self, records: &[&[u8]]) -> Vec<Result<Written, MediumError>> {
        (**self).write_records(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_min_treats_unknown_as_unlimited() {
        let a = Room { to_ew: Some(10), to_end: None };
        let b = Room { to_ew: None, to_end: Some(50) };
        assert_eq!(a.min(b), Room { to_ew: Some(10), to_end: Some(50) });
        assert_eq!(Room::UNKNOWN.min(Room::UNKNOWN), Room::UNKNOWN);
        assert_eq!(a.min(Room { to_ew: Some(3), to_end: Some(70) }), Room { to_ew: Some(3), to_end: Some(70) });
    }
}
