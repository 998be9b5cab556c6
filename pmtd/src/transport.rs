//! Slave transports: where the drive's requests come from and its replies
//! go. [`DeviceSlave`] is a pmt slave device (`/dev/pmts<N>`,
//! `/dev/pmcs<N>`); [`SimSlave`] is the slave side of an in-process
//! [`pmt::Unit`] or [`pmt::ChangerUnit`], for tests and simulations without
//! a kernel.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use pmt::{ChangerUnit, Errno, Pair, Unit, UserIn, UserOut};

use crate::area::Area;
use thiserror::Error;

/// Errors of a transport or of the service loop.
#[derive(Debug, Error)]
pub enum ServeError {
    /// The slave device could not be opened.
    #[error("cannot open {}: {cause}", dev.display())]
    Open {
        /// The device.
        dev: PathBuf,
        /// The cause.
        cause: io::Error,
    },
    /// Reading or writing the slave device failed.
    #[error("{}: {cause}", dev.display())]
    Io {
        /// The device.
        dev: PathBuf,
        /// The cause.
        cause: io::Error,
    },
    /// The simulated slave refused an operation.
    #[error("simulated slave: {what} failed with {errno:?}")]
    Sim {
        /// What was done.
        what: &'static str,
        /// The error.
        errno: Errno,
    },
    /// The kernel sent something this daemon does not understand.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The kernel refused replies.
    #[error("the driver accepted {accepted} of {sent} reply bytes")]
    Refused {
        /// Bytes accepted.
        accepted: usize,
        /// Bytes sent.
        sent: usize,
    },
}

/// What one receive gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Received {
    /// A batch of this many bytes of request frames.
    Batch(usize),
    /// A signal interrupted the wait: nothing was read.
    Interrupted,
    /// Nothing is queued (a non-blocking slave).
    Idle,
    /// The slave is gone (end of file).
    Closed,
}

/// The slave side of a unit: batches of request frames in, batches of
/// reply frames out.
pub trait Transport {
    /// Reads the queued request frames (as many whole frames as fit `buf`).
    fn receive(&mut self, buf: &mut [u8]) -> Result<Received, ServeError>;

    /// Writes a batch of reply frames; all of them must be accepted.
    fn send(&mut self, replies: &[u8]) -> Result<(), ServeError>;

    /// The unit's data area, if the slave has one mapped.
    fn area(&mut self) -> Option<&mut Area> {
        None
    }

    /// Waits at most `timeout` for requests: true if a receive would
    /// return some now (or might: the default says so at once, and the
    /// receive blocks).
    fn wait(&mut self, timeout: Duration) -> Result<bool, ServeError> {
        let _ = timeout;
        Ok(true)
    }
}

/// A pmt slave device node.
#[derive(Debug)]
pub struct DeviceSlave {
    file: File,
    path: PathBuf,
    area: Option<Area>,
}

impl DeviceSlave {
    /// Opens the slave device and maps its data area, if the driver has
    /// one (Linux), unless `PMTD_NO_AREA` is set (records then travel in
    /// the frames, as with a driver that has none).
    pub fn open(dev: &Path) -> Result<DeviceSlave, ServeError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(dev)
            .map_err(|cause| ServeError::Open { dev: dev.to_path_buf(), cause })?;
        let area = if std::env::var_os("PMTD_NO_AREA").is_some() {
            None
        } else {
            Area::of_slave(&file).map_err(|cause| ServeError::Open { dev: dev.to_path_buf(), cause })?
        };
        Ok(DeviceSlave { file, path: dev.to_path_buf(), area })
    }

    fn io(&self, cause: io::Error) -> ServeError {
        ServeError::Io { dev: self.path.clone(), cause }
    }
}

impl Transport for DeviceSlave {
    fn area(&mut self) -> Option<&mut Area> {
        self.area.as_mut()
    }

    fn receive(&mut self, buf: &mut [u8]) -> Result<Received, ServeError> {
        match self.file.read(buf) {
            Ok(0) => Ok(Received::Closed),
            Ok(n) => Ok(Received::Batch(n)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(Received::Interrupted),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Received::Idle),
            Err(e) => Err(self.io(e)),
        }
    }

    fn send(&mut self, replies: &[u8]) -> Result<(), ServeError> {
        let mut sent = 0;
        while sent < replies.len() {
            match self.file.write(replies.get(sent..).unwrap_or_default()) {
                Ok(0) => break,
                Ok(k) => sent += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io(e)),
            }
            if sent < replies.len() {
                // The driver takes whole batches or refuses the rest.
                break;
            }
        }
        if sent < replies.len() {
            return Err(ServeError::Refused { accepted: sent, sent: replies.len() });
        }
        self.file.flush().map_err(|e| self.io(e))
    }

    fn wait(&mut self, timeout: Duration) -> Result<bool, ServeError> {
        let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(self.file.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(n) => Ok(n > 0),
            Err(nix::errno::Errno::EINTR) => Ok(false),
            Err(e) => Err(self.io(e.into())),
        }
    }
}

