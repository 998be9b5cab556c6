//! What the drive and the library answer alike when a program speaks SCSI
//! to them through SG_IO: who they are (INQUIRY, its vital product data
//! pages), sense data, mode data headers, REPORT LUNS, and the error a
//! command ends with ([`Check`]).
//!
//! Every answer is built whole and cut to the command's allocation length
//! by the caller: a short allocation gets the first bytes of the same data,
//! with the lengths inside still those of the whole (SPC's rule, which lets
//! a program ask again with the size the data said).

use std::fmt;
use std::path::Path;

use thiserror::Error;

/// SCSI peripheral device type of a sequential-access device (a tape drive).
pub const TYPE_TAPE: u8 = 0x01;
/// SCSI peripheral device type of a medium changer.
pub const TYPE_CHANGER: u8 = 0x08;

/// The vendor pmt's devices say by default.
pub const VENDOR: &str = "PMT";
/// The product a pmtd drive says by default.
pub const DRIVE_PRODUCT: &str = "VIRTUAL TAPE";
/// The product a pmtd library says by default.
pub const LIBRARY_PRODUCT: &str = "VIRTUAL LIBRARY";
/// The revision pmtd's devices say by default.
pub const REVISION: &str = "0100";

/// The unit number at the end of a device's name (`/dev/pmts3`: 3).
pub fn unit_number(device: &Path) -> Option<u32> {
    let name = device.file_name()?.to_str()?;
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    name.get(name.len() - digits..)?.parse().ok()
}

/// Sense keys.
pub mod key {
    /// No sense.
    pub const NO_SENSE: u8 = 0x0;
    /// Not ready.
    pub const NOT_READY: u8 = 0x2;
    /// Medium error.
    pub const MEDIUM_ERROR: u8 = 0x3;
    /// Hardware error.
    pub const HARDWARE_ERROR: u8 = 0x4;
    /// Illegal request.
    pub const ILLEGAL_REQUEST: u8 = 0x5;
}

/// How a command failed: CHECK CONDITION with this sense key, additional
/// sense code and qualifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("sense {key:x}/{asc:02x}/{ascq:02x} ({})", self.describe())]
pub struct Check {
    /// Sense key.
    pub key: u8,
    /// Additional sense code.
    pub asc: u8,
    /// Its qualifier.
    pub ascq: u8,
}

impl Check {
    /// ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE (20/00).
    pub const INVALID_OPCODE: Check = Check::illegal(0x20, 0x00);
    /// ILLEGAL REQUEST, INVALID ELEMENT ADDRESS (21/01).
    pub const INVALID_ELEMENT: Check = Check::illegal(0x21, 0x01);
    /// ILLEGAL REQUEST, INVALID FIELD IN CDB (24/00).
    pub const INVALID_FIELD: Check = Check::illegal(0x24, 0x00);
    /// ILLEGAL REQUEST, SAVING PARAMETERS NOT SUPPORTED (39/00).
    pub const SAVING_NOT_SUPPORTED: Check = Check::illegal(0x39, 0x00);
    /// ILLEGAL REQUEST, MEDIUM DESTINATION ELEMENT FULL (3B/0D).
    pub const DESTINATION_FULL: Check = Check::illegal(0x3b, 0x0d);
    /// ILLEGAL REQUEST, MEDIUM SOURCE ELEMENT EMPTY (3B/0E).
    pub const SOURCE_EMPTY: Check = Check::illegal(0x3b, 0x0e);
    /// ILLEGAL REQUEST, MEDIUM REMOVAL PREVENTED (53/02).
    pub const REMOVAL_PREVENTED: Check = Check::illegal(0x53, 0x02);
    /// NOT READY, MEDIUM NOT PRESENT (3A/00).
    pub const NO_MEDIUM: Check = Check { key: key::NOT_READY, asc: 0x3a, ascq: 0x00 };
    /// NOT READY, LOGICAL UNIT NOT READY, OPERATION IN PROGRESS (04/07):
    /// a drive a program has open still holds its tape.
    pub const IN_USE: Check = Check { key: key::NOT_READY, asc: 0x04, ascq: 0x07 };
    /// MEDIUM ERROR, INCOMPATIBLE MEDIUM INSTALLED (30/00): a cartridge
    /// whose medium cannot be loaded.
    pub const CANNOT_LOAD: Check = Check { key: key::MEDIUM_ERROR, asc: 0x30, ascq: 0x00 };
    /// HARDWARE ERROR, INTERNAL TARGET FAILURE (44/00): the inventory
    /// could not be written, so nothing moved.
    pub const INTERNAL: Check = Check { key: key::HARDWARE_ERROR, asc: 0x44, ascq: 0x00 };
    /// HARDWARE ERROR, MECHANICAL POSITIONING OR CHANGER ERROR (3B/16): a
    /// library pmtd drives (one side of a mirrored library) could not carry
    /// a move out, or could not be reached.
    pub const CHANGER_FAILED: Check = Check { key: key::HARDWARE_ERROR, asc: 0x3b, ascq: 0x16 };

