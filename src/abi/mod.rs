//! Host ABIs: how each host OS numbers the tape ioctls and operations and
//! lays out `struct mtget`. The engine ([`crate::drv`]) is shared; an ABI
//! adds only these tables and its [`crate::drv::Policy`].

pub mod linux;
pub mod netbsd;

use crate::errno::Result;
use crate::host::UserIn;

/// Reads a native-endian integer of `N` bytes at `at` from a user argument.
pub(crate) fn read_arg<const N: usize>(inp: &mut dyn UserIn, at: usize) -> Result<[u8; N]> {
    let mut b = [0u8; N];
    inp.read(at, &mut b)?;
    Ok(b)
}
