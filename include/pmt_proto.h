/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * pmt slave protocol: the frames exchanged between the pmt driver and the
 * daemon that reads /dev/pmts<N>.
 *
 * This header is the definition of the protocol. The Rust mirror in
 * src/proto.rs pins every size and offset below with static_assertions, and
 * tests/c/layout.c pins the same numbers with _Static_assert.
 *
 * The daemon plays the tape *drive*; the driver (the pmt core, per host OS)
 * plays st(4). So requests are drive commands modelled on SCSI SSC (write a
 * record, read a record, write filemarks, space, locate, ...) and replies carry
 * what a drive returns: a SCSI sense key, the FMK/EOM/ILI flags, a signed
 * residue (the SCSI INFORMATION field) and the drive status. Host conventions
 * (errno values, file/block counters, filemark at close, early-warning
 * reporting) are the driver's business and never appear on the wire.
 *
 * Framing. Every frame starts with struct pmt_hdr. h_len counts the whole
 * frame, header and payload, excluding alignment padding. A read() of the
 * slave returns one or more whole requests; a write() to the slave takes one
 * or more whole replies. Inside such a batch each frame starts at a multiple
 * of PMT_FRAME_ALIGN bytes from the first (pad bytes are zero and ignored).
 * All fields are in host byte order: both peers run on one machine.
 *
 * Ordering. The daemon answers requests in the order it read them, one reply
 * per request, echoing h_op and h_id. Any other reply is refused with EINVAL
 * and changes nothing.
 *
 * Two kinds of pair speak it, each with its own frames after the common
 * header: a tape pair (/dev/pmts<N>: struct pmt_req and struct pmt_rep, the
 * drive's commands) and a changer pair (/dev/pmcs<N>: struct pmt_scsi_req
 * and struct pmt_scsi_rep, the SCSI Media Changer commands the library
 * daemon executes). h_version carries the version of the pair's kind.
 */
#ifndef PMT_PROTO_H
#define PMT_PROTO_H

#if defined(__linux__) && defined(__KERNEL__)
#include <linux/types.h>
#elif defined(_KERNEL)
#include <sys/types.h>
#else
#include <stdint.h>
#endif

/* 2: READRUN (read-ahead) added. 3: SCSI (pass-through of the commands
 * that do not move the medium) added. 4: the data area. */
#define PMT_PROTO_VERSION	4
#define PMT_FRAME_ALIGN		8

/* Largest record: the 24-bit length of a SIMH .tap record. */
#define PMT_MAX_RECORD		0x00ffffffu

/*
 * Early-warning room accounting (struct pmt_status, ds_room): each record or
 * filemark costs its payload plus at most this many bytes of medium.
 */
#define PMT_RECORD_COST		64u
#define PMT_ROOM_UNLIMITED	0xffffffffffffffffull

/* Operations: h_op of a request and of its reply. */
#define PMT_OP_OPEN	1	/* a master open: test unit ready + mode sense */
#define PMT_OP_CLOSE	2	/* the master closed: make the data durable */
#define PMT_OP_WRITE	3	/* write rq_length bytes: one record, or rq_count fixed blocks */
#define PMT_OP_READ	4	/* read up to rq_length bytes: one record, or rq_count fixed blocks */
#define PMT_OP_WFM	5	/* write rq_count filemarks (setmarks with PMT_RF_SETMARK) */
#define PMT_OP_SPACE	6	/* space rq_count (signed) units of kind rq_arg (PMT_SP_*) */
#define PMT_OP_REWIND	7	/* rewind to beginning of partition */
#define PMT_OP_LOAD	8	/* PMT_RF_LOAD: load (PMT_RF_RETEN: retension); otherwise unload */
#define PMT_OP_ERASE	9	/* erase from the position to the end (PMT_RF_LONG: long erase) */
#define PMT_OP_LOCATE	10	/* locate to logical object address rq_arg */
#define PMT_OP_READPOS	11	/* report the logical object address in ds_position */
#define PMT_OP_MODE	12	/* mode select: PMT_RF_SET_* say which fields apply */
#define PMT_OP_STATUS	13	/* report the drive status only */
#define PMT_OP_LOCK	14	/* rq_count 1: prevent medium removal; 0: allow */
#define PMT_OP_READRUN	15	/* read ahead: whole records, stopping before anything else */
#define PMT_OP_SCSI	16	/* a SCSI command that does not move the medium, see below */
#define PMT_OP_MAX	16

