# QEMU scenarios for the tape library: the changer pair (/dev/pmcm0,
# /dev/pmcs0) and two drives (units 0 and 1) served by one `pmtd library`,
# driven by Debian's unmodified mtx and sg3-utils through the kernel module:
# SG_IO of SMC commands on the changer master, the drives' SCSI identity
# through SG_IO on the tape masters, tar through a loaded drive. Run by
# scripts/qemu-test through scripts/vm-run with --pkg mtx --pkg sg3-utils
# (and on the debug kernel, where every ioctl path of the changer pair runs
# under KASAN, lockdep and the atomic-sleep checks).
# One "PASS name" or "FAIL name: why" per scenario.
#
# shellcheck shell=dash
. /usr/local/lib/pmt.sh

SCENARIOS="library-status library-load-tar-unload library-transfer-and-drive-serial library-errors library-restart-keeps-inventory"
echo "PLAN $SCENARIOS" >/out/results
LOG=/out/logs
L=/tmp/lib
mkdir -p $LOG $L/tapes

cat >$L/library.toml <<EOF
changer = "/dev/pmcs0"
slots = 6
import-export = 1
inventory = "$L/library.inventory"
tapes = "$L/tapes"
capacity = "64M"

[[drive]]
device = "/dev/pmts0"
[[drive]]
device = "/dev/pmts1"
serial = "HU1234567"

[[cartridges]]
barcodes = "ABC%03dL6"
count = 3
EOF

LIB_PID=""
# lib_start: the library daemon in the background; waits for its socket.
lib_start() {
	pmtd library --config $L/library.toml >>$LOG/library.log 2>&1 &
	LIB_PID=$!
	ls_i=0
	while [ $ls_i -lt 200 ]; do
		[ -S $L/library.inventory.sock ] && return 0
		kill -0 $LIB_PID 2>/dev/null || break
		sleep 0.05
		ls_i=$((ls_i + 1))
	done
	echo "lib_start: the library did not start" >>$LOG/library.log
	return 1
}
# lib_signal SIGNAL: signal the daemon and wait for it.
lib_signal() {
	[ -n "$LIB_PID" ] || return 0
	kill "-$1" $LIB_PID 2>/dev/null
	wait $LIB_PID 2>/dev/null
	LIB_PID=""
}
# elem STATUS-FILE TEXT: the status lists TEXT (a line of mtx status).
has() { grep -q "$2" "$1"; }
res() { # NAME WHY (empty: passed)
	if [ -z "$2" ]; then pass "$1"; else fail "$1" "$2"; fi
}

if ! lib_start; then
	for s in $SCENARIOS; do fail "$s" "the library daemon did not start: $(tail -n 2 $LOG/library.log | tr '\n' ' ')"; done
	exit 1
fi

# ----- mtx status: the drives, the slots with their volume tags, the mail slot
why=""
mtx -f /dev/pmcm0 status >$LOG/status.txt 2>&1 || why="mtx status failed: $(tail -n 2 $LOG/status.txt | tr '\n' ' ')"
[ -z "$why" ] && ! has $LOG/status.txt "2 Drives, 7 Slots ( 1 Import/Export )" && why="wrong geometry: $(head -n 1 $LOG/status.txt)"
[ -z "$why" ] && ! has $LOG/status.txt "Data Transfer Element 0:Empty" && why="drive 0 not empty"
[ -z "$why" ] && ! has $LOG/status.txt "Storage Element 1:Full :VolumeTag=ABC001L6" && why="slot 1 does not hold ABC001L6"
[ -z "$why" ] && ! has $LOG/status.txt "Storage Element 4:Empty" && why="slot 4 not empty"
[ -z "$why" ] && ! has $LOG/status.txt "Storage Element 7 IMPORT/EXPORT:Empty" && why="no empty mail slot"
res library-status "$why"

# ----- load slot 1 into drive 0, tar through it, unload
why=""
mtx -f /dev/pmcm0 load 1 0 >$LOG/load.txt 2>&1 || why="mtx load 1 0 failed: $(tail -n 2 $LOG/load.txt | tr '\n' ' ')"
if [ -z "$why" ]; then
	mt -f /dev/npmtm0 status >$LOG/mt0.txt 2>&1
	has $LOG/mt0.txt ONLINE || why="drive 0 not ONLINE after the load: $(tr '\n' ' ' <$LOG/mt0.txt)"
fi
if [ -z "$why" ]; then
	tar -cf /dev/npmtm0 -C / bin sbin >$LOG/tar.txt 2>&1 || why="tar -c failed: $(tail -n 2 $LOG/tar.txt | tr '\n' ' ')"
fi
if [ -z "$why" ]; then
	mt -f /dev/npmtm0 rewind
	tar -tf /dev/npmtm0 >$LOG/tar.list 2>>$LOG/tar.txt || why="tar -t failed: $(tail -n 2 $LOG/tar.txt | tr '\n' ' ')"
	[ -z "$why" ] && [ "$(wc -l <$LOG/tar.list)" -ne "$( (cd / && find bin sbin) | wc -l)" ] && why="tar lists $(wc -l <$LOG/tar.list) entries"
