/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * cdrive.h: an honest tape drive in a few hundred lines of C, for the probes
 * that play the daemon themselves (tests/vm/hostile_daemon.c). It answers
 * every request of include/pmt_proto.h the way pmtd's drive does (the same
 * senses, residues and positions), keeps the tape in memory, and answers
 * READRUN (read-ahead) with runs of whole records, so the kernel's
 * read-ahead can be exercised whatever pmtd supports.
 */
#ifndef CDRIVE_H
#define CDRIVE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pmt_proto.h"

struct cobj {
	uint32_t len;		/* 0: a filemark */
	unsigned char *data;
};

struct cdrive {
	struct cobj *o;
	size_t n, cap, pos;
	uint32_t blksize;
	int attention;		/* the next OPEN hears of a new medium */
	int readrun;		/* answer READRUN (else ILLEGAL REQUEST) */
	uint64_t runs, run_records;	/* READRUN replies with records, and their records */
};

/* A reply being built: the frame and its data. */
struct creply {
	struct pmt_rep rep;
	unsigned char *data;
	size_t dlen, dcap;
};

static inline void cd_init(struct cdrive *d)
{
	memset(d, 0, sizeof(*d));
	d->attention = 1;
	d->readrun = 1;
}

static inline void cd_cut(struct cdrive *d)
{
	for (size_t i = d->pos; i < d->n; i++)
		free(d->o[i].data);
	d->n = d->pos;
}

static inline int cd_append(struct cdrive *d, const unsigned char *data, uint32_t len)
{
	cd_cut(d);
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 256;
		struct cobj *o = realloc(d->o, cap * sizeof(*o));

		if (o == NULL)
			return -1;
		d->o = o;
		d->cap = cap;
	}
	d->o[d->n].len = len;
	d->o[d->n].data = NULL;
	if (len) {
		d->o[d->n].data = malloc(len);
		if (d->o[d->n].data == NULL)
			return -1;
		memcpy(d->o[d->n].data, data, len);
	}
	d->n++;
	d->pos = d->n;
	return 0;
}

static inline void cd_status(const struct cdrive *d, struct pmt_status *st)
{
	memset(st, 0, sizeof(*st));
	st->ds_flags = PMT_DS_READY;
	if (d->pos == 0)
		st->ds_flags |= PMT_DS_BOP;
	if (d->pos == d->n)
		st->ds_flags |= PMT_DS_EOD;
	st->ds_blksize = d->blksize;
	st->ds_minblk = 1;
	st->ds_maxblk = PMT_MAX_RECORD;
	st->ds_position = d->pos;
	st->ds_room = PMT_ROOM_UNLIMITED;
}

static inline void cr_sense(struct creply *r, uint8_t key, uint8_t flags, uint8_t asc, uint8_t ascq, int64_t resid)
{
	r->rep.rp_sense = key;
	r->rep.rp_sflags = flags;
	r->rep.rp_asc = asc;
	r->rep.rp_ascq = ascq;
	r->rep.rp_resid = resid;
}

static inline unsigned char *cr_room(struct creply *r, size_t n)
{
	if (r->dlen + n > r->dcap) {
		size_t cap = r->dcap ? r->dcap : 65536;
		unsigned char *p;

		while (cap < r->dlen + n)
			cap *= 2;
		p = realloc(r->data, cap);
		if (p == NULL)
			return NULL;
		r->data = p;
		r->dcap = cap;
	}
	r->dlen += n;
	return r->data + r->dlen - n;
}

/* A reply frame header for request q, GOOD, with the drive's status. */
static inline void cr_begin(struct creply *r, const struct pmt_req *q, const struct cdrive *d)
{
	memset(&r->rep, 0, sizeof(r->rep));
	r->dlen = 0;
	r->rep.rp_hdr.h_len = PMT_REP_SIZE;
	r->rep.rp_hdr.h_version = PMT_PROTO_VERSION;
	r->rep.rp_hdr.h_op = q->rq_hdr.h_op;
	r->rep.rp_hdr.h_id = q->rq_hdr.h_id;
	cd_status(d, &r->rep.rp_status);
}

static inline void cr_end(struct creply *r, const struct cdrive *d)
{
	cd_status(d, &r->rep.rp_status);
	r->rep.rp_hdr.h_len = (uint32_t)(PMT_REP_SIZE + r->dlen);
}

