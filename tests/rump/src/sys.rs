//! The rump kernel's system calls, with NetBSD's numbering throughout: open
//! flags (rump/rumpdefs.h), errno values (set in the host's errno by the
//! rump_sys_* calls), ioctl encoding (sys/sys/ioccom.h), struct mtop and
//! struct mtget (sys/sys/mtio.h), struct kevent (sys/sys/event.h). The
//! numbers are written here from NetBSD's headers, not taken from the core.

use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void, CString};

#[repr(C)]
struct IoVec {
    base: *mut c_void,
    len: usize,
}

/// struct pollfd (the same on NetBSD and Linux).
#[repr(C)]
struct PollFd {
    fd: c_int,
    events: i16,
    revents: i16,
}

/// NetBSD's struct kevent (ident, filter, flags, fflags, data, udata).
#[repr(C)]
#[derive(Clone, Copy)]
struct KEvent {
    ident: usize,
    filter: u32,
    flags: u32,
    fflags: u32,
    data: i64,
    udata: isize,
}

#[repr(C)]
struct TimeSpec {
    sec: i64,
    nsec: i64,
}

extern "C" {
    fn rump_init() -> c_int;
    fn rump_boot_setsigmodel(model: c_int);
    fn rump_schedule();
    fn rump_unschedule();
    fn rump_pub_lwproc_rfork(flags: c_int) -> c_int;
    fn rump_pub_lwproc_releaselwp();
    fn rump_pub_lwproc_newlwp(pid: c_int) -> c_int;
    fn gettid() -> c_int;
    /// The component's test hook: kill(2)'s kpsignal (sys/rump/dev/lib/libpmt).
    fn rumpns_pmt_rump_signal(pid: c_int, sig: c_int) -> c_int;
    #[link_name = "rump___sysimpl_getpid"]
    fn sys_getpid() -> c_int;
    #[link_name = "rump___sysimpl_revoke"]
    fn sys_revoke(path: *const c_char) -> c_int;
    #[link_name = "rump___sysimpl___sysctl"]
    fn sys_sysctl(name: *const c_int, namelen: c_uint, old: *mut c_void, oldlen: *mut usize, new: *const c_void, newlen: usize) -> c_int;
    #[link_name = "rump___sysimpl_open"]
    fn sys_open(path: *const c_char, flags: c_int, ...) -> c_int;
    #[link_name = "rump___sysimpl_close"]
    fn sys_close(fd: c_int) -> c_int;
    #[link_name = "rump___sysimpl_read"]
    fn sys_read(fd: c_int, buf: *mut c_void, n: usize) -> isize;
    #[link_name = "rump___sysimpl_write"]
    fn sys_write(fd: c_int, buf: *const c_void, n: usize) -> isize;
    #[link_name = "rump___sysimpl_readv"]
    fn sys_readv(fd: c_int, iov: *const IoVec, n: c_int) -> isize;
    #[link_name = "rump___sysimpl_ioctl"]
    fn sys_ioctl(fd: c_int, cmd: c_ulong, ...) -> c_int;
    #[link_name = "rump___sysimpl_fcntl"]
    fn sys_fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
    #[link_name = "rump___sysimpl_poll"]
    fn sys_poll(fds: *mut PollFd, n: c_uint, timeout: c_int) -> c_int;
    #[link_name = "rump___sysimpl_kqueue"]
    fn sys_kqueue() -> c_int;
    #[link_name = "rump___sysimpl_kevent50"]
    fn sys_kevent(kq: c_int, ch: *const KEvent, nch: usize, ev: *mut KEvent, nev: usize, ts: *const TimeSpec) -> c_int;
    #[link_name = "rump___sysimpl_modctl"]
    fn sys_modctl(cmd: c_int, arg: *mut c_void) -> c_int;
}

/// NetBSD errno values.
pub mod errno {
    /// Input/output error.
    pub const EIO: i32 = 5;
    /// Device not configured.
    pub const ENXIO: i32 = 6;
    /// Device busy.
    pub const EBUSY: i32 = 16;
    /// Invalid argument.
    pub const EINVAL: i32 = 22;
    /// Inappropriate ioctl for device.
    pub const ENOTTY: i32 = 25;
    /// Read-only file system (a write-protected tape).
    pub const EROFS: i32 = 30;
    /// Resource temporarily unavailable (EWOULDBLOCK).
    pub const EAGAIN: i32 = 35;
    /// Interrupted system call.
    pub const EINTR: i32 = 4;
    /// Bad file descriptor (ch: not open for writing).
    pub const EBADF: i32 = 9;
    /// Operation not supported by device (ch: no such element, or a move
    /// the changer cannot make).
    pub const ENODEV: i32 = 19;
}

