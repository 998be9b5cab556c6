/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Pins the core's NetBSD tables (src/abi/netbsd.rs, src/abi/netbsd_changer.rs)
 * against NetBSD's own sys/mtio.h and sys/chio.h: compiled by
 * scripts/netbsd-check with the real NetBSD headers (amd64, LP64). Every
 * PMT_NB_* number below is the core's; a Rust test reads this file and
 * checks each against the Rust constant of the same name, so a change to
 * either side that is not made to the other fails one of the two checks.
 */
#include <sys/types.h>
#include <sys/param.h>
#include <sys/ioctl.h>
#include <sys/mtio.h>
#include <sys/chio.h>

#define PIN(type, field, off) _Static_assert(__builtin_offsetof(type, field) == (off), #type "." #field)
#define SAME(a, b) _Static_assert((a) == (b), #a " == " #b)

/* sys/mtio.h: the ioctls and struct mtget as st(4) fills them. */
#define PMT_NB_MTIOCTOP		0x80086d01
#define PMT_NB_MTIOCGET		0x40386d02
#define PMT_NB_MTIOCIEOT	0x20006d03
#define PMT_NB_MTIOCEEOT	0x20006d04
#define PMT_NB_MTIOCRDSPOS	0x40046d05
#define PMT_NB_MTIOCRDHPOS	0x40046d06
#define PMT_NB_MTIOCSLOCATE	0x80046d05
#define PMT_NB_MTIOCHLOCATE	0x80046d06
#define PMT_NB_MTGET_SIZE	56
SAME(MTIOCTOP, PMT_NB_MTIOCTOP);
SAME(MTIOCGET, PMT_NB_MTIOCGET);
SAME(MTIOCIEOT, PMT_NB_MTIOCIEOT);
SAME(MTIOCEEOT, PMT_NB_MTIOCEEOT);
SAME(MTIOCRDSPOS, PMT_NB_MTIOCRDSPOS);
SAME(MTIOCRDHPOS, PMT_NB_MTIOCRDHPOS);
SAME(MTIOCSLOCATE, PMT_NB_MTIOCSLOCATE);
SAME(MTIOCHLOCATE, PMT_NB_MTIOCHLOCATE);
SAME(sizeof(struct mtget), PMT_NB_MTGET_SIZE);
PIN(struct mtget, mt_type, 0);
PIN(struct mtget, mt_dsreg, 2);
PIN(struct mtget, mt_erreg, 4);
PIN(struct mtget, mt_resid, 6);
PIN(struct mtget, mt_fileno, 8);
PIN(struct mtget, mt_blkno, 12);
PIN(struct mtget, mt_blksiz, 16);
PIN(struct mtget, mt_density, 20);
PIN(struct mtget, mt_mblksiz, 24);
PIN(struct mtget, mt_mdensity, 40);
SAME(MTWEOF, 0);
SAME(MTREW, 5);
SAME(MTEOM, 10);
SAME(MTSETBSIZ, 14);
SAME(MTSETDNSTY, 15);
SAME(MTEWARN, 17);
SAME(MT_ISAR, 0x07);

/* sys/chio.h: ch(4)'s ioctls and structures. */
#define PMT_NB_CHIOMOVE		0x80146301
#define PMT_NB_CHIOEXCHANGE	0x801c6302
#define PMT_NB_CHIOPOSITION	0x800c6303
#define PMT_NB_CHIOGPICKER	0x40046304
#define PMT_NB_CHIOSPICKER	0x80046305
#define PMT_NB_CHIOGPARAMS	0x40146306
#define PMT_NB_CHIOIELEM	0x20006307
#define PMT_NB_OCHIOGSTATUS	0x80106308
#define PMT_NB_CHIOGSTATUS	0x80206309
#define PMT_NB_CHIOSVOLTAG	0x8030630a
SAME(CHIOMOVE, PMT_NB_CHIOMOVE);
SAME(CHIOEXCHANGE, PMT_NB_CHIOEXCHANGE);
SAME(CHIOPOSITION, PMT_NB_CHIOPOSITION);
SAME(CHIOGPICKER, PMT_NB_CHIOGPICKER);
SAME(CHIOSPICKER, PMT_NB_CHIOSPICKER);
SAME(CHIOGPARAMS, PMT_NB_CHIOGPARAMS);
SAME(CHIOIELEM, PMT_NB_CHIOIELEM);
SAME(OCHIOGSTATUS, PMT_NB_OCHIOGSTATUS);
SAME(CHIOGSTATUS, PMT_NB_CHIOGSTATUS);
SAME(CHIOSVOLTAG, PMT_NB_CHIOSVOLTAG);

SAME(CHET_MT, 0);
SAME(CHET_ST, 1);
SAME(CHET_IE, 2);
SAME(CHET_DT, 3);