/*
 * SCSI, what an SG_IO on the tape master passes to the drive: the command
 * descriptor block is the request's payload (6 to 16 bytes), rq_length the
 * most bytes of data the command may return (its allocation length). Only
 * commands that neither move the medium nor change the drive's settings are
 * passed (INQUIRY, TEST UNIT READY, REQUEST SENSE, MODE SENSE, LOG SENSE,
 * READ BLOCK LIMITS, READ POSITION, REPORT LUNS); the driver refuses every
 * other itself. The reply: the command's sense key, rp_asc and rp_ascq (NO
 * SENSE with no flag: GOOD), rp_resid = rq_length - the data returned, and
 * the data.
 */

/*
 * READRUN, the drive's read-ahead. Without PMT_RF_FIXED: read up to rq_count
 * whole data records from the position, at most rq_length bytes of them as
 * framed below; with PMT_RF_FIXED: up to rq_count blocks of ds_blksize
 * (rq_length = rq_count * ds_blksize), as a fixed READ. The run stops BEFORE
 * anything that is not such a record (a filemark, end of data, a record it
 * cannot read, a block of the wrong length) and before a record that does not
 * fit the bytes left: it never crosses a filemark, never truncates a record
 * and reports no condition. The reply is NO SENSE with no flag, rp_resid =
 * rq_count - records (or blocks) returned, and the data. A run that returns
 * nothing says "read the next object with READ". On any other sense the
 * drive did not move and returns no data; ILLEGAL REQUEST: no read-ahead.
 *
 * Framing of a variable-length run: each record is its length (uint32_t),
 * its data, a zero pad byte if the length is odd, and its length again; the
 * records follow each other. On a little-endian host this is exactly the
 * framing of a SIMH .tap image, so a daemon storing one can read a run of
 * records straight into the reply. A fixed-block run is the blocks, as READ.
 */
#define PMT_RUN_OVERHEAD	8u	/* framing bytes per record, plus the pad */

/* Request flags (rq_flags). */
#define PMT_RF_FIXED		0x00000001u	/* fixed-block transfer: rq_count blocks of ds_blksize */
#define PMT_RF_SILI		0x00000002u	/* suppress incorrect-length indication */
#define PMT_RF_IMMED		0x00000004u	/* report completion before the motion ends */
#define PMT_RF_SETMARK		0x00000008u	/* WFM: setmarks instead of filemarks */
#define PMT_RF_LONG		0x00000010u	/* ERASE: long erase */
#define PMT_RF_LOAD		0x00000020u	/* LOAD: load (otherwise unload) */
#define PMT_RF_RETEN		0x00000040u	/* LOAD: retension */
#define PMT_RF_AFTER_ENOSPC	0x00000080u	/* WRITE: the program was told of the end of the
						   volume (ENOSPC) and writes again: the one
						   write st lets through after ENOSPC */
#define PMT_RF_SET_BLKSIZE	0x00000100u	/* MODE: block size in rq_length (0 = variable) */
#define PMT_RF_SET_DENSITY	0x00000200u	/* MODE: density code in rq_arg */
#define PMT_RF_SET_DRVBUF	0x00000400u	/* MODE: buffered mode in rq_arg2 */
#define PMT_RF_SET_COMPRESS	0x00000800u	/* MODE: compression on (rq_count 1) or off (0) */
#define PMT_RF_OPEN_READ	0x00010000u	/* OPEN: opened for reading */
#define PMT_RF_OPEN_WRITE	0x00020000u	/* OPEN: opened for writing */
#define PMT_RF_OPEN_NONBLOCK	0x00040000u	/* OPEN: O_NONBLOCK, no wait for the medium */
#define PMT_RF_OPEN_NOREWIND	0x00080000u	/* OPEN: the no-rewind node */
#define PMT_RF_AREA		0x00100000u	/* WRITE, READRUN: the payload is in the data area, see below */

/* SPACE kinds (rq_arg), the SCSI SPACE codes. */
#define PMT_SP_BLOCKS		0
#define PMT_SP_FILEMARKS	1
#define PMT_SP_EOD		3
#define PMT_SP_SETMARKS		4

