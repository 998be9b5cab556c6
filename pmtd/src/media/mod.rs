//! The media and changers pmtd has built in: SIMH images ([`tap`]), the
//! autoloader magazine ([`magazine`]), the mirror ([`mirror`]) and the
//! record filters ([`filter`], stored as [`record`] describes).

pub mod filter;
pub mod magazine;
pub mod mirror;
pub mod record;
pub mod tap;
