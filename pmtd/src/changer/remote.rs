//! The remote changer protocol: a changer on another host, driven as rmt
//! drives a tape there. pmtd starts `pmtd changer-server DEVICE` on that
//! host through a remote shell (`RSH [-l USER] HOST PMTD changer-server
//! DEVICE`: ssh and `pmtd` by default), and the far pmtd executes SMC
//! commands on its local changer through SG_IO, and nothing else.
//!
//! Frames, in both directions, all integers big-endian:
//!
//! ```text
//! header   [0-3] "PMCR"  [4-5] version (1)  [6-7] kind  [8-11] id  [12-15] payload bytes
//! HELLO    1  client -> server   (no payload) the client's version in the header
//! WELCOME  2  server -> client   the server's version; payload: the changer's INQUIRY
//!                                (vendor, product, revision) as text
//! COMMAND  3  client -> server   [0] CDB length  [1] direction (0 none, 1 to the device,
//!                                2 from it)  [2-3] 0  [4-7] bytes to receive  [8-11] timeout
//!                                in ms  [12-27] CDB  [28-] the data sent
//! RESULT   4  server -> client   [0] SCSI status  [1] sense bytes  [2-3] 0  [4-7] data bytes
//!                                [8-39] sense  [40-] the data received
//! ERROR    5  server -> client   [0-3] errno  [4-] text: the command was not carried out
//!                                (not an SMC command: EPERM; the node failed: its errno)
//! ```
//!
//! A reply carries its command's id. A server that speaks another version
//! answers HELLO with ERROR (EPROTONOSUPPORT) and exits. Only SMC commands
//! ([`super::is_smc`]) are executed; at most [`XFER_MAX`] bytes each way.
//! The client waits for every reply at most the connection's timeout
//! (`timeout=`, 600 s by default: a robot's slowest move) and the far side
//! gives each command no more: a silent server is an error, not a hang. A connection that drops (the child exits, EOF, EPIPE) fails
//! the command in progress at once and every later one: the byte stream
//! can no longer be trusted, and whether that command was carried out is
//! unknown, which the caller must find out from the library's element
//! status once it reaches it again.

use std::io::{self, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use pmt::proto::scsi::{SENSE_MAX, XFER_MAX};
use tracing::{debug, info, warn};

use super::sg::SgPort;
use super::{is_smc, Command, Dir, Outcome, ScsiPort};
use crate::media::rmt::conn::Connection;
use crate::media::rmt::Remote;

/// The protocol's magic.
pub const MAGIC: [u8; 4] = *b"PMCR";
/// The protocol version this pmtd speaks.
pub const VERSION: u16 = 1;
/// Bytes of a frame header.
pub const HEADER: usize = 16;

/// Frame kinds.
pub mod kind {
    /// The client's greeting.
    pub const HELLO: u16 = 1;
    /// The server's answer to it.
    pub const WELCOME: u16 = 2;
    /// A command to execute.
    pub const COMMAND: u16 = 3;
    /// Its result.
    pub const RESULT: u16 = 4;
    /// A command not carried out.
    pub const ERROR: u16 = 5;
}

/// The largest payload: a command's header, its CDB and the most data.
const MAX_PAYLOAD: usize = 40 + XFER_MAX as usize;

/// A frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The sender's protocol version.
    pub version: u16,
    /// The frame's kind.
    pub kind: u16,
    /// The command's id.
    pub id: u32,
    /// Payload bytes.
    pub len: u32,
}

impl Header {
    /// Encodes it.
    pub fn to_bytes(&self) -> [u8; HEADER] {
        let mut b = [0u8; HEADER];
        b[0..4].copy_from_slice(&MAGIC);
        b[4..6].copy_from_slice(&self.version.to_be_bytes());
        b[6..8].copy_from_slice(&self.kind.to_be_bytes());
        b[8..12].copy_from_slice(&self.id.to_be_bytes());
        b[12..16].copy_from_slice(&self.len.to_be_bytes());
        b
    }

