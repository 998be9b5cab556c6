//! Media other than the local SIMH image, each behind [`crate::medium::Medium`]
//! with a [`crate::medium::Changer`] that hands out its volumes:
//!
//! - [`tape`]: a local st-compatible no-rewind node (`/dev/nst0`, or
//!   another pmt master such as `/dev/npmtm1`), driven by read(2), write(2)
//!   and the mtio ioctls, generic over [`stdev::StDevice`] so that tests can
//!   drive it against the real pmt core;
//! - [`rmt`]: an rmt client: a tape drive on another host (the same
//!   [`tape::TapeMedium`] over an rmt connection) or a SIMH image on another
//!   host ([`rmt::image::RmtImage`]);
//! - [`spec`]: the textual form of these media (`tape:`, `rmt:`, `rmt-tap:`)
//!   as the command line gives them.
//!
//! The CLI parses a member with [`spec::parse`] and opens it with
//! [`open_changer`], or builds the changer of one kind itself
//! ([`tape::TapeChanger::device`], [`rmt::RmtDriveChanger::remote`],
//! [`rmt::image::RmtImageChanger::new`]).

pub mod rmt;
pub mod spec;
pub mod stdev;
pub mod tape;
mod tape_nav;

use crate::medium::{Changer, Medium, MediumError, Object, Room, Stop, Written};

/// A changer of any of the kinds in this module, for callers that take a
/// spec string and do not care which kind it is.
#[derive(Debug)]
pub enum AnyChanger {
    /// A local tape device.
    Tape(tape::TapeChanger<stdev::FdOpener>),
    /// A tape drive on another host over rmt.
    RmtDrive(rmt::RmtDriveChanger),
    /// SIMH images on another host over rmt.
    RmtImage(rmt::image::RmtImageChanger),
}

/// A volume of an [`AnyChanger`].
#[derive(Debug)]
pub enum AnyMedium {
    /// A local tape device.
    Tape(tape::TapeMedium<stdev::FdDevice>),
    /// A tape drive on another host.
    RmtDrive(tape::TapeMedium<rmt::RmtDevice>),
    /// A SIMH image on another host.
    RmtImage(rmt::image::RmtImage),
}

macro_rules! each {
    ($self:expr, $m:ident => $e:expr) => {
        match $self {
            AnyMedium::Tape($m) => $e,
            AnyMedium::RmtDrive($m) => $e,
            AnyMedium::RmtImage($m) => $e,
        }
    };
}

impl Medium for AnyMedium {
    fn name(&self) -> String {
        each!(self, m => m.name())
    }
    fn readonly(&self) -> bool {
        each!(self, m => m.readonly())
    }
    fn position(&self) -> u64 {
        each!(self, m => m.position())
    }
    fn at_bot(&self) -> bool {
        each!(self, m => m.at_bot())
    }
    fn at_eod(&self) -> Option<bool> {
        each!(self, m => m.at_eod())
    }
    fn room(&self) -> Room {
        each!(self, m => m.room())
    }
    fn write_record(&mut self, data: &[u8]) -> Result<Written, MediumError> {
        each!(self, m => m.write_record(data))
    }
    fn write_mark(&mut self) -> Result<Written, MediumError> {
        each!(self, m => m.write_mark())
    }
    fn read(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<Object, MediumError> {
        each!(self, m => m.read(buf, max))
    }
    fn space_records(&mut self, n: i64) -> Result<(u64, Stop), MediumError> {
        each!(self, m => m.space_records(n))
    }
    fn space_marks(&mut self, n: i64) -> Result<(u64, Stop), MediumError> {
        each!(self, m => m.space_marks(n))
    }
    fn space_eod(&mut self) -> Result<(), MediumError> {
        each!(self, m => m.space_eod())
    }
    fn rewind(&mut self) -> Result<(), MediumError> {
        each!(self, m => m.rewind())
    }
    fn locate(&mut self, addr: u64) -> Result<Stop, MediumError> {
        each!(self, m => m.locate(addr))
    }
    fn erase(&mut self) -> Result<(), MediumError> {
        each!(self, m => m.erase())
    }
    fn sync(&mut self) -> Result<(), MediumError> {
        each!(self, m => m.sync())
    }
}

/// The changer for a parsed spec. Nothing is opened or started yet: the
/// first [`Changer::load_next`] does that.
pub fn open_changer(spec: spec::Spec) -> AnyChanger {
    match spec {
        spec::Spec::Tape(t) => AnyChanger::Tape(tape::TapeChanger::device(&t.path, t.opts)),
        spec::Spec::Rmt(r) => AnyChanger::RmtDrive(rmt::RmtDriveChanger::remote(r)),
        spec::Spec::RmtTap(r) => AnyChanger::RmtImage(rmt::image::RmtImageChanger::new(r)),
    }
}

impl Changer for AnyChanger {
    type Medium = AnyMedium;

    fn load_next(&mut self) -> Result<Option<AnyMedium>, MediumError> {
        Ok(match self {
            AnyChanger::Tape(c) => c.load_next()?.map(AnyMedium::Tape),
            AnyChanger::RmtDrive(c) => c.load_next()?.map(AnyMedium::RmtDrive),
            AnyChanger::RmtImage(c) => c.load_next()?.map(AnyMedium::RmtImage),
        })
    }

    fn unload(&mut self, medium: AnyMedium) -> Result<(), MediumError> {
        match (self, medium) {
            (AnyChanger::Tape(c), AnyMedium::Tape(m)) => c.unload(m),
            (AnyChanger::RmtDrive(c), AnyMedium::RmtDrive(m)) => c.unload(m),
            (AnyChanger::RmtImage(c), AnyMedium::RmtImage(m)) => c.unload(m),
            (_, m) => Err(MediumError::Unsupported {
                medium: m.name(),
                what: "unloading a volume through another kind of changer".into(),
            }),
        }
    }

    fn has_next(&self) -> bool {
        match self {
            AnyChanger::Tape(c) => c.has_next(),
            AnyChanger::RmtDrive(c) => c.has_next(),
            AnyChanger::RmtImage(c) => c.has_next(),
        }
    }

    fn volume(&self) -> Option<usize> {
        match self {
            AnyChanger::Tape(c) => c.volume(),
            AnyChanger::RmtDrive(c) => c.volume(),
            AnyChanger::RmtImage(c) => c.volume(),
        }
    }
}