/// A byte slice as the user buffer of a core call that writes to it.
#[derive(Debug)]
pub struct SliceOut<'a>(pub &'a mut [u8]);

impl UserOut for SliceOut<'_> {
    fn write(&mut self, at: usize, src: &[u8]) -> Result<(), Errno> {
        let dst = self.0.get_mut(at..at + src.len()).ok_or(Errno::Fault)?;
        dst.copy_from_slice(src);
        Ok(())
    }
}

/// A byte slice as the user buffer of a core call that reads from it.
#[derive(Debug)]
pub struct SliceIn<'a>(pub &'a [u8]);

impl UserIn for SliceIn<'_> {
    fn read(&mut self, at: usize, dst: &mut [u8]) -> Result<(), Errno> {
        let src = self.0.get(at..at + dst.len()).ok_or(Errno::Fault)?;
        dst.copy_from_slice(src);
        Ok(())
    }
}

/// The slave side of a pair, as the core offers it to a host.
pub trait SlaveSide {
    /// Slave read(): the queued requests that fit `len` bytes.
    fn sread(&self, out: &mut dyn UserOut, len: usize) -> Result<usize, Errno>;
    /// Slave write(): replies.
    fn swrite(&self, src: &mut dyn UserIn, len: usize) -> Result<usize, Errno>;
    /// True if a slave read would return a request now.
    fn readable(&self) -> bool;
}

macro_rules! slave_side {
    ($($t:ty),*) => {$(
        impl SlaveSide for $t {
            fn sread(&self, out: &mut dyn UserOut, len: usize) -> Result<usize, Errno> {
                <$t>::sread(self, out, len)
            }
            fn swrite(&self, src: &mut dyn UserIn, len: usize) -> Result<usize, Errno> {
                <$t>::swrite(self, src, len)
            }
            fn readable(&self) -> bool {
                <$t>::readable(self)
            }
        }
    )*};
}

slave_side!(Unit, ChangerUnit, Pair);

/// The slave side of an in-process pair, as the daemon sees it through
/// `/dev/pmts<N>` or `/dev/pmcs<N>`: a receive never blocks (nothing
/// queued is [`Received::Idle`]), and a closed slave is
/// [`Received::Closed`].
#[derive(Debug)]
pub struct SimSlave<'a, S: SlaveSide + ?Sized = Unit> {
    unit: &'a S,
    area: Option<&'a mut Area>,
}

impl<'a, S: SlaveSide + ?Sized> SimSlave<'a, S> {
    /// The slave side of `unit` (whose slave must have been opened, as
    /// [`Unit::sopen`] does).
    pub fn new(unit: &'a S) -> SimSlave<'a, S> {
        SimSlave { unit, area: None }
    }

    /// The slave side of `unit` with its data area mapped: `area` is the
    /// daemon's side of the area the unit was made with
    /// ([`Area::simulated`]), and [`Unit::sarea`] was told its size.
    pub fn with_area(unit: &'a S, area: Option<&'a mut Area>) -> SimSlave<'a, S> {
        SimSlave { unit, area }
    }
}

impl<S: SlaveSide + ?Sized> Transport for SimSlave<'_, S> {
    fn area(&mut self) -> Option<&mut Area> {
        self.area.as_deref_mut()
    }

    fn wait(&mut self, timeout: Duration) -> Result<bool, ServeError> {
        let until = Instant::now() + timeout;
        loop {
            if self.unit.readable() {
                return Ok(true);
            }
            if Instant::now() >= until {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_micros(100));
        }
    }

    fn receive(&mut self, buf: &mut [u8]) -> Result<Received, ServeError> {
        let len = buf.len();
        match self.unit.sread(&mut SliceOut(buf), len) {
            Ok(0) => Ok(Received::Idle),
            Ok(n) => Ok(Received::Batch(n)),
            Err(Errno::Again) => Ok(Received::Idle),
            Err(errno) => Err(ServeError::Sim { what: "slave read", errno }),
        }
    }

    fn send(&mut self, replies: &[u8]) -> Result<(), ServeError> {
        let k = self
            .unit
            .swrite(&mut SliceIn(replies), replies.len())
            .map_err(|errno| ServeError::Sim { what: "slave write", errno })?;
        if k != replies.len() {
            return Err(ServeError::Refused { accepted: k, sent: replies.len() });
        }
        Ok(())
    }
}