    /// Decodes one, refusing what is not a frame of this protocol.
    pub fn parse(b: &[u8; HEADER]) -> io::Result<Header> {
        if b[0..4] != MAGIC {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "not a remote changer frame (bad magic)"));
        }
        let h = Header {
            version: u16::from_be_bytes([b[4], b[5]]),
            kind: u16::from_be_bytes([b[6], b[7]]),
            id: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            len: u32::from_be_bytes([b[12], b[13], b[14], b[15]]),
        };
        if h.len as usize > MAX_PAYLOAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("a frame of {} bytes", h.len)));
        }
        Ok(h)
    }
}

/// Encodes a COMMAND's payload.
pub fn command_payload(cmd: &Command) -> Vec<u8> {
    let mut p = vec![0u8; 28];
    p[0] = cmd.cdb.len().min(16) as u8;
    p[1] = cmd.dir as u8;
    p[4..8].copy_from_slice(&cmd.alloc.to_be_bytes());
    p[8..12].copy_from_slice(&u32::try_from(cmd.timeout.as_millis()).unwrap_or(u32::MAX).to_be_bytes());
    let n = usize::from(p[0]);
    p[12..12 + n].copy_from_slice(&cmd.cdb[..n]);
    if cmd.dir == Dir::ToDev {
        p.extend_from_slice(&cmd.data_out);
    }
    p
}

/// Decodes a COMMAND's payload.
pub fn parse_command(p: &[u8]) -> io::Result<Command> {
    let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_string());
    if p.len() < 28 {
        return Err(bad("a command frame too short"));
    }
    let n = usize::from(p[0]);
    if !(1..=16).contains(&n) {
        return Err(bad("a command of 1 to 16 bytes"));
    }
    let dir = Dir::from_u8(p[1]).ok_or_else(|| bad("an unknown data direction"))?;
    let alloc = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
    if alloc > XFER_MAX {
        return Err(bad("more data asked than a command may move"));
    }
    let timeout = Duration::from_millis(u64::from(u32::from_be_bytes([p[8], p[9], p[10], p[11]])));
    let data_out = p[28..].to_vec();
    if dir != Dir::ToDev && !data_out.is_empty() {
        return Err(bad("data with a command that sends none"));
    }
    Ok(Command { cdb: p[12..12 + n].to_vec(), dir, data_out, alloc, timeout })
}

/// Encodes a RESULT's payload.
pub fn result_payload(o: &Outcome) -> Vec<u8> {
    let mut p = vec![0u8; 40];
    let sn = o.sense.len().min(SENSE_MAX);
    p[0] = o.status;
    p[1] = sn as u8;
    p[4..8].copy_from_slice(&(o.data.len() as u32).to_be_bytes());
    p[8..8 + sn].copy_from_slice(&o.sense[..sn]);
    p.extend_from_slice(&o.data);
    p
}

/// Decodes a RESULT's payload, checked against its command.
pub fn parse_result(p: &[u8], cmd: &Command) -> io::Result<Outcome> {
    let bad = |why: String| io::Error::new(io::ErrorKind::InvalidData, why);
    if p.len() < 40 {
        return Err(bad("a result frame too short".into()));
    }
    let sn = usize::from(p[1]);
    let dn = u32::from_be_bytes([p[4], p[5], p[6], p[7]]) as usize;
    if sn > SENSE_MAX || dn != p.len() - 40 {
        return Err(bad(format!("a result with {sn} bytes of sense and {dn} of data in {} bytes", p.len())));
    }
    let limit = if cmd.dir == Dir::FromDev { cmd.alloc as usize } else { 0 };
    if dn > limit {
        return Err(bad(format!("{dn} bytes of data for a command that takes {limit}")));
    }
    if !pmt::proto::scsi::status::known(p[0]) {
        return Err(bad(format!("an unknown SCSI status {:#x}", p[0])));
    }
    Ok(Outcome { status: p[0], sense: p[8..8 + sn].to_vec(), data: p[40..].to_vec() })
}

