//! The media and volume sequences pmtd has built in, each behind
//! [`crate::medium::Medium`] with a [`crate::medium::Volumes`] that hands out
//! its volumes:
//!
//! - [`tap`]: SIMH images, and [`magazine`]: the autoloader of image volumes;
//! - [`mirror`]: a mirror of media, the first to reach early warning ending
//!   the volume for all;
//! - [`filter`]: compression and encryption per record (stored as [`record`]
//!   describes);
//! - [`tape`]: a local st-compatible no-rewind node (`/dev/nst0`, or another
//!   pmt master such as `/dev/npmtm1`), driven by read(2), write(2) and the
//!   mtio ioctls, generic over [`stdev::StDevice`] so that tests can drive it
//!   against the real pmt core;
//! - [`rmt`]: an rmt client: a tape drive on another host (the same
//!   [`tape::TapeMedium`] over an rmt connection) or a SIMH image on another
//!   host ([`rmt::image::RmtImage`]);
//! - [`spec`]: the textual form of the device and rmt media (`tape:`, `rmt:`,
//!   `rmt-tap:`), which [`open_volumes`] turns into a volume sequence; the CLI reaches
//!   it through [`crate::spec::Registry`].

pub mod filter;
pub mod magazine;
pub mod mirror;
pub mod record;
pub mod rmt;
pub mod spec;
pub mod stdev;
pub mod tap;
pub mod tape;
mod tape_nav;

use crate::medium::{boxed, DynVolumes};

/// The registry hook of the `tape`, `rmt` and `rmt-tap` kinds
/// ([`crate::spec::Registry::register`]).
pub fn device_hook(text: &str) -> Result<DynVolumes, crate::spec::SpecError> {
    match spec::parse(text) {
        Ok(s) => Ok(open_volumes(s)),
        Err(spec::SpecError::Bad { spec, why }) => Err(crate::spec::SpecError::new(spec, why)),
        Err(e @ spec::SpecError::UnknownKind { .. }) => Err(crate::spec::SpecError::new(text, e.to_string())),
    }
}

/// A registry of every kind this pmtd has: `tap` built in, and the device
/// and rmt kinds.
pub fn registry(tap: tap::TapOptions) -> crate::spec::Registry {
    let mut r = crate::spec::Registry::new(tap);
    for kind in ["tape", "rmt", "rmt-tap"] {
        r.register(kind, device_hook);
    }
    r
}

/// The volume sequence for a parsed device or rmt spec. Nothing is opened or
/// started yet: the first [`crate::medium::Volumes::load_next`] does that.
pub fn open_volumes(spec: spec::Spec) -> DynVolumes {
    match spec {
        spec::Spec::Tape(t) => boxed(tape::TapeVolumes::device(&t.path, t.opts)),
        spec::Spec::Rmt(r) => boxed(rmt::RmtDriveVolumes::remote(r)),
        spec::Spec::RmtTap(r) => boxed(rmt::image::RmtImageVolumes::new(r)),
    }
}