/// NetBSD signal numbers.
pub mod sig {
    /// SIGKILL.
    pub const KILL: i32 = 9;
    /// SIGALRM.
    pub const ALRM: i32 = 14;
    /// SIGWINCH.
    pub const WINCH: i32 = 28;
    /// SIGINFO (^T).
    pub const INFO: i32 = 29;
}

/// Open flags (rump/rumpdefs.h).
pub const O_RDONLY: i32 = 0;
/// Write only.
pub const O_WRONLY: i32 = 1;
/// Read and write.
pub const O_RDWR: i32 = 2;
/// Non-blocking.
pub const O_NONBLOCK: i32 = 4;
const F_GETFL: c_int = 3;
const F_SETFL: c_int = 4;

/// poll bits.
pub const POLLIN: i16 = 0x1;
/// Writable.
pub const POLLOUT: i16 = 0x4;
/// Normal data readable.
pub const POLLRDNORM: i16 = 0x40;
/// Hung up.
pub const POLLHUP: i16 = 0x10;
/// An error (a revoked descriptor).
pub const POLLERR: i16 = 0x8;
/// kevent's EV_EOF.
pub const EV_EOF: u32 = 0x8000;

/// NetBSD's mtio numbers, as the core defines them once.
pub use pmt::abi::netbsd::{op as mt, MTIOCEEOT, MTIOCGET, MTIOCIEOT, MTIOCRDSPOS, MTIOCSLOCATE, MTIOCTOP, MT_DS_MOUNTED, MT_DS_RDONLY};

/// An `_IOR('m', 99, uint32_t)` nobody handles: an unknown ioctl.
pub const UNKNOWN_IOCTL: u32 = 0x4000_0000 | 4 << 16 | (b'm' as u32) << 8 | 99;
/// Linux's MTIOCGET number, which NetBSD's st does not know.
pub const LINUX_MTIOCGET: u32 = pmt::abi::linux::MTIOCGET;

/// A NetBSD errno.
pub type Errno = i32;

fn errno() -> Errno {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Starts the rump kernel: every linked module's init (pmt's devsw_attach),
/// then the component's hooks (the device nodes).
pub fn init() -> Result<(), Errno> {
    // RUMP_SIGMODEL_RECORD: a signal stays pending in its process (the
    // default raises it in the host process).
    // SAFETY: a boot setting, before rump_init.
    unsafe { rump_boot_setsigmodel(4) };
    // SAFETY: no arguments; called once, before any other rump call.
    let r = unsafe { rump_init() };
    if r == 0 {
        Ok(())
    } else {
        Err(r)
    }
}

/// Unloads a module (modctl MODCTL_UNLOAD).
pub fn modunload(name: &str) -> Result<(), Errno> {
    let c = CString::new(name).map_err(|_| errno::EINVAL)?;
    // SAFETY: MODCTL_UNLOAD (1) takes a NUL-terminated module name.
    let r = unsafe { sys_modctl(1, c.as_ptr() as *mut c_void) };
    if r == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

/// A rump process of the calling thread's own (rfork with a clean file
/// table): signals sent to it reach only this thread. Released when
/// dropped, on the same thread (its files are closed then).
pub struct Proc {
    pid: i32,
}

impl Proc {
    /// Forks the calling thread into a new process.
    pub fn fork() -> Result<Proc, Errno> {
        // SAFETY: RUMP_RFCFDG (2): a new process with an empty file table.
        let r = unsafe { rump_pub_lwproc_rfork(2) };
        if r != 0 {
            return Err(r);
        }
        // SAFETY: no arguments.
        let pid = unsafe { sys_getpid() };
        Ok(Proc { pid })
    }

    /// Its pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // SAFETY: the thread's lwp is the process's only one.
        unsafe { rump_pub_lwproc_releaselwp() };
    }
}

