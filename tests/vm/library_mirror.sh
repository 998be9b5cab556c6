# QEMU scenarios of the seed's library mirror, made small: programs see one
# library (pmtd on /dev/pmcm0, 4 drives, 108 slots) whose every move is
# made on two sides and whose drives write every record to both:
#   side A  one pmt library of 4 drives and 120 slots (/dev/pmcm1, drives
#           /dev/npmtm4-7), reached through SG_IO, its drives as tape:;
#   side B  two pmt libraries of 2 drives and 54 slots each (/dev/pmcm2 with
#           /dev/npmtm8-9, /dev/pmcm3 with /dev/npmtm10-11), reached through
#           the remote changer protocol (pmtd changer-server started by a
#           local remote shell) and their drives through rmt (rmt-dump).
# Side B's cartridges are smaller: its early warning ends each volume (the
# dump spans two cartridges, and ends well before the last one's early
# warning).
# Run by scripts/qemu-test through scripts/vm-run with nunits=12,
# nchangers=4, window_kb=512, /dev/vda fsa (varied files), the dump, mtx
# and sg3-utils packages and tests/rsh-local. One "PASS name" or "FAIL
# name: why" per scenario in /out/results; the cartridges' images are left
# in /out/mirror for the host's checks.
#
# shellcheck shell=dash
. /usr/local/lib/pmt.sh

SCENARIOS="mirror-library-status mirror-dump-across-cartridges mirror-volumes-identical mirror-restore-side-a mirror-restore-side-b mirror-restore-mixed mirror-refused-move-changes-nothing mirror-remote-cut-during-move mirror-remote-cut-during-dump"
echo "PLAN $SCENARIOS" >/out/results
LOG=/out/logs
mkdir -p $LOG /mnt/a /out/mirror
mount -o ro /dev/vda /mnt/a || echo "cannot mount /dev/vda"
RSH=/run/files/rsh-local
chmod +x $RSH
V=/dev/pmcm0
MTX="timeout 120 mtx -f $V"

# library NAME CHANGER-SLAVE SLOTS CAPACITY EARLY-WARNING DRIVE-UNITS...: a
# pmt library's configuration in /tmp/NAME (its cartridges added after).
# Its drives are the mirror's tape: and rmt: members: they take what the
# mirror had on its way after their early warning, as real drives do
# (write-after-enospc); the library programs see refuses records written
# after ENOSPC, as pmtd does by default.
library() {
	_d=/tmp/$1
	mkdir -p "$_d"
	{
		echo "changer = \"$2\""
		echo "slots = $3"
		echo "tapes = \"$_d\""
		echo "capacity = \"$4\""
		echo "early-warning = \"$5\""
		echo "write-after-enospc = true"
		shift 5
		for _u in "$@"; do printf '[[drive]]\ndevice = "/dev/pmts%s"\n' "$_u"; done
	} >"$_d/lib.toml"
}
library A /dev/pmcs1 120 16M 0 4 5 6 7
printf '[[cartridges]]\nbarcodes = "ABC%%03dL6"\ncount = 108\n' >>/tmp/A/lib.toml
library B1 /dev/pmcs2 54 5M 1M 8 9
printf '[[cartridges]]\nbarcodes = "ABC%%03dL6"\ncount = 54\n' >>/tmp/B1/lib.toml
library B2 /dev/pmcs3 54 5M 1M 10 11
printf '[[cartridges]]\nbarcodes = "ABC%%03dL6"\nfirst = 55\ncount = 54\n' >>/tmp/B2/lib.toml

# Side B's drives declare their 1M early-warning zone (half of it in flight).
rmtspec() { echo "rmt:localhost:/dev/npmtm$1,rsh=$RSH,rmt=/usr/sbin/rmt-dump,early-warning=1M"; }
remote() { echo "remote:localhost:$1,rsh=$RSH,pmtd=/usr/bin/pmtd,timeout=30"; }
mkdir -p /tmp/M
cat >/tmp/M/lib.toml <<EOF
changer = "/dev/pmcs0"
slots = 108
inventory = "/tmp/M/mirror.inventory"
[[drive]]
device = "/dev/pmts0"
[[drive]]
device = "/dev/pmts1"
[[drive]]
device = "/dev/pmts2"
[[drive]]
device = "/dev/pmts3"

