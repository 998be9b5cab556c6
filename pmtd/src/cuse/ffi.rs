//! The thin layer over libfuse3's `cuse_lowlevel` (through `cuse/shim.c`,
//! which keeps libfuse's structures on the C side): a channel per device
//! node, its requests handed to [`Node`] as safe calls with a [`Req`] to
//! answer. Every `unsafe` of the CUSE host is in this module.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_uint, c_void, CString};
use std::io;
use std::sync::Arc;

use super::device::{Caller, Node, Region, Request};
use super::host::Shared;

/// libfuse's request (`fuse_req_t` points to one).
#[repr(C)]
pub struct FuseReq {
    _opaque: [u8; 0],
}

/// The shim's channel (`struct pmt_cuse`).
#[repr(C)]
struct PmtCuse {
    _opaque: [u8; 0],
}

/// `struct pmt_cuse_ops` of cuse/shim.c.
#[repr(C)]
struct Ops {
    open: extern "C" fn(*mut c_void, *mut FuseReq, c_int),
    read: extern "C" fn(*mut c_void, *mut FuseReq, u64, usize, i64),
    write: extern "C" fn(*mut c_void, *mut FuseReq, u64, *const c_char, usize, i64),
    release: extern "C" fn(*mut c_void, *mut FuseReq, u64),
    #[allow(clippy::type_complexity)]
    ioctl: extern "C" fn(*mut c_void, *mut FuseReq, u64, c_uint, u64, c_uint, *const c_void, usize, usize),
    init_done: extern "C" fn(*mut c_void),
}

extern "C" {
    fn pmt_cuse_new(devname: *const c_char, ops: *const Ops, ctx: *mut c_void) -> *mut PmtCuse;
    fn pmt_cuse_init(c: *mut PmtCuse) -> c_int;
    fn pmt_cuse_loop(c: *mut PmtCuse, max_threads: c_uint) -> c_int;
    fn pmt_cuse_caller(req: *mut FuseReq, uid: *mut u32, gid: *mut u32, pid: *mut i32);
    fn pmt_cuse_reply_open(req: *mut FuseReq, fh: u64) -> c_int;
    fn fuse_reply_err(req: *mut FuseReq, err: c_int) -> c_int;
    fn fuse_reply_buf(req: *mut FuseReq, buf: *const c_char, size: usize) -> c_int;
    fn fuse_reply_write(req: *mut FuseReq, count: usize) -> c_int;
    fn fuse_reply_ioctl(req: *mut FuseReq, result: c_int, buf: *const c_void, size: usize) -> c_int;
    fn fuse_reply_ioctl_retry(
        req: *mut FuseReq,
        in_iov: *const libc::iovec,
        in_count: usize,
        out_iov: *const libc::iovec,
        out_count: usize,
    ) -> c_int;
    fn fuse_req_interrupt_func(req: *mut FuseReq, func: extern "C" fn(*mut FuseReq, *mut c_void), data: *mut c_void);
}

static OPS: Ops = Ops { open: on_open, read: on_read, write: on_write, release: on_release, ioctl: on_ioctl, init_done: on_init_done };

/// A CUSE channel: one device node, served by a [`Node`].
pub struct Channel {
    c: *mut PmtCuse,
    name: String,
}

// SAFETY: the shim's channel is only used by the thread that runs its loop
// after it is handed over (Channel::serve consumes it); libfuse's session
// is made to be driven from any one thread.
unsafe impl Send for Channel {}

impl Channel {
    /// Opens a CUSE channel for `/dev/<name>`, served by `node`. The node
    /// appears once [`Channel::init`] has run.
    pub fn new(name: &str, node: Arc<Node>) -> io::Result<Channel> {
        let cname = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // The node lives as long as the process: libfuse hands its pointer
        // back with every request, and the channel is never torn down
        // while the process runs.
        let ctx = Arc::into_raw(node).cast_mut().cast::<c_void>();
        // SAFETY: cname is a valid C string for the call; OPS is static;
        // ctx points to a Node that is never freed.
        let c = unsafe { pmt_cuse_new(cname.as_ptr(), &OPS, ctx) };
        if c.is_null() {
            return Err(io::Error::last_os_error());
        }
        Ok(Channel { c, name: name.to_string() })
    }

    /// Runs the kernel's CUSE_INIT on this thread: the device node exists
    /// when it returns Ok.
    pub fn init(&mut self) -> io::Result<()> {
        // SAFETY: self.c is a live channel from pmt_cuse_new, used by this
        // thread only.
        let r = unsafe { pmt_cuse_init(self.c) };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::other(format!("CUSE_INIT of {} failed ({r})", self.name)))
        }
    }

    /// Serves the channel with up to `threads` workers until the session
    /// ends (the kernel closed it).
    pub fn serve(self, threads: u32) -> i32 {
        // SAFETY: self.c is a live channel, now driven by this thread only;
        // libfuse starts and joins its own workers.
        unsafe { pmt_cuse_loop(self.c, threads) }
    }
}

/// A request being served: answered exactly once, by value.
pub struct Req {
    req: *mut FuseReq,
    shared: Option<Arc<Shared>>,
}

impl Req {
    fn new(req: *mut FuseReq) -> Req {
        Req { req, shared: None }
    }

    fn done(&mut self) {
        if let Some(s) = self.shared.take() {
            s.forget_interrupt(self.req as usize);
        }
    }
}

