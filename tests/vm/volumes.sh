# QEMU scenarios for multi-volume sets: dump and restore, tar -M, with
# early-warning zones smaller and larger than the driver's window (4 MiB),
# volume scripts that eject (as with a real sequential autoloader) and
# scripts that do not, on a magazine of images, a mirror of images, a
# tape: member (another pmt unit) and a mirror of two tape: members, and
# pmtd copy of a whole set. Run by scripts/qemu-test through scripts/vm-run
# with
#   /dev/vda  fsa (varied files, a dump of about 8 MB)
#   /dev/vdb  fsbig (64 MB)
# and util-linux's script (a terminal for the operator's prompts) in
# /run/files.
# One "PASS name" or "FAIL name: why" per scenario; trees are compared entry
# by entry, contents included.
#
# shellcheck shell=dash
. /usr/local/lib/pmt.sh

SCENARIOS="dump-64m-early-warning-6m dump-eject-zone-below-window dump-eject-zone-above-window dump-mirror-no-eject tar-eject-tape-member tar-no-eject-magazine mirror-tape-members-small-zones copy-whole-set operator-prompts"
echo "PLAN $SCENARIOS" >/out/results
LOG=/out/logs
mkdir -p $LOG /mnt/a /mnt/big /out/mv
mount -o ro /dev/vda /mnt/a || echo "cannot mount /dev/vda"
mount -o ro /dev/vdb /mnt/big || echo "cannot mount /dev/vdb"

# Volume scripts. eject.sh: the usual script of a sequential autoloader,
# for every program and direction: the program closed (and rewound) the
# drive, the script ejects, the loader brings the next tape. noop.sh: only
# says yes (pmtd's loader changes volumes for the next writer).
cat >/tmp/eject.sh <<'EOF'
#!/bin/sh
echo "eject: $*" >>/out/logs/volumes.log
mt -f /dev/npmtm0 offline
EOF
cat >/tmp/noop.sh <<'EOF'
#!/bin/sh
echo "noop: $*" >>/out/logs/volumes.log
exit 0
EOF
# restore runs its -F script before every volume, the first included.
cat >/tmp/reject.sh <<'EOF'
#!/bin/sh
echo "restore: $*" >>/out/logs/volumes.log
[ "$2" -gt 1 ] && mt -f /dev/npmtm0 offline
exit 0
EOF
# tar runs its -F script before every volume after the first, both ways.
cat >/tmp/tareject.sh <<'EOF'
#!/bin/sh
echo "tar $TAR_SUBCOMMAND: volume $TAR_VOLUME" >>/out/logs/volumes.log
mt -f /dev/npmtm0 offline
EOF
chmod +x /tmp/eject.sh /tmp/noop.sh /tmp/reject.sh /tmp/tareject.sh

# The helpers' variables start with their own prefix: pmt.sh's functions
# use _n, _i and friends.

# imgs DIR PREFIX N: N --image options.
imgs() {
	im_i=1
	im_o=""
	while [ $im_i -le "$3" ]; do
		im_o="$im_o --image $1/$2$im_i.tap"
		im_i=$((im_i + 1))
	done
	echo "$im_o"
}

# used DIR PREFIX: how many of the volumes hold data (in order; the first
# blank one ends the count) and whether a blank one is followed by data.
used() {
	us_n=0
	us_i=1
	us_gap=""
	while [ -e "$1/$2$us_i.tap" ]; do
		if [ "$(stat -c %s "$1/$2$us_i.tap")" -gt 0 ]; then
			[ -n "$us_gap" ] && { echo "gap"; return; }
			us_n=$((us_n + 1))
		else
			us_gap=1
		fi
		us_i=$((us_i + 1))
	done
	echo "$us_n"
}

# dump_set NAME FS SCRIPT PMTD-ARGS...: dump FS to /dev/pmtm0 with -F SCRIPT.
dump_set() {
	ds_n=$1 ds_fs=$2 ds_s=$3
	shift 3
	pmtd_start 0 "$@" || return 1
	timeout 600 dump -0 -F "$ds_s" -f /dev/pmtm0 "$ds_fs" >"$LOG/$ds_n.dump" 2>&1
	ds_rc=$?
	pmtd_stop 0
	[ $ds_rc = 0 ] || { echo "dump failed: $(tail -n 2 "$LOG/$ds_n.dump" | tr '\n' ' ')"; return 1; }
	grep -q 'DUMP IS DONE' "$LOG/$ds_n.dump" || { echo "dump did not finish"; return 1; }
}

