//! A tape drive on another host (`rmt:[user@]host:/dev/nst0`):
//! [`RmtDevice`] is an [`StDevice`] whose read, write and MTIOCTOP are the
//! rmt `R`, `W` and `I` requests (Linux operation numbers, as tar, cpio and
//! dump send them), so the medium is the same [`DeviceMedium`] as for a
//! local device, in its counted mode (rmt carries no MTIOCGET or MTIOCPOS
//! that both servers agree on): the medium rewinds at mount and tracks the
//! address itself; early warning arrives as `E28` (ENOSPC) and follows
//! st's alternation exactly as on a local device; the end of data is a
//! zero read after a zero read that the next read confirms with an error,
//! or a read that fails. The next volume is `I7` (MTOFFL), then a new
//! session and a new `O` until the drive has a medium again.
use std::io;

use super::{DeviceMedium, DeviceOptions, DeviceVolumes, MtStatus, StDevice, StOpener};
use crate::media::rmt::conn::Connection;
use crate::media::rmt::Remote;
use crate::media::MediumError;

/// A tape device on another host, opened through an rmt session.
#[derive(Debug)]
pub struct RmtDevice {
    conn: Connection,
    path: String,
    name: String,
    readonly: bool,
}

impl RmtDevice {
    /// Starts a session and opens the device O_RDWR, falling back to
    /// O_RDONLY for a write-protected medium.
    pub fn connect(remote: &Remote) -> io::Result<RmtDevice> {
        let mut conn = Connection::start(remote)?;
        let mut readonly = false;
        if let Err(e) = conn.open(&remote.path, "O_RDWR") {
            if matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EROFS)) {
                conn.open(&remote.path, "O_RDONLY")?;
                readonly = true;
            } else {
                return Err(e);
            }
        }
        Ok(RmtDevice { conn, path: remote.path.clone(), name: remote.display(), readonly })
    }

    /// The session.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Closes the device (`C`); the session ends when the device is dropped.
    pub fn close(&mut self) -> io::Result<()> {
        self.conn.check()?;
        self.conn.close(&self.path)
    }

    fn unsupported(&self, what: &str) -> io::Error {
        match self.conn.check() {
            Err(e) => e,
            Ok(()) => io::Error::new(io::ErrorKind::Unsupported, format!("{what} over rmt")),
        }
    }
}

impl StDevice for RmtDevice {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn opened_readonly(&self) -> bool {
        self.readonly
    }

    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.conn.write(data)
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.conn.read(buf)
    }

    fn mtop(&mut self, op: i16, count: i32) -> io::Result<()> {
        self.conn.ioctl(op, count).map(drop)
    }

    fn mtget(&mut self) -> io::Result<MtStatus> {
        Err(self.unsupported("MTIOCGET"))
    }

    fn mtpos(&mut self) -> io::Result<u64> {
        Err(self.unsupported("MTIOCPOS"))
    }
}

impl Drop for RmtDevice {
    fn drop(&mut self) {
        if !self.conn.is_broken() {
            let _ = self.conn.close(&self.path);
        }
    }
}

/// Opens the remote drive: a new session each time.
#[derive(Clone, Debug)]
pub struct RmtOpener {
    remote: Remote,
}

impl StOpener for RmtOpener {
    type Device = RmtDevice;

    fn open(&mut self, probe: bool) -> io::Result<RmtDevice> {
        if probe {
            // rmt has no O_NONBLOCK both servers parse: no probe.
            return Err(io::Error::new(io::ErrorKind::Unsupported, "no status probe over rmt"));
        }
        RmtDevice::connect(&self.remote)
    }

    fn name(&self) -> String {
        self.remote.display()
    }
}

/// The volumes of a remote drive: the tape in it, then after `I7`
/// (MTOFFL) whatever its loader or operator puts in, waited for at most
/// [`DeviceOptions::load_timeout`].
pub type RmtDriveVolumes = DeviceVolumes<RmtOpener>;

impl RmtDriveVolumes {
    /// The volumes of the drive `remote` (`rmt:[user@]host:/dev/nst0`).
    pub fn remote(remote: Remote, opts: DeviceOptions) -> RmtDriveVolumes {
        DeviceVolumes::new(RmtOpener { remote }, opts)
    }
}

/// Opens a remote drive directly (no volume sequence): one session, the
/// tape where it is, rewound (positions are counted from BOT).
pub fn connect_drive(remote: &Remote, opts: &DeviceOptions) -> Result<DeviceMedium<RmtDevice>, MediumError> {
    let dev = RmtDevice::connect(remote).map_err(|e| MediumError::io(remote.display(), e))?;
    DeviceMedium::mount(dev, opts)
}