/* The requests the core decodes. */
PIN(struct changer_move_request, cm_fromtype, 0);
PIN(struct changer_move_request, cm_fromunit, 4);
PIN(struct changer_move_request, cm_totype, 8);
PIN(struct changer_move_request, cm_tounit, 12);
PIN(struct changer_move_request, cm_flags, 16);
PIN(struct changer_exchange_request, ce_fdsttype, 8);
PIN(struct changer_exchange_request, ce_sdsttype, 16);
PIN(struct changer_exchange_request, ce_flags, 24);
PIN(struct changer_position_request, cp_flags, 8);
PIN(struct ochanger_element_status_request, cesr_data, 8);
PIN(struct changer_element_status_request, cesr_type, 0);
PIN(struct changer_element_status_request, cesr_unit, 4);
PIN(struct changer_element_status_request, cesr_count, 8);
PIN(struct changer_element_status_request, cesr_flags, 12);
PIN(struct changer_element_status_request, cesr_data, 16);
PIN(struct changer_element_status_request, cesr_vendor_data, 24);
PIN(struct changer_set_voltag_request, csvr_type, 0);
PIN(struct changer_set_voltag_request, csvr_unit, 4);
PIN(struct changer_set_voltag_request, csvr_flags, 8);
PIN(struct changer_set_voltag_request, csvr_voltag, 12);
SAME(CM_INVERT, 1);
SAME(CE_INVERT1, 1);
SAME(CE_INVERT2, 2);
SAME(CP_INVERT, 1);

/* struct changer_element_status, as the core lays it out. */
#define PMT_NB_CES_SIZE		120
#define PMT_NB_FLAGS		0
#define PMT_NB_XNAME		4
#define PMT_NB_FROM_TYPE	20
#define PMT_NB_FROM_UNIT	24
#define PMT_NB_PVOLTAG		28
#define PMT_NB_AVOLTAG		64
#define PMT_NB_CV_SERIAL	34
#define PMT_NB_VOLTAG_SIZE	36
#define PMT_NB_VENDOR_LEN	104
#define PMT_NB_ASC		112
#define PMT_NB_ASCQ		113
#define PMT_NB_TARGET		114
#define PMT_NB_LUN		115
SAME(sizeof(struct changer_element_status), PMT_NB_CES_SIZE);
PIN(struct changer_element_status, ces_flags, PMT_NB_FLAGS);
PIN(struct changer_element_status, ces_xname, PMT_NB_XNAME);
PIN(struct changer_element_status, ces_from_type, PMT_NB_FROM_TYPE);
PIN(struct changer_element_status, ces_from_unit, PMT_NB_FROM_UNIT);
PIN(struct changer_element_status, ces_pvoltag, PMT_NB_PVOLTAG);
PIN(struct changer_element_status, ces_avoltag, PMT_NB_AVOLTAG);
PIN(struct changer_voltag, cv_serial, PMT_NB_CV_SERIAL);
SAME(sizeof(struct changer_voltag), PMT_NB_VOLTAG_SIZE);
SAME(CHANGER_VOLTAG_SIZE + 1, 33);
PIN(struct changer_element_status, ces_vendor_len, PMT_NB_VENDOR_LEN);
SAME(sizeof(((struct changer_element_status *)0)->ces_vendor_len), 8);
PIN(struct changer_element_status, ces_asc, PMT_NB_ASC);
PIN(struct changer_element_status, ces_ascq, PMT_NB_ASCQ);
PIN(struct changer_element_status, ces_target, PMT_NB_TARGET);
PIN(struct changer_element_status, ces_lun, PMT_NB_LUN);

/* Its flags. */
#define PMT_NB_INVERTED		0x0040
#define PMT_NB_NOTBUS		0x0080
#define PMT_NB_STATUS_VALID	0x0100
#define PMT_NB_FROM_VALID	0x0400
#define PMT_NB_PVOL_VALID	0x0800
#define PMT_NB_AVOL_VALID	0x1000
#define PMT_NB_TARGET_VALID	0x2000
#define PMT_NB_LUN_VALID	0x4000
SAME(CESTATUS_INVERTED, PMT_NB_INVERTED);
SAME(CESTATUS_NOTBUS, PMT_NB_NOTBUS);
SAME(CESTATUS_STATUS_VALID, PMT_NB_STATUS_VALID);
SAME(CESTATUS_FROM_VALID, PMT_NB_FROM_VALID);
SAME(CESTATUS_PVOL_VALID, PMT_NB_PVOL_VALID);
SAME(CESTATUS_AVOL_VALID, PMT_NB_AVOL_VALID);
SAME(CESTATUS_TARGET_VALID, PMT_NB_TARGET_VALID);
SAME(CESTATUS_LUN_VALID, PMT_NB_LUN_VALID);
/* The element's own flags are SMC's byte 2, as ch.c copies them. */
SAME(CESTATUS_FULL, 0x01);
SAME(CESTATUS_IMPEXP, 0x02);
SAME(CESTATUS_EXCEPT, 0x04);
SAME(CESTATUS_ACCESS, 0x08);
SAME(CESTATUS_EXENAB, 0x10);
SAME(CESTATUS_INENAB, 0x20);

#define PMT_NB_CESR_VOLTAGS	0x01
#define PMT_NB_MODE_SET		0x00
#define PMT_NB_MODE_REPLACE	0x01
#define PMT_NB_MODE_CLEAR	0x02
#define PMT_NB_MODE_MASK	0x0f
#define PMT_NB_ALTERNATE	0x10
SAME(CESR_VOLTAGS, PMT_NB_CESR_VOLTAGS);
SAME(CSVR_MODE_SET, PMT_NB_MODE_SET);
SAME(CSVR_MODE_REPLACE, PMT_NB_MODE_REPLACE);
SAME(CSVR_MODE_CLEAR, PMT_NB_MODE_CLEAR);
SAME(CSVR_MODE_MASK, PMT_NB_MODE_MASK);
SAME(CSVR_ALTERNATE, PMT_NB_ALTERNATE);

/* chread's event word. */
SAME(CHANGER_EVENT_SIZE, 4);
SAME(CHEV_ELEMENT_STATUS_CHANGED, 1);
