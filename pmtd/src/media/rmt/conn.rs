//! One rmt session: `RSH [-l USER] HOST RMT` started as a child process,
//! requests on its stdin, replies on its stdout.
//!
//! Every reply has a deadline ([`Remote::timeout`]): a server that says
//! nothing is an error, not a hang. A session that failed (the child exited,
//! the pipe broke, a reply timed out or could not be parsed) is *broken*:
//! the child is killed and every later request fails at once with the same
//! cause, since the byte stream can no longer be trusted.
//!
//! Only the requests both Debian servers (rmt-dump and rmt-tar) agree on are
//! sent: `O` with symbolic flags, `C`, `R`, `W`, `I` with Linux MTIOCTOP
//! numbers, and `L` once [`Connection::probe_seek_order`] has learned in
//! which order this server takes its two arguments. Never `S` or `s`.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use tracing::{debug, trace};

use super::Remote;

/// The longest reply line accepted.
const MAX_LINE: usize = 4096;

/// How `L` takes its arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeekOrder {
    /// `L<offset>\n<whence>\n` (rmt-dump, BSD).
    OffsetFirst,
    /// `L<whence>\n<offset>\n` (GNU rmt, rmt-tar).
    WhenceFirst,
}

/// `lseek` whence values.
pub mod whence {
    /// From the start.
    pub const SET: i32 = 0;
    /// From the current offset.
    pub const CUR: i32 = 1;
    /// From the end.
    pub const END: i32 = 2;
}

/// A running rmt server.
#[derive(Debug)]
pub struct Connection {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    pending: Vec<u8>,
    timeout: Duration,
    /// What the server is, in messages ("the rmt server").
    server: String,
    stderr: Arc<Mutex<VecDeque<String>>>,
    broken: Option<(io::ErrorKind, String)>,
    order: Option<SeekOrder>,
}

fn nonblocking(fd: impl AsFd) -> io::Result<()> {
    let fl = OFlag::from_bits_truncate(fcntl(&fd, FcntlArg::F_GETFL)?);
    fcntl(&fd, FcntlArg::F_SETFL(fl | OFlag::O_NONBLOCK))?;
    Ok(())
}

impl Connection {
    /// Starts the server for `remote` (its path is not opened yet).
    pub fn start(remote: &Remote) -> io::Result<Connection> {
        Connection::spawn(remote, &remote.rmt_program(), "the rmt server")
    }

