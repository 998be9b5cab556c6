/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * chio_probe: the CHIO ioctls of Linux's <linux/chio.h> against a pmt
 * changer master served by pmtd's library, as a chio-style program uses
 * them, with the errnos Linux's ch(4) gives:
 *
 *   chio_probe CHANGER TAPE-MASTER SLOTS PORTALS DRIVES BARCODE1
 *
 * The library must hold cartridge BARCODE1 in slot 1 (unit 0), slot 2 full,
 * slot 3 empty, drive 0 empty. The probe reads the parameters (CHIOGPARAMS),
 * the status bytes of every slot (CHIOGSTATUS), moves slot 1
 * into drive 0 (CHIOMOVE) and sees the drive's tape master ONLINE at once
 * (MTIOCGET) and the drive's element with its tag, its source and its SCSI
 * id (CHIOGELEM); checks the errors (a move from an empty slot: EBADE; to a
 * full element: EXFULL; beyond the library: EBADSLT), exchanges (drive 0
 * with slot 2), positions (CHIOPOSITION), initializes
 * (CHIOINITELEM), puts everything back, and checks that the library is as
 * it found it. Prints what it does; exits 0 if every answer is right.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mtio.h>
#include <unistd.h>
#include <linux/chio.h>

static int failures;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			printf("FAIL: " __VA_ARGS__);                          \
			printf(" (%s:%d)\n", __FILE__, __LINE__);              \
			failures++;                                            \
		}                                                              \
	} while (0)

static int move(int fd, int ft, int fu, int tt, int tu)
{
	struct changer_move m = { .cm_fromtype = ft, .cm_fromunit = fu, .cm_totype = tt, .cm_tounit = tu };

	return ioctl(fd, CHIOMOVE, &m) < 0 ? errno : 0;
}

static int elem(int fd, int type, int unit, struct changer_get_element *g)
{
	memset(g, 0, sizeof(*g));
	g->cge_type = type;
	g->cge_unit = unit;
	return ioctl(fd, CHIOGELEM, g) < 0 ? errno : 0;
}

/* The status bytes of every element of a type. */
static int status(int fd, int type, unsigned char *data)
{
	struct changer_element_status s = { .ces_type = type, .ces_data = data };

	return ioctl(fd, CHIOGSTATUS, &s) < 0 ? errno : 0;
}

/* True if the tape master reports a loaded tape. */
static int online(const char *tape)
{
	struct mtget g;
	int fd = open(tape, O_RDONLY | O_NONBLOCK), on;

	if (fd < 0)
		return -1;
	on = ioctl(fd, MTIOCGET, &g) == 0 && GMT_ONLINE(g.mt_gstat);
	close(fd);
	return on;
}