/* Sense keys (rp_sense), the SCSI values. */
#define PMT_SK_NO_SENSE		0x0
#define PMT_SK_RECOVERED	0x1
#define PMT_SK_NOT_READY	0x2
#define PMT_SK_MEDIUM_ERROR	0x3
#define PMT_SK_HARDWARE_ERROR	0x4
#define PMT_SK_ILLEGAL_REQUEST	0x5
#define PMT_SK_UNIT_ATTENTION	0x6
#define PMT_SK_DATA_PROTECT	0x7
#define PMT_SK_BLANK_CHECK	0x8
#define PMT_SK_ABORTED		0xb
#define PMT_SK_VOLUME_OVERFLOW	0xd

/* Sense flags (rp_sflags), at their SCSI bit positions. */
#define PMT_SF_FMK		0x80	/* a filemark was crossed */
#define PMT_SF_EOM		0x40	/* early warning, end of medium or beginning of partition */
#define PMT_SF_ILI		0x20	/* the record length differs from the length asked */

/* Additional sense codes used (rp_asc, rp_ascq). */
#define PMT_ASC_NONE		0x00	/* with ASCQ: 01 filemark, 02 EOM/EW, 04 BOP, 05 EOD */
#define PMT_ASC_NOT_READY	0x04
#define PMT_ASC_WRITE_ERROR	0x0c
#define PMT_ASC_READ_ERROR	0x11
#define PMT_ASC_INVALID_FIELD	0x24
#define PMT_ASC_WRITE_PROTECTED	0x27
#define PMT_ASC_MEDIUM_CHANGED	0x28
#define PMT_ASC_POSITION_ERROR	0x3b
#define PMT_ASC_NO_MEDIUM	0x3a

/* Drive status flags (ds_flags). */
#define PMT_DS_READY		0x00000001u	/* a medium is loaded and ready */
#define PMT_DS_WRPROT		0x00000002u	/* the medium is write protected */
#define PMT_DS_BOP		0x00000004u	/* at the beginning of the partition */
#define PMT_DS_EOD		0x00000008u	/* at the end of recorded data */
#define PMT_DS_EW		0x00000010u	/* between early warning and end of medium */
#define PMT_DS_COMPRESS		0x00000020u	/* data compression is on */
#define PMT_DS_LOCKED		0x00000040u	/* medium removal is prevented */
#define PMT_DS_CLEAN		0x00000080u	/* the drive asks for cleaning */

/* The header of every frame. 16 bytes. */
struct pmt_hdr {
	uint32_t h_len;		/* frame length: header + payload, no padding */
	uint16_t h_version;	/* PMT_PROTO_VERSION */
	uint16_t h_op;		/* PMT_OP_* */
	uint64_t h_id;		/* request id, echoed by the reply */
};

/* A request, driver -> daemon. 48 bytes, then rq_length bytes for WRITE. */
struct pmt_req {
	struct pmt_hdr rq_hdr;
	uint32_t rq_flags;	/* PMT_RF_* */
	int32_t  rq_count;	/* signed count: blocks, filemarks; MODE: compression */
	uint64_t rq_length;	/* bytes to transfer; MODE: block size */
	uint64_t rq_arg;	/* SPACE: PMT_SP_*; LOCATE: address; MODE: density; OPEN: unit */
	uint32_t rq_arg2;	/* MODE: buffered mode */
	uint32_t rq_spare;	/* zero */
};

/* Drive status, in every reply. 40 bytes. */
struct pmt_status {
	uint32_t ds_flags;	/* PMT_DS_* */
	uint32_t ds_blksize;	/* block size, 0 = variable */
	uint32_t ds_minblk;	/* block limits (READ BLOCK LIMITS) */
	uint32_t ds_maxblk;
	uint8_t  ds_density;	/* density code */
	uint8_t  ds_drvbuf;	/* buffered mode (MODE SENSE) */
	uint16_t ds_spare0;	/* zero */
	uint32_t ds_spare1;	/* zero */
	uint64_t ds_position;	/* logical object address: records + marks from BOP */
	uint64_t ds_room;	/* bytes before early warning, see PMT_RECORD_COST */
};

/* A reply, daemon -> driver. 72 bytes, then the data of a READ. */
struct pmt_rep {
	struct pmt_hdr rp_hdr;
	uint8_t  rp_sense;	/* PMT_SK_*; NO_SENSE with no flag = GOOD */
	uint8_t  rp_sflags;	/* PMT_SF_* */
	uint8_t  rp_asc;	/* PMT_ASC_* */
	uint8_t  rp_ascq;
	uint32_t rp_dlen;	/* PMT_RF_AREA: data bytes put in the area; zero otherwise */
	int64_t  rp_resid;	/* SCSI INFORMATION: requested minus actual */
	struct pmt_status rp_status;
};

