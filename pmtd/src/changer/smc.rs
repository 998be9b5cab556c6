//! An SMC client: what pmtd asks of a library it drives, over any
//! [`ScsiPort`]. The element layout comes from MODE SENSE page 0x1D (as mtx
//! and ch(4) read it); element status is read with volume tags and, for
//! drives, their identifiers (DVCID), and kept in [`SmcClient::elements`]
//! after every move that succeeds; it is read again after any error, so
//! what pmtd believes is what the library last said. Errors carry the sense
//! the library gave.

use std::fmt;
use std::time::Duration;

use pmt::chg::{ElemType, Elements};
use thiserror::Error;
use tracing::debug;

use super::{Command, Outcome, ScsiPort};
use crate::scsi::{be16, be24, byte, Check};

/// How long a move may take by default (a real robot takes tens of
/// seconds; a library that says nothing for this long is an error).
pub const MOVE_TIMEOUT: Duration = Duration::from_secs(600);
/// How long other commands may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a changer command failed.
#[derive(Debug, Error)]
pub enum ChangerError {
    /// The library refused it, with this sense.
    #[error("{changer}: {what}: {check}")]
    Check {
        /// The changer.
        changer: String,
        /// The command.
        what: String,
        /// Its sense.
        check: Check,
    },
    /// It could not be delivered or answered (the node, the connection).
    #[error("{changer}: {what}: {cause}")]
    Io {
        /// The changer.
        changer: String,
        /// The command.
        what: String,
        /// The cause.
        cause: std::io::Error,
    },
    /// The library's answer makes no sense.
    #[error("{changer}: {what}")]
    Invalid {
        /// The changer.
        changer: String,
        /// What is wrong.
        what: String,
    },
}

impl ChangerError {
    /// The sense to give a program for this failure: the library's own, or
    /// HARDWARE ERROR, MECHANICAL POSITIONING OR CHANGER ERROR (3B/16) for
    /// a library that could not be reached or answered nonsense.
    pub fn check(&self) -> Check {
        match self {
            ChangerError::Check { check, .. } => *check,
            _ => Check::CHANGER_FAILED,
        }
    }

    /// True if the library did not answer (the command may or may not
    /// have been carried out).
    pub fn unanswered(&self) -> bool {
        !matches!(self, ChangerError::Check { .. })
    }
}

/// One element as the library reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElementState {
    /// Its address.
    pub addr: u16,
    /// Its type.
    pub ty: ElemType,
    /// It holds a cartridge.
    pub full: bool,
    /// The cartridge's primary volume tag (barcode), blanks trimmed.
    pub tag: Option<String>,
    /// Where the cartridge came from.
    pub source: Option<u16>,
    /// The element is in an abnormal state (EXCEPT).
    pub except: bool,
    /// The drive's identifier (DVCID), for a drive that gives it.
    pub ident: Option<String>,
}

/// An SMC client (see the module documentation).
pub struct SmcClient<P: ScsiPort> {
    port: P,
    layout: Elements,
    elements: Vec<ElementState>,
    /// Bytes of each type's last report, to ask for enough at once.
    timeout: Duration,
}

impl<P: ScsiPort> fmt::Debug for SmcClient<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmcClient").field("port", &self.port.name()).field("layout", &self.layout).finish()
    }
}

/// A device's standard INQUIRY as text: vendor, product, revision.
pub fn inquiry_text(port: &mut dyn ScsiPort) -> std::io::Result<String> {
    let o = port.execute(&Command::read(&[0x12, 0, 0, 0, 96, 0], 96, COMMAND_TIMEOUT))?;
    if let Some(c) = o.check() {
        return Err(std::io::Error::other(c.to_string()));
    }
    let text = |r: std::ops::Range<usize>| String::from_utf8_lossy(o.data.get(r).unwrap_or_default()).trim().to_string();
    Ok(format!("{} {} {}", text(8..16), text(16..32), text(32..36)))
}