/// Encodes an ERROR's payload.
pub fn error_payload(errno: i32, text: &str) -> Vec<u8> {
    let mut p = (errno as u32).to_be_bytes().to_vec();
    p.extend_from_slice(text.as_bytes());
    p
}

/// A changer on another host (see the module documentation).
#[derive(Debug)]
pub struct RemotePort {
    conn: Connection,
    name: String,
    next_id: u32,
    /// What the far side says it drives.
    pub identity: String,
}

impl RemotePort {
    /// Starts the far pmtd for `remote` (its path is the changer's node
    /// there) with `pmtd` as its program (None: `$PMT_REMOTE_PMTD`, else
    /// `pmtd`), and greets it.
    pub fn connect(remote: &Remote, pmtd: Option<&str>) -> io::Result<RemotePort> {
        let program = pmtd.map(str::to_owned).or_else(|| std::env::var("PMT_REMOTE_PMTD").ok()).unwrap_or_else(|| "pmtd".into());
        if remote.path.contains(char::is_whitespace) || remote.path.contains(['\'', '"', ';', '&', '|', '$', '`']) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{}: a changer path the remote shell would split", remote.path)));
        }
        let conn = Connection::spawn(remote, &format!("{program} changer-server {}", remote.path), "the remote changer server")?;
        let mut port = RemotePort { conn, name: remote.display(), next_id: 1, identity: String::new() };
        let deadline = Instant::now() + remote.timeout;
        let hello = Header { version: VERSION, kind: kind::HELLO, id: 0, len: 0 };
        port.conn.send(&[&hello.to_bytes()], deadline)?;
        let (h, payload) = port.receive(deadline)?;
        match h.kind {
            kind::WELCOME if h.version == VERSION => {
                port.identity = String::from_utf8_lossy(&payload).into_owned();
                info!(changer = %port.name, identity = %port.identity, "remote changer connected");
                Ok(port)
            }
            kind::WELCOME => Err(port.broken(format!("the far pmtd speaks version {} of the changer protocol, this one {VERSION}", h.version))),
            kind::ERROR => {
                let text = String::from_utf8_lossy(payload.get(4..).unwrap_or_default()).into_owned();
                Err(port.broken(format!("the far pmtd refused: {text}")))
            }
            k => Err(port.broken(format!("an unexpected frame (kind {k}) instead of WELCOME"))),
        }
    }

    fn broken(&mut self, why: String) -> io::Error {
        self.conn.fail(io::ErrorKind::InvalidData, why)
    }

    /// The session.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn receive(&mut self, deadline: Instant) -> io::Result<(Header, Vec<u8>)> {
        let mut hb = [0u8; HEADER];
        self.conn.take(&mut hb, deadline)?;
        let h = match Header::parse(&hb) {
            Ok(h) => h,
            Err(e) => return Err(self.broken(e.to_string())),
        };
        let mut payload = vec![0u8; h.len as usize];
        self.conn.take(&mut payload, deadline)?;
        Ok((h, payload))
    }
}

impl ScsiPort for RemotePort {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn execute(&mut self, cmd: &Command) -> io::Result<Outcome> {
        self.conn.check()?;
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        // The connection's timeout bounds every reply; the far side gives
        // the command no more than that.
        let bound = self.conn.timeout();
        let payload = command_payload(&Command { timeout: cmd.timeout.min(bound), ..cmd.clone() });
        let h = Header { version: VERSION, kind: kind::COMMAND, id, len: payload.len() as u32 };
        let deadline = Instant::now() + bound + Duration::from_secs(1);
        self.conn.send(&[&h.to_bytes(), &payload], deadline)?;
        let (r, p) = self.receive(deadline)?;
        if r.id != id {
            return Err(self.broken(format!("a reply to command {} while {id} was asked", r.id)));
        }
        match r.kind {
            kind::RESULT => parse_result(&p, cmd).map_err(|e| self.broken(e.to_string())),
            kind::ERROR => {
                let errno = p.get(..4).map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as i32);
                let text = String::from_utf8_lossy(p.get(4..).unwrap_or_default()).into_owned();
                let e = if errno > 0 { io::Error::from_raw_os_error(errno) } else { io::Error::other("error") };
                Err(io::Error::new(e.kind(), format!("the far pmtd: {text} ({e})")))
            }
            k => Err(self.broken(format!("an unexpected frame (kind {k}) instead of a result"))),
        }
    }
}

