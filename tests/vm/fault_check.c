/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * fault_check: compares a SIMH .tap image, parsed here without pmtd's code,
 * with the event log of the writer that made it (tests/vm/faults.h).
 *
 *   fault_check IMAGE LOG [--volume V] [--exact] [--acked] [--allow-torn] [--close-fm]
 *               [--present OUT]
 *   fault_check --same IMAGE COPY
 *
 * The image must hold a prefix of the objects attempted on volume V (every
 * record byte for byte, every filemark in its place), and at least every
 * object up to the last durability point of the log (MTWEOF, MTOFFL or close
 * returning 0). --acked: also every record whose write() returned (the
 * daemon lived, so nothing acknowledged may be missing). --exact: all that
 * was attempted, nothing more. A record cut short at the end (a torn tail)
 * is refused unless --allow-torn; any other damage always is. --close-fm:
 * the writer was killed and st's close wrote a filemark after what reached
 * the drive: the image may end with one more filemark. A last record whose
 * write() failed or never returned may be missing (tests/vm/faults.h).
 * --present OUT: writes the log of exactly the objects found (for a reader
 * that reads them back through a new daemon).
 * --same: the two files are identical (a reader changes nothing).
 *
 * Prints "CHECK objects=M attempted=L durable=K torn=T close_fm=C bytes=N
 * lost_bytes=B why=..." (bytes: record bytes compared and right)
 * and exits 0 if the image is right, 1 if not, 2 if it cannot be read.
 */
#include "faults.h"

#include <sys/stat.h>