/// Decodes a READ ELEMENT STATUS reply: every whole descriptor of every
/// page, with volume tags and identifiers.
pub fn parse_status(b: &[u8]) -> Vec<ElementState> {
    let mut out = Vec::new();
    let total = be24(b, 5) as usize;
    let mut rest = b.get(8..8usize.saturating_add(total).min(b.len())).unwrap_or_default();
    while rest.len() >= 8 {
        let (code, flags, dlen, plen) = (byte(rest, 0), byte(rest, 1), usize::from(be16(rest, 2)), be24(rest, 5) as usize);
        let Some(ty) = ElemType::from_chet(i32::from(code & 0x0f) - 1) else { break };
        if dlen < 12 {
            break;
        }
        let page = rest.get(8..8usize.saturating_add(plen).min(rest.len())).unwrap_or_default();
        for d in page.chunks_exact(dlen) {
            let mut at = 12;
            let text = |s: &[u8]| String::from_utf8_lossy(s).trim_end_matches([' ', '\0']).to_string();
            let tag = if flags & 0x80 != 0 {
                let t = d.get(at..at + 32).map(text).filter(|t| !t.is_empty());
                at += 36;
                t
            } else {
                None
            };
            if flags & 0x40 != 0 {
                at += 36;
            }
            // An identifier: code set, type, reserved, length, then it.
            let ident = d
                .get(at + 3)
                .and_then(|&n| d.get(at + 4..at + 4 + usize::from(n)))
                .map(text)
                .filter(|s| !s.is_empty());
            let full = byte(d, 2) & 0x01 != 0;
            out.push(ElementState {
                addr: be16(d, 0),
                ty,
                full,
                tag: tag.filter(|_| full),
                source: (byte(d, 9) & 0x80 != 0).then(|| be16(d, 10)),
                except: byte(d, 2) & 0x04 != 0,
                ident: ident.filter(|_| ty == ElemType::Drive),
            });
        }
        rest = rest.get(8usize.saturating_add(plen)..).unwrap_or_default();
    }
    out
}

impl<P: ScsiPort> SmcClient<P> {
    /// A client of the library behind `port`: its layout read, its element
    /// status read.
    pub fn open(port: P) -> Result<SmcClient<P>, ChangerError> {
        let mut c = SmcClient { port, layout: Elements { first: [0; 4], count: [0; 4] }, elements: Vec::new(), timeout: COMMAND_TIMEOUT };
        c.layout = c.read_layout()?;
        c.refresh()?;
        Ok(c)
    }

    /// The port's name.
    pub fn name(&self) -> String {
        self.port.name()
    }

    /// The port.
    pub fn port_mut(&mut self) -> &mut P {
        &mut self.port
    }

    /// The element layout.
    pub fn layout(&self) -> Elements {
        self.layout
    }

    /// Every slot, import/export slot and drive as last reported, in
    /// address order within each type.
    pub fn elements(&self) -> &[ElementState] {
        &self.elements
    }

    /// Element `n` (from 0) of type `t`, as last reported.
    pub fn element(&self, t: ElemType, n: u16) -> Option<&ElementState> {
        let a = self.address(t, n)?;
        self.elements.iter().find(|e| e.addr == a)
    }

    /// The address of element `n` (from 0) of type `t`, if there is one.
    pub fn address(&self, t: ElemType, n: u16) -> Option<u16> {
        (n < self.layout.count_of(t)).then(|| self.layout.first_of(t).wrapping_add(n))
    }

    /// The element whose cartridge has volume tag `tag`, as last reported.
    pub fn find(&self, tag: &str) -> Option<&ElementState> {
        self.elements.iter().find(|e| e.tag.as_deref() == Some(tag))
    }

