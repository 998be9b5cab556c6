# QEMU scenarios of the tape library: unmodified Debian programs (mtx and
# tapeinfo from mtx, sg_inq, sg_raw and sg_prevent from sg3-utils, Bacula's
# mtx-changer script from bacula-sd, dump and restore) against pmt.ko's
# changer master /dev/pmcm0 and its tape masters, with pmtd serving the
# library (4 drives, 120 slots, 4 import/export slots, 100 cartridges).
# Run by scripts/qemu-test through scripts/vm-run with
#   /dev/vda  fsa (varied files), dumped and restored through the library
# and in /run/files the CHIO probe (tests/vm/chio_probe.c).
# One "PASS name" or "FAIL name: why" per scenario in /out/results; the
# cartridge the dump went to is left in /out/lib for the host's checks.
#
# shellcheck shell=dash
. /usr/local/lib/pmt.sh

SCENARIOS="library-mtx-inquiry-status library-mtx-moves library-mtx-errors library-dump-restore-across-drives library-bacula-mtx-changer library-chio-probe library-drive-serial-dvcid library-killed-mid-move"
echo "PLAN $SCENARIOS" >/out/results
LOG=/out/logs
mkdir -p $LOG /mnt/a /out/lib /var/lib/bacula
mount -o ro /dev/vda /mnt/a || echo "cannot mount /dev/vda"
C=/dev/pmcm0
MTX="timeout 60 mtx -f $C"

# lib_conf DIR: the library's configuration, DIR/lib.toml; its cartridges
# ABC001L6..ABC100L6 in slots 1-100 are images in DIR.
lib_conf() {
	mkdir -p "$1"
	cat >"$1/lib.toml" <<EOF
changer = "/dev/pmcs0"
slots = 120
import-export = 4
tapes = "$1"
capacity = "64M"

[[drive]]
device = "/dev/pmts0"
[[drive]]
device = "/dev/pmts1"
[[drive]]
device = "/dev/pmts2"
serial = "HU1234567"
[[drive]]
device = "/dev/pmts3"

[[cartridges]]
barcodes = "ABC%03dL6"
count = 100
EOF
}

# lib_start DIR: serves the library of DIR/lib.toml (made if missing) in
# the background, its log in /out/library.log; waits until it serves.
lib_start() {
	[ -f "$1/lib.toml" ] || lib_conf "$1"
	LIBDIR=$1
	_n=$(grep -c 'library serving' /out/library.log 2>/dev/null || true)
	pmtd library --config "$1/lib.toml" >>/out/library.log 2>&1 &
	LIB_PID=$!
	_i=0
	while [ $_i -lt 100 ]; do
		[ "$(grep -c 'library serving' /out/library.log 2>/dev/null)" -gt "${_n:-0}" ] && return 0
		kill -0 $LIB_PID 2>/dev/null || break
		sleep 0.05
		_i=$((_i + 1))
	done
	echo "lib_start: the library did not start: $(tail -n 3 /out/library.log | tr '\n' ' ')"
	return 1
}

# lib_stop / lib_kill: SIGTERM (it unloads its drives and exits) or SIGKILL.
lib_signal() {
	[ -n "$LIB_PID" ] || return 0
	kill "-$1" "$LIB_PID" 2>/dev/null
	wait "$LIB_PID" 2>/dev/null
	LIB_PID=""
}
lib_stop() { lib_signal TERM; }
lib_kill() { lib_signal KILL; }

# expected: the barcodes of the library, sorted.
expected() {
	_i=1
	while [ $_i -le 100 ]; do
		printf 'ABC%03dL6\n' $_i
		_i=$((_i + 1))
	done
}

# tags FILE: the volume tags of a saved mtx status, sorted.
tags() { sed -n 's/.*VolumeTag *= *\([^ ]*\).*/\1/p' "$1" | sort; }

# drive_tag FILE N: the tag mtx shows in drive N ("" if empty).
drive_tag() { sed -n "s/^Data Transfer Element $2:Full.*VolumeTag *= *\([^ ]*\).*/\1/p" "$1"; }