/// Makes the calling thread a new lwp of process `pid` (sharing its
/// files and its pending signals).
pub fn join_process(pid: i32) -> Result<(), Errno> {
    // SAFETY: creates an lwp for the calling host thread.
    let r = unsafe { rump_pub_lwproc_newlwp(pid) };
    if r == 0 {
        Ok(())
    } else {
        Err(r)
    }
}

/// Releases the calling thread's lwp (see [`join_process`]).
pub fn leave_process() {
    // SAFETY: the thread's own lwp.
    unsafe { rump_pub_lwproc_releaselwp() };
}

/// The calling host thread's id.
pub fn tid() -> i32 {
    // SAFETY: no arguments.
    unsafe { gettid() }
}

/// Whether host thread `tid` of this process is asleep (state S in
/// /proc): a thread blocked in the rump kernel sleeps on a host condvar.
pub fn sleeping(tid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('S')))
        .unwrap_or(false)
}

/// Posts signal `sig` to process `pid`, as kill(2) does.
pub fn signal(pid: i32, sig: i32) -> Result<(), Errno> {
    // SAFETY: a kernel call, with a virtual CPU scheduled around it.
    let r = unsafe {
        rump_schedule();
        let r = rumpns_pmt_rump_signal(pid, sig);
        rump_unschedule();
        r
    };
    if r == 0 {
        Ok(())
    } else {
        Err(r)
    }
}