#define CD_EOD(r, resid) cr_sense(r, PMT_SK_BLANK_CHECK, 0, 0, 5, resid)
#define CD_FMK(r, resid) cr_sense(r, PMT_SK_NO_SENSE, PMT_SF_FMK, 0, 1, resid)
#define CD_ILLEGAL(r) cr_sense(r, PMT_SK_ILLEGAL_REQUEST, 0, PMT_ASC_INVALID_FIELD, 0, 0)

static void cd_read(struct cdrive *d, const struct pmt_req *q, struct creply *r)
{
	uint64_t want = q->rq_length > PMT_MAX_RECORD ? PMT_MAX_RECORD : q->rq_length;

	if (q->rq_flags & PMT_RF_FIXED) {
		uint32_t bs = d->blksize;
		int64_t count;

		if (bs == 0 || q->rq_count < 0) {
			CD_ILLEGAL(r);
			return;
		}
		count = q->rq_count < (int64_t)(want / bs) ? q->rq_count : (int64_t)(want / bs);
		for (int64_t i = 0; i < count; i++) {
			struct cobj *o;
			unsigned char *p;

			if (d->pos >= d->n) {
				CD_EOD(r, count - i);
				return;
			}
			o = &d->o[d->pos++];
			if (o->len == 0) {
				CD_FMK(r, count - i);
				return;
			}
			if (o->len != bs) {
				cr_sense(r, PMT_SK_NO_SENSE, PMT_SF_ILI, 0, 0, count - i);
				return;
			}
			p = cr_room(r, bs);
			if (p)
				memcpy(p, o->data, bs);
		}
		return;
	}
	if (d->pos >= d->n) {
		CD_EOD(r, (int64_t)want);
		return;
	}
	{
		struct cobj *o = &d->o[d->pos++];
		uint64_t k = o->len < want ? o->len : want;
		unsigned char *p;

		if (o->len == 0) {
			CD_FMK(r, (int64_t)want);
			return;
		}
		p = cr_room(r, k);
		if (p)
			memcpy(p, o->data, k);
		if (o->len != want && !(o->len < want && (q->rq_flags & PMT_RF_SILI)))
			cr_sense(r, PMT_SK_NO_SENSE, PMT_SF_ILI, 0, 0, (int64_t)want - (int64_t)o->len);
	}
}

static void cd_readrun(struct cdrive *d, const struct pmt_req *q, struct creply *r)
{
	int64_t got = 0;
	uint64_t used = 0;

	if (!d->readrun || q->rq_count <= 0) {
		CD_ILLEGAL(r);
		return;
	}
	while (got < q->rq_count && d->pos < d->n) {
		struct cobj *o = &d->o[d->pos];

		if (q->rq_flags & PMT_RF_FIXED) {
			unsigned char *p;

			if (o->len == 0 || o->len != d->blksize || used + o->len > q->rq_length)
				break;
			p = cr_room(r, o->len);
			if (p)
				memcpy(p, o->data, o->len);
			used += o->len;
		} else {
			uint64_t frame = 8 + (uint64_t)o->len + (o->len & 1);
			unsigned char *p;

			if (o->len == 0 || used + frame > q->rq_length)
				break;
			p = cr_room(r, frame);
			if (p) {
				memcpy(p, &o->len, 4);
				memcpy(p + 4, o->data, o->len);
				if (o->len & 1)
					p[4 + o->len] = 0;
				memcpy(p + frame - 4, &o->len, 4);
			}
			used += frame;
		}
		d->pos++;
		got++;
	}
	if (got > 0) {
		d->runs++;
		d->run_records += (uint64_t)got;
	}
	r->rep.rp_resid = q->rq_count - got;
}

static void cd_space(struct cdrive *d, const struct pmt_req *q, struct creply *r)
{
	int64_t count = q->rq_count, done = 0, n = count < 0 ? -count : count;
	int64_t left;

	switch (q->rq_arg) {
	case PMT_SP_EOD:
		d->pos = d->n;
		return;
	case PMT_SP_BLOCKS:
	case PMT_SP_FILEMARKS:
		break;
	default:
		CD_ILLEGAL(r);
		return;
	}
	while (done < n) {
		if (count >= 0) {
			if (d->pos >= d->n) {
				left = count - done;
				CD_EOD(r, left);
				return;
			}
			if (d->o[d->pos].len == 0) {
				d->pos++;
				if (q->rq_arg == PMT_SP_BLOCKS) {
					CD_FMK(r, count - done);
					return;
				}
				done++;
				continue;
			}
			d->pos++;
			if (q->rq_arg == PMT_SP_BLOCKS)
				done++;
		} else {
			if (d->pos == 0) {
				cr_sense(r, PMT_SK_NO_SENSE, PMT_SF_EOM, 0, 4, count + done);
				return;
			}
			if (d->o[d->pos - 1].len == 0) {
				d->pos--;
				if (q->rq_arg == PMT_SP_BLOCKS) {
					CD_FMK(r, count + done);
					return;
				}
				done++;
				continue;
			}
			d->pos--;
			if (q->rq_arg == PMT_SP_BLOCKS)
				done++;
		}
	}
}