# slot_tag FILE N: the tag mtx shows in storage element N ("" if empty).
slot_tag() { sed -n "s/^ *Storage Element $2\( IMPORT\/EXPORT\)\{0,1\}:Full *:VolumeTag=\([^ ]*\).*/\2/p" "$1"; }

# online N: "yes" if mt status of drive N shows a tape loaded.
online() { if mt -f "/dev/npmtm$1" status 2>&1 | grep -q ONLINE; then echo yes; else echo no; fi; }

# agree NAME: mtx status, every drive (mt status) and the library's own
# status agree, and every cartridge is in exactly one place. Prints why not.
agree() {
	$MTX status >"$LOG/$1.status" 2>&1 || { echo "mtx status failed: $(tail -n 1 "$LOG/$1.status")"; return 1; }
	tags "$LOG/$1.status" >"$LOG/$1.tags"
	expected | cmp -s - "$LOG/$1.tags" || { echo "the cartridges are not each in one place: $(expected | diff - "$LOG/$1.tags" | grep '^[-+]A' | tr '\n' ' ')"; return 1; }
	pmtd library --config "$LIBDIR/lib.toml" status >"$LOG/$1.lib" 2>&1
	_d=0
	while [ $_d -lt 4 ]; do
		_t=$(drive_tag "$LOG/$1.status" $_d)
		_o=$(online $_d)
		if [ -n "$_t" ] && [ "$_o" != yes ]; then echo "drive $_d holds $_t but mt status is not ONLINE"; return 1; fi
		if [ -z "$_t" ] && [ "$_o" = yes ]; then echo "drive $_d is empty but mt status says ONLINE"; return 1; fi
		_l=$(sed -n "s/^drive $_d  *[0-9]*  \([^ ,]*\).*/\1/p" "$LOG/$1.lib")
		[ "$_l" = empty ] && _l=""
		[ "$_l" = "$_t" ] || { echo "drive $_d: mtx says '$_t', the library's status '$_l'"; return 1; }
		_d=$((_d + 1))
	done
}

# unchanged NAME BEFORE: the library's mtx status is still BEFORE.
unchanged() {
	$MTX status >"$LOG/$1.after" 2>&1
	cmp -s "$2" "$LOG/$1.after" || { echo "$1 changed the library: $(diff "$2" "$LOG/$1.after" | grep '^[-+] ' | head -n 2 | tr '\n' ' ')"; return 1; }
}

# 1. What the library says it is and holds; an operator's import shows as
#    an imported cartridge in an import/export slot.
s=library-mtx-inquiry-status
why=""
lib_start /tmp/l1 || why="library did not start; "
$MTX inquiry >"$LOG/$s.inquiry" 2>&1 || why="${why}mtx inquiry failed; "
grep -q 'Product Type: Medium Changer' "$LOG/$s.inquiry" || why="${why}not a medium changer; "
grep -q "Vendor ID: 'PMT" "$LOG/$s.inquiry" || why="${why}vendor; "
$MTX status >"$LOG/$s.status" 2>&1 || why="${why}mtx status failed; "
grep -q 'Storage Changer /dev/pmcm0:4 Drives, 124 Slots ( 4 Import/Export )' "$LOG/$s.status" ||
	why="${why}counts: $(head -n 1 "$LOG/$s.status"); "
