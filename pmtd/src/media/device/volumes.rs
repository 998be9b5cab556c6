//! The volumes of a tape device: the tape in it, then after MTOFFL
//! whatever its loader or an operator puts in.

use std::io;
use std::path::Path;
use std::time::Instant;

use pmt::abi::linux::{gmt, op};
use tracing::info;

use super::fd::FdOpener;
use super::medium::{errno, DeviceMedium};
use super::{DeviceOptions, StDevice, StOpener, Unload};
use crate::media::{Medium, MediumError, Volumes};

/// Volumes of a tape device: the first is the medium in the device as it
/// is; unloading is MTOFFL, and the next volume is whatever medium the
/// device reports next (its loader's, or an operator's), waited for at most
/// [`DeviceOptions::load_timeout`].
#[derive(Debug)]
pub struct DeviceVolumes<O: StOpener> {
    opener: O,
    opts: DeviceOptions,
    loaded: usize,
}

impl DeviceVolumes<FdOpener> {
    /// The volume sequence of a device node.
    pub fn device(path: &Path, opts: DeviceOptions) -> DeviceVolumes<FdOpener> {
        DeviceVolumes::new(FdOpener { path: path.to_owned() }, opts)
    }
}

impl<O: StOpener> DeviceVolumes<O> {
    /// A volume sequence over any way of opening the device.
    pub fn new(opener: O, opts: DeviceOptions) -> DeviceVolumes<O> {
        DeviceVolumes { opener, opts, loaded: 0 }
    }

    /// One attempt to open the device with a medium: Ok(Err(why)) if there
    /// is none yet.
    fn try_open(&mut self) -> Result<Result<DeviceMedium<O::Device>, io::Error>, MediumError> {
        let name = self.opener.name();
        let not_ready = |e: &io::Error| {
            matches!(
                errno(e),
                Some(libc::ENOMEDIUM) | Some(libc::EIO) | Some(libc::EBUSY) | Some(libc::EAGAIN)
            )
        };
        // Ask first without waiting (O_NONBLOCK), so the bound is ours.
        match self.opener.open(true) {
            Ok(mut probe) => match probe.mtget() {
                Ok(s) if !s.has(gmt::ONLINE) => return Ok(Err(io::Error::from_raw_os_error(libc::ENOMEDIUM))),
                _ => drop(probe),
            },
            Err(e) if e.kind() == io::ErrorKind::Unsupported => {}
            Err(e) if not_ready(&e) => return Ok(Err(e)),
            Err(e) => return Err(MediumError::io(name, e)),
        }
        let dev = match self.opener.open(false) {
            Ok(d) => d,
            Err(e) if not_ready(&e) => return Ok(Err(e)),
            Err(e) => return Err(MediumError::io(name, e)),
        };
        match DeviceMedium::mount(dev, &self.opts) {
            Ok(m) => Ok(Ok(m)),
            Err(MediumError::Io { cause, .. }) if errno(&cause) == Some(libc::ENOMEDIUM) => Ok(Err(cause)),
            Err(e) => Err(e),
        }
    }

    /// Opens the device once a medium is there, waiting at most the load
    /// timeout.
    fn wait_for_medium(&mut self) -> Result<DeviceMedium<O::Device>, MediumError> {
        let deadline = Instant::now() + self.opts.load_timeout;
        loop {
            let why = match self.try_open()? {
                Ok(m) => return Ok(m),
                Err(why) => why,
            };
            let now = Instant::now();
            if now >= deadline {
                return Err(MediumError::io(
                    self.opener.name(),
                    io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no medium within {:?} (last: {why})", self.opts.load_timeout),
                    ),
                ));
            }
            std::thread::sleep(self.opts.poll.min(deadline - now));
        }
    }
}

impl<O: StOpener> Volumes for DeviceVolumes<O> {
    type Medium = DeviceMedium<O::Device>;

    fn load_next(&mut self) -> Result<Option<Self::Medium>, MediumError> {
        let m = self.wait_for_medium()?;
        self.loaded += 1;
        info!("{}: volume {} loaded", m.name, self.loaded);
        Ok(Some(m))
    }

    fn unload(&mut self, mut medium: Self::Medium) -> Result<(), MediumError> {
        medium.sync()?;
        let op = match self.opts.unload {
            Unload::Offline => op::OFFL,
            Unload::Rewind => op::REW,
        };
        medium.dev.mtop(op, 1).map_err(|e| medium.err(e))?;
        info!("{}: volume {} unloaded", medium.name, self.loaded);
        Ok(())
    }

    fn has_next(&self) -> bool {
        // The drive's loader (or an operator) decides; the wait tells. A
        // drive whose tapes a robot changes has none of its own.
        self.opts.unload == Unload::Offline || self.loaded == 0
    }

    fn volume(&self) -> Option<usize> {
        (self.loaded > 0).then_some(self.loaded)
    }
}