static unsigned char *slurp(const char *path, size_t *len)
{
	struct stat st;
	unsigned char *p;
	int fd = open(path, O_RDONLY);
	size_t got = 0;

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "fault_check: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	p = malloc((size_t)st.st_size + 1);
	if (p == NULL)
		exit(2);
	while (got < (size_t)st.st_size) {
		ssize_t k = read(fd, p + got, (size_t)st.st_size - got);

		if (k <= 0) {
			fprintf(stderr, "fault_check: %s: short read\n", path);
			exit(2);
		}
		got += (size_t)k;
	}
	close(fd);
	*len = got;
	return p;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int main(int argc, char **argv)
{
	const char *img = NULL, *logp = NULL, *present = NULL;
	int vol = 1, exact = 0, acked = 0, allow_torn = 0, torn = 0, close_fm = 0, fm_at_close = 0;
	struct layout l;
	unsigned char *t, *want;
	size_t len, off = 0, m = 0, maxlen = 16, need, found = 0, missing = 0;
	unsigned long long lost = 0, bytes = 0;
	char why[160] = "-";

	if (argc == 4 && !strcmp(argv[1], "--same")) {
		size_t la, lb;
		unsigned char *a = slurp(argv[2], &la), *b = slurp(argv[3], &lb);
		int same = la == lb && memcmp(a, b, la) == 0;
		size_t i = 0;

		while (!same && i < la && i < lb && a[i] == b[i])
			i++;
		printf("CHECK same=%d bytes=%zu first_difference=%zu\n", same, la, same ? la : i);
		return same ? 0 : 1;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--volume") && i + 1 < argc)
			vol = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--exact"))
			exact = 1;
		else if (!strcmp(argv[i], "--acked"))
			acked = 1;
		else if (!strcmp(argv[i], "--allow-torn"))
			allow_torn = 1;
		else if (!strcmp(argv[i], "--close-fm"))
			close_fm = 1;
		else if (!strcmp(argv[i], "--present") && i + 1 < argc)
			present = argv[++i];
		else if (img == NULL)
			img = argv[i];
		else if (logp == NULL)
			logp = argv[i];
		else
			img = NULL, i = argc;
	}
	if (img == NULL || logp == NULL) {
		fprintf(stderr, "usage: fault_check IMAGE LOG [--volume V] [--exact] [--acked] [--allow-torn]\n");
		return 2;
	}
	if (layout_read(logp, vol, &l)) {
		fprintf(stderr, "fault_check: cannot read %s\n", logp);
		return 2;
	}
	t = slurp(img, &len);
	for (size_t i = 0; i < l.n; i++)
		if (l.o[i].len > maxlen)
			maxlen = l.o[i].len;
	want = malloc(maxlen);
	if (want == NULL)
		return 2;
	need = l.durable;
	if (acked)
		for (size_t i = 0; i < l.n; i++)
			if (l.o[i].acked && i + 1 > need)
				need = i + 1;
	if (present) {
		log_open(present);
		log_ev("S %u", l.seed);
	}
	/* The objects of the image, each against the log. */
	while (off < len) {
		uint32_t w, rl;
		size_t sz;

		if (len - off < 4) {
			torn = 1;
			break;
		}
		w = le32(t + off);
		if (w == 0 && m < l.n && l.o[m].optional && l.o[m].n != OBJ_FM) {
			/* The optional record did not make it; what follows did. */
			m++;
		}
		if (w == 0 && close_fm && !fm_at_close && len - off == 4 && m == l.n) {
			/* st's filemark at the close of a killed writer. */
			fm_at_close = 1;
			off += 4;
			log_ev("F");
			log_ev("D");
			continue;
		}
		if (w == 0) {
			if (m >= l.n || l.o[m].n != OBJ_FM) {
				snprintf(why, sizeof(why), "object_%zu_is_a_filemark_where_the_log_has_%s", m,
					 m >= l.n ? "nothing" : "a_record");
				break;
			}
			m++;
			off += 4;
			found++;
			log_ev("F");
			log_ev("D");
			continue;
		}
		if (w == 0xffffffffu && len - off == 4)
			break; /* SIMH end of medium */
		rl = w & 0x00ffffffu;
		if (w != rl) {
			snprintf(why, sizeof(why), "bad_length_word_%#x_at_%zu", w, off);
			break;
		}
		sz = 4 + (size_t)rl + (rl & 1) + 4;
		if (len - off < sz) {
			torn = 1;
			break;
		}
		if ((rl & 1) && t[off + 4 + rl] != 0) {
			snprintf(why, sizeof(why), "the_pad_byte_of_the_record_at_%zu_is_not_zero", off);
			break;
		}
		if (le32(t + off + sz - 4) != w) {
			snprintf(why, sizeof(why), "trailer_of_the_record_at_%zu_differs", off);
			break;
		}
		if (m >= l.n || l.o[m].n == OBJ_FM || l.o[m].len != rl) {
			snprintf(why, sizeof(why), "object_%zu_is_a_record_of_%u_bytes_where_the_log_has_%s_%u", m, rl,
				 m >= l.n ? "nothing" : l.o[m].n == OBJ_FM ? "a_filemark" : "a_record_of",
				 m >= l.n || l.o[m].n == OBJ_FM ? 0 : l.o[m].len);
			break;
		}
		gen_record(l.o[m].seed, l.o[m].n, want, rl);
		if (memcmp(t + off + 4, want, rl) != 0) {
			snprintf(why, sizeof(why), "record_%u_(object_%zu)_differs", l.o[m].n, m);
			lost += rl;
			break;
		}
		bytes += rl;
		log_ev("W %u %u %u", l.o[m].n, rl, l.o[m].seed);
		log_ev("A %u", l.o[m].n);
		m++;
		found++;
		off += sz;
	}
	for (size_t i = m; i < need && i < l.n; i++)
		if (!l.o[i].optional) {
			lost += l.o[i].len;
			missing++;
		}
	if (strcmp(why, "-") == 0) {
		if (missing)
			snprintf(why, sizeof(why), "%zu_objects_where_%zu_are_durable", m, need);
		else if (torn && !allow_torn)
			snprintf(why, sizeof(why), "a_record_cut_short_after_object_%zu", m);
		else if (exact && (m != l.n || torn || found != l.n))
			snprintf(why, sizeof(why), "%zu_objects_of_%zu_attempted", m, l.n);
	}
	printf("CHECK objects=%zu attempted=%zu durable=%zu torn=%d close_fm=%d bytes=%llu lost_bytes=%llu why=%s\n", found,
	       l.n, need, torn, fm_at_close, bytes, lost, why);
	return strcmp(why, "-") == 0 ? 0 : 1;
}