[ "$(grep -c '^Data Transfer Element [0-3]:Empty' "$LOG/$s.status")" = 4 ] || why="${why}drives not empty; "
tags "$LOG/$s.status" >"$LOG/$s.tags"
expected | cmp -s - "$LOG/$s.tags" || why="${why}the barcodes are not ABC001L6..ABC100L6; "
[ "$(slot_tag "$LOG/$s.status" 42)" = ABC042L6 ] || why="${why}slot 42 does not hold ABC042L6; "
[ "$(grep -c 'Storage Element 1[01][0-9]:Empty\|Storage Element 120:Empty' "$LOG/$s.status")" = 20 ] || why="${why}slots 101-120 not empty; "
[ "$(grep -c 'Storage Element 12[1-4] IMPORT/EXPORT:Empty' "$LOG/$s.status")" = 4 ] || why="${why}import/export slots; "
pmtd library --config /tmp/l1/lib.toml import NEW001L6 >"$LOG/$s.import" 2>&1 || why="${why}import failed: $(cat "$LOG/$s.import"); "
$MTX status >"$LOG/$s.status2" 2>&1
grep -q 'Storage Element 121 IMPORT/EXPORT:Full :VolumeTag=NEW001L6' "$LOG/$s.status2" || why="${why}the imported cartridge is not in 121; "
$MTX transfer 121 101 >"$LOG/$s.in" 2>&1 || why="${why}transfer 121 101 failed; "
$MTX transfer 101 122 >>"$LOG/$s.in" 2>&1 || why="${why}transfer 101 122 failed; "
pmtd library --config /tmp/l1/lib.toml export NEW001L6 >"$LOG/$s.export" 2>&1 || why="${why}export failed: $(cat "$LOG/$s.export"); "
$MTX status >"$LOG/$s.status3" 2>&1
grep -q NEW001L6 "$LOG/$s.status3" && why="${why}the exported cartridge is still there; "
$MTX nobarcode status >"$LOG/$s.nobarcode" 2>&1 || why="${why}nobarcode status failed; "
grep -q VolumeTag "$LOG/$s.nobarcode" && why="${why}nobarcode shows tags; "
r=$(agree $s) || why="${why}$r; "
lib_stop
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# 2. Moves: load (the drive ONLINE as soon as mtx returns), unload back to
#    its slot, transfer, exchange, unload to where it came from.
s=library-mtx-moves
why=""
lib_start /tmp/l2 || why="library did not start; "
$MTX load 3 0 >"$LOG/$s.load" 2>&1 || why="${why}load 3 0 failed: $(cat "$LOG/$s.load"); "
[ "$(online 0)" = yes ] || why="${why}drive 0 not ONLINE right after the load; "
mtpos /dev/npmtm0 | grep -q '^0,0$' || why="${why}drive 0 not at BOT after the load; "
$MTX status >"$LOG/$s.s1" 2>&1
grep -q '^Data Transfer Element 0:Full (Storage Element 3 Loaded):VolumeTag = ABC003L6' "$LOG/$s.s1" || why="${why}drive 0 does not show ABC003L6 from slot 3; "
grep -q '^ *Storage Element 3:Empty' "$LOG/$s.s1" || why="${why}slot 3 not empty; "
$MTX unload 3 0 >"$LOG/$s.unload" 2>&1 || why="${why}unload 3 0 failed; "
[ "$(online 0)" = no ] || why="${why}drive 0 still ONLINE after the unload; "
$MTX status >"$LOG/$s.s2" 2>&1
[ "$(slot_tag "$LOG/$s.s2" 3)" = ABC003L6 ] || why="${why}ABC003L6 not back in slot 3; "
$MTX transfer 4 110 >"$LOG/$s.transfer" 2>&1 || why="${why}transfer 4 110 failed; "
$MTX exchange 5 110 >"$LOG/$s.exchange" 2>&1 || why="${why}exchange 5 110 failed: $(cat "$LOG/$s.exchange"); "
$MTX status >"$LOG/$s.s3" 2>&1
[ "$(slot_tag "$LOG/$s.s3" 4)" = "" ] && [ "$(slot_tag "$LOG/$s.s3" 5)" = ABC004L6 ] && [ "$(slot_tag "$LOG/$s.s3" 110)" = ABC005L6 ] ||
	why="${why}after transfer and exchange: slot 4 '$(slot_tag "$LOG/$s.s3" 4)', 5 '$(slot_tag "$LOG/$s.s3" 5)', 110 '$(slot_tag "$LOG/$s.s3" 110)'; "