# restore_set NAME TREE PMTD-ARGS...: restore -r with the ejecting script,
# the tree compared with TREE. PMTD-ARGS give exactly the volumes dump
# wrote: dump 0.4b47 does not always write its end-of-dump record on the
# last volume of a set (its last record is filled by a count that assumes
# no volume change; with st and a real drive too), and restore then asks
# for one more volume; the operator answers "none", as on a real drive
# (with no medium left, restore asks on its standard input).
restore_set() {
	rs_n=$1 rs_t=$2
	shift 2
	pmtd_start 0 "$@" || return 1
	rm -rf /tmp/rs && mkdir -p /tmp/rs && cd /tmp/rs || return 1
	echo none | timeout 600 restore -r -F /tmp/reject.sh -f /dev/pmtm0 >"$LOG/$rs_n.restore" 2>&1
	rs_rc=$?
	cd / || return 1
	pmtd_stop 0
	[ $rs_rc = 0 ] || { echo "restore failed: $(grep -c 'Incorrect block' "$LOG/$rs_n.restore") incorrect blocks; $(tail -n 2 "$LOG/$rs_n.restore" | tr '\n' ' ')"; return 1; }
	same_tree "$rs_n" "$rs_t" /tmp/rs || { echo "the tree restored differs"; return 1; }
	rm -rf /tmp/rs
}

# vols_of LOG: the number of volumes dump reports.
vols_of() { grep -c 'Volume [0-9]* started' "$1"; }

# 1. The issue's run: 64 MB, five volumes of 30M with early warning 6M
#    (larger than the window), a script that only says yes at the end of
#    a volume; restore with a script that ejects. No record is written on
#    two volumes (restore -d reports no duplicate skipped) and restore
#    reads every volume without an incorrect block. On this set dump 0.4b47
#    does not write its last partial record (its end-of-dump count ignores
#    the block each change of volume at the end of a tape inserts; with st
#    and a real drive alike): restore reports the file it was extracting
#    at the end of input, and every other file must be identical.
s=dump-64m-early-warning-6m
d=/out/mv/$s
mkdir -p $d
why=""
v=$(imgs $d v 5)
# shellcheck disable=SC2086
r=$(dump_set $s /dev/vdb /tmp/noop.sh $v --capacity 30M --early-warning 6M) || why="$r; "
n=$(vols_of "$LOG/$s.dump")
[ -n "$why" ] || [ "$n" -ge 3 ] || why="${why}dump used $n volumes; "
[ "$(used $d v)" = "$n" ] || why="${why}volumes used: $(used $d v), dump says $n; "
if [ -z "$why" ]; then
	# shellcheck disable=SC2046
	pmtd_start 0 $(imgs $d v "$n") || why="restore daemon; "
	rm -rf /tmp/rs && mkdir -p /tmp/rs && cd /tmp/rs && echo none | timeout 600 restore -r -d -F /tmp/reject.sh -f /dev/pmtm0 >"$LOG/$s.restore" 2>&1
	cd / || exit 1
	pmtd_stop 0
	grep -q 'Incorrect block' "$LOG/$s.restore" && why="${why}$(grep -c 'Incorrect block' "$LOG/$s.restore") incorrect blocks; "
	grep -q 'duplicate record' "$LOG/$s.restore" && why="${why}$(grep 'duplicate record' "$LOG/$s.restore" | tr '\n' ' '); "
	[ "$(grep -c 'Volume header' "$LOG/$s.restore")" -ge $((2 * n - 1)) ] || why="${why}restore did not read $n volumes; "
	cut=$(sed -n 's/.*End-of-input encountered while extracting \(.*\)$/\1/p' "$LOG/$s.restore")
	manifest /mnt/big >"$LOG/$s.src.manifest"
	manifest /tmp/rs >"$LOG/$s.dst.manifest"
	diff "$LOG/$s.src.manifest" "$LOG/$s.dst.manifest" | grep '^[<>] ' | grep -v "^[<>] ${cut:-/none/}|" >"$LOG/$s.diff"
	[ "$(wc -l <"$LOG/$s.src.manifest")" -ge 17 ] || why="${why}source listing too small; "
	[ -s "$LOG/$s.diff" ] && why="${why}files differ: $(head -n 4 "$LOG/$s.diff" | cut -d'|' -f1 | tr '\n' ' '); "
	[ -z "$cut" ] || echo "$s: dump did not write the end of $cut (dump 0.4b47's last record)" >>"$LOG/$s.notes"
	rm -rf /tmp/rs
