# QEMU scenarios without pmt.ko: pmtd makes the master nodes itself
# through CUSE (pmtd --cuse). Booted by scripts/qemu-test with vm-run --cuse
# and the disks of scenarios.sh; runs scenarios.sh and drive.sh as they are
# (every scenario but the slave protocol and rmmod, each named cuse-NAME),
# then what only CUSE has: records longer than one FUSE request, the daemon
# killed with nothing acknowledged lost, the nodes' mode and group, the
# daemon running as another user, the tape library through mtx (SG_IO
# through unrestricted ioctls).
#
# shellcheck shell=dash
. /usr/local/lib/pmt.sh

sh /run/files/scenarios.sh
sh /run/files/drive.sh

plan big-records killed-nothing-lost access user library
LOG=/out/logs
mkdir -p $LOG /mnt/a
mount -o ro /dev/vda /mnt/a 2>/dev/null

# 1. tar with 512 blocks per record: 256 KiB records, each written by one
#    write(2) that the kernel splits into FUSE requests of 128 KiB.
s=big-records
rm -f /out/big.tap
pmtd_start 0 --image /out/big.tap
mkdir -p /tmp/big
if ! timeout 300 tar -c -b 512 -f /dev/pmtm0 -C /mnt/a . >"$LOG/$s.c" 2>&1; then
	fail $s "tar -c failed: $(tail -n 2 "$LOG/$s.c" | tr '\n' ' ')"
elif ! timeout 300 tar -x -b 512 -f /dev/pmtm0 -C /tmp/big >"$LOG/$s.x" 2>&1; then
	fail $s "tar -x failed: $(tail -n 2 "$LOG/$s.x" | tr '\n' ' ')"
elif ! same_tree $s /mnt/a /tmp/big; then
	fail $s "extracted tree differs"
elif [ "$(dd if=/dev/pmtm0 bs=1M count=1 2>/dev/null | wc -c)" != 262144 ]; then
	fail $s "the first record read back is not 256 KiB"
else
	pass $s
fi
rm -rf /tmp/big
pmtd_stop 0

# 2. The daemon SIGKILLed while dd writes: dd fails at once, and every
#    record a write(2) acknowledged is in the image (writes return once the
#    drive stored them; a CUSE close reports no error).
s=killed-nothing-lost
rm -f /out/lost.tap
pmtd_start 0 --image /out/lost.tap
dd if=/dev/zero of=/dev/pmtm0 bs=10240 count=100000 2>"$LOG/$s.dd" &
dpid=$!
i=0
while [ $i -lt 600 ] && [ "$(stat -c %s /out/lost.tap 2>/dev/null || echo 0)" -lt 2000000 ]; do
	sleep 0.05
	i=$((i + 1))
done
pmtd_kill 0
t0=$(date +%s)
i=0
while kill -0 $dpid 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
if kill -0 $dpid 2>/dev/null; then
	fail $s "dd still running after the daemon died"
	kill -9 $dpid
else
	wait $dpid
	drc=$?
	acked=$(sed -n 's/^\([0-9]*\)+0 records out.*/\1/p' "$LOG/$s.dd")
	stored=$(($(stat -c %s /out/lost.tap) / (10240 + 8)))
	if [ $drc = 0 ]; then
		fail $s "dd exited 0 although the daemon died"
	elif [ -z "$acked" ] || [ "$acked" -lt 100 ]; then
		fail $s "dd never got going: $(tail -n 3 "$LOG/$s.dd" | tr '\n' ' ')"
	elif [ "$stored" -lt "$acked" ]; then
		fail $s "$acked records acknowledged, $stored stored"
	elif [ $(($(date +%s) - t0)) -gt 3 ]; then
		fail $s "dd took $(($(date +%s) - t0))s to fail"
	else
		echo "$acked acknowledged, $stored stored" >"$LOG/$s"
		pass $s
	fi
fi