$MTX load 110 1 >>"$LOG/$s.load" 2>&1 || why="${why}load 110 1 failed; "
[ "$(online 1)" = yes ] || why="${why}drive 1 not ONLINE; "
$MTX unload 110 1 >>"$LOG/$s.unload" 2>&1 || why="${why}unload 110 1 failed; "
# mtx unload with no slot: drive 0's cartridge goes back where it came from
# (the source element the library reports).
$MTX load 110 0 >>"$LOG/$s.load" 2>&1 || why="${why}load 110 0 failed; "
$MTX unload >"$LOG/$s.unload2" 2>&1 || why="${why}mtx unload failed: $(tr '\n' ' ' <"$LOG/$s.unload2"); "
$MTX status >"$LOG/$s.s4" 2>&1
[ "$(slot_tag "$LOG/$s.s4" 110)" = ABC005L6 ] || why="${why}mtx unload did not return ABC005L6 to slot 110; "
[ "$(online 0)" = no ] && [ "$(online 1)" = no ] || why="${why}a drive is still ONLINE; "
r=$(agree $s) || why="${why}$r; "
lib_stop
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# 3. Errors, with mtx's own messages; each leaves the library as it was.
s=library-mtx-errors
why=""
lib_start /tmp/l3 || why="library did not start; "
$MTX load 3 0 >/dev/null 2>&1 || why="${why}load 3 0 failed; "
$MTX status >"$LOG/$s.before" 2>&1
# mterr NAME MESSAGE MTX-ARGS...: mtx fails with MESSAGE, nothing changes.
mterr() {
	_n=$1 _m=$2
	shift 2
	if $MTX "$@" >"$LOG/$s.$_n" 2>&1; then
		echo "mtx $* succeeded; "
		return
	fi
	grep -q "$_m" "$LOG/$s.$_n" || echo "mtx $*: '$(tr '\n' ' ' <"$LOG/$s.$_n" | cut -c1-160)' instead of '$_m'; "
	unchanged "$s.$_n" "$LOG/$s.before" || true
}
why="$why$(mterr source-empty 'Source Element Address 1002 is Empty' load 3 1)"
why="$why$(mterr transfer-empty 'Source Element Address 1002 is Empty' transfer 3 7)"
why="$why$(mterr drive-full 'Drive 0 Full (Storage Element 3 loaded)' load 4 0)"
why="$why$(mterr slot-full 'Storage Element 5 is Already Full' unload 5 0)"
why="$why$(mterr destination-full 'Destination Element Address 1005 is Already Full' transfer 4 6)"
why="$why$(mterr no-such-slot 'illegal\|Invalid\|ILLEGAL' transfer 4 200)"
# A program holds drive 0 open with its tape: the library refuses to take
# it (NOT READY, 04/07), as real libraries do.
sleep 30 </dev/npmtm0 &
holder=$!
sleep 0.3
why="$why$(mterr drive-in-use 'MOVE MEDIUM from Element Address 500 to 1002 Failed' unload 3 0)"
grep -q 'Sense Key=Not Ready' "$LOG/$s.drive-in-use" || why="${why}drive in use: not NOT READY; "
kill $holder 2>/dev/null
wait $holder 2>/dev/null
# Removal prevented on the drive (mt lock): ILLEGAL REQUEST 53/02.
mt -f /dev/npmtm0 lock || why="${why}mt lock failed; "
why="$why$(mterr drive-locked 'MOVE MEDIUM from Element Address 500 to 1002 Failed' unload 3 0)"
grep -q 'Additional Sense Code = 53' "$LOG/$s.drive-locked" || why="${why}drive locked: ASC not 53; "
mt -f /dev/npmtm0 unlock || why="${why}mt unlock failed; "
# Removal prevented on the library (sg_prevent): nothing to or from the
# import/export slots, no operator import.
sg_prevent --prevent 1 $C >"$LOG/$s.prevent" 2>&1 || why="${why}sg_prevent failed: $(cat "$LOG/$s.prevent"); "
why="$why$(mterr prevented 'MOVE MEDIUM from Element Address 1004 to 10 Failed' transfer 5 121)"
grep -q 'Additional Sense Code = 53' "$LOG/$s.prevented" || why="${why}prevented: ASC not 53; "
pmtd library --config /tmp/l3/lib.toml import NEW002L6 >"$LOG/$s.import" 2>&1 && why="${why}an import went through a locked door; "
grep -q 'sg_prevent --allow' "$LOG/$s.import" || why="${why}the refused import does not say how to unlock: $(cat "$LOG/$s.import"); "
sg_prevent --allow $C >>"$LOG/$s.prevent" 2>&1 || why="${why}sg_prevent --allow failed; "
$MTX transfer 5 121 >"$LOG/$s.allowed" 2>&1 || why="${why}transfer 5 121 failed once allowed; "
$MTX transfer 121 5 >>"$LOG/$s.allowed" 2>&1 || why="${why}transfer 121 5 failed; "
$MTX unload 3 0 >"$LOG/$s.unload" 2>&1 || why="${why}unload 3 0 failed after the errors: $(cat "$LOG/$s.unload"); "
r=$(agree $s) || why="${why}$r; "
lib_stop
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# 4. mtx load, dump to that drive, unload; load into another drive,
#    restore: the tree is identical (the cartridge image is checked on the
#    host).
s=library-dump-restore-across-drives
why=""
lib_start /tmp/l4 || why="library did not start; "
$MTX load 7 0 >"$LOG/$s.load" 2>&1 || why="${why}load 7 0 failed; "
if [ -z "$why" ] && ! timeout 300 dump -0 -f /dev/npmtm0 /dev/vda >"$LOG/$s.dump" 2>&1; then
	why="${why}dump failed: $(tail -n 2 "$LOG/$s.dump" | tr '\n' ' '); "
