/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Pins the slave protocol's layout on the C side, as src/proto.rs does with
 * static_assertions on the Rust side: a change to either that is not made to
 * both fails one of the two builds. Built by scripts/test-all.
 */
#include <stddef.h>
#include <stdio.h>

#include "pmt_core.h"
#include "pmt_proto.h"

#define PIN(type, field, off) _Static_assert(offsetof(type, field) == (off), #type "." #field)

_Static_assert(sizeof(struct pmt_hdr) == PMT_HDR_SIZE && PMT_HDR_SIZE == 16, "pmt_hdr");
PIN(struct pmt_hdr, h_len, 0);
PIN(struct pmt_hdr, h_version, 4);
PIN(struct pmt_hdr, h_op, 6);
PIN(struct pmt_hdr, h_id, 8);

_Static_assert(sizeof(struct pmt_req) == PMT_REQ_SIZE && PMT_REQ_SIZE == 48, "pmt_req");
PIN(struct pmt_req, rq_hdr, 0);
PIN(struct pmt_req, rq_flags, 16);
PIN(struct pmt_req, rq_count, 20);
PIN(struct pmt_req, rq_length, 24);
PIN(struct pmt_req, rq_arg, 32);
PIN(struct pmt_req, rq_arg2, 40);
PIN(struct pmt_req, rq_spare, 44);

_Static_assert(sizeof(struct pmt_status) == PMT_STATUS_SIZE && PMT_STATUS_SIZE == 40, "pmt_status");
PIN(struct pmt_status, ds_flags, 0);
PIN(struct pmt_status, ds_blksize, 4);
PIN(struct pmt_status, ds_minblk, 8);
PIN(struct pmt_status, ds_maxblk, 12);
PIN(struct pmt_status, ds_density, 16);
PIN(struct pmt_status, ds_drvbuf, 17);
PIN(struct pmt_status, ds_spare0, 18);
PIN(struct pmt_status, ds_spare1, 20);
PIN(struct pmt_status, ds_position, 24);
PIN(struct pmt_status, ds_room, 32);

_Static_assert(sizeof(struct pmt_rep) == PMT_REP_SIZE && PMT_REP_SIZE == 72, "pmt_rep");
PIN(struct pmt_rep, rp_hdr, 0);
PIN(struct pmt_rep, rp_sense, 16);
PIN(struct pmt_rep, rp_sflags, 17);
PIN(struct pmt_rep, rp_asc, 18);
PIN(struct pmt_rep, rp_ascq, 19);
PIN(struct pmt_rep, rp_dlen, 20);
PIN(struct pmt_rep, rp_resid, 24);
PIN(struct pmt_rep, rp_status, 32);

_Static_assert(sizeof(struct pmt_scsi_req) == PMT_SCSI_REQ_SIZE && PMT_SCSI_REQ_SIZE == 48, "pmt_scsi_req");
PIN(struct pmt_scsi_req, sq_hdr, 0);
PIN(struct pmt_scsi_req, sq_cdb, 16);
PIN(struct pmt_scsi_req, sq_cdb_len, 32);
PIN(struct pmt_scsi_req, sq_dir, 33);
PIN(struct pmt_scsi_req, sq_spare0, 34);
PIN(struct pmt_scsi_req, sq_xfer_len, 36);
PIN(struct pmt_scsi_req, sq_timeout_ms, 40);
PIN(struct pmt_scsi_req, sq_spare1, 44);

_Static_assert(sizeof(struct pmt_scsi_rep) == PMT_SCSI_REP_SIZE && PMT_SCSI_REP_SIZE == 56, "pmt_scsi_rep");
PIN(struct pmt_scsi_rep, sr_hdr, 0);
PIN(struct pmt_scsi_rep, sr_status, 16);
PIN(struct pmt_scsi_rep, sr_sense_len, 17);
PIN(struct pmt_scsi_rep, sr_spare0, 18);
PIN(struct pmt_scsi_rep, sr_resid, 20);
PIN(struct pmt_scsi_rep, sr_sense, 24);

/* Values the Rust side uses under the same names. */
_Static_assert(PMT_PROTO_VERSION == 4 && PMT_FRAME_ALIGN == 8 && PMT_RUN_OVERHEAD == 8, "framing");
_Static_assert(PMT_MAX_RECORD == 0xffffff && PMT_RECORD_COST == 64, "limits");
_Static_assert(PMT_OP_OPEN == 1 && PMT_OP_WRITE == 3 && PMT_OP_READ == 4 && PMT_OP_LOCK == 14 && PMT_OP_READRUN == 15 && PMT_OP_SCSI == 16 && PMT_OP_MAX == 16, "ops");
_Static_assert(PMT_SK_BLANK_CHECK == 8 && PMT_SK_VOLUME_OVERFLOW == 0xd, "sense keys");
_Static_assert(PMT_SF_FMK == 0x80 && PMT_SF_EOM == 0x40 && PMT_SF_ILI == 0x20, "sense flags");
_Static_assert(PMT_DS_READY == 1 && PMT_DS_EW == 0x10 && PMT_DS_CLEAN == 0x80, "status flags");
_Static_assert(PMT_RF_OPEN_NOREWIND == 0x80000 && PMT_RF_SET_COMPRESS == 0x800, "request flags");
_Static_assert(sizeof(struct pmt_core_params) == 24, "pmt_core_params");
PIN(struct pmt_core_params, p_abi, 0);
PIN(struct pmt_core_params, p_ring, 4);
PIN(struct pmt_core_params, p_window, 8);
PIN(struct pmt_core_params, p_timeout, 12);
PIN(struct pmt_core_params, p_kind, 16);
PIN(struct pmt_core_params, p_spare, 20);
_Static_assert(PMT_KIND_TAPE == 0 && PMT_KIND_CHANGER == 1, "kinds");
_Static_assert(PMT_ABI_LINUX == 0 && PMT_ABI_NETBSD == 1, "host ABIs");
_Static_assert(PMT_MOPEN_EJECT == 16 && PMT_MOPEN_CONTROL == 32 && PMT_MOPEN_MODE_SHIFT == 8, "st node flags");
_Static_assert(PMT_MOPEN_NOREWIND == 8 && PMT_WAIT_SPACE == 1 && PMT_SLEEP_UNINTERRUPTIBLE == 2 && PMT_WAIT_RESTART == 3, "core flags");

int main(void)
{
	printf("layout: pmt_hdr %zu, pmt_req %zu, pmt_status %zu, pmt_rep %zu bytes\n", sizeof(struct pmt_hdr),
	       sizeof(struct pmt_req), sizeof(struct pmt_status), sizeof(struct pmt_rep));
	return 0;
}
