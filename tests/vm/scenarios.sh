# QEMU scenarios: real programs against /dev/pmtm0 with pmtd on /dev/pmts0
# (or, booted with vm-run --cuse, on the nodes pmtd makes through CUSE: the
# same scenarios but the slave protocol and rmmod, named cuse-NAME).
# Run by scripts/qemu-test through scripts/vm-run with three disks:
#   /dev/vda  fsa: varied files (empty, odd sizes, sparse, links, deep dirs)
#   /dev/vdb  fsb: a second, different filesystem
#   /dev/vdc  fsbig: 64 MB of data (the daemon is killed while dumping it)
# Prints "PASS name" or "FAIL name: why" per scenario (also in /out/results).
# Program output goes to /out/logs, never to the console, which the harness
# scans for kernel warnings.
#
# shellcheck shell=dash
. /usr/local/lib/pmt.sh

SCENARIOS="slave-protocol dump-restore two-dumps-restore-s2 tar-b20 tar-b128 mt-no-rewind no-daemon daemon-killed-mid-dump rmmod"
cuse && SCENARIOS="dump-restore two-dumps-restore-s2 tar-b20 tar-b128 mt-no-rewind no-daemon daemon-killed-mid-dump"
# shellcheck disable=SC2086
plan $SCENARIOS
mkdir -p /out/logs /mnt/a /mnt/b /mnt/big
LOG=/out/logs


# 0. The slave device and the protocol, seen by a hand-written daemon
#    (tests/vm/slave_probe.c) on unit 2.
s=slave-protocol
if cuse; then
	:
elif timeout 120 /run/files/slave_probe 2 >"$LOG/$s" 2>&1; then
	pass $s
else
	fail $s "$(grep FAIL "$LOG/$s" | head -n 1)"
fi

mount -o ro /dev/vda /mnt/a || echo "cannot mount /dev/vda"
mount -o ro /dev/vdb /mnt/b || echo "cannot mount /dev/vdb"

# 1. Level-0 dump of fsa to /dev/pmtm0, pmtd storing the image; restore -r
#    from the same image with a new pmtd; the trees are identical.
s=dump-restore
rm -f /out/dump.tap
pmtd_start 0 --image /out/dump.tap
if ! timeout 300 dump -0 -f /dev/pmtm0 /dev/vda >"$LOG/$s.dump" 2>&1; then
	fail $s "dump failed: $(tail -n 2 "$LOG/$s.dump" | tr '\n' ' ')"
else
	pmtd_stop 0
	pmtd_start 0 --image /out/dump.tap
	mkdir -p /tmp/ra && cd /tmp/ra || exit 1
	if ! timeout 300 restore -r -f /dev/pmtm0 >"$LOG/$s.restore" 2>&1; then
		fail $s "restore failed: $(tail -n 2 "$LOG/$s.restore" | tr '\n' ' ')"
	elif ! same_tree $s /mnt/a /tmp/ra; then
		fail $s "restored tree differs ($(wc -l <"$LOG/$s.diff") diff lines)"
	else
		# Holes: the sparse file must not come back fully allocated.
		sz=$(stat -c %s /tmp/ra/sparse/holes.img)
		blk=$(stat -c %b /tmp/ra/sparse/holes.img)
		if [ $((blk * 512)) -ge $((sz / 2)) ]; then
			fail $s "sparse file restored fully allocated ($blk blocks)"
		else
			pass $s
		fi
	fi
	cd / || exit 1
	rm -rf /tmp/ra
fi
pmtd_stop 0

# 2. Two dumps on one tape through the no-rewind node; restore -s 2 (MTFSF)
#    brings back the second.
s=two-dumps-restore-s2
rm -f /out/two.tap
pmtd_start 0 --image /out/two.tap
if ! timeout 300 dump -0 -f /dev/npmtm0 /dev/vda >"$LOG/$s.dump1" 2>&1 ||
	! timeout 300 dump -0 -f /dev/npmtm0 /dev/vdb >"$LOG/$s.dump2" 2>&1; then
	fail $s "dump failed"