fi
$MTX unload 7 0 >>"$LOG/$s.load" 2>&1 || why="${why}unload 7 0 failed: $(tail -n 3 "$LOG/$s.load" | tr '\n' ' '); "
$MTX load 7 2 >>"$LOG/$s.load" 2>&1 || why="${why}load 7 2 failed; "
[ "$(online 2)" = yes ] || why="${why}drive 2 not ONLINE; "
rm -rf /tmp/rs && mkdir -p /tmp/rs && cd /tmp/rs || exit 1
if [ -z "$why" ] && ! timeout 300 restore -r -f /dev/pmtm2 >"$LOG/$s.restore" 2>&1; then
	why="${why}restore failed: $(tail -n 2 "$LOG/$s.restore" | tr '\n' ' '); "
fi
cd / || exit 1
[ -n "$why" ] || same_tree $s /mnt/a /tmp/rs || why="${why}the restored tree differs; "
rm -rf /tmp/rs
$MTX unload 7 2 >>"$LOG/$s.load" 2>&1 || why="${why}unload 7 2 failed; "
r=$(agree $s) || why="${why}$r; "
lib_stop
cp /tmp/l4/ABC007L6.tap /out/lib/dump-cartridge.tap 2>/dev/null || why="${why}no cartridge image; "
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# 5. Bacula's own changer script, as the storage daemon runs it (Changer
#    Command = "mtx-changer %c %o %S %a %d"): slots, list, listall, load
#    (it waits for ONLINE: at once here), loaded, a tar on the drive,
#    unload, transfer.
s=library-bacula-mtx-changer
why=""
MC=/etc/bacula/scripts/mtx-changer
lib_start /tmp/l5 || why="library did not start; "
n=$(sh $MC $C slots 2>"$LOG/$s.err")
[ "$n" = 124 ] || why="${why}slots: '$n'; "
sh $MC $C list >"$LOG/$s.list" 2>>"$LOG/$s.err" || why="${why}list failed; "
grep -q '^42:ABC042L6$' "$LOG/$s.list" || why="${why}list lacks 42:ABC042L6; "
[ "$(wc -l <"$LOG/$s.list")" = 100 ] || why="${why}list has $(wc -l <"$LOG/$s.list") lines; "
sh $MC $C listall >"$LOG/$s.listall" 2>>"$LOG/$s.err" || why="${why}listall failed; "
# (mtx prints a volume tag with its blank padding, as real libraries give it.)
grep -q '^D:1:E$' "$LOG/$s.listall" && grep -q '^S:8:F:ABC008L6 *$' "$LOG/$s.listall" && grep -q '^S:101:E$' "$LOG/$s.listall" &&
	grep -q '^I:121:E$' "$LOG/$s.listall" || why="${why}listall: $(head -n 3 "$LOG/$s.listall" | tr '\n' ' '); "