/// revoke(2).
pub fn revoke(path: &str) -> Result<(), Errno> {
    let c = CString::new(path).map_err(|_| errno::EINVAL)?;
    // SAFETY: a NUL-terminated path.
    if unsafe { sys_revoke(c.as_ptr()) } == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

/// The event counter `group` `name` (kern.evcnt, as vmstat -e reads it).
pub fn evcnt(group: &str, name: &str) -> Result<Option<u64>, Errno> {
    // CTL_KERN, KERN_EVCNT, EVCNT_TYPE_ANY, KERN_EVCNT_COUNT_ANY.
    let mib: [c_int; 4] = [1, 84, -1, 0];
    let mut len = 0usize;
    // SAFETY: a size query.
    if unsafe { sys_sysctl(mib.as_ptr(), 4, std::ptr::null_mut(), &mut len, std::ptr::null(), 0) } != 0 {
        return Err(errno());
    }
    let mut buf = vec![0u8; len + 4096];
    let mut len = buf.len();
    // SAFETY: buf holds len bytes.
    if unsafe { sys_sysctl(mib.as_ptr(), 4, buf.as_mut_ptr().cast(), &mut len, std::ptr::null(), 0) } != 0 {
        return Err(errno());
    }
    // struct evcnt_sysctl: count, addr, parent (u64 each), type, grouplen,
    // namelen (without their NULs), len (in 8-byte units), then group and
    // name, each NUL-terminated (subr_evcnt.c's sysctl_fillevcnt).
    let mut off = 0;
    while off + 28 <= len {
        let e = &buf[off..len];
        let count = u64::from_ne_bytes(e[0..8].try_into().unwrap_or_default());
        let (glen, nlen, elen) = (usize::from(e[25]), usize::from(e[26]), usize::from(e[27]) * 8);
        if elen == 0 {
            break;
        }
        let g = e.get(28..28 + glen).unwrap_or_default();
        let n = e.get(28 + glen + 1..28 + glen + 1 + nlen).unwrap_or_default();
        if g == group.as_bytes() && n == name.as_bytes() {
            return Ok(Some(count));
        }
        off += elen;
    }
    Ok(None)
}

/// Loads a module (modctl MODCTL_LOAD) with `props` (an XML property
/// list, as modload -i builds it); `force` reinstates an unloaded
/// built-in module (modload -f).
pub fn modload(name: &str, props: Option<&str>, force: bool) -> Result<(), Errno> {
    #[repr(C)]
    struct ModctlLoad {
        filename: *const c_char,
        flags: c_int,
        props: *const c_char,
        propslen: usize,
    }
    let n = CString::new(name).map_err(|_| errno::EINVAL)?;
    let p = props.map(CString::new).transpose().map_err(|_| errno::EINVAL)?;
    let ml = ModctlLoad {
        filename: n.as_ptr(),
        flags: if force { 1 } else { 0 } | if p.is_none() { 2 } else { 0 },
        props: p.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
        propslen: p.as_ref().map_or(0, |c| c.as_bytes_with_nul().len()),
    };
    // SAFETY: MODCTL_LOAD (0) takes a modctl_load_t that lives across the call.
    let r = unsafe { sys_modctl(0, &ml as *const ModctlLoad as *mut c_void) };
    if r == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

/// `struct mtget`, the fields pmt fills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MtGet {
    /// mt_type.
    pub mt_type: u16,
    /// mt_dsreg.
    pub dsreg: u16,
    /// mt_fileno.
    pub fileno: i32,
    /// mt_blkno.
    pub blkno: i32,
    /// mt_blksiz.
    pub blksiz: i32,
    /// mt_erreg: the last sense key latched.
    pub erreg: i16,
    /// mt_resid: the last residue latched.
    pub resid: i16,
    /// mt_mblksiz: each mode's block size.
    pub mblksiz: [i32; 4],
}

/// A file descriptor in the rump kernel, closed when dropped.
#[derive(Debug)]
pub struct Fd(c_int);

impl Fd {
    /// open(2).
    pub fn open(path: &str, flags: i32) -> Result<Fd, Errno> {
        let c = CString::new(path).map_err(|_| errno::EINVAL)?;
        // SAFETY: a NUL-terminated path; the mode argument is not needed.
        let fd = unsafe { sys_open(c.as_ptr(), flags) };
        if fd < 0 {
            Err(errno())
        } else {
            Ok(Fd(fd))
        }
    }

    /// The descriptor number (in its rump process).
    pub fn raw(&self) -> i32 {
        self.0
    }

    /// A descriptor another thread of the same rump process owns; forget
    /// it (std::mem::forget) rather than drop it.
    pub fn borrowed(fd: i32) -> Fd {
        Fd(fd)
    }

    /// close(2), reporting its error (dropping closes silently).
    pub fn close(self) -> Result<(), Errno> {
        let fd = self.0;
        std::mem::forget(self);
        // SAFETY: fd is ours and closed once.
        if unsafe { sys_close(fd) } == 0 {
            Ok(())
        } else {
            Err(errno())
        }
    }

    /// read(2) with an `n`-byte buffer.
    pub fn read(&self, n: usize) -> Result<Vec<u8>, Errno> {
        let mut buf = vec![0u8; n];
        let k = self.read_into(&mut buf)?;
        buf.truncate(k);
        Ok(buf)
    }

    /// read(2) into `buf`.
    pub fn read_into(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        // SAFETY: buf is valid for writes of its length.
        let k = unsafe { sys_read(self.0, buf.as_mut_ptr().cast(), buf.len()) };
        if k < 0 {
            Err(errno())
        } else {
            Ok(k as usize)
        }
    }

    /// readv(2) into several buffers.
    pub fn readv(&self, bufs: &mut [&mut [u8]]) -> Result<usize, Errno> {
        let iov: Vec<IoVec> = bufs.iter_mut().map(|b| IoVec { base: b.as_mut_ptr().cast(), len: b.len() }).collect();
        // SAFETY: every iovec names a live buffer of its length.
        let k = unsafe { sys_readv(self.0, iov.as_ptr(), iov.len() as c_int) };
        if k < 0 {
            Err(errno())
        } else {
            Ok(k as usize)
        }
    }

    /// write(2).
    pub fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        // SAFETY: data is valid for reads of its length.
        let k = unsafe { sys_write(self.0, data.as_ptr().cast(), data.len()) };
        if k < 0 {
            Err(errno())
        } else {
            Ok(k as usize)
        }
    }

    /// ioctl(2) with an argument buffer (its size is the command's).
    pub fn ioctl(&self, cmd: u32, arg: &mut [u8]) -> Result<(), Errno> {
        // SAFETY: the kernel copies IOCPARM_LEN(cmd) bytes in and out of
        // arg; callers pass a buffer at least that long.
        let r = unsafe { sys_ioctl(self.0, c_ulong::from(cmd), arg.as_mut_ptr()) };
        if r == 0 {
            Ok(())
        } else {
            Err(errno())
        }
    }

    /// MTIOCTOP.
    pub fn mt(&self, op: i16, count: i32) -> Result<(), Errno> {
        let mut a = [0u8; 8];
        a[0..2].copy_from_slice(&op.to_ne_bytes());
        a[4..8].copy_from_slice(&count.to_ne_bytes());
        self.ioctl(MTIOCTOP, &mut a)
    }

    /// MTIOCGET.
    pub fn status(&self) -> Result<MtGet, Errno> {
        let mut b = [0xa5u8; 56];
        self.ioctl(MTIOCGET, &mut b)?;
        let s = |at: usize| u16::from_ne_bytes([b[at], b[at + 1]]);
        let i = |at: usize| i32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        Ok(MtGet {
            mt_type: s(0),
            dsreg: s(2),
            fileno: i(8),
            blkno: i(12),
            blksiz: i(16),
            erreg: s(4) as i16,
            resid: s(6) as i16,
            mblksiz: [i(24), i(28), i(32), i(36)],
        })
    }

    /// (mt_fileno, mt_blkno).
    pub fn pos(&self) -> Result<(i32, i32), Errno> {
        self.status().map(|s| (s.fileno, s.blkno))
    }

    /// poll(2) on this descriptor alone: the returned events.
    pub fn poll(&self, events: i16, timeout_ms: i32) -> Result<i16, Errno> {
        let mut p = PollFd { fd: self.0, events, revents: 0 };
        // SAFETY: one valid pollfd.
        let r = unsafe { sys_poll(&mut p, 1, timeout_ms) };
        if r < 0 {
            Err(errno())
        } else {
            Ok(p.revents)
        }
    }

    /// Sets or clears O_NONBLOCK with fcntl(2) (the driver sees FIONBIO).
    pub fn set_nonblock(&self, on: bool) -> Result<(), Errno> {
        // SAFETY: F_GETFL takes no argument.
        let fl = unsafe { sys_fcntl(self.0, F_GETFL) };
        if fl < 0 {
            return Err(errno());
        }
        let fl = if on { fl | O_NONBLOCK } else { fl & !O_NONBLOCK };
        // SAFETY: F_SETFL takes an int.
        if unsafe { sys_fcntl(self.0, F_SETFL, fl) } < 0 {
            return Err(errno());
        }
        Ok(())
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: fd is ours and closed once.
        unsafe { sys_close(self.0) };
    }
}