    /// ILLEGAL REQUEST with `asc`/`ascq`.
    pub const fn illegal(asc: u8, ascq: u8) -> Check {
        Check { key: key::ILLEGAL_REQUEST, asc, ascq }
    }

    /// Fixed-format sense data (current error, 18 bytes).
    pub fn fixed(&self) -> [u8; 18] {
        pmt::proto::scsi::sense::fixed(self.key, self.asc, self.ascq)
    }

    /// Descriptor-format sense data with no descriptor (8 bytes).
    pub fn descriptor(&self) -> [u8; 8] {
        [0x72, self.key & 0x0f, self.asc, self.ascq, 0, 0, 0, 0]
    }

    /// What the code means, for logs and operators.
    pub fn describe(&self) -> &'static str {
        match (self.key, self.asc, self.ascq) {
            (_, 0x20, 0x00) => "invalid command operation code",
            (_, 0x21, 0x01) => "invalid element address",
            (_, 0x24, 0x00) => "invalid field in CDB",
            (_, 0x39, 0x00) => "saving parameters not supported",
            (_, 0x3b, 0x0d) => "medium destination element full",
            (_, 0x3b, 0x0e) => "medium source element empty",
            (_, 0x53, 0x02) => "medium removal prevented",
            (_, 0x3a, 0x00) => "medium not present",
            (_, 0x04, 0x07) => "the drive is in use",
            (_, 0x30, 0x00) => "incompatible medium installed",
            (_, 0x44, 0x00) => "internal target failure",
            (_, 0x3b, 0x16) => "mechanical positioning or changer error",
            _ => "error",
        }
    }
}

/// Why an identity is refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{field} {value:?}: {why}")]
pub struct IdentityError {
    /// The field.
    pub field: &'static str,
    /// The value given.
    pub value: String,
    /// What is wrong with it.
    pub why: String,
}

/// Who a device says it is: INQUIRY's vendor, product and revision, and
/// its unit serial number (VPD page 0x80; with the others, the T10 vendor
/// identification of VPD page 0x83).
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    vendor: String,
    product: String,
    revision: String,
    serial: String,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {} serial {}", self.vendor, self.product, self.revision, self.serial)
    }
}

