# QEMU scenarios for the drive: volumes, end of medium, block modes, every
# mt command, other archivers. Run by scripts/qemu-test through
# scripts/vm-run with /dev/vda = fsa (varied files) and the probes in
# /run/files. One "PASS name" or "FAIL name: why" per scenario.
#
# shellcheck shell=dash
. /usr/local/lib/pmt.sh

SCENARIOS="dump-three-volumes tar-multi-volume cpio early-warning-sequence fixed-block-tar fixed-block-dd mt-every-command st-options write-protected no-medium compat32-ioctls"
# shellcheck disable=SC2086
plan $SCENARIOS
LOG=/out/logs
mkdir -p $LOG /mnt/a /tmp/vols
mount -o ro /dev/vda /mnt/a || echo "cannot mount /dev/vda"

# Volume-change scripts, as an operator would set them up. dump and tar just
# go on (the autoloader changed the tape at the rewind and close after early
# warning); readers eject the volume they finished so the next one loads.
cat >/tmp/eot.sh <<'EOF'
#!/bin/sh
echo "end of volume $2 on $1" >>/out/logs/volumes.log
exit 0
EOF
cat >/tmp/bot.sh <<'EOF'
#!/bin/sh
echo "restore wants volume $2 on $1" >>/out/logs/volumes.log
[ "$2" -gt 1 ] && mt -f "$1" offline
exit 0
EOF
cat >/tmp/tarvol.sh <<'EOF'
#!/bin/sh
echo "tar $TAR_SUBCOMMAND: next volume $TAR_VOLUME on $TAR_ARCHIVE" >>/out/logs/volumes.log
case $TAR_SUBCOMMAND in
-c) ;;
*) mt -f "$TAR_ARCHIVE" offline ;;
esac
exit 0
EOF
chmod +x /tmp/eot.sh /tmp/bot.sh /tmp/tarvol.sh

# 1. dump across three volumes of 3 MB, changed by pmtd's autoloader at each
#    end of medium; restore across them. (No early-warning zone: with one,
#    dump's retry after ENOSPC puts records on both volumes, and restore
#    0.4b47 miscounts such duplicates from the third volume on.)
s=dump-three-volumes
rm -rf /out/dumpvol && mkdir -p /out/dumpvol
vols="--image /out/dumpvol/v1.tap --image /out/dumpvol/v2.tap --image /out/dumpvol/v3.tap --image /out/dumpvol/v4.tap"
# shellcheck disable=SC2086
pmtd_start 0 $vols --capacity 3M
if ! timeout 300 dump -0 -F /tmp/eot.sh -f /dev/pmtm0 /dev/vda >"$LOG/$s.dump" 2>&1; then
	fail $s "dump failed: $(tail -n 2 "$LOG/$s.dump" | tr '\n' ' ')"
else
	pmtd_stop 0
	nvol=$(grep -c 'Volume [0-9]* started' "$LOG/$s.dump")
	# shellcheck disable=SC2086
	pmtd_start 0 $vols --capacity 3M
	mkdir -p /tmp/r3 && cd /tmp/r3 || exit 1
	if [ "$nvol" != 3 ]; then
		fail $s "dump used $nvol volumes, expected 3"
	elif ! timeout 300 restore -r -F /tmp/bot.sh -f /dev/pmtm0 >"$LOG/$s.restore" 2>&1; then
		fail $s "restore failed: $(tail -n 2 "$LOG/$s.restore" | tr '\n' ' ')"
	elif ! same_tree $s /mnt/a /tmp/r3; then
		fail $s "restored tree differs"
	else
		pass $s
	fi
	cd / && rm -rf /tmp/r3
fi
pmtd_stop 0

# 2. GNU tar -M: a multi-volume archive written and read back.
s=tar-multi-volume
rm -rf /out/tarvol && mkdir -p /out/tarvol /tmp/tm
vols="--image /out/tarvol/v1.tap --image /out/tarvol/v2.tap --image /out/tarvol/v3.tap --image /out/tarvol/v4.tap"
# shellcheck disable=SC2086
pmtd_start 0 $vols --capacity 6M --early-warning 512K
if ! timeout 300 tar -c -M -F /tmp/tarvol.sh -b 20 -f /dev/pmtm0 -C /mnt/a . >"$LOG/$s.c" 2>&1; then
	fail $s "tar -c -M failed: $(tail -n 2 "$LOG/$s.c" | tr '\n' ' ')"