fi
rm -rf $d
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# 2-3. dump -F with a script that ejects, zones smaller and larger than the
#      window, every volume used in turn (none skipped). Three and four
#      volumes: on this filesystem dump 0.4b47 writes its last record
#      whole after two or three changes of volume at the end of a tape
#      (see scenario 1).
for z in below above; do
	s=dump-eject-zone-$z-window
	d=/out/mv/$s
	mkdir -p $d
	why=""
	case $z in
	below) o="--capacity 3M --early-warning 512K" ;;
	*) o="--capacity 7M --early-warning 5M" ;;
	esac
	v=$(imgs $d v 10)
	# shellcheck disable=SC2086
	r=$(dump_set $s /dev/vda /tmp/eject.sh $v $o) || why="$r; "
	n=$(vols_of "$LOG/$s.dump")
	[ -n "$why" ] || [ "$n" -ge 3 ] || why="${why}dump used $n volumes; "
	u=$(used $d v)
	[ "$u" = "$n" ] || why="${why}volumes with data: $u, dump wrote $n (a volume skipped?); "
	# shellcheck disable=SC2086
	# shellcheck disable=SC2046
	[ -n "$why" ] || r=$(restore_set $s /mnt/a $(imgs $d v "$n")) || why="${why}$r; "
	if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi
done

# 4. dump -F with a script that does not eject, through a mirror of two
#    image magazines; each copy restored alone, the copies identical.
s=dump-mirror-no-eject
d=/out/mv/$s
mkdir -p $d
why=""
r=$(dump_set $s /dev/vda /tmp/noop.sh --mirror "tap:$d/a%d.tap,volumes=8,capacity=3M,early-warning=1M" \
	--mirror "tap:$d/b%d.tap,volumes=8,capacity=4M,early-warning=1M") || why="$r; "
n=$(vols_of "$LOG/$s.dump")
[ -n "$why" ] || [ "$n" -ge 3 ] || why="${why}dump used $n volumes; "
[ "$(used $d a)" = "$n" ] || why="${why}copy a: $(used $d a) volumes with data, dump wrote $n; "
i=1
while [ -z "$why" ] && [ $i -le "$n" ]; do
	cmp -s $d/a$i.tap $d/b$i.tap || why="${why}volume $i differs between the copies; "
	i=$((i + 1))
done
for c in a b; do
	# shellcheck disable=SC2046
	[ -n "$why" ] || r=$(restore_set $s-$c /mnt/a $(imgs $d $c "$n")) || why="${why}copy $c: $r; "
done
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# 5. tar -M -F with a script that ejects, through a tape: member: unit 1, a
#    pmt unit with a 1M zone (smaller than the window) that takes what the
#    mirror had on its way (--write-after-enospc), as a real drive does.
s=tar-eject-tape-member
d=/out/mv/$s
mkdir -p $d /tmp/tx
why=""
v=$(imgs $d t 8)
# shellcheck disable=SC2086
pmtd_start 1 $v --capacity 3M --early-warning 1M --write-after-enospc || why="unit 1; "
pmtd_start 0 --medium tape:/dev/npmtm1 || why="${why}unit 0; "
timeout 600 tar -c -M -F /tmp/tareject.sh -b 20 -f /dev/pmtm0 -C /mnt/a . >"$LOG/$s.c" 2>&1 || why="${why}tar -c: $(tail -n 2 "$LOG/$s.c" | tr '\n' ' '); "
pmtd_stop 0
pmtd_stop 1
u=$(used $d t)
case $u in gap | 0 | 1 | 2) why="${why}volumes with data: $u; " ;; esac
# shellcheck disable=SC2086
pmtd_start 1 $v --write-after-enospc || why="${why}unit 1 again; "
pmtd_start 0 --medium tape:/dev/npmtm1 || why="${why}unit 0 again; "
[ -n "$why" ] || timeout 600 tar -x -M -F /tmp/tareject.sh -b 20 -f /dev/pmtm0 -C /tmp/tx >"$LOG/$s.x" 2>&1 ||
	why="${why}tar -x: $(tail -n 2 "$LOG/$s.x" | tr '\n' ' '); "