/// True for what SCSI's ASCII fields hold: printable ASCII.
fn printable(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

impl Identity {
    /// An identity: vendor (at most 8 characters), product (16), revision
    /// (4), serial (1 to 32, without blanks), all printable ASCII.
    pub fn new(vendor: &str, product: &str, revision: &str, serial: &str) -> Result<Identity, IdentityError> {
        let check = |field: &'static str, value: &str, max: usize| -> Result<String, IdentityError> {
            let bad = |why: String| IdentityError { field, value: value.to_string(), why };
            if !printable(value) {
                return Err(bad("printable ASCII only".into()));
            }
            if value.len() > max {
                return Err(bad(format!("at most {max} characters")));
            }
            Ok(value.to_string())
        };
        let serial = check("serial", serial, 32)?;
        if serial.is_empty() || serial.contains(' ') {
            return Err(IdentityError { field: "serial", value: serial, why: "1 to 32 characters without blanks".into() });
        }
        Ok(Identity {
            vendor: check("vendor", vendor, 8)?,
            product: check("product", product, 16)?,
            revision: check("revision", revision, 4)?,
            serial,
        })
    }

    /// The identity a pmtd drive has unless told otherwise: serial
    /// `PMTD` and the unit number of its slave device (`/dev/pmts3`:
    /// `PMTD0003`).
    pub fn drive_default(device: Option<&Path>) -> Identity {
        let n = device.and_then(unit_number).unwrap_or(0);
        Identity { vendor: VENDOR.into(), product: DRIVE_PRODUCT.into(), revision: REVISION.into(), serial: format!("PMTD{n:04}") }
    }

    /// The identity a pmtd library has unless told otherwise: serial
    /// `PMTL` and the unit number of its changer slave (`/dev/pmcs0`:
    /// `PMTL0000`).
    pub fn library_default(device: Option<&Path>) -> Identity {
        let n = device.and_then(unit_number).unwrap_or(0);
        Identity { vendor: VENDOR.into(), product: LIBRARY_PRODUCT.into(), revision: REVISION.into(), serial: format!("PMTL{n:04}") }
    }

    /// The vendor.
    pub fn vendor(&self) -> &str {
        &self.vendor
    }

    /// The product.
    pub fn product(&self) -> &str {
        &self.product
    }

    /// The revision.
    pub fn revision(&self) -> &str {
        &self.revision
    }

    /// The unit serial number.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// Standard INQUIRY data (96 bytes): `peripheral` type, the removable
    /// medium bit, SPC-4, response data format 2, the MChngr bit clear (a
    /// changer is addressed on its own, never through a drive).
    pub fn standard_inquiry(&self, peripheral: u8, removable: bool) -> Vec<u8> {
        let mut d = vec![0u8; 96];
        d[0] = peripheral & 0x1f;
        d[1] = if removable { 0x80 } else { 0 };
        d[2] = 0x06;
        d[3] = 0x02;
        d[4] = (d.len() - 5) as u8;
        pad(&mut d[8..16], &self.vendor);
        pad(&mut d[16..32], &self.product);
        pad(&mut d[32..36], &self.revision);
        d
    }

    /// Vital product data page `page`, if this device has it: 0x00 (the
    /// pages supported), 0x80 (the unit serial number), 0x83 (device
    /// identification: the T10 vendor identification, vendor, product and
    /// serial).
    pub fn vpd(&self, peripheral: u8, page: u8) -> Option<Vec<u8>> {
        let body: Vec<u8> = match page {
            0x00 => vec![0x00, 0x80, 0x83],
            0x80 => self.serial.as_bytes().to_vec(),
            0x83 => {
                let mut id = vec![0u8; 24];
                pad(&mut id[0..8], &self.vendor);
                pad(&mut id[8..24], &self.product);
                id.extend_from_slice(self.serial.as_bytes());
                // Code set ASCII, associated with the logical unit, T10
                // vendor identification.
                let mut desc = vec![0x02, 0x01, 0x00, id.len() as u8];
                desc.extend_from_slice(&id);
                desc
            }
            _ => return None,
        };
        let mut d = vec![peripheral & 0x1f, page];
        d.extend_from_slice(&(body.len() as u16).to_be_bytes());
        d.extend_from_slice(&body);
        Some(d)
    }

    /// The answer to an INQUIRY command descriptor block.
    pub fn inquiry(&self, cdb: &[u8], peripheral: u8, removable: bool) -> Result<Vec<u8>, Check> {
        let flags = byte(cdb, 1);
        let page = byte(cdb, 2);
        let mut d = if flags & 0x02 != 0 {
            // CmdDt, obsolete.
            return Err(Check::INVALID_FIELD);
        } else if flags & 0x01 != 0 {
            self.vpd(peripheral, page).ok_or(Check::INVALID_FIELD)?
        } else if page != 0 {
            return Err(Check::INVALID_FIELD);
        } else {
            self.standard_inquiry(peripheral, removable)
        };
        d.truncate(usize::from(be16(cdb, 3)));
        Ok(d)
    }
}

/// Copies `s` into `dst`, padded with blanks.
pub fn pad(dst: &mut [u8], s: &str) {
    dst.fill(b' ');
    for (d, b) in dst.iter_mut().zip(s.bytes()) {
        *d = b;
    }
}

/// Byte `i` of `b`, 0 beyond it.
pub fn byte(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

/// The big-endian 16-bit number at `i`.
pub fn be16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([byte(b, i), byte(b, i + 1)])
}

/// The big-endian 24-bit number at `i`.
pub fn be24(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([0, byte(b, i), byte(b, i + 1), byte(b, i + 2)])
}

/// The big-endian 32-bit number at `i`.
pub fn be32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([byte(b, i), byte(b, i + 1), byte(b, i + 2), byte(b, i + 3)])
}