static void cd_execute(struct cdrive *d, const struct pmt_req *q, const unsigned char *data, struct creply *r);

/*
 * Runs request q on the drive as cd_execute does, with the unit's data area
 * mapped at `area` (`area_size` bytes; NULL: none): a request with
 * PMT_RF_AREA has its write data there, and its run goes there, the reply
 * saying how much in rp_dlen and carrying none itself.
 */
static inline void cd_execute_area(struct cdrive *d, const struct pmt_req *q, const unsigned char *data, struct creply *r,
    unsigned char *area, size_t area_size)
{
	int in_area = area != NULL && (q->rq_flags & PMT_RF_AREA) && q->rq_arg <= area_size &&
	    q->rq_length <= area_size - q->rq_arg;

	cd_execute(d, q, in_area && q->rq_hdr.h_op == PMT_OP_WRITE ? area + q->rq_arg : data, r);
	if (in_area && r->dlen > 0 && r->dlen <= q->rq_length) {
		memcpy(area + q->rq_arg, r->data, r->dlen);
		r->rep.rp_dlen = (uint32_t)r->dlen;
		r->dlen = 0;
		r->rep.rp_hdr.h_len = PMT_REP_SIZE;
	}
}

/* Runs request q (with its write data) on the drive and builds the reply. */
static void cd_execute(struct cdrive *d, const struct pmt_req *q, const unsigned char *data, struct creply *r)
{
	cr_begin(r, q, d);
	switch (q->rq_hdr.h_op) {
	case PMT_OP_OPEN:
		if (d->attention) {
			d->attention = 0;
			cr_sense(r, PMT_SK_UNIT_ATTENTION, 0, PMT_ASC_MEDIUM_CHANGED, 0, 0);
		}
		break;
	case PMT_OP_CLOSE:
	case PMT_OP_STATUS:
	case PMT_OP_READPOS:
	case PMT_OP_LOCK:
		break;
	case PMT_OP_WRITE:
		if (q->rq_flags & PMT_RF_FIXED) {
			if (d->blksize == 0 || q->rq_count < 0 || q->rq_length != (uint64_t)q->rq_count * d->blksize) {
				CD_ILLEGAL(r);
				break;
			}
			for (int32_t i = 0; i < q->rq_count; i++)
				cd_append(d, data + (size_t)i * d->blksize, d->blksize);
		} else if (q->rq_length == 0 || d->blksize != 0) {
			CD_ILLEGAL(r);
		} else {
			cd_append(d, data, (uint32_t)q->rq_length);
		}
		break;
	case PMT_OP_READ:
		cd_read(d, q, r);
		break;
	case PMT_OP_READRUN:
		cd_readrun(d, q, r);
		break;
	case PMT_OP_WFM:
		if (q->rq_flags & PMT_RF_SETMARK) {
			CD_ILLEGAL(r);
			break;
		}
		cd_cut(d);
		for (int32_t i = 0; i < q->rq_count; i++)
			cd_append(d, NULL, 0);
		break;
	case PMT_OP_SPACE:
		cd_space(d, q, r);
		break;
	case PMT_OP_REWIND:
	case PMT_OP_LOAD:
		d->pos = 0;
		break;
	case PMT_OP_ERASE:
		cd_cut(d);
		break;
	case PMT_OP_LOCATE:
		if (q->rq_arg <= d->n) {
			d->pos = q->rq_arg;
		} else {
			d->pos = d->n;
			CD_EOD(r, 0);
		}
		break;
	case PMT_OP_MODE:
		if (q->rq_flags & PMT_RF_SET_BLKSIZE) {
			if (q->rq_length > PMT_MAX_RECORD)
				CD_ILLEGAL(r);
			else
				d->blksize = (uint32_t)q->rq_length;
		}
		break;
	default:
		CD_ILLEGAL(r);
		break;
	}
	cr_end(r, d);
}

#endif /* CDRIVE_H */
