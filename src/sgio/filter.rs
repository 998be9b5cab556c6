//! Linux's SCSI command filter (drivers/scsi/scsi_ioctl.c,
//! `scsi_cmd_allowed`, 6.1): what SG_IO passes for a caller without
//! CAP_SYS_RAWIO. Anyone who can open the device may send a read-safe
//! command; a write-safe one needs the file open for writing; anything
//! else (MOVE MEDIUM, READ ELEMENT STATUS, INITIALIZE ELEMENT STATUS among
//! them) needs the capability.

/// Opcodes anyone who can open the device may send. Some are MMC names
/// for opcodes SMC uses otherwise (0x2b, MMC's SEEK, is POSITION TO
/// ELEMENT): the filter looks at the opcode only, as Linux's does.
const READ_OK: &[u8] = &[
    0x00, // TEST UNIT READY
    0x03, // REQUEST SENSE
    0x08, 0x28, 0xa8, 0x88, // READ (6, 10, 12, 16)
    0x3c, // READ BUFFER
    0x37, // READ DEFECT DATA
    0x25, // READ CAPACITY
    0x3e, // READ LONG
    0x12, // INQUIRY
    0x1a, 0x5a, // MODE SENSE (6, 10)
    0x4d, // LOG SENSE
    0x1b, // START STOP UNIT
    0x2f, 0x8f, // VERIFY (10, 16)
    0xa0, // REPORT LUNS
    0x9e, // SERVICE ACTION IN (16)
    0x1c, // RECEIVE DIAGNOSTIC
    0xa3, // MAINTENANCE IN
    0x5c, // READ BUFFER CAPACITY
    0xbc, 0x45, 0x47, 0x48, 0x4b, // audio CD: play, pause
    0xbe, 0xb9, 0x51, 0xad, 0x44, 0x52, 0x42, 0x43, 0xa4, 0xba, // CD and DVD reads
    0x46, 0x23, 0x4a, 0xac, 0x2b, 0x4e, // configuration, events, seek
    0x95, // ZBC IN
];

/// Opcodes a caller may send on a file open for writing.
const WRITE_OK: &[u8] = &[
    0x0a, 0x2a, 0x2e, 0xaa, 0xae, 0x8a, // WRITE and WRITE AND VERIFY
    0x3f, 0xea, // WRITE LONG
    0x41, 0x93, 0x0d, // WRITE SAME (10, 16, 32's service action)
    0x19, // ERASE
    0x55, 0x15, // MODE SELECT (10, 6)
    0x4c, // LOG SELECT
    0xa1, 0x5b, 0x35, 0x04, 0x58, 0x53, 0xbf, 0xa2, 0x54, 0x5d, 0xbb, // MMC writing
    0x1e, // PREVENT ALLOW MEDIUM REMOVAL
    0xa6, // LOAD UNLOAD (SMC's EXCHANGE MEDIUM)
    0xb6, 0xa7, // SET STREAMING, SET READ AHEAD
    0x94, // ZBC OUT
];

/// True if a caller may send command `cdb`: always with CAP_SYS_RAWIO
/// (`raw_io`), otherwise by the filter's lists.
pub fn allowed(cdb: &[u8], writable: bool, raw_io: bool) -> bool {
    if raw_io {
        return true;
    }
    let Some(&op) = cdb.first() else {
        return false;
    };
    READ_OK.contains(&op) || (writable && WRITE_OK.contains(&op))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_changer_commands_mtx_sends() {
        let ok = |op: u8, w: bool| allowed(&[op, 0, 0, 0, 0, 0], w, false);
        assert!(ok(0x12, false), "INQUIRY");
        assert!(ok(0x00, false), "TEST UNIT READY");
        assert!(ok(0x1a, false), "MODE SENSE");
        assert!(ok(0x2b, false), "POSITION TO ELEMENT (MMC's SEEK)");
        assert!(!ok(0xb8, true), "READ ELEMENT STATUS needs CAP_SYS_RAWIO");
        assert!(!ok(0xa5, true), "MOVE MEDIUM needs CAP_SYS_RAWIO");
        assert!(!ok(0x07, true), "INITIALIZE ELEMENT STATUS needs CAP_SYS_RAWIO");
        assert!(ok(0xa6, true) && !ok(0xa6, false), "EXCHANGE MEDIUM: write-safe");
        assert!(ok(0x1e, true) && !ok(0x1e, false), "PREVENT ALLOW: write-safe");
        assert!(allowed(&[0xa5], false, true), "anything with CAP_SYS_RAWIO");
        assert!(!allowed(&[], true, false));
        let mut both: alloc::vec::Vec<u8> = READ_OK.iter().filter(|o| WRITE_OK.contains(o)).copied().collect();
        both.sort_unstable();
        assert!(both.is_empty(), "in both lists: {both:?}");
    }
}