#define PMT_HDR_SIZE		16
#define PMT_REQ_SIZE		48
#define PMT_STATUS_SIZE		40
#define PMT_REP_SIZE		72

/*
 * The data area (Linux). A tape slave can be mapped: an ioctl on it,
 * PMT_SIOCAREA, gives the area's size (0: none), and mmap() of that size at
 * offset 0, shared and writable, maps it. While it is mapped the driver may
 * put a request's payload there instead of in the frame: a request with
 * PMT_RF_AREA names rq_length bytes at offset rq_arg of the area. A WRITE's
 * data is there to be stored; a READRUN's data goes there, and the reply
 * says in rp_dlen how many bytes the daemon put (the frame carries none).
 * The driver chooses the offsets; the daemon never names one. Only the
 * holder of the slave maps it; the area holds that unit's data only, and
 * its size is the unit's write-behind window (window_kb).
 */
#define PMT_SIOCAREA		0x80087001u	/* _IOR('p', 1, uint64_t) */

/*
 * The changer pair. The library daemon executes SCSI Media Changer (SMC)
 * commands: the driver passes every command a program sends through SG_IO
 * (after Linux's command filter for callers without CAP_SYS_RAWIO), and
 * turns the CHIO ioctls into SMC commands as ch(4) does.
 */
#define PMT_SCSI_VERSION	1
#define PMT_OP_CDB		1	/* execute sq_cdb */
#define PMT_CDB_MAX		16	/* bytes of a command descriptor block */
#define PMT_SENSE_MAX		32	/* bytes of sense data a reply carries */
#define PMT_SCSI_XFER_MAX	0x100000u	/* bytes a command may move (1 MiB) */

/* sq_dir: which way the command's data goes. */
#define PMT_DIR_NONE		0
#define PMT_DIR_TO_DEV		1	/* the request carries sq_xfer_len bytes */
#define PMT_DIR_FROM_DEV	2	/* the reply carries at most sq_xfer_len bytes */

/* sr_status: SCSI status codes a reply may carry. */
#define PMT_STATUS_GOOD			0x00
#define PMT_STATUS_CHECK_CONDITION	0x02	/* the sense data says why */
#define PMT_STATUS_BUSY			0x08
#define PMT_STATUS_RESERVATION_CONFLICT	0x18
#define PMT_STATUS_TASK_SET_FULL	0x28

/* A changer request, driver -> daemon. 48 bytes, then sq_xfer_len bytes of
 * data for PMT_DIR_TO_DEV. */
struct pmt_scsi_req {
	struct pmt_hdr sq_hdr;		/* h_version PMT_SCSI_VERSION, h_op PMT_OP_CDB */
	uint8_t  sq_cdb[PMT_CDB_MAX];	/* the command, zero after sq_cdb_len */
	uint8_t  sq_cdb_len;		/* 6, 10, 12 or 16 */
	uint8_t  sq_dir;		/* PMT_DIR_* */
	uint16_t sq_spare0;		/* zero */
	uint32_t sq_xfer_len;		/* bytes of data, at most PMT_SCSI_XFER_MAX */
	uint32_t sq_timeout_ms;		/* the caller's timeout, 0: the driver's */
	uint32_t sq_spare1;		/* zero */
};

/* A changer reply, daemon -> driver. 56 bytes, then the data of a
 * PMT_DIR_FROM_DEV command (at most sq_xfer_len bytes). */
struct pmt_scsi_rep {
	struct pmt_hdr sr_hdr;
	uint8_t  sr_status;		/* PMT_STATUS_* */
	uint8_t  sr_sense_len;		/* bytes of sr_sense: 0 unless CHECK CONDITION */
	uint16_t sr_spare0;		/* zero */
	uint32_t sr_resid;		/* sq_xfer_len - bytes moved */
	uint8_t  sr_sense[PMT_SENSE_MAX];	/* fixed (0x70, 0x71) or descriptor (0x72, 0x73) sense */
};

#define PMT_SCSI_REQ_SIZE	48
#define PMT_SCSI_REP_SIZE	56

#endif /* PMT_PROTO_H */