elif [ "$(mtpos /dev/npmtm0)" != "2,0" ]; then
	fail $s "after two dumps the tape is at $(mtpos /dev/npmtm0), expected 2,0"
else
	mt -f /dev/npmtm0 rewind
	mkdir -p /tmp/rb && cd /tmp/rb || exit 1
	if ! timeout 300 restore -r -s 2 -f /dev/pmtm0 >"$LOG/$s.restore" 2>&1; then
		fail $s "restore -s 2 failed: $(tail -n 2 "$LOG/$s.restore" | tr '\n' ' ')"
	elif ! same_tree $s /mnt/b /tmp/rb; then
		fail $s "restored tree differs from the second filesystem"
	else
		pass $s
	fi
	cd / || exit 1
	rm -rf /tmp/rb
fi
pmtd_stop 0

# 3-4. GNU tar with 20 and 128 blocks per record, extracted back.
for b in 20 128; do
	s=tar-b$b
	rm -f "/out/tar$b.tap"
	pmtd_start 0 --image "/out/tar$b.tap"
	mkdir -p "/tmp/t$b"
	if ! timeout 300 tar -c -b $b -f /dev/pmtm0 -C /mnt/a . >"$LOG/$s.c" 2>&1; then
		fail $s "tar -c failed: $(tail -n 2 "$LOG/$s.c" | tr '\n' ' ')"
	elif ! timeout 300 tar -x -b $b -f /dev/pmtm0 -C "/tmp/t$b" >"$LOG/$s.x" 2>&1; then
		fail $s "tar -x failed: $(tail -n 2 "$LOG/$s.x" | tr '\n' ' ')"
	elif ! same_tree $s /mnt/a "/tmp/t$b"; then
		fail $s "extracted tree differs"
	else
		pass $s
	fi
	rm -rf "/tmp/t$b"
	pmtd_stop 0
done

# 5. mt on the no-rewind node: status, weof, fsf, bsf, rewind, eod, with the
#    file and block numbers st reports after each step; the data of a file
#    read back after positioning.
s=mt-no-rewind
rm -f /out/mt.tap
pmtd_start 0 --image /out/mt.tap
why=""
expect() { # STEP WANT
	got=$(mtpos /dev/npmtm0)
	[ "$got" = "$2" ] || why="${why}after $1: $got, expected $2; "
}
expect open 0,0
for i in 1 2 3; do
	dd if=/dev/urandom of="/tmp/f$i" bs=1024 count=$((i * 3)) 2>/dev/null
	dd if="/tmp/f$i" of=/dev/npmtm0 bs=1024 2>>"$LOG/$s.dd"
done
expect "three files" 3,0
mt -f /dev/npmtm0 weof 2 || why="${why}weof failed; "
expect "weof 2" 5,0
mt -f /dev/npmtm0 rewind || why="${why}rewind failed; "
expect rewind 0,0
mt -f /dev/npmtm0 status | grep -q ' BOT ' || why="${why}no BOT at the beginning; "
mt -f /dev/npmtm0 fsf 2 || why="${why}fsf failed; "
expect "fsf 2" 2,0
mt -f /dev/npmtm0 bsf 1 || why="${why}bsf failed; "
expect "bsf 1" 1,-1
mt -f /dev/npmtm0 fsf 1 || why="${why}fsf failed; "
expect "fsf 1" 2,0
dd if=/dev/npmtm0 of=/tmp/back bs=32k 2>>"$LOG/$s.dd"
cmp -s /tmp/back /tmp/f3 || why="${why}file 2 read back differs; "
expect "read file 2" 3,0
mt -f /dev/npmtm0 eod || why="${why}eod failed; "
expect eod 5,-1
mt -f /dev/npmtm0 status | grep -q 'EOD' || why="${why}no EOD at end of data; "
mt -f /dev/npmtm0 rewind
mt -f /dev/npmtm0 fsf 1
dd if=/dev/npmtm0 of=/tmp/back bs=32k 2>>"$LOG/$s.dd"
cmp -s /tmp/back /tmp/f2 || why="${why}file 1 read back differs; "
mt -f /dev/npmtm0 status >"$LOG/$s.status" 2>&1
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi
rm -f /tmp/f1 /tmp/f2 /tmp/f3 /tmp/back
pmtd_stop 0