    fn run(&mut self, what: &str, cmd: &Command) -> Result<Outcome, ChangerError> {
        let o = self.port.execute(cmd).map_err(|cause| ChangerError::Io { changer: self.port.name(), what: what.into(), cause })?;
        match o.check() {
            None => Ok(o),
            Some(check) => Err(ChangerError::Check { changer: self.port.name(), what: what.into(), check }),
        }
    }

    fn read_layout(&mut self) -> Result<Elements, ChangerError> {
        // As mtx asks: no block descriptors, page 0x1D.
        let o = self.run("MODE SENSE page 0x1D", &Command::read(&[0x1a, 0x08, 0x1d, 0x00, 0xff, 0x00], 255, self.timeout))?;
        Elements::from_mode_sense(&o.data)
            .ok_or_else(|| ChangerError::Invalid { changer: self.port.name(), what: "its element address assignment page cannot be read".into() })
    }

    /// Standard INQUIRY: vendor, product, revision.
    pub fn inquiry(&mut self) -> Result<String, ChangerError> {
        inquiry_text(&mut self.port).map_err(|cause| ChangerError::Io { changer: self.port.name(), what: "INQUIRY".into(), cause })
    }

    /// Reads the status of every slot, import/export slot and drive
    /// again.
    pub fn refresh(&mut self) -> Result<(), ChangerError> {
        let mut all = Vec::new();
        for t in [ElemType::Slot, ElemType::Portal, ElemType::Drive] {
            let n = self.layout.count_of(t);
            if n == 0 {
                continue;
            }
            all.extend(self.read_status(t, n)?);
        }
        self.elements = all;
        Ok(())
    }

    fn read_status(&mut self, t: ElemType, n: u16) -> Result<Vec<ElementState>, ChangerError> {
        let first = self.layout.first_of(t).to_be_bytes();
        let count = n.to_be_bytes();
        let dvcid = u8::from(t == ElemType::Drive);
        let mut alloc: u32 = (16 + u32::from(n) * 128).min(0xff_ffff);
        let mut tags = true;
        loop {
            let a = alloc.to_be_bytes();
            let cdb = [0xb8, t.smc() | if tags { 0x10 } else { 0 }, first[0], first[1], count[0], count[1], dvcid, a[1], a[2], a[3], 0, 0];
            let o = match self.run("READ ELEMENT STATUS", &Command::read(&cdb, alloc, self.timeout)) {
                // A library without a barcode reader: ask without tags.
                Err(ChangerError::Check { .. }) if tags => {
                    tags = false;
                    continue;
                }
                r => r?,
            };
            let whole = 8 + be24(&o.data, 5);
            if whole > alloc && alloc < 0xff_ffff {
                alloc = whole.min(0xff_ffff);
                continue;
            }
            let list: Vec<ElementState> = parse_status(&o.data).into_iter().filter(|e| e.ty == t).collect();
            if list.len() != usize::from(n) {
                return Err(ChangerError::Invalid {
                    changer: self.port.name(),
                    what: format!("{} elements reported of the {n} of its page 0x1D", list.len()),
                });
            }
            debug!(changer = %self.port.name(), ty = ?t, elements = n, "element status read");
            return Ok(list);
        }
    }

    fn transport(&self) -> [u8; 2] {
        if self.layout.count_of(ElemType::Transport) > 0 {
            self.layout.first_of(ElemType::Transport).to_be_bytes()
        } else {
            [0, 0]
        }
    }

    /// After a command that failed, what the library says now (or, if it
    /// cannot say, nothing is trusted until the next refresh).
    fn after_failure(&mut self, e: ChangerError) -> ChangerError {
        if let Err(again) = self.refresh() {
            debug!("{again}");
            self.elements.clear();
        }
        e
    }

