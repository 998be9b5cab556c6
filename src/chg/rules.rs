//! What each host's ch(4) does differently with the same SMC commands:
//! its argument checks, the changer capabilities it honours (MODE SENSE
//! page 0x1F) and how a command's sense becomes an errno (Linux's
//! drivers/scsi/ch.c; NetBSD's sys/dev/scsipi/ch.c and
//! scsipi_interpret_sense).

use crate::errno::{Errno, Result};
use crate::proto::scsi;
use crate::sgio::Done;

/// What a host's ch(4) does differently with the same SMC commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    /// The errno of a unit beyond the changer's elements (Linux's
    /// ch_checkrange: EBADSLT; NetBSD's ch: ENODEV).
    pub range: Errno,
    /// The device capabilities page (0x1F) is read with the element
    /// layout, and a move or exchange the changer cannot make is refused
    /// (ENODEV) before it is sent (NetBSD's ch_move, ch_exchange).
    pub capabilities: bool,
    /// READ ELEMENT STATUS is asked again without volume tags when the
    /// library refuses them (Linux's ch); NetBSD's ch fails.
    pub retry_without_voltags: bool,
    /// How a command's sense becomes an errno.
    pub sense: SenseRule,
    /// An open asks TEST UNIT READY (NOT READY allowed) and reads the
    /// layout afresh, and fails if the library does not answer (NetBSD's
    /// chopen, ch_get_params).
    pub open_reads_layout: bool,
    /// A command that can change the changer needs a file open for
    /// writing (NetBSD's chioctl: EBADF).
    pub write_to_change: bool,
    /// INITIALIZE ELEMENT STATUS takes five minutes per element and ten
    /// more, and a library that refuses it (ILLEGAL REQUEST) is not an
    /// error (NetBSD's ch_ielem).
    pub ielem_per_element: bool,
    /// Element status as NetBSD's ch_usergetelemstatus checks and lays it
    /// out: ENODEV for a type without elements or a unit beyond them,
    /// EINVAL for a count beyond the type's count plus the unit, EIO when
    /// the library reports none; entries it does not report are zero.
    pub status_by_address: bool,
    /// Volume tags as NetBSD's ch_voltag_convert_out sends them: 0-9, A-Z
    /// and _ only (EINVAL), blank-padded with the sequence number, no
    /// data to clear one; Linux's ch sends any printable byte.
    pub voltag_strict: bool,
}

/// How a command's sense becomes an errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SenseRule {
    /// Linux's ch_find_errno: EBADSLT, EBADE, EXFULL, EBADRQC for the
    /// changer's own conditions, EIO otherwise.
    ChFindErrno,
    /// NetBSD's scsipi_interpret_sense (ch has no table of its own): NO
    /// SENSE, RECOVERED ERROR and BLANK CHECK succeed, NOT READY is ENODEV
    /// without a medium and EIO otherwise, ILLEGAL REQUEST EINVAL, DATA
    /// PROTECT EROFS, VOLUME OVERFLOW ENOSPC, the rest EIO.
    Scsipi,
}

impl Rules {
    /// Linux's drivers/scsi/ch.c.
    pub const LINUX: Rules = Rules {
        range: Errno::BadSlt,
        capabilities: false,
        retry_without_voltags: true,
        sense: SenseRule::ChFindErrno,
        open_reads_layout: false,
        write_to_change: false,
        ielem_per_element: false,
        status_by_address: false,
        voltag_strict: false,
    };
    /// NetBSD's sys/dev/scsipi/ch.c.
    pub const NETBSD: Rules = Rules {
        range: Errno::NoDev,
        capabilities: true,
        retry_without_voltags: false,
        sense: SenseRule::Scsipi,
        open_reads_layout: true,
        write_to_change: true,
        ielem_per_element: true,
        status_by_address: true,
        voltag_strict: true,
    };
}

/// Which moves and exchanges the changer can make (MODE SENSE page 0x1F),
/// indexed by CHIO type: bit `1 << to` of `moves[from]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// MOVE MEDIUM from each type (MOVE_TO_* bits).
    pub moves: [u8; 4],
    /// EXCHANGE MEDIUM with each type.
    pub exchanges: [u8; 4],
}

impl Capabilities {
    /// Decodes a MODE SENSE(6) reply holding page 0x1F.
    pub fn from_mode_sense(b: &[u8]) -> Option<Capabilities> {
        let page = b.get(4usize.checked_add(usize::from(*b.get(3)?))?..)?;
        if page.first()? & 0x3f != 0x1f {
            return None;
        }
        Some(Capabilities { moves: page.get(4..8)?.try_into().ok()?, exchanges: page.get(12..16)?.try_into().ok()? })
    }

    /// Whether type `from` may move to type `to` (`exchange`: exchange).
    pub(super) fn allows(&self, exchange: bool, from: i32, to: i32) -> bool {
        let masks = if exchange { &self.exchanges } else { &self.moves };
        let (Ok(f), Ok(t)) = (usize::try_from(from), u32::try_from(to)) else { return false };
        masks.get(f).is_some_and(|m| t < 8 && m & (1 << t) != 0)
    }
}

/// ch_find_errno: the errno of a CHECK CONDITION's sense.
pub fn sense_errno(sense: Option<(u8, u8, u8)>) -> Errno {
    match sense {
        Some((0x5, 0x21, 0x01)) => Errno::BadSlt,
        Some((0x5, 0x28, 0x01)) | Some((0x5, 0x3b, 0x0e)) => Errno::BadE,
        Some((0x5, 0x3b, 0x0d)) => Errno::XFull,
        Some((0x5, 0x20, 0x00)) => Errno::BadRqc,
        _ => Errno::Io,
    }
}

/// NetBSD's scsipi_interpret_sense for a changer (see [`SenseRule::Scsipi`]).
pub fn scsipi_errno(sense: Option<(u8, u8, u8)>) -> Result<()> {
    match sense {
        Some((0x0 | 0x1 | 0x8 | 0xc, _, _)) => Ok(()),
        Some((0x2, 0x3a, _)) => Err(Errno::NoDev),
        Some((0x5, _, _)) => Err(Errno::Inval),
        Some((0x7, _, _)) => Err(Errno::RoFs),
        Some((0xd, _, _)) => Err(Errno::NoSpc),
        _ => Err(Errno::Io),
    }
}

/// 0 or the errno of a completed command, by `rule`.
pub(super) fn result_by(rule: SenseRule, d: &Done) -> Result<()> {
    if d.rep.status == scsi::status::GOOD {
        return Ok(());
    }
    match rule {
        SenseRule::ChFindErrno => Err(sense_errno(d.sense())),
        SenseRule::Scsipi if d.rep.status == scsi::status::CHECK_CONDITION => scsipi_errno(d.sense()),
        SenseRule::Scsipi => Err(Errno::Io),
    }
}