# 3. The nodes: 0660, group tape by default; a user outside the group is
#    refused, one inside reads; --mode and --group change them.
s=access
why=""
echo 'op:x:1000:26::/:/bin/sh' >>/etc/passwd
echo 'other:x:1001:1001::/:/bin/sh' >>/etc/passwd
echo 'other:x:1001:' >>/etc/group
pmtd_start 0 --image /tmp/access.tap
[ "$(stat -c '%a %G' /dev/pmtm0)" = "660 tape" ] || why="${why}pmtm0 is $(stat -c '%a %G' /dev/pmtm0); "
[ "$(stat -c '%a %G' /dev/npmtm0)" = "660 tape" ] || why="${why}npmtm0 is $(stat -c '%a %G' /dev/npmtm0); "
su other -c 'mt -f /dev/npmtm0 status' >"$LOG/$s.other" 2>&1 &&
	why="${why}a user outside group tape opened the tape; "
grep -q 'Permission denied' "$LOG/$s.other" || why="${why}not EACCES: $(head -n 1 "$LOG/$s.other"); "
su op -c 'mt -f /dev/npmtm0 status' >"$LOG/$s.op" 2>&1 ||
	why="${why}group tape cannot open the tape: $(head -n 1 "$LOG/$s.op"); "
pmtd_stop 0
pmtd_start 0 --image /tmp/access.tap --mode 600 --group ""
[ "$(stat -c '%a %U %G' /dev/pmtm0)" = "600 root root" ] || why="${why}--mode 600: $(stat -c '%a %U %G' /dev/pmtm0); "
pmtd_stop 0
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# 4. pmtd --user: it runs as that user once the nodes exist, and long
#    records still work (it keeps CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH,
#    and only those).
s=user
why=""
rm -f /out/user.tap
pmtd_start 0 --image /out/user.tap --user op
pid=$(eval echo \$PMTD_PID_0)
grep -q '^Uid:[[:space:]]*1000[[:space:]]' "/proc/$pid/status" || why="${why}pmtd's uid: $(grep '^Uid' "/proc/$pid/status"); "
grep -q '^CapEff:[[:space:]]*0000000000080004$' "/proc/$pid/status" || why="${why}pmtd's capabilities: $(grep '^CapEff' "/proc/$pid/status"); "
head -c 600000 /dev/urandom >/tmp/rec
if ! dd if=/tmp/rec of=/dev/npmtm0 bs=300000 2>"$LOG/$s.dd"; then
	why="${why}writing 300 KB records failed: $(tail -n 1 "$LOG/$s.dd"); "
fi
mt -f /dev/npmtm0 rewind
[ "$(dd if=/dev/npmtm0 bs=1M count=1 2>/dev/null | wc -c)" = 300000 ] || why="${why}the record read back is not 300000 bytes; "
pmtd_stop 0
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# 5. The tape library without the module: pmtd library --cuse makes the
#    changer's node /dev/pmcm0 and its drives' (/dev/pmtm0, /dev/pmtm1 and
#    their n-nodes) and serves them with the library daemon. mtx moves
#    cartridges through SG_IO (CUSE's unrestricted ioctls), a tape written
#    in drive 0 is read back in drive 1, sg_inq sees a medium changer and a
#    tape drive with its serial, the operators' socket answers; SIGKILLed,
#    the nodes go at once and a restart finds the cartridge in drive 1.
s=library
why=""
mkdir -p /tmp/lib/tapes /tmp/lib/x
printf '%s\n' 'changer = "/dev/pmcs0"' 'slots = 4' 'import-export = 1' 'tapes = "/tmp/lib/tapes"' \
	'[[drive]]' 'device = "/dev/pmts0"' '[[drive]]' 'device = "/dev/pmts1"' \
	'[[cartridges]]' 'barcodes = "ABC%03dL6"' 'count = 2' >/tmp/lib/lib.toml