    /// MOVE MEDIUM from address `from` to `to`; the status kept follows.
    pub fn move_medium(&mut self, from: u16, to: u16) -> Result<(), ChangerError> {
        let t = self.transport();
        let (f, d) = (from.to_be_bytes(), to.to_be_bytes());
        let cdb = [0xa5, 0, t[0], t[1], f[0], f[1], d[0], d[1], 0, 0, 0, 0];
        let what = format!("MOVE MEDIUM {from} to {to}");
        if let Err(e) = self.run(&what, &Command::read(&cdb, 0, MOVE_TIMEOUT)) {
            return Err(self.after_failure(e));
        }
        self.moved(&[(from, to)]);
        Ok(())
    }

    /// EXCHANGE MEDIUM: the cartridge at `src` to `first`, the one at
    /// `first` to `second` (which may be `src`); the status kept follows.
    pub fn exchange_medium(&mut self, src: u16, first: u16, second: u16) -> Result<(), ChangerError> {
        let t = self.transport();
        let (a, b, c) = (src.to_be_bytes(), first.to_be_bytes(), second.to_be_bytes());
        let cdb = [0xa6, 0, t[0], t[1], a[0], a[1], b[0], b[1], c[0], c[1], 0, 0];
        let what = format!("EXCHANGE MEDIUM {src}, {first}, {second}");
        if let Err(e) = self.run(&what, &Command::read(&cdb, 0, MOVE_TIMEOUT)) {
            return Err(self.after_failure(e));
        }
        self.moved(&[(src, first), (first, second)]);
        Ok(())
    }

    /// Updates the kept status after moves the library made.
    fn moved(&mut self, moves: &[(u16, u16)]) {
        let mut lifted = Vec::new();
        for (from, _) in moves {
            if let Some(e) = self.elements.iter_mut().find(|e| e.addr == *from) {
                lifted.push((e.tag.take(), *from));
                e.full = false;
                e.source = None;
            }
        }
        for ((_, to), (tag, from)) in moves.iter().zip(lifted) {
            if let Some(e) = self.elements.iter_mut().find(|e| e.addr == *to) {
                e.full = true;
                e.tag = tag;
                e.source = Some(from);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(code: u8, tags: bool, descs: &[Vec<u8>]) -> Vec<u8> {
        let dlen = descs.first().map_or(12, Vec::len);
        let body: Vec<u8> = descs.concat();
        let mut p = vec![code, if tags { 0x80 } else { 0 }];
        p.extend_from_slice(&(dlen as u16).to_be_bytes());
        p.push(0);
        p.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        p.extend_from_slice(&body);
        p
    }

    #[test]
    fn status_with_tags_and_identifiers() {
        let mut slot = vec![0x03, 0xe8, 0x09, 0, 0, 0, 0, 0, 0, 0x80, 0x01, 0xf4];
        let mut tag = [b' '; 36];
        tag[..8].copy_from_slice(b"ABC001L6");
        slot.extend_from_slice(&tag);
        let mut drive = vec![0x01, 0xf4, 0x08, 0, 0, 0, 0x30, 3, 0, 0, 0, 0];
        drive.extend_from_slice(&[b' '; 36]);
        drive.extend_from_slice(&[2, 0, 0, 9]);
        drive.extend_from_slice(b"HU1234567");
        let mut pages = page(2, true, &[slot]);
        pages.extend(page(4, true, &[drive]));
        let mut b = vec![0x01, 0xf4, 0, 2, 0];
        b.extend_from_slice(&(pages.len() as u32).to_be_bytes()[1..]);
        b.extend(pages);
        let s = parse_status(&b);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].addr, s[0].ty, s[0].full), (1000, ElemType::Slot, true));
        assert_eq!(s[0].tag.as_deref(), Some("ABC001L6"));
        assert_eq!(s[0].source, Some(500));
        assert_eq!((s[1].ty, s[1].full, s[1].tag.as_deref()), (ElemType::Drive, false, None));
        assert_eq!(s[1].ident.as_deref(), Some("HU1234567"));
        // Cut anywhere: only whole descriptors.
        for n in 0..b.len() {
            assert!(parse_status(&b[..n]).len() <= 2);
        }
    }
}