[[side]]
name = "A"
[[side.library]]
changer = "/dev/pmcm1"
slots = "1-108"
drives = ["tape:/dev/npmtm4", "tape:/dev/npmtm5", "tape:/dev/npmtm6", "tape:/dev/npmtm7"]

[[side]]
name = "B"
[[side.library]]
changer = "$(remote /dev/pmcm2)"
drives = ["$(rmtspec 8)", "$(rmtspec 9)"]
[[side.library]]
changer = "$(remote /dev/pmcm3)"
drives = ["$(rmtspec 10)", "$(rmtspec 11)"]
EOF

# start NAME: serves library NAME (/tmp/NAME/lib.toml); its pid in PID_NAME
# (not from a subshell: the pid must reach stop).
start() {
	_n=$(grep -c 'library serving' "/out/$1.log" 2>/dev/null || true)
	pmtd library --config "/tmp/$1/lib.toml" >>"/out/$1.log" 2>&1 &
	eval "PID_$1=$!"
	_i=0
	while [ $_i -lt 200 ]; do
		[ "$(grep -c 'library serving' "/out/$1.log" 2>/dev/null)" -gt "${_n:-0}" ] && return 0
		kill -0 "$(eval echo \$PID_"$1")" 2>/dev/null || break
		sleep 0.05
		_i=$((_i + 1))
	done
	echo "library $1 did not start: $(tail -n 3 "/out/$1.log" | tr '\n' ' ')"
	return 1
}
stop() {
	_p=$(eval echo \$PID_"$1")
	[ -n "$_p" ] || return 0
	kill "$_p" 2>/dev/null
	wait "$_p" 2>/dev/null
	eval "PID_$1="
}

# killcmd WORDS: SIGKILL the processes whose command line holds WORDS.
killcmd() {
	for _p in /proc/[0-9]*; do
		case "$(tr '\0' ' ' <"$_p/cmdline" 2>/dev/null)" in
		*"$1"*) kill -9 "${_p#/proc/}" 2>/dev/null ;;
		esac
	done
	return 0
}

# snapshot NAME: the mtx status of the pseudo library and of every side's.
snapshot() {
	for _c in 0 1 2 3; do mtx -f /dev/pmcm$_c status >"$LOG/$1.$_c" 2>&1; done
}

# slots FILE [OFFSET]: "N TAG" for every full storage element, N + OFFSET.
slots() { sed -n 's/^ *Storage Element \([0-9]*\):Full *:VolumeTag=\([^ ]*\).*/\1 \2/p' "$1" | awk -v o="${2:-0}" '{print $1 + o, $2}'; }
# drivetags FILE: the tags in its drives, sorted.
drivetags() { sed -n 's/^Data Transfer Element [0-9]*:Full.*VolumeTag *= *\([^ ]*\).*/\1/p' "$1" | sort; }

# agree NAME: every side holds what the pseudo library says: slot N of it is
# slot N of side A and of side B (its first library's 1-54, its second's
# 55-108), and the cartridges in its drives are in drives of both sides.
agree() {
	snapshot "$1"
	slots "$LOG/$1.0" >"$LOG/$1.v"
	slots "$LOG/$1.1" | awk '$1 <= 108' >"$LOG/$1.a"
	{ slots "$LOG/$1.2"; slots "$LOG/$1.3" 54; } >"$LOG/$1.b"
	cmp -s "$LOG/$1.v" "$LOG/$1.a" || { echo "slots: the library and side A differ: $(diff "$LOG/$1.v" "$LOG/$1.a" | grep '^[<>]' | head -n 3 | tr '\n' ' ')"; return 1; }
	cmp -s "$LOG/$1.v" "$LOG/$1.b" || { echo "slots: the library and side B differ: $(diff "$LOG/$1.v" "$LOG/$1.b" | grep '^[<>]' | head -n 3 | tr '\n' ' ')"; return 1; }
	drivetags "$LOG/$1.0" >"$LOG/$1.vd"
	drivetags "$LOG/$1.1" >"$LOG/$1.ad"
	{ drivetags "$LOG/$1.2"; drivetags "$LOG/$1.3"; } | sort >"$LOG/$1.bd"
	cmp -s "$LOG/$1.vd" "$LOG/$1.ad" && cmp -s "$LOG/$1.vd" "$LOG/$1.bd" ||
		{ echo "drives: library '$(tr '\n' ' ' <"$LOG/$1.vd")', A '$(tr '\n' ' ' <"$LOG/$1.ad")', B '$(tr '\n' ' ' <"$LOG/$1.bd")'"; return 1; }
	[ "$(wc -l <"$LOG/$1.v")" -ge 100 ] || { echo "only $(wc -l <"$LOG/$1.v") slots full"; return 1; }
}

