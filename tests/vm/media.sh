# QEMU check of pmtd's tape and rmt media against real pmt masters: the
# probe (pmtd/examples/media_probe.rs, in /run/files) drives /dev/npmtm1
# with real read/write/mtio calls, and /dev/npmtm2 through rmt-dump over a
# local remote shell. Needs the units' daemons started here. One "PASS
# name" or "FAIL name: why" per check in /out/results.
#
# shellcheck shell=dash
. /usr/local/lib/pmt.sh

P=/run/files/media_probe
RSH=/run/files/rsh-local
chmod +x $P $RSH
echo "PLAN tape-device-round-trip tape-device-early-warning rmt-drive-through-rmt-dump tape-device-dead-daemon" >/out/results
mkdir -p /out/logs /tmp/m
result() { # NAME STATUS LOG
	if [ "$2" = 0 ]; then echo "PASS $1" >>/out/results; else echo "FAIL $1: $(tail -n 3 "$3" | tr '\n' ' ')" >>/out/results; fi
}

pmtd_start 1 --image /tmp/m/t1.tap
$P tape /dev/npmtm1 >/out/logs/tape.log 2>&1
rc=$?
pmtd_stop 1
[ $rc = 0 ] && pmtd verify /tmp/m/t1.tap >>/out/logs/tape.log 2>&1
result tape-device-round-trip $? /out/logs/tape.log

pmtd_start 1 --image /tmp/m/ew.tap --capacity 200K --early-warning 50K --write-after-enospc
$P ew /dev/npmtm1 >/out/logs/ew.log 2>&1
result tape-device-early-warning $? /out/logs/ew.log
pmtd_stop 1

pmtd_start 2 --image /tmp/m/r2.tap
$P rmt /dev/npmtm2 $RSH >/out/logs/rmt.log 2>&1
rc=$?
pmtd_stop 2
[ $rc = 0 ] && pmtd verify /tmp/m/r2.tap >>/out/logs/rmt.log 2>&1
result rmt-drive-through-rmt-dump $? /out/logs/rmt.log

pmtd_start 3 --image /tmp/m/d3.tap
$P dead /dev/npmtm3 "$PMTD_PID_3" >/out/logs/dead.log 2>&1
result tape-device-dead-daemon $? /out/logs/dead.log
eval "PMTD_PID_3="

cat /out/results
! grep -q '^FAIL' /out/results