t0=$(cut -d' ' -f1 /proc/uptime)
sh $MC $C load 8 /dev/npmtm1 1 >"$LOG/$s.load" 2>&1 || why="${why}load failed: $(cat "$LOG/$s.load"); "
t1=$(cut -d' ' -f1 /proc/uptime)
took=$(echo "$t0 $t1" | awk '{printf "%d", ($2 - $1) * 1000}')
# A figure, not a check (make bench measures loads): the script waits for
# ONLINE by the second, so under a second here is what Bacula sees.
echo "mtx-changer load took $took ms" >>"$LOG/$s.load"
[ "$(sh $MC $C loaded 0 /dev/npmtm1 1)" = 8 ] || why="${why}loaded does not say 8; "
timeout 60 tar -cf /dev/npmtm1 -C /mnt/a ./sizes >"$LOG/$s.tar" 2>&1 || why="${why}tar to the drive failed; "
sh $MC $C unload 8 /dev/npmtm1 1 >"$LOG/$s.unload" 2>&1 || why="${why}unload failed: $(cat "$LOG/$s.unload"); "
[ "$(sh $MC $C loaded 0 /dev/npmtm1 1)" = 0 ] || why="${why}loaded does not say 0 after the unload; "
sh $MC $C transfer 8 102 >"$LOG/$s.transfer" 2>&1 || why="${why}transfer failed; "
sh $MC $C load 102 /dev/npmtm3 3 >>"$LOG/$s.load" 2>&1 || why="${why}load 102 into drive 3 failed; "
timeout 60 tar -tf /dev/npmtm3 >"$LOG/$s.t" 2>&1 || why="${why}tar -t on drive 3 failed; "
grep -q 'sizes/odd-513' "$LOG/$s.t" || why="${why}the archive written in drive 1 is not read in drive 3; "
sh $MC $C unload 102 /dev/npmtm3 3 >>"$LOG/$s.unload" 2>&1 || why="${why}unload of drive 3 failed; "
sh $MC $C transfer 102 8 >>"$LOG/$s.transfer" 2>&1 || why="${why}transfer back failed; "
r=$(agree $s) || why="${why}$r; "
lib_stop
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# 6. CHIO, as chio-style programs use it (tests/vm/chio_probe.c).
s=library-chio-probe
why=""
lib_start /tmp/l6 || why="library did not start; "
$MTX transfer 3 110 >/dev/null 2>&1 || why="${why}transfer 3 110 failed; "
chmod +x /run/files/chio_probe
timeout 120 /run/files/chio_probe $C /dev/npmtm0 120 4 4 ABC001L6 >"$LOG/$s" 2>&1 || why="${why}$(grep FAIL "$LOG/$s" | head -n 2 | tr '\n' ' ')$(tail -n 1 "$LOG/$s"); "
$MTX transfer 110 3 >/dev/null 2>&1 || why="${why}transfer 110 3 failed; "
r=$(agree $s) || why="${why}$r; "
lib_stop
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# 7. Each drive's serial: what sg_inq and tapeinfo read from the drive is
#    what the library reports for that drive element (READ ELEMENT STATUS
#    with DVCID, sent by sg_raw); drive 2 has its own serial, HU1234567.
s=library-drive-serial-dvcid
why=""
lib_start /tmp/l7 || why="library did not start; "
# tapeinfo opens the tape master as st does, which needs a tape in it.
for d in 0 1 2 3; do $MTX load $((d + 1)) $d >/dev/null 2>&1 || why="${why}load into drive $d failed; "; done
# Drives from address 500, 4 of them, DVCID, 1 KiB.
sg_raw -r 1024 -o /tmp/res.bin $C b8 04 01 f4 00 04 01 00 04 00 00 00 >"$LOG/$s.raw" 2>&1 || why="${why}sg_raw failed: $(tail -n 1 "$LOG/$s.raw"); "
dlen=$(od -An -tu1 -j 10 -N 2 /tmp/res.bin | awk '{print $1 * 256 + $2}')
d=0
while [ $d -lt 4 ] && [ -n "$dlen" ]; do
	off=$((16 + d * dlen))
	idlen=$(od -An -tu1 -j $((off + 15)) -N 1 /tmp/res.bin | tr -d ' ')
	lib=$(dd if=/tmp/res.bin bs=1 skip=$((off + 16)) count="$idlen" 2>/dev/null)
	inq=$(sg_inq -p 0x80 /dev/pmtm$d 2>&1 | sed -n 's/^ *Unit serial number: *//p')
	ti=$(tapeinfo -f /dev/pmtm$d 2>&1 | sed -n "s/^SerialNumber: '\(.*\)'/\1/p")
	echo "drive $d: library '$lib', sg_inq '$inq', tapeinfo '$ti'" >>"$LOG/$s"
	[ -n "$lib" ] && [ "$lib" = "$inq" ] && [ "$lib" = "$ti" ] || why="${why}drive $d: library '$lib', sg_inq '$inq', tapeinfo '$ti'; "
	d=$((d + 1))