# 1. The sides start, then the mirrored library: it reports what they agree
#    on.
s=mirror-library-status
why=""
for l in A B1 B2 M; do start $l >/tmp/why 2>&1 || why="$why$(cat /tmp/why); "; done
$MTX status >"$LOG/$s.status" 2>&1 || why="${why}mtx status failed: $(tail -n 2 "$LOG/$s.status" | tr '\n' ' '); "
grep -q 'Storage Changer /dev/pmcm0:4 Drives, 108 Slots ( 0 Import/Export )' "$LOG/$s.status" || why="${why}counts: $(head -n 1 "$LOG/$s.status"); "
r=$(agree $s) || why="${why}$r; "
[ "$(wc -l <"$LOG/$s.v")" = 108 ] || why="${why}$(wc -l <"$LOG/$s.v") cartridges, not 108; "
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# 2. mtx load, dump of fsa across several cartridges: each volume ends at
#    side B's early warning and dump's -F script changes cartridges with
#    mtx, as a backup server's changer script does.
s=mirror-dump-across-cartridges
why=""
echo 1 >/tmp/vol
cat >/tmp/next.sh <<'EOF'
#!/bin/sh
n=$(cat /tmp/vol)
mtx -f /dev/pmcm0 unload "$n" 0 >>/out/logs/next.log 2>&1 || exit 1
n=$((n + 1))
echo "$n" >/tmp/vol
mtx -f /dev/pmcm0 load "$n" 0 >>/out/logs/next.log 2>&1 || exit 1
exit 0
EOF
chmod +x /tmp/next.sh
$MTX load 1 0 >"$LOG/$s.load" 2>&1 || why="${why}load 1 0 failed: $(tail -n 2 "$LOG/$s.load" | tr '\n' ' '); "
if [ -z "$why" ] && ! timeout 600 dump -0 -F /tmp/next.sh -f /dev/pmtm0 /dev/vda >"$LOG/$s.dump" 2>&1; then
	why="${why}dump failed: $(tail -n 2 "$LOG/$s.dump" | tr '\n' ' '); "
fi
nvol=$(cat /tmp/vol)
$MTX unload "$nvol" 0 >>"$LOG/$s.load" 2>&1 || why="${why}unload $nvol 0 failed; "
[ "$nvol" -ge 2 ] || why="${why}dump used $nvol cartridge(s); side B's early warning (4M) should have ended the first; "
r=$(agree $s) || why="${why}$r; "
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# 3. Volume N is the same on both sides, record for record (the images are
#    identical), and so are their maps.
s=mirror-volumes-identical
why=""
i=1
while [ $i -le "$nvol" ]; do
	t=$(printf 'ABC%03dL6.tap' $i)
	cmp -s "/tmp/A/$t" "/tmp/B1/$t" || why="${why}volume $i differs; "
	pmtd inspect "/tmp/A/$t" | tail -n +2 >"$LOG/$s.a$i"
	pmtd inspect "/tmp/B1/$t" | tail -n +2 >"$LOG/$s.b$i"
	cmp -s "$LOG/$s.a$i" "$LOG/$s.b$i" || why="${why}the maps of volume $i differ; "
	[ -s "/tmp/A/$t" ] || why="${why}volume $i is empty; "
	cp "/tmp/A/$t" "/out/mirror/a$i.tap"
	cp "/tmp/B1/$t" "/out/mirror/b$i.tap"
	i=$((i + 1))