pmtd_stop 0
pmtd_stop 1
[ -n "$why" ] || same_tree $s /mnt/a /tmp/tx || why="${why}the tree extracted differs; "
rm -rf /tmp/tx
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# 6. tar -M -F with a script that does not eject, on a magazine with a zone
#    larger than the window; extracted with a script that ejects.
s=tar-no-eject-magazine
d=/out/mv/$s
mkdir -p $d /tmp/tx
why=""
v="$(imgs $d t 10) --capacity 6656K --early-warning 5M"
# shellcheck disable=SC2086
pmtd_start 0 $v || why="unit 0; "
timeout 600 tar -c -M -F /tmp/noop.sh -b 20 -f /dev/pmtm0 -C /mnt/a . >"$LOG/$s.c" 2>&1 || why="${why}tar -c: $(tail -n 2 "$LOG/$s.c" | tr '\n' ' '); "
pmtd_stop 0
u=$(used $d t)
case $u in gap | 0 | 1 | 2) why="${why}volumes with data: $u; " ;; esac
# shellcheck disable=SC2086
pmtd_start 0 $v || why="${why}unit 0 again; "
[ -n "$why" ] || timeout 600 tar -x -M -F /tmp/tareject.sh -b 20 -f /dev/pmtm0 -C /tmp/tx >"$LOG/$s.x" 2>&1 ||
	why="${why}tar -x: $(tail -n 2 "$LOG/$s.x" | tr '\n' ' '); "
pmtd_stop 0
[ -n "$why" ] || same_tree $s /mnt/a /tmp/tx || why="${why}the tree extracted differs; "
rm -rf /tmp/tx
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# 7. A mirror of two tape: members (units 1 and 2) with zones of 1M and 2M,
#    both smaller than the window, declared in the specs: dump and tar -M
#    across several volumes, every copy restored alone.
s=mirror-tape-members-small-zones
d=/out/mv/$s
mkdir -p $d /tmp/tx
why=""
# Early warning at 2.5M on unit 1 (the smaller), 3M on unit 2: the dump's
# end falls well before an early warning (dump aborts when the end of a
# tape comes in its last records, "EOT detected in last 2 tape records",
# with a real drive too).
va="$(imgs $d a 8) --capacity 3584K --early-warning 1M --write-after-enospc"
vb="$(imgs $d b 8) --capacity 5M --early-warning 2M --write-after-enospc"
# shellcheck disable=SC2086
pmtd_start 1 $va || why="unit 1; "
# shellcheck disable=SC2086
pmtd_start 2 $vb || why="${why}unit 2; "
r=$(dump_set $s /dev/vda /tmp/eject.sh --mirror tape:/dev/npmtm1,early-warning=1M --mirror tape:/dev/npmtm2,early-warning=2M) || why="${why}$r; "
pmtd_stop 1
pmtd_stop 2
n=$(vols_of "$LOG/$s.dump")
[ -n "$why" ] || [ "$n" -ge 3 ] || why="${why}dump used $n volumes; "
for c in a b; do
	[ "$(used $d $c)" = "$n" ] || why="${why}copy $c: $(used $d $c) volumes with data, dump wrote $n; "
	# shellcheck disable=SC2046
	[ -n "$why" ] || r=$(restore_set $s-$c /mnt/a $(imgs $d $c "$n")) || why="${why}copy $c: $r; "