/// The far side: serves the changer at `device` on `input` and `output`
/// (the remote shell's pipes) until the input ends. Only SMC commands are
/// executed. Returns when the client goes; an error if the stream is not
/// this protocol.
pub fn serve(device: &Path, input: &mut dyn Read, output: &mut dyn Write) -> io::Result<()> {
    let mut hb = [0u8; HEADER];
    let send = |output: &mut dyn Write, kind: u16, id: u32, payload: &[u8]| -> io::Result<()> {
        let h = Header { version: VERSION, kind, id, len: payload.len() as u32 };
        output.write_all(&h.to_bytes())?;
        output.write_all(payload)?;
        output.flush()
    };
    // The greeting.
    input.read_exact(&mut hb)?;
    let h = Header::parse(&hb)?;
    if h.kind != kind::HELLO {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "the client did not say HELLO"));
    }
    if h.version != VERSION {
        let text = format!("this pmtd speaks version {VERSION} of the changer protocol, the client {}", h.version);
        send(output, kind::ERROR, 0, &error_payload(libc::EPROTONOSUPPORT, &text))?;
        return Err(io::Error::new(io::ErrorKind::InvalidData, text));
    }
    let mut port = match SgPort::open(device) {
        Ok(p) => p,
        Err(e) => {
            let text = format!("{}: {e}", device.display());
            send(output, kind::ERROR, 0, &error_payload(e.raw_os_error().unwrap_or(libc::EIO), &text))?;
            return Err(io::Error::new(e.kind(), text));
        }
    };
    let identity = super::smc::inquiry_text(&mut port).unwrap_or_else(|e| format!("(INQUIRY failed: {e})"));
    send(output, kind::WELCOME, 0, format!("{} {identity}", device.display()).as_bytes())?;
    info!(device = %device.display(), "remote changer server serving");
    loop {
        match input.read_exact(&mut hb) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                debug!("the client closed the connection");
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        let h = Header::parse(&hb)?;
        let mut payload = vec![0u8; h.len as usize];
        input.read_exact(&mut payload)?;
        if h.kind != kind::COMMAND {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("a frame of kind {} from the client", h.kind)));
        }
        let cmd = match parse_command(&payload) {
            Ok(c) => c,
            Err(e) => {
                send(output, kind::ERROR, h.id, &error_payload(libc::EINVAL, &e.to_string()))?;
                continue;
            }
        };
        if !is_smc(&cmd.cdb) {
            warn!(opcode = cmd.cdb[0], "refused: not an SMC command");
            let text = format!("operation code {:#04x} is not an SMC command: refused", cmd.cdb[0]);
            send(output, kind::ERROR, h.id, &error_payload(libc::EPERM, &text))?;
            continue;
        }
        match port.execute(&cmd) {
            Ok(o) => {
                debug!(cdb = ?cmd.cdb, status = o.status, bytes = o.data.len(), "command");
                send(output, kind::RESULT, h.id, &result_payload(&o))?
            }
            Err(e) => send(output, kind::ERROR, h.id, &error_payload(e.raw_os_error().unwrap_or(libc::EIO), &e.to_string()))?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_are_checked() {
        let cmd = Command { cdb: vec![0xa5, 0, 0, 1, 3, 0xe8, 1, 0xf4, 0, 0, 0, 0], dir: Dir::None, data_out: vec![], alloc: 0, timeout: Duration::from_secs(600) };
        let back = parse_command(&command_payload(&cmd)).unwrap();
        assert_eq!(back, cmd);
        let read = Command::read(&[0xb8, 0x12, 3, 0xe8, 0, 5, 0, 0, 4, 0, 0, 0], 1024, Duration::from_secs(5));
        let o = Outcome { status: 0, sense: vec![], data: vec![7; 100] };
        assert_eq!(parse_result(&result_payload(&o), &read).unwrap(), o);
        assert!(parse_result(&result_payload(&o), &cmd).is_err(), "data for a command that takes none");
        let mut bad = result_payload(&o);
        bad[4] = 9;
        assert!(parse_result(&bad, &read).is_err(), "a length that lies");
        let h = Header { version: VERSION, kind: kind::COMMAND, id: 7, len: 28 };
        assert_eq!(Header::parse(&h.to_bytes()).unwrap(), h);
        let mut b = h.to_bytes();
        b[0] = b'X';
        assert!(Header::parse(&b).is_err());
        let mut p = command_payload(&cmd);
        p[0] = 17;
        assert!(parse_command(&p).is_err());
        let mut p = command_payload(&read);
        p.push(1);
        assert!(parse_command(&p).is_err(), "data with a read");
    }

    #[test]
    fn the_server_refuses_other_versions_and_non_smc_commands() {
        // A client of version 2: ERROR, and the server stops.
        let hello = Header { version: 2, kind: kind::HELLO, id: 0, len: 0 }.to_bytes();
        let mut out = Vec::new();
        assert!(serve(Path::new("/nonexistent"), &mut &hello[..], &mut out).is_err());
        let h = Header::parse(out[..HEADER].try_into().unwrap()).unwrap();
        assert_eq!(h.kind, kind::ERROR);
        assert!(String::from_utf8_lossy(&out[HEADER + 4..]).contains("version"));
        // A node that cannot be opened: ERROR with its errno.
        let hello = Header { version: VERSION, kind: kind::HELLO, id: 0, len: 0 }.to_bytes();
        let mut out = Vec::new();
        assert!(serve(Path::new("/nonexistent/sg0"), &mut &hello[..], &mut out).is_err());
        assert_eq!(Header::parse(out[..HEADER].try_into().unwrap()).unwrap().kind, kind::ERROR);
        assert_eq!(u32::from_be_bytes(out[HEADER..HEADER + 4].try_into().unwrap()), libc::ENOENT as u32);
        // A WRITE(10) is never executed: ERROR, EPERM, and the server goes on.
        let dir = tempfile::tempdir().unwrap();
        let node = dir.path().join("sg");
        std::fs::write(&node, b"").unwrap();
        let write10 = Command { cdb: vec![0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0], dir: Dir::ToDev, data_out: vec![0; 512], alloc: 0, timeout: Duration::from_secs(1) };
        let p = command_payload(&write10);
        let mut input = hello.to_vec();
        input.extend_from_slice(&Header { version: VERSION, kind: kind::COMMAND, id: 9, len: p.len() as u32 }.to_bytes());
        input.extend_from_slice(&p);
        let mut out = Vec::new();
        serve(&node, &mut &input[..], &mut out).unwrap();
        let w = Header::parse(out[..HEADER].try_into().unwrap()).unwrap();
        assert_eq!(w.kind, kind::WELCOME);
        let at = HEADER + w.len as usize;
        let e = Header::parse(out[at..at + HEADER].try_into().unwrap()).unwrap();
        assert_eq!((e.kind, e.id), (kind::ERROR, 9));
        assert_eq!(u32::from_be_bytes(out[at + HEADER..at + HEADER + 4].try_into().unwrap()), libc::EPERM as u32);
        assert_eq!(std::fs::read(&node).unwrap(), b"", "nothing written");
    }
}
