//! Linux's MT_ST_* bits: the driver options of MTSETDRVBUFFER
//! (include/uapi/linux/mtio.h) and the block size mask of `mt_dsreg`. The
//! engine keeps its options in these terms on every host; NetBSD has no
//! MTSETDRVBUFFER, and its MTCACHE/MTNOCACHE set the drive buffer mode.

/// Option code mask.
pub const OPTIONS: u32 = 0xf000_0000;
/// Set all booleans.
pub const BOOLEANS: u32 = 0x1000_0000;
/// Set the named booleans.
pub const SETBOOLEANS: u32 = 0x3000_0000;
/// Clear the named booleans.
pub const CLEARBOOLEANS: u32 = 0x4000_0000;
/// Obsolete write threshold.
pub const WRITE_THRESHOLD: u32 = 0x2000_0000;
/// Default block size.
pub const DEF_BLKSIZE: u32 = 0x5000_0000;
/// Default density, drive buffer, compression.
pub const DEF_OPTIONS: u32 = 0x6000_0000;
/// Timeouts.
pub const TIMEOUTS: u32 = 0x7000_0000;
/// Long timeout flag.
pub const SET_LONG_TIMEOUT: u32 = 0x0010_0000;
/// Cleaning request detection.
pub const SET_CLN: u32 = 0x8000_0000;
/// Clear a default.
pub const CLEAR_DEFAULT: u32 = 0xfffff;
/// Default density selector.
pub const DEF_DENSITY: u32 = DEF_OPTIONS | 0x10_0000;
/// Default compression selector.
pub const DEF_COMPRESSION: u32 = DEF_OPTIONS | 0x20_0000;
/// Default drive buffer selector.
pub const DEF_DRVBUFFER: u32 = DEF_OPTIONS | 0x30_0000;
/// Block size mask of a DEF_BLKSIZE argument and of mt_dsreg.
pub const BLKSIZE_MASK: u32 = 0x00ff_ffff;
/// Boolean bits.
pub const BUFFER_WRITES: u32 = 0x1;
/// Boolean bits.
pub const ASYNC_WRITES: u32 = 0x2;
/// Boolean bits.
pub const READ_AHEAD: u32 = 0x4;
/// Boolean bits.
pub const DEBUGGING: u32 = 0x8;
/// Boolean bits.
pub const TWO_FM: u32 = 0x10;
/// Boolean bits.
pub const FAST_MTEOM: u32 = 0x20;
/// Boolean bits.
pub const AUTO_LOCK: u32 = 0x40;
/// Boolean bits.
pub const DEF_WRITES: u32 = 0x80;
/// Boolean bits.
pub const CAN_BSR: u32 = 0x100;
/// Boolean bits.
pub const NO_BLKLIMS: u32 = 0x200;
/// Boolean bits.
pub const CAN_PARTITIONS: u32 = 0x400;
/// Boolean bits.
pub const SCSI2LOGICAL: u32 = 0x800;
/// Boolean bits.
pub const SYSV: u32 = 0x1000;
/// Boolean bits.
pub const NOWAIT: u32 = 0x2000;
/// Boolean bits.
pub const SILI: u32 = 0x4000;
/// Boolean bits.
pub const NOWAIT_EOF: u32 = 0x8000;
