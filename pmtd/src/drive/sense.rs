//! What a command comes to before it becomes a reply: a SCSI sense key
//! with its flags, additional sense and residue.

use pmt::proto::{asc, SenseFlags, SenseKey};
use tracing::warn;

use crate::media::MediumError;

/// The outcome of a command before it becomes a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sense {
    /// Sense key.
    pub key: SenseKey,
    /// FMK / EOM / ILI.
    pub flags: SenseFlags,
    /// Additional sense code.
    pub asc: u8,
    /// Qualifier.
    pub ascq: u8,
    /// Requested minus actual.
    pub resid: i64,
}

impl Sense {
    /// Success.
    pub const GOOD: Sense = Sense { key: SenseKey::NoSense, flags: SenseFlags::empty(), asc: 0, ascq: 0, resid: 0 };

    pub(super) fn new(key: SenseKey, flags: SenseFlags, asc: u8, ascq: u8, resid: i64) -> Sense {
        Sense { key, flags, asc, ascq, resid }
    }

    pub(super) fn no_medium() -> Sense {
        Sense::new(SenseKey::NotReady, SenseFlags::empty(), asc::NO_MEDIUM, 0, 0)
    }

    pub(super) fn illegal() -> Sense {
        Sense::new(SenseKey::IllegalRequest, SenseFlags::empty(), asc::INVALID_FIELD, 0, 0)
    }

    pub(super) fn protected() -> Sense {
        Sense::new(SenseKey::DataProtect, SenseFlags::empty(), asc::WRITE_PROTECTED, 0, 0)
    }

    pub(super) fn filemark(resid: i64) -> Sense {
        Sense::new(SenseKey::NoSense, SenseFlags::FMK, asc::NONE, asc::Q_FILEMARK, resid)
    }

    pub(super) fn eod(resid: i64) -> Sense {
        Sense::new(SenseKey::BlankCheck, SenseFlags::empty(), asc::NONE, asc::Q_EOD, resid)
    }

    pub(super) fn bop(resid: i64) -> Sense {
        Sense::new(SenseKey::NoSense, SenseFlags::EOM, asc::NONE, asc::Q_BOP, resid)
    }

    pub(super) fn early_warning() -> Sense {
        Sense::new(SenseKey::NoSense, SenseFlags::EOM, asc::NONE, asc::Q_EOM, 0)
    }

    pub(super) fn overflow(resid: i64) -> Sense {
        Sense::new(SenseKey::VolumeOverflow, SenseFlags::EOM, asc::NONE, asc::Q_EOM, resid)
    }

    pub(super) fn medium_error(code: u8) -> Sense {
        Sense::new(SenseKey::MediumError, SenseFlags::empty(), code, 0, 0)
    }
}

/// The sense of a failed medium operation: write protection, an illegal
/// request, or a medium error with `code`.
pub(super) fn failure(e: &MediumError, code: u8) -> Sense {
    match e {
        MediumError::Protected { .. } => Sense::protected(),
        MediumError::Unsupported { .. } => {
            warn!("{e}");
            Sense::illegal()
        }
        _ => {
            warn!("{e}");
            Sense::medium_error(code)
        }
    }
}