done
# The same mirror for tar -M.
rm -f $d/*.tap $d/*.pmtidx
# shellcheck disable=SC2086
pmtd_start 1 $va || why="${why}unit 1 for tar; "
# shellcheck disable=SC2086
pmtd_start 2 $vb || why="${why}unit 2 for tar; "
pmtd_start 0 --mirror tape:/dev/npmtm1,early-warning=1M --mirror tape:/dev/npmtm2,early-warning=2M || why="${why}unit 0 for tar; "
timeout 600 tar -c -M -F /tmp/tareject.sh -b 20 -f /dev/pmtm0 -C /mnt/a . >"$LOG/$s.c" 2>&1 || why="${why}tar -c: $(tail -n 2 "$LOG/$s.c" | tr '\n' ' '); "
pmtd_stop 0
pmtd_stop 1
pmtd_stop 2
for c in a b; do
	rm -rf /tmp/tx && mkdir -p /tmp/tx
	# shellcheck disable=SC2046
	pmtd_start 0 $(imgs $d $c 8) || why="${why}copy $c daemon; "
	[ -n "$why" ] || timeout 600 tar -x -M -F /tmp/tareject.sh -b 20 -f /dev/pmtm0 -C /tmp/tx >"$LOG/$s.x$c" 2>&1 ||
		why="${why}tar -x of copy $c: $(tail -n 2 "$LOG/$s.x$c" | tr '\n' ' '); "
	pmtd_stop 0
	[ -n "$why" ] || same_tree $s-tar-$c /mnt/a /tmp/tx || why="${why}copy $c: the tree extracted differs; "
done
rm -rf /tmp/tx
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# 8. pmtd copy of a whole dump set (the volumes of scenario 2) to volumes
#    without an early-warning zone, each holding one source volume's file
#    (restore reads the copy as it read the set), and to one large volume
#    holding the whole set; the map names source volume and file.
s=copy-whole-set
d=/out/mv/dump-eject-zone-below-window
why=""
n=$(used $d v)
[ "$n" -ge 3 ] 2>/dev/null || why="no set to copy ($n volumes); "
if [ -z "$why" ] && ! timeout 300 pmtd copy --verify "tap:$d/v%d.tap,volumes=$n" "tap:/out/mv/c%d.tap,volumes=$((n + 2)),capacity=3M" \
	"tap:/out/mv/one.tap,capacity=64M" >"$LOG/$s.map" 2>"$LOG/$s.log"; then
	why="pmtd copy failed: $(tail -n 2 "$LOG/$s.log" | tr '\n' ' '); "
fi
[ -n "$why" ] || [ "$(grep -c 'verified' "$LOG/$s.map")" = $((n + 1)) ] || why="${why}not $((n + 1)) volumes verified: $(tr '\n' ' ' <"$LOG/$s.map"); "
[ -n "$why" ] || grep -q "volume $n (/out/mv/c$n.tap): source volume $n file 0," "$LOG/$s.map" || why="${why}the map does not name source volume $n; "
[ -n "$why" ] || grep -q "volume 1 (/out/mv/one.tap): source volume 1 file 0, source volume 2 file 0, " "$LOG/$s.map" ||
	why="${why}the whole set is not on the large volume: $(tr '\n' ' ' <"$LOG/$s.map"); "
# shellcheck disable=SC2046
[ -n "$why" ] || r=$(restore_set $s /mnt/a $(imgs /out/mv c "$n")) || why="${why}$r; "
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi
# 9. No script: the operator answers dump's and tar's prompts on the
#    terminal ("yes", return) without ejecting; pmtd's loader gives the next
#    writer the next volume. Read back with scripts that eject.
s=operator-prompts
d=/out/mv/$s
mkdir -p $d /tmp/tx
why=""
# on_tty ANSWERS COMMAND: runs COMMAND on a terminal, ANSWERS typed in.
on_tty() {
	rm -f /tmp/tty.in
	mkfifo /tmp/tty.in
	timeout 600 /run/files/script -qec "$2" /dev/null </tmp/tty.in >"$LOG/$s.tty" 2>&1 &
	ot_p=$!
	exec 3>/tmp/tty.in
	# shellcheck disable=SC2059
	printf "$1" >&3
	wait $ot_p
	ot_rc=$?
	exec 3>&-
	return $ot_rc
}
v="$(imgs $d v 8) --capacity 3M --early-warning 512K"
# shellcheck disable=SC2086
pmtd_start 0 $v || why="unit 0; "
on_tty 'yes\nyes\nyes\nyes\nyes\nyes\nyes\n' "dump -0 -f /dev/pmtm0 /dev/vda" || why="${why}dump: $(tail -n 3 "$LOG/$s.tty" | tr '\n' ' '); "
cp "$LOG/$s.tty" "$LOG/$s.dump"
pmtd_stop 0
n=$(vols_of "$LOG/$s.dump")
[ -n "$why" ] || [ "$n" -ge 3 ] || why="${why}dump used $n volumes; "
[ "$(used $d v)" = "$n" ] || why="${why}volumes with data: $(used $d v), dump wrote $n; "
# shellcheck disable=SC2086
# shellcheck disable=SC2046
[ -n "$why" ] || r=$(restore_set $s /mnt/a $(imgs $d v "$n")) || why="${why}$r; "
rm -f $d/*
# shellcheck disable=SC2086
pmtd_start 0 $v || why="${why}unit 0 for tar; "
on_tty '\n\n\n\n\n\n\n' "tar -c -M -b 20 -f /dev/pmtm0 -C /mnt/a ." || why="${why}tar -c: $(tail -n 3 "$LOG/$s.tty" | tr '\n' ' '); "
pmtd_stop 0
u=$(used $d v)
case $u in gap | 0 | 1 | 2) why="${why}tar: volumes with data: $u; " ;; esac
# shellcheck disable=SC2086
pmtd_start 0 $v || why="${why}unit 0 for tar -x; "
[ -n "$why" ] || timeout 600 tar -x -M -F /tmp/tareject.sh -b 20 -f /dev/pmtm0 -C /tmp/tx >"$LOG/$s.x" 2>&1 ||
	why="${why}tar -x: $(tail -n 2 "$LOG/$s.x" | tr '\n' ' '); "
pmtd_stop 0
[ -n "$why" ] || same_tree $s-tar /mnt/a /tmp/tx || why="${why}the tree extracted differs; "
rm -rf /tmp/tx
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

rm -rf /out/mv
exit 0