done
echo "$nvol" >/out/mirror/volumes
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# restore_images NAME IMAGES...: restore from the volumes, served by pmtd
# on unit 0 (its autoloader, changed by restore's -F script), and the tree
# compared with fsa.
cat >/tmp/bot.sh <<'EOF'
#!/bin/sh
[ "$2" -gt 1 ] && mt -f "$1" offline
exit 0
EOF
chmod +x /tmp/bot.sh
restore_images() {
	_n=$1
	shift
	_v=""
	for _i in "$@"; do _v="$_v --image $_i"; done
	# shellcheck disable=SC2086
	pmtd_start 0 $_v || return 1
	rm -rf /tmp/rs && mkdir -p /tmp/rs && cd /tmp/rs || return 1
	timeout 300 restore -r -F /tmp/bot.sh -f /dev/pmtm0 >"$LOG/$_n.restore" 2>&1
	_rc=$?
	cd / || return 1
	pmtd_stop 0
	[ $_rc = 0 ] || { echo "restore failed: $(tail -n 2 "$LOG/$_n.restore" | tr '\n' ' ')"; return 1; }
	same_tree "$_n" /mnt/a /tmp/rs || { echo "the tree restored differs"; return 1; }
	rm -rf /tmp/rs
}

# 4. Side A alone, through its own library: restore's -F script changes
#    cartridges with mtx on side A's changer.
s=mirror-restore-side-a
why=""
stop M
echo 1 >/tmp/rvol
cat >/tmp/rnext.sh <<'EOF'
#!/bin/sh
[ "$2" -gt 1 ] || exit 0
n=$(cat /tmp/rvol)
mtx -f /dev/pmcm1 unload "$n" 0 >>/out/logs/rnext.log 2>&1
n=$((n + 1))
echo "$n" >/tmp/rvol
mtx -f /dev/pmcm1 load "$n" 0 >>/out/logs/rnext.log 2>&1
exit 0
EOF
chmod +x /tmp/rnext.sh
mtx -f /dev/pmcm1 load 1 0 >"$LOG/$s.load" 2>&1 || why="${why}side A: load 1 0 failed; "
rm -rf /tmp/rs && mkdir -p /tmp/rs && cd /tmp/rs || exit 1
timeout 300 restore -r -F /tmp/rnext.sh -f /dev/pmtm4 >"$LOG/$s.restore" 2>&1 || why="${why}restore failed: $(tail -n 2 "$LOG/$s.restore" | tr '\n' ' '); "
cd / || exit 1
[ -n "$why" ] || same_tree $s /mnt/a /tmp/rs || why="${why}the tree restored differs; "
mtx -f /dev/pmcm1 unload "$(cat /tmp/rvol)" 0 >>"$LOG/$s.load" 2>&1 || why="${why}side A: unload failed; "
rm -rf /tmp/rs
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# 5-6. Side B's cartridges alone, and a mix: volume 1 from A, volume 2 from
#      B, and so on.
for l in A B1 B2; do stop $l; done
s=mirror-restore-side-b
vb="" vm=""
i=1
while [ $i -le "$nvol" ]; do
	t=$(printf 'ABC%03dL6.tap' $i)
	vb="$vb /tmp/B1/$t"
	if [ $((i % 2)) = 1 ]; then vm="$vm /tmp/A/$t"; else vm="$vm /tmp/B1/$t"; fi
	i=$((i + 1))
done
# shellcheck disable=SC2086
if r=$(restore_images $s $vb); then pass $s; else fail $s "$r"; fi
s=mirror-restore-mixed
# shellcheck disable=SC2086
if r=$(restore_images $s $vm); then pass $s; else fail $s "$r"; fi

# 7. A move side B cannot make (both drives of its first library are full)
#    fails with a sense mtx reports, before any side moved anything.
s=mirror-refused-move-changes-nothing
why=""
for l in A B1 B2 M; do start $l >/tmp/why 2>&1 || why="$why$(cat /tmp/why); "; done
$MTX load 11 0 >/dev/null 2>&1 || why="${why}load 11 0 failed; "
$MTX load 12 1 >/dev/null 2>&1 || why="${why}load 12 1 failed; "
snapshot $s.before
if $MTX load 13 2 >"$LOG/$s.refused" 2>&1; then
	why="${why}a third cartridge of side B's first library was loaded; "
fi
grep -q 'Already Full' "$LOG/$s.refused" || why="${why}mtx said: $(tr '\n' ' ' <"$LOG/$s.refused" | cut -c1-200); "
snapshot $s.after
for c in 0 1 2 3; do cmp -s "$LOG/$s.before.$c" "$LOG/$s.after.$c" || why="${why}/dev/pmcm$c changed; "; done
# Side B's second library has free drives: its cartridge goes in.
$MTX load 60 2 >"$LOG/$s.other" 2>&1 || why="${why}load 60 2 failed: $(tail -n 2 "$LOG/$s.other" | tr '\n' ' '); "
r=$(agree $s) || why="${why}$r; "
for m in "11 0" "12 1" "60 2"; do
	# shellcheck disable=SC2086
	$MTX unload $m >/dev/null 2>&1 || why="${why}unload $m failed; "