fi
if [ -z "$why" ]; then
	mtx -f /dev/pmcm0 unload 1 0 >>$LOG/load.txt 2>&1 || why="mtx unload 1 0 failed: $(tail -n 2 $LOG/load.txt | tr '\n' ' ')"
	mtx -f /dev/pmcm0 status >$LOG/status2.txt 2>&1
	[ -z "$why" ] && ! has $LOG/status2.txt "Storage Element 1:Full :VolumeTag=ABC001L6" && why="ABC001L6 not back in slot 1"
	mt -f /dev/npmtm0 status >$LOG/mt0b.txt 2>&1
	[ -z "$why" ] && has $LOG/mt0b.txt ONLINE && why="drive 0 still ONLINE after the unload"
fi
res library-load-tar-unload "$why"

# ----- transfer between slots, load drive 1, its serial in INQUIRY and in
# the element status
why=""
mtx -f /dev/pmcm0 transfer 2 4 >$LOG/transfer.txt 2>&1 || why="mtx transfer 2 4 failed: $(tail -n 2 $LOG/transfer.txt | tr '\n' ' ')"
[ -z "$why" ] && { mtx -f /dev/pmcm0 load 4 1 >>$LOG/transfer.txt 2>&1 || why="mtx load 4 1 failed: $(tail -n 2 $LOG/transfer.txt | tr '\n' ' ')"; }
if [ -z "$why" ]; then
	mtx -f /dev/pmcm0 status >$LOG/status3.txt 2>&1
	has $LOG/status3.txt "Data Transfer Element 1:Full (Storage Element 4 Loaded):VolumeTag = ABC002L6" ||
		why="drive 1 does not hold ABC002L6 from slot 4: $(grep 'Transfer Element 1' $LOG/status3.txt)"
fi
if [ -z "$why" ]; then
	sg_inq -p 0x80 /dev/pmtm1 >$LOG/inq1.txt 2>&1
	has $LOG/inq1.txt HU1234567 || why="drive 1's INQUIRY serial: $(tr '\n' ' ' <$LOG/inq1.txt)"
fi
if [ -z "$why" ]; then
	echo data >/tmp/one
	tar -cf /dev/npmtm1 -C /tmp one 2>>$LOG/transfer.txt || why="tar to drive 1 failed"
fi
[ -z "$why" ] && { mtx -f /dev/pmcm0 unload 4 1 >>$LOG/transfer.txt 2>&1 || why="mtx unload 4 1 failed"; }
res library-transfer-and-drive-serial "$why"

# ----- what the library refuses: an empty source, a full destination, an
# element that does not exist; nothing moves
why=""
mtx -f /dev/pmcm0 status >$LOG/before.txt 2>&1
mtx -f /dev/pmcm0 load 5 0 >$LOG/err1.txt 2>&1 && why="a load from empty slot 5 succeeded"
[ -z "$why" ] && mtx -f /dev/pmcm0 transfer 1 3 >$LOG/err2.txt 2>&1 && why="a transfer into full slot 3 succeeded"
[ -z "$why" ] && mtx -f /dev/pmcm0 load 99 0 >$LOG/err3.txt 2>&1 && why="a load from slot 99 succeeded"
mtx -f /dev/pmcm0 status >$LOG/after.txt 2>&1
[ -z "$why" ] && ! cmp -s $LOG/before.txt $LOG/after.txt && why="the inventory changed"
res library-errors "$why"

# ----- SIGKILL, restart: the inventory is the daemon's truth
why=""
mtx -f /dev/pmcm0 load 3 0 >$LOG/restart.txt 2>&1 || why="mtx load 3 0 failed"
lib_signal KILL
rm -f $L/library.inventory.sock
if [ -z "$why" ]; then
	lib_start || why="the library did not restart: $(tail -n 2 $LOG/library.log | tr '\n' ' ')"
fi
if [ -z "$why" ]; then
	mtx -f /dev/pmcm0 status >$LOG/status4.txt 2>&1
	has $LOG/status4.txt "Data Transfer Element 0:Full (Storage Element 3 Loaded):VolumeTag = ABC003L6" ||
		why="drive 0 lost ABC003L6: $(grep 'Transfer Element 0' $LOG/status4.txt)"
	mt -f /dev/npmtm0 status >$LOG/mt0c.txt 2>&1
	[ -z "$why" ] && ! has $LOG/mt0c.txt ONLINE && why="drive 0 not ONLINE after the restart"
fi
[ -z "$why" ] && { mtx -f /dev/pmcm0 unload 3 0 >>$LOG/restart.txt 2>&1 || why="mtx unload 3 0 failed"; }
res library-restart-keeps-inventory "$why"

lib_signal TERM
# The images the drives wrote are valid.
for t in ABC001L6 ABC002L6; do
	pmtd verify $L/tapes/$t.tap >>$LOG/verify.txt 2>&1 || echo "verify $t failed" >>$LOG/verify.txt
done
cp $L/tapes/ABC001L6.tap /out/library-ABC001L6.tap 2>/dev/null
cat /out/results
! grep -q '^FAIL' /out/results