/// The allocation length of a command this module knows the layout of
/// (INQUIRY, REQUEST SENSE, MODE SENSE, LOG SENSE, REPORT LUNS, READ
/// ELEMENT STATUS, READ POSITION...); `None` for one that returns no data.
pub fn allocation_length(cdb: &[u8]) -> Option<usize> {
    Some(match byte(cdb, 0) {
        0x03 | 0x1a => usize::from(byte(cdb, 4)),
        0x12 => usize::from(be16(cdb, 3)),
        0x4d | 0x5a => usize::from(be16(cdb, 7)),
        0x05 => 6,
        0x34 => match byte(cdb, 1) & 0x1f {
            0 | 1 => 20,
            _ => usize::from(be16(cdb, 7)),
        },
        0xa0 => be32(cdb, 6) as usize,
        0xb8 => be24(cdb, 7) as usize,
        _ => return None,
    })
}

/// REQUEST SENSE: the sense data of the device's state now (`None`: NO
/// SENSE), fixed format or, when the DESC bit asks, descriptor format.
pub fn request_sense(cdb: &[u8], now: Option<Check>) -> Vec<u8> {
    let c = now.unwrap_or(Check { key: key::NO_SENSE, asc: 0, ascq: 0 });
    let mut d = if byte(cdb, 1) & 0x01 != 0 { c.descriptor().to_vec() } else { c.fixed().to_vec() };
    d.truncate(usize::from(byte(cdb, 4)));
    d
}

/// REPORT LUNS: one logical unit, LUN 0.
pub fn report_luns(cdb: &[u8]) -> Result<Vec<u8>, Check> {
    if byte(cdb, 2) > 2 {
        return Err(Check::INVALID_FIELD);
    }
    let mut d = vec![0u8; 16];
    d[3] = 8;
    d.truncate(be32(cdb, 6) as usize);
    Ok(d)
}

/// What MODE SENSE asks: which page, which values, and whether block
/// descriptors are wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModeAsk {
    /// The page code (0x3F: every page).
    pub page: u8,
    /// Changeable values (page control 1): every field that can change has
    /// its bits set, the others are 0.
    pub changeable: bool,
    /// Block descriptors are allowed (DBD clear).
    pub block_descriptors: bool,
    /// MODE SENSE(10).
    pub ten: bool,
}

impl ModeAsk {
    /// Decodes MODE SENSE(6) or (10): saved values are refused (SAVING
    /// PARAMETERS NOT SUPPORTED), so are subpages other than 0 (and 0xFF
    /// with page 0x3F).
    pub fn parse(cdb: &[u8]) -> Result<ModeAsk, Check> {
        let pc = byte(cdb, 2) >> 6;
        let page = byte(cdb, 2) & 0x3f;
        let sub = byte(cdb, 3);
        if pc == 3 {
            return Err(Check::SAVING_NOT_SUPPORTED);
        }
        if sub != 0 && !(sub == 0xff && page == 0x3f) {
            return Err(Check::INVALID_FIELD);
        }
        Ok(ModeAsk { page, changeable: pc == 1, block_descriptors: byte(cdb, 1) & 0x08 == 0, ten: byte(cdb, 0) == 0x5a })
    }