done
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# 8. The remote changer's connection cut while a move waits on side B (its
#    first library's daemon stopped): the move fails at once, side A is as
#    it was; once side B answers again the next move brings it back first
#    (it made the move the cut one asked for) and succeeds.
s=mirror-remote-cut-during-move
why=""
snapshot $s.before
kill -STOP "$PID_B1"
t0=$(cut -d' ' -f1 /proc/uptime)
$MTX load 5 0 >"$LOG/$s.load" 2>&1 &
mp=$!
sleep 2
killcmd "changer-server /dev/pmcm2"
t1=$(cut -d' ' -f1 /proc/uptime)
i=0
while kill -0 $mp 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
if kill -0 $mp 2>/dev/null; then
	why="${why}mtx still waits 10 s after the cut; "
	kill -9 $mp 2>/dev/null
fi
wait $mp && why="${why}the cut move succeeded; "
t2=$(cut -d' ' -f1 /proc/uptime)
took=$(echo "$t1 $t2" | awk '{printf "%d", ($2 - $1) * 1000}')
echo "mtx failed $took ms after the cut ($(echo "$t0 $t2" | awk '{printf "%d", ($2 - $1) * 1000}') ms in all)" >>"$LOG/$s.load"
[ "$took" -lt 5000 ] || why="${why}mtx took $took ms to fail after the cut; "
mtx -f /dev/pmcm1 status >"$LOG/$s.a-after" 2>&1
cmp -s "$LOG/$s.before.1" "$LOG/$s.a-after" || why="${why}side A changed; "
mtx -f /dev/pmcm0 status >"$LOG/$s.v-after" 2>&1
cmp -s "$LOG/$s.before.0" "$LOG/$s.v-after" || why="${why}the library changed; "
kill -CONT "$PID_B1"
sleep 1
$MTX load 5 0 >"$LOG/$s.again" 2>&1 || why="${why}the next load failed: $(tail -n 2 "$LOG/$s.again" | tr '\n' ' '); "
r=$(agree $s) || why="${why}$r; "
$MTX unload 5 0 >/dev/null 2>&1 || why="${why}unload 5 0 failed; "
r=$(agree $s.end) || why="${why}$r; "
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# 9. Side B's rmt connection cut in the middle of a dump: dump gets an
#    error at once, nothing hangs, and the cartridge comes out of the drive
#    on every side.
s=mirror-remote-cut-during-dump
why=""
$MTX load 20 0 >/dev/null 2>&1 || why="${why}load 20 0 failed; "
dump -0 -f /dev/pmtm0 /dev/vda >"$LOG/$s.dump" 2>&1 &
dp=$!
i=0
while [ $i -lt 600 ] && [ "$(stat -c %s /tmp/A/ABC020L6.tap 2>/dev/null || echo 0)" -lt 1000000 ]; do
	sleep 0.05
	i=$((i + 1))
done
killcmd "/usr/sbin/rmt-dump"
t0=$(cut -d' ' -f1 /proc/uptime)
i=0
while kill -0 $dp 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
if kill -0 $dp 2>/dev/null; then
	why="${why}dump still runs 10 s after the cut; "
	kill -9 $dp 2>/dev/null
fi
wait $dp && why="${why}dump succeeded after the cut; "
t1=$(cut -d' ' -f1 /proc/uptime)
took=$(echo "$t0 $t1" | awk '{printf "%d", ($2 - $1) * 1000}')
echo "dump failed $took ms after the cut" >>"$LOG/$s.dump"
[ "$took" -lt 5000 ] || why="${why}dump took $took ms to fail; "
$MTX unload 20 0 >"$LOG/$s.unload" 2>&1 || why="${why}unload 20 0 failed: $(tail -n 2 "$LOG/$s.unload" | tr '\n' ' '); "
r=$(agree $s) || why="${why}$r; "
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

for l in M A B1 B2; do stop $l; done
exit 0