/// A kqueue watching one descriptor for EVFILT_READ.
pub struct ReadQueue {
    kq: Fd,
}

impl ReadQueue {
    /// kqueue(2) plus an EVFILT_READ | EV_ADD for `fd`.
    pub fn new(fd: &Fd) -> Result<ReadQueue, Errno> {
        // SAFETY: no arguments.
        let kq = unsafe { sys_kqueue() };
        if kq < 0 {
            return Err(errno());
        }
        let kq = Fd(kq);
        const EV_ADD: u32 = 0x1;
        let ch = KEvent { ident: fd.0 as usize, filter: 0, flags: EV_ADD, fflags: 0, data: 0, udata: 0 };
        // SAFETY: one change, no events asked for.
        if unsafe { sys_kevent(kq.0, &ch, 1, std::ptr::null_mut(), 0, std::ptr::null()) } < 0 {
            return Err(errno());
        }
        Ok(ReadQueue { kq })
    }

    /// Events ready within `ms` milliseconds (0 or 1).
    pub fn wait(&self, ms: i64) -> Result<usize, Errno> {
        self.event(ms).map(|e| usize::from(e.is_some()))
    }

    /// The event ready within `ms` milliseconds, if any: (data, flags).
    pub fn event(&self, ms: i64) -> Result<Option<(i64, u32)>, Errno> {
        let mut ev = KEvent { ident: 0, filter: 0, flags: 0, fflags: 0, data: 0, udata: 0 };
        let ts = TimeSpec { sec: ms / 1000, nsec: (ms % 1000) * 1_000_000 };
        // SAFETY: room for one event; a valid timeout.
        let r = unsafe { sys_kevent(self.kq.0, std::ptr::null(), 0, &mut ev, 1, &ts) };
        if r < 0 {
            Err(errno())
        } else if r == 0 {
            Ok(None)
        } else {
            Ok(Some((ev.data, ev.flags)))
        }
    }
}