    /// Starts `program` (a command line the remote shell runs) on
    /// `remote`'s host: the rmt server, or another server that speaks over
    /// the same pipes (pmtd's remote changer server), `server` in messages.
    pub fn spawn(remote: &Remote, program: &str, server: &str) -> io::Result<Connection> {
        let argv = remote.rsh_argv();
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        if let Some(u) = &remote.user {
            cmd.arg("-l").arg(u);
        }
        cmd.arg(&remote.host).arg(program);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let name = remote.display();
        let mut child = cmd
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("starting the remote shell {:?}: {e}", argv[0])))?;
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other("the remote shell has no pipes"));
        };
        nonblocking(&stdin)?;
        nonblocking(&stdout)?;
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let t2 = Arc::clone(&tail);
        let who = name.clone();
        std::thread::Builder::new().name("rmt-stderr".into()).spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                debug!("{who}: remote: {line}");
                if let Ok(mut t) = t2.lock() {
                    if t.len() == 4 {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            }
        })?;
        debug!("{name}: started {argv:?} {program}");
        Ok(Connection {
            name,
            child,
            stdin: Some(stdin),
            stdout,
            pending: Vec::new(),
            timeout: remote.timeout,
            server: server.to_string(),
            stderr: tail,
            broken: None,
            order: None,
        })
    }

    /// The process id of the remote shell (the server itself when the
    /// shell runs it by exec).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// True once the session failed.
    pub fn is_broken(&self) -> bool {
        self.broken.is_some()
    }

    /// The error of a broken session, if it is.
    pub fn check(&self) -> io::Result<()> {
        match &self.broken {
            Some((kind, why)) => Err(io::Error::new(*kind, why.clone())),
            None => Ok(()),
        }
    }

    /// Breaks the session: kills the server, remembers why.
    pub(crate) fn fail(&mut self, kind: io::ErrorKind, why: String) -> io::Error {
        if self.broken.is_none() {
            // Did it end by itself? (A moment for it to be reaped.)
            let mut status = None;
            for _ in 0..10 {
                status = self.child.try_wait().ok().flatten();
                if status.is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            if status.is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
            // Give the stderr reader a moment to collect the last words.
            std::thread::sleep(Duration::from_millis(20));
            let mut why = why;
            if let Some(s) = status {
                why = format!("{why} (the remote shell ended: {s})");
            }
            if let Ok(t) = self.stderr.lock() {
                if !t.is_empty() {
                    why = format!("{why}: {}", t.iter().cloned().collect::<Vec<_>>().join(" / "));
                }
            }
            debug!("{}: session broken: {why}", self.name);
            self.broken = Some((kind, why));
        }
        let (k, w) = self.broken.clone().unwrap_or((kind, String::new()));
        io::Error::new(k, w)
    }

    fn closed(&mut self) -> io::Error {
        let why = format!("the connection to {} closed", self.server);
        self.fail(io::ErrorKind::BrokenPipe, why)
    }

    fn wait(&mut self, fd_out: bool, deadline: Instant) -> io::Result<()> {
        let now = Instant::now();
        if now >= deadline {
            let why = format!("no answer from {} within {:?}", self.server, self.timeout);
            return Err(self.fail(io::ErrorKind::TimedOut, why));
        }
        let ms = (deadline - now).as_millis().clamp(1, 60_000) as u16;
        let r = if fd_out {
            let Some(stdin) = self.stdin.as_ref() else { return Err(self.closed()) };
            let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLOUT)];
            poll(&mut fds, PollTimeout::from(ms))
        } else {
            let mut fds = [PollFd::new(self.stdout.as_fd(), PollFlags::POLLIN)];
            poll(&mut fds, PollTimeout::from(ms))
        };
        match r {
            Ok(_) | Err(nix::errno::Errno::EINTR) => Ok(()),
            Err(e) => Err(self.fail(io::ErrorKind::Other, format!("poll: {e}"))),
        }
    }

    /// The longest wait for one reply.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends `parts` in order, waiting at most until `deadline` for the
    /// pipe to take them.
    pub(crate) fn send(&mut self, parts: &[&[u8]], deadline: Instant) -> io::Result<()> {
        self.check()?;
        for part in parts {
            let mut rest: &[u8] = part;
            while !rest.is_empty() {
                let Some(stdin) = self.stdin.as_mut() else { return Err(self.closed()) };
                match stdin.write(rest) {
                    Ok(0) => return Err(self.closed()),
                    Ok(n) => rest = &rest[n..],
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait(true, deadline)?,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Err(self.closed()),
                    Err(e) => return Err(self.fail(e.kind(), format!("writing to {}: {e}", self.server))),
                }
            }
        }
        Ok(())
    }

    /// Receives more bytes into `pending`.
    fn fill(&mut self, deadline: Instant) -> io::Result<()> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.stdout.read(&mut chunk) {
                Ok(0) => return Err(self.closed()),
                Ok(n) => {
                    self.pending.extend_from_slice(&chunk[..n]);
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait(false, deadline)?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.fail(e.kind(), format!("reading from {}: {e}", self.server))),
            }
        }
    }

    fn line(&mut self, deadline: Instant) -> io::Result<String> {
        loop {
            if let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
                let l: Vec<u8> = self.pending.drain(..=i).collect();
                return Ok(String::from_utf8_lossy(&l[..i]).into_owned());
            }
            if self.pending.len() > MAX_LINE {
                return Err(self.fail(io::ErrorKind::InvalidData, "an overlong reply line from the rmt server".into()));
            }
            self.fill(deadline)?;
        }
    }

    /// Moves the next `out.len()` received bytes into `out`, waiting at
    /// most until `deadline` for them.
    pub(crate) fn take(&mut self, out: &mut [u8], deadline: Instant) -> io::Result<()> {
        let mut got = 0;
        while got < out.len() {
            if self.pending.is_empty() {
                self.fill(deadline)?;
            }
            let n = self.pending.len().min(out.len() - got);
            out[got..got + n].copy_from_slice(&self.pending[..n]);
            self.pending.drain(..n);
            got += n;
        }
        Ok(())
    }

    /// One reply: `A<n>` is Ok(n), `E<errno>` the server's errno, `F` or
    /// anything else breaks the session.
    fn reply(&mut self, deadline: Instant) -> io::Result<u64> {
        let l = self.line(deadline)?;
        trace!("{}: <- {l}", self.name);
        let (code, rest) = l.split_at(l.chars().next().map_or(0, char::len_utf8));
        match code {
            "A" => rest.trim().parse::<u64>().map_err(|_| {
                self.fail(io::ErrorKind::InvalidData, format!("a malformed reply {l:?} from the rmt server"))
            }),
            "E" => {
                let text = self.line(deadline)?;
                match rest.trim().parse::<i32>() {
                    Ok(n) if n > 0 => {
                        debug!("{}: server error {n}: {text}", self.name);
                        Err(io::Error::from_raw_os_error(n))
                    }
                    _ => Err(io::Error::other(format!("rmt server error: {text}"))),
                }
            }
            "F" => {
                let text = self.line(deadline).unwrap_or_default();
                Err(self.fail(io::ErrorKind::Other, format!("fatal rmt server error: {text}")))
            }
            _ => Err(self.fail(io::ErrorKind::InvalidData, format!("an unexpected reply {l:?} from the rmt server"))),
        }
    }

    fn request(&mut self, parts: &[&[u8]]) -> io::Result<u64> {
        let deadline = Instant::now() + self.timeout;
        self.send(parts, deadline)?;
        self.reply(deadline)
    }

    /// `O`: opens `path` with symbolic flags such as `O_RDWR|O_CREAT`.
    pub fn open(&mut self, path: &str, flags: &str) -> io::Result<()> {
        if path.contains('\n') || flags.contains('\n') {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        self.request(&[format!("O{path}\n{flags}\n").as_bytes()]).map(drop)
    }

    /// `C`: closes the open device or file. rmt-tar exits after it.
    pub fn close(&mut self, path: &str) -> io::Result<()> {
        self.request(&[format!("C{path}\n").as_bytes()]).map(drop)
    }

    /// `R`: one read(2) of up to `buf.len()` bytes on the server.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let deadline = Instant::now() + self.timeout;
        self.send(&[format!("R{}\n", buf.len()).as_bytes()], deadline)?;
        let n = self.reply(deadline)?;
        let n = usize::try_from(n).ok().filter(|&n| n <= buf.len()).ok_or_else(|| {
            self.fail(io::ErrorKind::InvalidData, format!("the rmt server sent {n} bytes for a read of {}", buf.len()))
        })?;
        self.take(&mut buf[..n], deadline)?;
        Ok(n)
    }

    /// `W`: one write(2) of `data` on the server.
    pub fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.request(&[format!("W{}\n", data.len()).as_bytes(), data])?;
        usize::try_from(n).ok().filter(|&n| n <= data.len()).ok_or_else(|| {
            self.fail(io::ErrorKind::InvalidData, format!("the rmt server wrote {n} of {} bytes", data.len()))
        })
    }

    /// `I`: MTIOCTOP with the server's (Linux) operation numbers.
    pub fn ioctl(&mut self, op: i16, count: i32) -> io::Result<u64> {
        self.request(&[format!("I{op}\n{count}\n").as_bytes()])
    }

    /// Learns how this server takes `L`'s arguments, harmlessly: with the
    /// file just opened (offset 0), `L0\n1\n` is "offset 0 from the current
    /// offset" (answer 0) to an offset-first server and "offset 1 from the
    /// start" (answer 1) to a whence-first one. Leaves the offset at 0.
    pub fn probe_seek_order(&mut self) -> io::Result<SeekOrder> {
        let r = self.request(&[b"L0\n1\n"])?;
        let order = match r {
            0 => SeekOrder::OffsetFirst,
            1 => SeekOrder::WhenceFirst,
            n => {
                return Err(self.fail(io::ErrorKind::InvalidData, format!("the seek probe was answered with {n}")));
            }
        };
        self.order = Some(order);
        let back = self.seek(0, whence::SET)?;
        if back != 0 {
            return Err(self.fail(io::ErrorKind::InvalidData, format!("a seek to 0 was answered with {back}")));
        }
        debug!("{}: the server takes L as {order:?}", self.name);
        Ok(order)
    }

    /// `L`: lseek on the server, in the order the probe learned.
    pub fn seek(&mut self, offset: i64, whence: i32) -> io::Result<u64> {
        let Some(order) = self.order else {
            return Err(io::Error::other("seeking before the server's argument order is known"));
        };
        let req = match order {
            SeekOrder::OffsetFirst => format!("L{offset}\n{whence}\n"),
            SeekOrder::WhenceFirst => format!("L{whence}\n{offset}\n"),
        };
        self.request(&[req.as_bytes()])
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // End of input: both servers exit.
        self.stdin = None;
        if self.broken.is_none() {
            let until = Instant::now() + Duration::from_millis(500);
            while Instant::now() < until {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
