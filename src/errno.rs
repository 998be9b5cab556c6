//! Errors the core reports, named once and numbered per host OS.

/// An error returned to a system call. Each host ABI maps it to its own number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Errno {
    /// The caller lacks the privilege (EPERM).
    Perm,
    /// A signal interrupted the wait (EINTR).
    Intr,
    /// Input/output error: the drive failed, or the daemon is gone (EIO).
    Io,
    /// No such unit, or the device is not configured (ENXIO).
    NxIo,
    /// A record is larger than the read buffer, or memory ran out (ENOMEM).
    NoMem,
    /// The medium is write protected (EACCES).
    Acces,
    /// A user buffer is not accessible (EFAULT).
    Fault,
    /// The device is already open (EBUSY).
    Busy,
    /// Malformed request or reply (EINVAL).
    Inval,
    /// No space left: early warning or end of medium (ENOSPC).
    NoSpc,
    /// Opened for writing on a write-protected medium (EROFS).
    RoFs,
    /// Unknown ioctl (ENOTTY).
    NoTty,
    /// Unknown tape operation (ENOSYS).
    NoSys,
    /// Nothing ready now; try again (EAGAIN).
    Again,
    /// A frame does not fit the buffer (EMSGSIZE).
    MsgSize,
    /// No medium in the drive (ENOMEDIUM).
    NoMedium,
    /// A buffer could not be allocated (EOVERFLOW).
    Overflow,
    /// Restart the system call after the signal if its handler allows
    /// (ERESTARTSYS on Linux, ERESTART on NetBSD).
    RestartSys,
    /// A changer's element address is invalid (Linux ch: EBADSLT).
    BadSlt,
    /// A changer's source element is empty, or an import/export element
    /// was accessed (Linux ch: EBADE).
    BadE,
    /// A changer's destination element is full (Linux ch: EXFULL).
    XFull,
    /// The device does not know the command (Linux ch: EBADRQC).
    BadRqc,
    /// No such element, or a move the changer cannot make (NetBSD ch:
    /// ENODEV).
    NoDev,
    /// The file is not open for what the call does (NetBSD ch: EBADF for a
    /// changer command on a file not open for writing).
    BadF,
}

impl Errno {
    /// The Linux errno value (positive).
    pub const fn linux(self) -> i32 {
        match self {
            Errno::Perm => 1,
            Errno::Intr => 4,
            Errno::Io => 5,
            Errno::NxIo => 6,
            Errno::NoMem => 12,
            Errno::Acces => 13,
            Errno::Fault => 14,
            Errno::Busy => 16,
            Errno::Inval => 22,
            Errno::NoSpc => 28,
            Errno::RoFs => 30,
            Errno::NoTty => 25,
            Errno::NoSys => 38,
            Errno::Again => 11,
            Errno::MsgSize => 90,
            Errno::NoMedium => 123,
            Errno::Overflow => 75,
            Errno::RestartSys => 512,
            Errno::BadSlt => 57,
            Errno::BadE => 52,
            Errno::XFull => 54,
            Errno::BadRqc => 56,
            Errno::NoDev => 19,
            Errno::BadF => 9,
        }
    }

    /// The NetBSD errno value (positive, but ERESTART, which is negative).
    pub const fn netbsd(self) -> i32 {
        match self {
            Errno::Perm => 1,
            Errno::Intr => 4,
            Errno::Io => 5,
            Errno::NxIo => 6,
            Errno::NoMem => 12,
            Errno::Acces => 13,
            Errno::Fault => 14,
            Errno::Busy => 16,
            Errno::Inval => 22,
            Errno::NoSpc => 28,
            Errno::RoFs => 30,
            Errno::NoTty => 25,
            Errno::NoSys => 78,
            Errno::Again => 35,
            Errno::MsgSize => 40,
            // NetBSD has no ENOMEDIUM; its st(4) reports a missing tape as EIO.
            Errno::NoMedium => 5,
            Errno::Overflow => 84,
            Errno::RestartSys => -3,
            // NetBSD's ch(4): ENODEV for an element beyond the changer's,
            // EINVAL (ILLEGAL REQUEST) for a move the changer refuses.
            Errno::BadSlt => 19,
            Errno::BadE | Errno::XFull | Errno::BadRqc => 22,
            Errno::NoDev => 19,
            Errno::BadF => 9,
        }
    }
}

/// Result type of the core.
pub type Result<T> = core::result::Result<T, Errno>;