lib_start() { # waits for the last node
	pmtd library --config /tmp/lib/lib.toml --cuse >>"$LOG/$s.daemon" 2>&1 &
	lpid=$!
	i=0
	while [ ! -e /dev/npmtm1 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	[ -e /dev/npmtm1 ] || why="${why}the library's nodes did not appear: $(tail -n 2 "$LOG/$s.daemon" | tr '\n' ' '); "
}
lib_start
[ "$(stat -c '%a %G' /dev/pmcm0 2>&1)" = "660 tape" ] || why="${why}pmcm0 is $(stat -c '%a %G' /dev/pmcm0 2>&1); "
mtx -f /dev/pmcm0 status >"$LOG/$s.status" 2>&1 || why="${why}mtx status failed: $(tail -n 1 "$LOG/$s.status"); "
grep -q 'Data Transfer Element 0:Empty' "$LOG/$s.status" || why="${why}drive 0 not empty; "
grep -q 'Storage Element 1:Full :VolumeTag=ABC001L6' "$LOG/$s.status" || why="${why}no ABC001L6 in slot 1; "
mtx -f /dev/pmcm0 load 1 0 >"$LOG/$s.load" 2>&1 || why="${why}mtx load 1 0 failed: $(tail -n 1 "$LOG/$s.load"); "
mt -f /dev/npmtm0 status 2>&1 | grep -q ONLINE || why="${why}drive 0 not ONLINE after the load; "
timeout 300 tar -c -b 20 -f /dev/pmtm0 -C /mnt/a . >"$LOG/$s.c" 2>&1 || why="${why}tar -c in drive 0 failed: $(tail -n 1 "$LOG/$s.c"); "
mtx -f /dev/pmcm0 unload 1 0 >"$LOG/$s.unload" 2>&1 || why="${why}mtx unload 1 0 failed: $(tail -n 1 "$LOG/$s.unload"); "
mtx -f /dev/pmcm0 load 1 1 >>"$LOG/$s.load" 2>&1 || why="${why}mtx load 1 1 failed: $(tail -n 1 "$LOG/$s.load"); "
if ! timeout 300 tar -x -b 20 -f /dev/pmtm1 -C /tmp/lib/x >"$LOG/$s.x" 2>&1; then
	why="${why}tar -x in drive 1 failed: $(tail -n 1 "$LOG/$s.x"); "
elif ! same_tree $s /mnt/a /tmp/lib/x; then
	why="${why}the tree read in drive 1 differs; "
fi
sg_inq /dev/pmcm0 >"$LOG/$s.inq" 2>&1 || why="${why}sg_inq on the changer failed: $(tail -n 1 "$LOG/$s.inq"); "
grep -q 'Vendor identification: PMT' "$LOG/$s.inq" || why="${why}the changer's vendor is not PMT; "
grep -q 'medium changer' "$LOG/$s.inq" || why="${why}not a medium changer; "
sg_inq -p 0x80 /dev/npmtm1 >"$LOG/$s.serial" 2>&1 || why="${why}sg_inq on drive 1 failed: $(tail -n 1 "$LOG/$s.serial"); "
grep -q 'PMTD0001' "$LOG/$s.serial" || why="${why}drive 1's serial: $(grep -i serial "$LOG/$s.serial" | head -n 1); "
pmtd library --config /tmp/lib/lib.toml status >"$LOG/$s.op" 2>&1 || why="${why}pmtd library status failed; "
grep -q ABC001L6 "$LOG/$s.op" || why="${why}the operators' status lacks ABC001L6; "
kill -9 $lpid
wait $lpid 2>/dev/null
lib_nodes() { ls /dev/pmcm0 /dev/pmtm0 /dev/npmtm0 /dev/pmtm1 /dev/npmtm1 2>/dev/null; }
i=0
while [ -n "$(lib_nodes)" ] && [ $i -lt 40 ]; do sleep 0.05; i=$((i + 1)); done
[ -n "$(lib_nodes)" ] && why="${why}$(lib_nodes | tr '\n' ' ')outlived the daemon; "
lib_start
mtx -f /dev/pmcm0 status >"$LOG/$s.status2" 2>&1 || why="${why}mtx status after the restart failed; "
grep -q 'Data Transfer Element 1:Full' "$LOG/$s.status2" || why="${why}after the restart drive 1 is not full; "
mt -f /dev/npmtm1 status 2>&1 | grep -q ONLINE || why="${why}drive 1 not ONLINE after the restart; "
kill $lpid
wait $lpid || why="${why}SIGTERM: exit $?; "
[ -n "$(lib_nodes)" ] && why="${why}$(lib_nodes | tr '\n' ' ')outlived the daemon's SIGTERM; "
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi
exit 0