extern "C" fn on_interrupt(req: *mut FuseReq, data: *mut c_void) {
    // SAFETY: data is the Shared of a Node, which is never freed (see
    // Channel::new); only a shared reference is made.
    let shared = unsafe { &*data.cast::<Shared>() };
    shared.interrupt(req as usize);
}

impl Request for Req {
    fn caller(&self) -> Caller {
        let (mut uid, mut gid, mut pid) = (0u32, 0u32, 0i32);
        // SAFETY: self.req is a live request (not yet answered); the three
        // pointers are valid for writes.
        unsafe { pmt_cuse_caller(self.req, &mut uid, &mut gid, &mut pid) };
        Caller { uid, gid, pid }
    }

    fn id(&self) -> usize {
        self.req as usize
    }

    fn watch_interrupts(&mut self, shared: &Arc<Shared>) {
        shared.forget_interrupt(self.req as usize);
        self.shared = Some(Arc::clone(shared));
        // SAFETY: self.req is live; the data pointer is a Shared kept alive
        // by its Node for the life of the process, so a late call of the
        // function (libfuse may run it while the reply is sent) finds it.
        unsafe { fuse_req_interrupt_func(self.req, on_interrupt, Arc::as_ptr(shared).cast_mut().cast::<c_void>()) };
    }

    fn reply_err(mut self, errno: i32) {
        // SAFETY: self.req is live and answered once (self is consumed).
        unsafe { fuse_reply_err(self.req, errno) };
        self.done();
    }

    fn reply_open(mut self, fh: u64) {
        // SAFETY: as reply_err.
        unsafe { pmt_cuse_reply_open(self.req, fh) };
        self.done();
    }

    fn reply_data(mut self, data: &[u8]) {
        // SAFETY: as reply_err; data is valid for data.len() bytes.
        unsafe { fuse_reply_buf(self.req, data.as_ptr().cast::<c_char>(), data.len()) };
        self.done();
    }

    fn reply_write(mut self, n: usize) {
        // SAFETY: as reply_err.
        unsafe { fuse_reply_write(self.req, n) };
        self.done();
    }

    fn reply_ioctl(mut self, result: i32, out: &[u8]) {
        // SAFETY: as reply_err; out is valid for out.len() bytes.
        unsafe { fuse_reply_ioctl(self.req, result, out.as_ptr().cast::<c_void>(), out.len()) };
        self.done();
    }

    fn reply_ioctl_retry(mut self, ins: &[Region], outs: &[Region]) {
        let iov = |r: &Region| libc::iovec { iov_base: r.addr as usize as *mut c_void, iov_len: r.len };
        let i: Vec<libc::iovec> = ins.iter().map(iov).collect();
        let o: Vec<libc::iovec> = outs.iter().map(iov).collect();
        // SAFETY: as reply_err; the iovecs are only read by libfuse, which
        // sends their addresses and lengths (caller addresses, never
        // dereferenced here) to the kernel.
        unsafe { fuse_reply_ioctl_retry(self.req, i.as_ptr(), i.len(), o.as_ptr(), o.len()) };
        self.done();
    }
}

/// The node behind a callback's context.
///
/// # Safety
/// `ctx` must be the pointer Channel::new made from an Arc<Node>.
unsafe fn node<'a>(ctx: *mut c_void) -> &'a Node {
    // SAFETY: guaranteed by the caller; the node is never freed.
    unsafe { &*ctx.cast::<Node>() }
}

extern "C" fn on_open(ctx: *mut c_void, req: *mut FuseReq, flags: c_int) {
    // SAFETY: libfuse passes back the context Channel::new gave it.
    let n = unsafe { node(ctx) };
    n.open(Req::new(req), flags);
}

extern "C" fn on_read(ctx: *mut c_void, req: *mut FuseReq, fh: u64, size: usize, off: i64) {
    // SAFETY: as on_open.
    let n = unsafe { node(ctx) };
    n.read(Req::new(req), fh, size, off);
}

extern "C" fn on_write(ctx: *mut c_void, req: *mut FuseReq, fh: u64, buf: *const c_char, size: usize, off: i64) {
    // SAFETY: as on_open.
    let n = unsafe { node(ctx) };
    let data: &[u8] = if buf.is_null() || size == 0 {
        &[]
    } else {
        // SAFETY: libfuse passes the request's data, size bytes at buf,
        // valid until the callback returns.
        unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), size) }
    };
    n.write(Req::new(req), fh, data, off);
}

extern "C" fn on_release(ctx: *mut c_void, req: *mut FuseReq, fh: u64) {
    // SAFETY: as on_open.
    let n = unsafe { node(ctx) };
    n.release(Req::new(req), fh);
}

#[allow(clippy::too_many_arguments)]
extern "C" fn on_ioctl(
    ctx: *mut c_void,
    req: *mut FuseReq,
    fh: u64,
    cmd: c_uint,
    arg: u64,
    flags: c_uint,
    inp: *const c_void,
    in_size: usize,
    out_size: usize,
) {
    // SAFETY: as on_open.
    let n = unsafe { node(ctx) };
    let data: &[u8] = if inp.is_null() || in_size == 0 {
        &[]
    } else {
        // SAFETY: libfuse passes the ioctl's input, in_size bytes at inp,
        // valid until the callback returns.
        unsafe { std::slice::from_raw_parts(inp.cast::<u8>(), in_size) }
    };
    n.ioctl(Req::new(req), fh, cmd, arg, flags, data, out_size);
}

extern "C" fn on_init_done(_ctx: *mut c_void) {}