    /// The mode parameter data: the header (6- or 10-byte form) with the
    /// device-specific byte, the block descriptor if one is given and
    /// allowed, then the pages; cut to the allocation length.
    pub fn data(&self, cdb: &[u8], device_specific: u8, block: Option<[u8; 8]>, pages: &[Vec<u8>]) -> Vec<u8> {
        let bd: &[u8] = match &block {
            Some(b) if self.block_descriptors => b,
            _ => &[],
        };
        let body: Vec<u8> = bd.iter().copied().chain(pages.iter().flatten().copied()).collect();
        let mut d = if self.ten {
            let len = (6 + body.len()) as u16;
            let mut h = len.to_be_bytes().to_vec();
            h.extend_from_slice(&[0, device_specific, 0, 0]);
            h.extend_from_slice(&(bd.len() as u16).to_be_bytes());
            h
        } else {
            vec![(3 + body.len()).min(255) as u8, 0, device_specific, bd.len() as u8]
        };
        d.extend_from_slice(&body);
        d.truncate(allocation_length(cdb).unwrap_or(0));
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> Identity {
        Identity::new("PMT", "VTAPE", "0100", "PMT0001").unwrap()
    }

    #[test]
    fn defaults_follow_the_unit() {
        assert_eq!(Identity::drive_default(Some(Path::new("/dev/pmts12"))).serial(), "PMTD0012");
        assert_eq!(Identity::library_default(Some(Path::new("/dev/pmcs0"))).serial(), "PMTL0000");
        assert_eq!(Identity::drive_default(None).serial(), "PMTD0000");
        assert_eq!(unit_number(Path::new("/dev/tape")), None);
    }

    #[test]
    fn identities_are_checked() {
        assert!(Identity::new("TOOLONGVENDOR", "x", "1", "s").is_err());
        assert!(Identity::new("A", "x", "1", "two words").is_err());
        assert!(Identity::new("A", "x", "1", "").is_err());
        assert!(Identity::new("A", "x", "12345", "s").is_err());
        assert!(Identity::new("\u{e9}", "x", "1", "s").is_err());
    }

    #[test]
    fn inquiry_and_vpd() {
        let i = id();
        let d = i.inquiry(&[0x12, 0, 0, 0, 56, 0], TYPE_TAPE, true).unwrap();
        assert_eq!(d.len(), 56);
        assert_eq!((d[0], d[1], d[4]), (1, 0x80, 91));
        assert_eq!(d[6] & 0x08, 0, "MChngr clear");
        assert_eq!(&d[8..36], b"PMT     VTAPE           0100");
        let p = i.inquiry(&[0x12, 1, 0x80, 0, 255, 0], TYPE_TAPE, true).unwrap();
        assert_eq!(&p[..4], &[1, 0x80, 0, 7]);
        assert_eq!(&p[4..], b"PMT0001");
        let p = i.inquiry(&[0x12, 1, 0x00, 0, 255, 0], TYPE_CHANGER, false).unwrap();
        assert_eq!(p, vec![8, 0, 0, 3, 0, 0x80, 0x83]);
        let p = i.inquiry(&[0x12, 1, 0x83, 0, 255, 0], TYPE_TAPE, true).unwrap();
        assert_eq!(&p[4..8], &[2, 1, 0, 31]);
        assert_eq!(&p[8..], b"PMT     VTAPE           PMT0001");
        assert_eq!(i.inquiry(&[0x12, 1, 0x81, 0, 255, 0], 1, true), Err(Check::INVALID_FIELD));
        assert_eq!(i.inquiry(&[0x12, 0, 0x80, 0, 255, 0], 1, true), Err(Check::INVALID_FIELD));
    }

    #[test]
    fn sense_and_luns() {
        let d = request_sense(&[0x03, 0, 0, 0, 18, 0], Some(Check::NO_MEDIUM));
        assert_eq!((d[0], d[2], d[12], d[13]), (0x70, 2, 0x3a, 0));
        assert_eq!(request_sense(&[0x03, 1, 0, 0, 8, 0], None), vec![0x72, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(request_sense(&[0x03, 0, 0, 0, 4, 0], None).len(), 4);
        let l = report_luns(&[0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0]).unwrap();
        assert_eq!(l, vec![0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn mode_headers() {
        let cdb6 = [0x1a, 0x00, 0x3f, 0, 255, 0];
        let ask = ModeAsk::parse(&cdb6).unwrap();
        let d = ask.data(&cdb6, 0x90, Some([0x58, 0, 0, 0, 0, 0, 0, 0]), &[vec![0x0f, 2, 0, 0]]);
        assert_eq!(&d[..4], &[15, 0, 0x90, 8]);
        let cdb10 = [0x5a, 0x08, 0x3f, 0, 0, 0, 0, 0, 255, 0];
        let ask = ModeAsk::parse(&cdb10).unwrap();
        let d = ask.data(&cdb10, 0, Some([0; 8]), &[vec![0x0f, 2, 0, 0]]);
        assert_eq!(d, vec![0, 10, 0, 0, 0, 0, 0, 0, 0x0f, 2, 0, 0], "DBD: no block descriptor");
        assert_eq!(ModeAsk::parse(&[0x1a, 0, 0xdd, 0, 255, 0]), Err(Check::SAVING_NOT_SUPPORTED));
        assert_eq!(ModeAsk::parse(&[0x1a, 0, 0x1d, 1, 255, 0]), Err(Check::INVALID_FIELD));
    }
}
