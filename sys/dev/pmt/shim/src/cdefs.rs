//! The numbers and structures of the core's C interface
//! (include/pmt_core.h), shared by the entry points ([`crate::export`]) and
//! the imports from the glue. A unit test reads the header and checks every
//! one of them.

use core::mem::{offset_of, size_of};
use static_assertions::const_assert_eq;

/// `PMT_ABI_LINUX`.
pub const ABI_LINUX: u32 = 0;
/// `PMT_ABI_NETBSD`.
pub const ABI_NETBSD: u32 = 1;

/// `PMT_MOPEN_READ`.
pub const MOPEN_READ: u32 = 1;
/// `PMT_MOPEN_WRITE`.
pub const MOPEN_WRITE: u32 = 2;
/// `PMT_MOPEN_NONBLOCK`.
pub const MOPEN_NONBLOCK: u32 = 4;
/// `PMT_MOPEN_NOREWIND`.
pub const MOPEN_NOREWIND: u32 = 8;
/// `PMT_MOPEN_EJECT`.
pub const MOPEN_EJECT: u32 = 16;
/// `PMT_MOPEN_CONTROL`.
pub const MOPEN_CONTROL: u32 = 32;
/// `PMT_MOPEN_MODE_SHIFT`: the mode in bits 8-9.
pub const MOPEN_MODE_SHIFT: u32 = 8;

/// `PMT_IOCTL_COMPAT32`.
pub const IOCTL_COMPAT32: u32 = 1;
/// `PMT_IOCTL_WRITABLE`.
pub const IOCTL_WRITABLE: u32 = 2;

/// `PMT_KIND_TAPE`.
pub const KIND_TAPE: u32 = 0;
/// `PMT_KIND_CHANGER`.
pub const KIND_CHANGER: u32 = 1;

/// `PMT_PRIV_ADMIN`.
pub const PRIV_ADMIN: u32 = 0;
/// `PMT_PRIV_RAWIO`.
pub const PRIV_RAWIO: u32 = 1;

/// `PMT_WAIT_FRONT`.
pub const WAIT_FRONT: u32 = 0;
/// `PMT_WAIT_SPACE`.
pub const WAIT_SPACE: u32 = 1;

/// `PMT_SLEEP_INTERRUPTIBLE`.
pub const SLEEP_INTERRUPTIBLE: u32 = 0;
/// `PMT_SLEEP_KILLABLE`.
pub const SLEEP_KILLABLE: u32 = 1;
/// `PMT_SLEEP_UNINTERRUPTIBLE`.
pub const SLEEP_UNINTERRUPTIBLE: u32 = 2;

/// `PMT_WAITED`.
pub const WAITED: i32 = 0;
/// `PMT_WAIT_TIMEDOUT`.
pub const WAIT_TIMEDOUT: i32 = 1;
/// `PMT_WAIT_INTR`.
pub const WAIT_INTR: i32 = 2;
/// `PMT_WAIT_RESTART`.
pub const WAIT_RESTART: i32 = 3;

/// `struct pmt_core_params`.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct Params {
    /// `p_abi`: `PMT_ABI_*`.
    pub abi: u32,
    /// `p_ring`: requests in flight.
    pub ring: u32,
    /// `p_window`: bytes of write-behind data.
    pub window: u32,
    /// `p_timeout`: command timeout, seconds.
    pub timeout: u32,
    /// `p_kind`: `PMT_KIND_*`.
    pub kind: u32,
    /// `p_spare`: zero.
    pub spare: u32,
}

const_assert_eq!(size_of::<Params>(), 24);
const_assert_eq!(offset_of!(Params, abi), 0);
const_assert_eq!(offset_of!(Params, ring), 4);
const_assert_eq!(offset_of!(Params, window), 8);
const_assert_eq!(offset_of!(Params, timeout), 12);
const_assert_eq!(offset_of!(Params, kind), 16);
const_assert_eq!(offset_of!(Params, spare), 20);

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::collections::HashMap;
    use std::string::String;

    fn defines() -> HashMap<String, i64> {
        let h = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../../include/pmt_core.h")).unwrap();
        h.lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some("#define")).then_some(())?;
                let name = w.next()?;
                let v = w.next()?.parse().ok()?;
                Some((String::from(name), v))
            })
            .collect()
    }

    #[test]
    fn every_number_matches_the_header() {
        let d = defines();
        let want: &[(&str, i64)] = &[
            ("PMT_ABI_LINUX", ABI_LINUX.into()),
            ("PMT_ABI_NETBSD", ABI_NETBSD.into()),
            ("PMT_MOPEN_READ", MOPEN_READ.into()),
            ("PMT_MOPEN_WRITE", MOPEN_WRITE.into()),
            ("PMT_MOPEN_NONBLOCK", MOPEN_NONBLOCK.into()),
            ("PMT_MOPEN_NOREWIND", MOPEN_NOREWIND.into()),
            ("PMT_MOPEN_EJECT", MOPEN_EJECT.into()),
            ("PMT_MOPEN_CONTROL", MOPEN_CONTROL.into()),
            ("PMT_MOPEN_MODE_SHIFT", MOPEN_MODE_SHIFT.into()),
            ("PMT_IOCTL_COMPAT32", IOCTL_COMPAT32.into()),
            ("PMT_IOCTL_WRITABLE", IOCTL_WRITABLE.into()),
            ("PMT_KIND_TAPE", KIND_TAPE.into()),
            ("PMT_KIND_CHANGER", KIND_CHANGER.into()),
            ("PMT_PRIV_ADMIN", PRIV_ADMIN.into()),
            ("PMT_PRIV_RAWIO", PRIV_RAWIO.into()),
            ("PMT_WAIT_FRONT", WAIT_FRONT.into()),
            ("PMT_WAIT_SPACE", WAIT_SPACE.into()),
            ("PMT_SLEEP_INTERRUPTIBLE", SLEEP_INTERRUPTIBLE.into()),
            ("PMT_SLEEP_KILLABLE", SLEEP_KILLABLE.into()),
            ("PMT_SLEEP_UNINTERRUPTIBLE", SLEEP_UNINTERRUPTIBLE.into()),
            ("PMT_WAITED", WAITED.into()),
            ("PMT_WAIT_TIMEDOUT", WAIT_TIMEDOUT.into()),
            ("PMT_WAIT_INTR", WAIT_INTR.into()),
            ("PMT_WAIT_RESTART", WAIT_RESTART.into()),
        ];
        for (name, v) in want {
            assert_eq!(d.get(*name), Some(v), "{name}");
        }
        // Nothing in the header is left unchecked.
        let numeric = d.keys().filter(|k| k.starts_with("PMT_")).count();
        assert_eq!(numeric, want.len(), "header defines: {:?}", d.keys());
    }

    #[test]
    fn abi_numbers_name_the_abis() {
        assert_eq!(pmt::Abi::from_wire(ABI_LINUX), Some(pmt::Abi::Linux));
        assert_eq!(pmt::Abi::from_wire(ABI_NETBSD), Some(pmt::Abi::NetBsd));
    }
}