done
grep -q "drive 2: library 'HU1234567'" "$LOG/$s" || why="${why}drive 2 does not report its own serial; "
for d in 0 1 2 3; do $MTX unload $((d + 1)) $d >/dev/null 2>&1 || why="${why}unload of drive $d failed; "; done
lib_stop
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# 8. The library daemon SIGKILLed in the middle of moves, eight times, and
#    restarted each time: every cartridge in exactly one place, every
#    drive holding (mt status ONLINE) what the library says it holds; mtx
#    fails at once while no daemon serves, it never hangs.
s=library-killed-mid-move
why=""
lib_start /tmp/l8 || why="library did not start; "
# hex16 N: a 16-bit number as two bytes for sg_raw.
hex16() { printf '%02x %02x' $(($1 / 256)) $(($1 % 256)); }
# mover: MOVE MEDIUM after MOVE MEDIUM (sg_raw: one command per process,
# so the daemon spends most of its time in moves): slot to drive, drive
# back to slot, slot to slot and back.
mover() {
	_i=0
	while [ ! -f /tmp/mover.stop ]; do
		_s=$((1000 + _i % 9)) _d=$((500 + _i % 4))
		for _m in "$_s $_d" "$_d $_s" "$((_s + 10)) 1110" "1110 $((_s + 10))"; do
			# shellcheck disable=SC2086
			set -- $_m
			# shellcheck disable=SC2046
			if sg_raw $C a5 00 00 01 $(hex16 "$1") $(hex16 "$2") 00 00 00 00 >/dev/null 2>&1; then
				echo "move $1 $2: done"
			else
				echo "move $1 $2: failed"
			fi
		done
		_i=$((_i + 1))
	done
}
round=1
while [ $round -le 8 ] && [ -z "$why" ]; do
	rm -f /tmp/mover.stop
	_b=$(grep -c 'done$' "$LOG/$s.moves" 2>/dev/null)
	mover >>"$LOG/$s.moves" 2>&1 &
	mp=$!
	# A few moves made in this round first, however fast the kernel runs
	# (the debug kernel is several times slower), then a kill at a point
	# that differs from round to round.
	_w=0
	while [ "$(grep -c 'done$' "$LOG/$s.moves")" -lt $((_b + 3)) ] && [ $_w -lt 600 ]; do
		sleep 0.1
		_w=$((_w + 1))
	done
	sleep "0.$((round * 37 % 9 + 1))"
	lib_kill
	echo "-- killed (round $round)" >>"$LOG/$s.moves"
	t0=$(cut -d' ' -f1 /proc/uptime)
	timeout 20 mtx -f $C status >"$LOG/$s.dead" 2>&1 && why="${why}mtx status worked without a daemon; "
	t1=$(cut -d' ' -f1 /proc/uptime)
	took=$(echo "$t0 $t1" | awk '{printf "%d", ($2 - $1) * 1000}')
	[ "$took" -lt 5000 ] || why="${why}mtx took $took ms to fail without a daemon; "
	touch /tmp/mover.stop
	wait $mp 2>/dev/null
	lib_start /tmp/l8 || why="${why}the library did not restart (round $round); "
	r=$(agree "$s.$round") || why="${why}round $round: $r; "
	round=$((round + 1))
done
# Moves were made, and the kills cut moves short (the command after a
# kill failed).
[ "$(grep -c 'done$' "$LOG/$s.moves")" -gt 16 ] || why="${why}too few moves were made; "
cut=$(grep -A1 '^-- killed' "$LOG/$s.moves" | grep -c 'failed$')
echo "$cut kills of 8 cut a move short" >>"$LOG/$s.moves"
[ "$cut" -ge 1 ] || why="${why}no kill cut a move short; "
lib_stop
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi
exit 0