# 6. No daemon: an open fails at once with EIO; O_NONBLOCK (mt status)
#    succeeds and shows the drive offline. Through CUSE no daemon is no
#    device: the nodes went with it and an open fails at once.
s=no-daemon
why=""
t0=$(date +%s)
if cuse; then
	[ -e /dev/pmtm0 ] || [ -e /dev/npmtm0 ] && why="${why}nodes left behind by the daemon; "
	dd if=/dev/pmtm0 of=/dev/null bs=10240 count=1 2>"$LOG/$s.dd" && why="${why}read without daemon succeeded; "
else
	if dd if=/dev/pmtm1 of=/dev/null bs=10240 count=1 2>"$LOG/$s.dd"; then
		why="${why}read without daemon succeeded; "
	fi
	grep -q 'Input/output error' "$LOG/$s.dd" || why="${why}not EIO: $(head -n 1 "$LOG/$s.dd"); "
	mt -f /dev/pmtm1 status >"$LOG/$s.status" 2>&1 || why="${why}mt status failed; "
	grep -q ONLINE "$LOG/$s.status" && why="${why}offline drive shows ONLINE; "
fi
[ $(($(date +%s) - t0)) -le 2 ] || why="${why}took $(($(date +%s) - t0))s; "
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# 7. The daemon is SIGKILLed in the middle of a dump: dump reports an error
#    within a few seconds and nothing hangs.
s=daemon-killed-mid-dump
rm -f /out/kill.tap
pmtd_start 0 --image /out/kill.tap
dump -0 -f /dev/pmtm0 /dev/vdc >"$LOG/$s.dump" 2>&1 &
dpid=$!
i=0
while [ $i -lt 600 ] && [ "$(stat -c %s /out/kill.tap 2>/dev/null || echo 0)" -lt 4000000 ]; do
	sleep 0.05
	i=$((i + 1))
done
size_at_kill=$(stat -c %s /out/kill.tap 2>/dev/null || echo 0)
pmtd_kill 0
t0=$(date +%s)
i=0
while kill -0 $dpid 2>/dev/null && [ $i -lt 200 ]; do
	sleep 0.1
	i=$((i + 1))
done
if kill -0 $dpid 2>/dev/null; then
	fail $s "dump still running $(($(date +%s) - t0))s after the daemon died"
	kill -9 $dpid 2>/dev/null
else
	wait $dpid
	drc=$?
	elapsed=$(($(date +%s) - t0))
	if [ "$size_at_kill" -lt 4000000 ]; then
		fail $s "dump never got going (image $size_at_kill bytes)"
	elif [ $drc = 0 ]; then
		fail $s "dump exited 0 although the daemon died"
	elif ! grep -qi 'error' "$LOG/$s.dump"; then
		fail $s "dump did not report an error"
	elif [ $elapsed -gt 5 ]; then
		fail $s "dump took ${elapsed}s to fail"
	else
		pass $s
	fi
fi

# 8. rmmod is refused while a device is held, and works once none is.
cuse && exit 0
s=rmmod
why=""
pmtd_start 0 --image /tmp/rm.tap
rmmod pmt 2>/dev/null && why="${why}unloaded while the slave was open; "
pmtd_stop 0
umount /mnt/a /mnt/b 2>/dev/null
rmmod pmt 2>"$LOG/$s.rmmod" || why="${why}rmmod failed: $(cat "$LOG/$s.rmmod"); "
[ -e /dev/pmtm0 ] && why="${why}device nodes left behind; "
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi
exit 0