static int tag_is(const char *tag, const char *want)
{
	size_t n = strlen(want);

	if (strncmp(tag, want, n) != 0)
		return 0;
	for (; n < 32 && tag[n]; n++)
		if (tag[n] != ' ')
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	struct changer_params p;
	struct changer_get_element g;
	struct changer_exchange x;
	struct changer_position pos;
	unsigned char before[512], after[512], d[512];
	int fd, e, picker = -1, nslots, nportals, ndrives, i;
	const char *tape, *barcode;

	if (argc != 7) {
		fprintf(stderr, "usage: chio_probe CHANGER TAPE SLOTS PORTALS DRIVES BARCODE1\n");
		return 2;
	}
	tape = argv[2];
	nslots = atoi(argv[3]);
	nportals = atoi(argv[4]);
	ndrives = atoi(argv[5]);
	barcode = argv[6];
	fd = open(argv[1], O_RDWR);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}

	CHECK(ioctl(fd, CHIOGPARAMS, &p) == 0, "CHIOGPARAMS: %s", strerror(errno));
	printf("CHIOGPARAMS: %d pickers, %d slots, %d portals, %d drives, picker %d\n", p.cp_npickers,
	       p.cp_nslots, p.cp_nportals, p.cp_ndrives, p.cp_curpicker);
	CHECK(p.cp_npickers == 1 && p.cp_nslots == nslots && p.cp_nportals == nportals && p.cp_ndrives == ndrives,
	      "the parameters are not the library's");
	/* Linux's ch has no CHIOGPICKER (chio.h: "not impl."): ENOTTY, as ch. */
	e = ioctl(fd, CHIOGPICKER, &picker) < 0 ? errno : 0;
	printf("CHIOGPICKER: %s\n", strerror(e));
	CHECK(nslots <= (int)sizeof(before), "too many slots for the probe");

	e = status(fd, CHET_ST, before);
	CHECK(e == 0, "CHIOGSTATUS of the slots: %s", strerror(e));
	printf("CHIOGSTATUS: slot 1 %#x, slot 2 %#x, slot 3 %#x\n", before[0], before[1], before[2]);
	CHECK((before[0] & CESTATUS_FULL) && (before[1] & CESTATUS_FULL) && !(before[2] & CESTATUS_FULL),
	      "slots 1 and 2 full and slot 3 empty expected");
	CHECK(before[0] & CESTATUS_ACCESS, "a slot is accessible");
	e = status(fd, CHET_DT, d);
	CHECK(e == 0 && !(d[0] & CESTATUS_FULL), "drive 0 should be empty (%s, %#x)", strerror(e), d[0]);
	CHECK(online(tape) == 0, "%s is online before any move", tape);

	/* Slot 1 into drive 0: the drive has the tape before the ioctl returns. */
	e = move(fd, CHET_ST, 0, CHET_DT, 0);
	CHECK(e == 0, "CHIOMOVE slot 1 -> drive 0: %s", strerror(e));
	CHECK(online(tape) == 1, "%s is not ONLINE right after the move", tape);
	e = elem(fd, CHET_DT, 0, &g);
	CHECK(e == 0, "CHIOGELEM drive 0: %s", strerror(e));
	printf("CHIOGELEM drive 0: status %#x flags %#x source %d/%d id %d lun %d tag '%.32s'\n", g.cge_status,
	       g.cge_flags, g.cge_srctype, g.cge_srcunit, g.cge_id, g.cge_lun, g.cge_pvoltag);
	CHECK(g.cge_status & CESTATUS_FULL, "drive 0 not full");
	CHECK((g.cge_flags & CGE_SRC) && g.cge_srctype == CHET_ST && g.cge_srcunit == 0, "the source is not slot 1");
	CHECK((g.cge_flags & CGE_PVOLTAG) && tag_is(g.cge_pvoltag, barcode), "the tag is not %s", barcode);
	CHECK((g.cge_flags & CGE_IDLUN), "no SCSI id for the drive");

	/* Errors, as ch gives them. */
	e = move(fd, CHET_ST, 0, CHET_ST, 2);
	printf("CHIOMOVE from the empty slot 1: %s\n", strerror(e));
	CHECK(e == EBADE, "a move from an empty slot: %s, EBADE expected", strerror(e));
	e = move(fd, CHET_ST, 1, CHET_DT, 0);
	printf("CHIOMOVE into the full drive 0: %s\n", strerror(e));
	CHECK(e == EXFULL, "a move to a full drive: %s, EXFULL expected", strerror(e));
	e = move(fd, CHET_ST, nslots, CHET_DT, 0);
	printf("CHIOMOVE from slot %d: %s\n", nslots + 1, strerror(e));
	CHECK(e == EBADSLT, "a slot beyond the library: %s, EBADSLT expected", strerror(e));
	e = elem(fd, CHET_ST, nslots, &g);
	CHECK(e == EINVAL || e == EBADSLT, "CHIOGELEM beyond the library: %s", strerror(e));

	/* Exchange drive 0 with slot 2, as chio's "exchange" does: the source
	 * (drive 0) goes to the first destination (slot 2), whose tape goes to
	 * the second destination (drive 0 again). */
	memset(&x, 0, sizeof(x));
	x.ce_srctype = CHET_DT;
	x.ce_srcunit = 0;
	x.ce_fdsttype = CHET_ST;
	x.ce_fdstunit = 1;
	x.ce_sdsttype = CHET_DT;
	x.ce_sdstunit = 0;
	e = ioctl(fd, CHIOEXCHANGE, &x) < 0 ? errno : 0;
	printf("CHIOEXCHANGE drive 0 <-> slot 2: %s\n", strerror(e));
	CHECK(e == 0, "CHIOEXCHANGE: %s", strerror(e));
	CHECK(online(tape) == 1, "%s is not ONLINE after the exchange", tape);
	e = elem(fd, CHET_ST, 1, &g);
	CHECK(e == 0 && (g.cge_status & CESTATUS_FULL) && tag_is(g.cge_pvoltag, barcode),
	      "slot 2 should hold %s after the exchange ('%.32s')", barcode, g.cge_pvoltag);

	memset(&pos, 0, sizeof(pos));
	pos.cp_type = CHET_ST;
	pos.cp_unit = 2;
	e = ioctl(fd, CHIOPOSITION, &pos) < 0 ? errno : 0;
	CHECK(e == 0, "CHIOPOSITION slot 3: %s", strerror(e));
	e = ioctl(fd, CHIOINITELEM) < 0 ? errno : 0;
	CHECK(e == 0, "CHIOINITELEM: %s", strerror(e));

	/* Put everything back: slot 2's tape (now in slot 2: BARCODE1) to slot
	 * 1, drive 0's (slot 2's own) back to slot 2. */
	e = move(fd, CHET_ST, 1, CHET_ST, 0);
	CHECK(e == 0, "CHIOMOVE slot 2 -> slot 1: %s", strerror(e));
	e = move(fd, CHET_DT, 0, CHET_ST, 1);
	CHECK(e == 0, "CHIOMOVE drive 0 -> slot 2: %s", strerror(e));
	CHECK(online(tape) == 0, "%s still ONLINE after its tape left", tape);
	e = status(fd, CHET_ST, after);
	CHECK(e == 0, "CHIOGSTATUS: %s", strerror(e));
	for (i = 0; i < nslots; i++)
		CHECK((before[i] & CESTATUS_FULL) == (after[i] & CESTATUS_FULL), "slot %d changed", i + 1);
	e = elem(fd, CHET_ST, 0, &g);
	CHECK(e == 0 && tag_is(g.cge_pvoltag, barcode), "slot 1 does not hold %s again", barcode);

	close(fd);
	printf("chio_probe: %d failures\n", failures);
	return failures ? 1 : 0;
}