else
	pmtd_stop 0
	# shellcheck disable=SC2086
	pmtd_start 0 $vols --capacity 6M --early-warning 512K
	n=$(ls /out/tarvol/*.tap | wc -l)
	if ! timeout 300 tar -x -M -F /tmp/tarvol.sh -b 20 -f /dev/pmtm0 -C /tmp/tm >"$LOG/$s.x" 2>&1; then
		fail $s "tar -x -M failed: $(tail -n 2 "$LOG/$s.x" | tr '\n' ' ')"
	elif [ "$(grep -c 'tar -c' "$LOG/volumes.log")" -lt 2 ]; then
		fail $s "the archive did not span three volumes ($n images)"
	elif ! same_tree $s /mnt/a /tmp/tm; then
		fail $s "extracted tree differs"
	else
		pass $s
	fi
fi
rm -rf /tmp/tm
pmtd_stop 0

# 3. cpio -o to the tape, cpio -i back.
s=cpio
rm -f /out/cpio.tap
mkdir -p /tmp/cp
pmtd_start 0 --image /out/cpio.tap
if ! (cd /mnt/a && find . ! -name . | timeout 300 cpio -o -H newc -C 10240 -O /dev/pmtm0) >"$LOG/$s.o" 2>&1; then
	fail $s "cpio -o failed: $(tail -n 2 "$LOG/$s.o" | tr '\n' ' ')"
elif ! (cd /tmp/cp && timeout 300 cpio -i -d -m -H newc -C 10240 -I /dev/pmtm0) >"$LOG/$s.i" 2>&1; then
	fail $s "cpio -i failed: $(tail -n 2 "$LOG/$s.i" | tr '\n' ' ')"
else
	# cpio sets a directory's time before filling it: compare without them.
	manifest /mnt/a | awk -F'|' '$2 ~ /directory/ {$8 = "-"} {print}' >"$LOG/$s.src"
	manifest /tmp/cp | awk -F'|' '$2 ~ /directory/ {$8 = "-"} {print}' >"$LOG/$s.dst"
	if ! diff "$LOG/$s.src" "$LOG/$s.dst" >"$LOG/$s.diff" || [ "$(wc -l <"$LOG/$s.src")" -lt 20 ]; then
		fail $s "extracted tree differs"
	else
		pass $s
	fi
fi
rm -rf /tmp/cp
pmtd_stop 0

# 4. Early warning, seen by a program: the exact sequence of write results
#    and GMT_EOT (tests/vm/ew_probe.c).
s=early-warning-sequence
rm -f /out/ew.tap
pmtd_start 0 --image /out/ew.tap --capacity 400K --early-warning 100K --write-after-enospc
if timeout 60 /run/files/ew_probe /dev/pmtm0 >"$LOG/$s" 2>&1; then
	pass $s
else
	fail $s "$(grep -E 'FAIL|sequence' "$LOG/$s" | tr '\n' ' ')"
fi
pmtd_stop 0

# 5. Fixed-block mode: tar with 20 blocks per write on 512-byte blocks.
s=fixed-block-tar
rm -f /out/fixed.tap
mkdir -p /tmp/fx
pmtd_start 0 --image /out/fixed.tap
why=""
mt -f /dev/npmtm0 setblk 512 || why="${why}setblk failed; "
mt -f /dev/npmtm0 status | grep -q 'Tape block size 512 bytes' || why="${why}status does not show 512; "
timeout 300 tar -c -b 20 -f /dev/npmtm0 -C /mnt/a ./sizes ./data ./links >"$LOG/$s.c" 2>&1 || why="${why}tar -c failed; "
blocks=$(mtpos /dev/npmtm0)
mt -f /dev/npmtm0 rewind
timeout 300 tar -x -b 20 -f /dev/npmtm0 -C /tmp/fx >"$LOG/$s.x" 2>&1 || why="${why}tar -x failed; "
# Path, type, mode, time, size and contents (a subtree has fewer links).
subtree() { manifest "$1" | grep -E '^\./(sizes|data|links)(/|\|)' | awk -F'|' '{print $1 "|" $2 "|" $3 "|" $8 "|" $9 "|" $10}'; }
subtree /mnt/a >"$LOG/$s.src"
subtree /tmp/fx >"$LOG/$s.dst"
[ "$(wc -l <"$LOG/$s.src")" -gt 15 ] || why="${why}source listing too small; "
diff "$LOG/$s.src" "$LOG/$s.dst" >"$LOG/$s.diff" || why="${why}extracted tree differs; "
case $blocks in 1,0) ;; *) why="${why}after tar at $blocks, expected 1,0; " ;; esac
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi
rm -rf /tmp/fx

# 6. Fixed-block mode with dd: writes must be whole blocks; reads may span
#    blocks.
s=fixed-block-dd
why=""
dd if=/dev/urandom of=/tmp/rand bs=4096 count=25 2>/dev/null
mt -f /dev/npmtm0 eod
dd if=/tmp/rand of=/dev/npmtm0 bs=4096 2>"$LOG/$s.w" || why="${why}dd write failed; "
if dd if=/tmp/rand of=/dev/npmtm0 bs=1000 count=1 2>"$LOG/$s.bad"; then
	why="${why}a write of 1000 bytes on 512-byte blocks succeeded; "
fi
grep -q 'Invalid argument' "$LOG/$s.bad" || why="${why}not EINVAL: $(head -n 1 "$LOG/$s.bad"); "
mt -f /dev/npmtm0 rewind
mt -f /dev/npmtm0 fsf 1
dd if=/dev/npmtm0 of=/tmp/back bs=1000 2>"$LOG/$s.r" || why="${why}dd read failed; "
cmp -s /tmp/rand /tmp/back || why="${why}data read back in 1000-byte reads differs; "
mt -f /dev/npmtm0 setblk 0
mt -f /dev/npmtm0 status | grep -q 'Tape block size 0 bytes' || why="${why}not back to variable; "
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi
rm -f /tmp/rand /tmp/back
pmtd_stop 0

# 7. Every mt-st command that makes sense for a tape without partitions,
#    with the file and block numbers st reports after each.
s=mt-every-command
rm -f /out/mtall.tap /out/mtall2.tap
pmtd_start 0 --image /out/mtall.tap --image /out/mtall2.tap
why=""
D=/dev/npmtm0
step() { # WANT COMMAND... : runs mt COMMAND, then checks "file,block"
	want=$1
	shift
	mt -f $D "$@" >>"$LOG/$s.out" 2>&1 || why="${why}mt $* failed; "
	got=$(mtpos $D)
	[ "$got" = "$want" ] || why="${why}after mt $*: $got, expected $want; "
}
refused() { # COMMAND... : must fail (exit status 2)
	mt -f $D "$@" >>"$LOG/$s.out" 2>&1
	[ $? = 2 ] || why="${why}mt $* did not fail; "
}
for i in 1 2 3; do
	dd if=/dev/zero of=/tmp/f bs=1024 count=$((i * 3)) 2>/dev/null
	dd if=/tmp/f of=$D bs=1024 2>/dev/null
done
step 3,0 status
[ "$(mt -f $D tell)" = "At block 21." ] || why="${why}tell: $(mt -f $D tell); "
step 4,0 weof 1
step 5,0 eof 1
step 0,0 rewind
step 1,0 fsf 1
step 1,2 fsr 2
step 1,1 bsr 1
step 1,-1 fsfm 1
step 1,0 bsfm 1
step 2,0 asf 2
step 5,-1 eod
step 5,-1 seod
step 3,-1 bsf 2
step -1,-1 seek 4
[ "$(mt -f $D tell)" = "At block 4." ] || why="${why}tell after seek: $(mt -f $D tell); "
step 0,0 rewind
refused fss 1
refused bss 1
refused wset 1
step 0,0 setblk 1024
mt -f $D status | grep -q 'Tape block size 1024 bytes' || why="${why}setblk not in status; "
step 0,0 setblk 0
step 0,0 setdensity 0x13
mt -f $D status | grep -q 'Density code 0x13' || why="${why}density not in status; "
step 0,0 drvbuffer 1
step 0,0 compression 1
step 0,0 compression 0
step 0,0 lock
step 0,0 unlock
step 0,0 load
step 0,0 retension
step 0,0 stoptions buffer-writes async-writes read-ahead can-bsr
step 0,0 sttimeout 900
step 0,0 stlongtimeout 14000
step 0,0 stwrthreshold 10
step 0,0 stsetcln 0
step 0,0 defblksize -1
step 0,0 defdensity -1
step 0,0 defdrvbuffer -1
step 0,0 defcompression -1
refused setpartition 1
refused mkpartition 1
step 2,0 asf 2
step 2,0 erase
step 0,0 rewind
step 2,-1 eod
mt -f $D densities >>"$LOG/$s.out" 2>&1 || why="${why}densities failed; "
# offline: the autoloader loads the second volume, an empty one.
mt -f $D offline || why="${why}offline failed; "
mt -f $D status >"$LOG/$s.vol2" 2>&1
grep -q 'BOT ONLINE' "$LOG/$s.vol2" || why="${why}no new volume after offline: $(tail -n 1 "$LOG/$s.vol2"); "
dd if=/dev/zero of=$D bs=512 count=1 2>/dev/null || why="${why}write to volume 2 failed; "
mt -f $D rewoffl || why="${why}rewoffl failed; "
mt -f $D status >"$LOG/$s.empty" 2>&1
grep -q 'DR_OPEN' "$LOG/$s.empty" || why="${why}empty drive does not show DR_OPEN; "
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi
pmtd_stop 0

# 8. Driver options that change semantics: two filemarks, fast end of data,
#    System V close after reading.
s=st-options
rm -f /out/opts.tap
pmtd_start 0 --image /out/opts.tap
why=""
D=/dev/npmtm0
dd if=/dev/zero of=/tmp/f bs=1024 count=2 2>/dev/null
dd if=/tmp/f of=$D bs=1024 2>/dev/null
mt -f $D stsetoptions two-fms || why="${why}stsetoptions failed; "
dd if=/tmp/f of=$D bs=1024 2>/dev/null
# Two filemarks written, the head between them.
[ "$(mtpos $D)" = "2,0" ] || why="${why}after a two-fms close: $(mtpos $D), expected 2,0; "
[ "$(mt -f $D tell)" = "At block 6." ] || why="${why}two-fms close left the head at $(mt -f $D tell); "
mt -f $D stclearoptions two-fms
mt -f $D stsetoptions fast-eod
mt -f $D rewind
mt -f $D eod
[ "$(mtpos $D)" = "-1,-1" ] || why="${why}fast-eod: $(mtpos $D), expected -1,-1; "
mt -f $D stclearoptions fast-eod
mt -f $D rewind
mt -f $D eod
[ "$(mtpos $D)" = "3,-1" ] || why="${why}eod counting files: $(mtpos $D), expected 3,-1; "
# BSD close after reading: the head stays; System V: on to the next file.
mt -f $D rewind
dd if=$D of=/dev/null bs=1024 count=1 2>/dev/null
[ "$(mtpos $D)" = "0,1" ] || why="${why}BSD close after reading: $(mtpos $D), expected 0,1; "
mt -f $D stsetoptions sysv
mt -f $D rewind
dd if=$D of=/dev/null bs=1024 count=1 2>/dev/null
[ "$(mtpos $D)" = "1,0" ] || why="${why}System V close after reading: $(mtpos $D), expected 1,0; "
mt -f $D stclearoptions sysv
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi
pmtd_stop 0

# 9. A write-protected volume: opens for writing refused, reading works.
s=write-protected
cp /out/opts.tap /tmp/wp.tap
chmod 444 /tmp/wp.tap
pmtd_start 0 --image /tmp/wp.tap
why=""
if dd if=/dev/zero of=/dev/pmtm0 bs=10240 count=1 2>"$LOG/$s.dd"; then why="${why}write open succeeded; "; fi
grep -q 'Read-only file system' "$LOG/$s.dd" || why="${why}not EROFS: $(head -n 1 "$LOG/$s.dd"); "
mt -f /dev/pmtm0 status | grep -q WR_PROT || why="${why}no WR_PROT in status; "
dd if=/dev/pmtm0 of=/tmp/wpback bs=32k 2>/dev/null || why="${why}reading failed; "
[ "$(stat -c %s /tmp/wpback)" = 2048 ] || why="${why}read $(stat -c %s /tmp/wpback) bytes, expected 2048; "
mt -f /dev/pmtm0 weof 1 2>/dev/null && why="${why}weof succeeded; "
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi
pmtd_stop 0

# 10. An empty drive: opens fail with ENOMEDIUM (as st's), O_NONBLOCK opens
#     show DR_OPEN, load has nothing to load.
s=no-medium
pmtd_start 0
why=""
if dd if=/dev/pmtm0 of=/dev/null bs=10240 count=1 2>"$LOG/$s.dd"; then why="${why}read succeeded; "; fi
grep -q 'No medium found' "$LOG/$s.dd" || why="${why}not ENOMEDIUM: $(head -n 1 "$LOG/$s.dd"); "
mt -f /dev/pmtm0 status >"$LOG/$s.status" 2>&1 || why="${why}status failed; "
grep -q DR_OPEN "$LOG/$s.status" || why="${why}no DR_OPEN; "
grep -q ONLINE "$LOG/$s.status" && why="${why}ONLINE without a medium; "
mt -f /dev/pmtm0 load 2>/dev/null && why="${why}load succeeded; "
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi
pmtd_stop 0

# 11. A 32-bit program: MTIOCGET and MTIOCPOS through compat_ioctl agree
#     with what mt (64-bit) reports.
s=compat32-ioctls
pmtd_start 0 --image /out/opts.tap
mt -f /dev/npmtm0 fsf 1
mt -f /dev/npmtm0 fsr 1
out=$(/run/files/compat32 /dev/npmtm0 2>&1)
echo "$out" >"$LOG/$s"
want="file=1 block=1 type=0x72"
case $out in
"$want "*"pos=4") pass $s ;;
*) fail $s "got '$out', expected '$want ... pos=4'" ;;
esac
pmtd_stop 0
exit 0
