# The second half of the fault suite, sourced by tests/vm/faults.sh (its
# helpers and settings): load on all eight units, the hostile daemon,
# hostile callers, access and fill patterns, and the final unload.
#
# shellcheck shell=dash

# ----- part 3: every unit busy at once --------------------------------------------------

# Each loop runs until LOAD_END and leaves "FAIL ..." lines and counts in
# $S/load.<unit>; images and logs stay for the check afterwards.
load_writer() { # UNIT: records written and closed, the daemon restarted each cycle
	_u=$1 _c=0
	while [ $_c = 0 ] || [ "$(date +%s)" -lt $LOAD_END ]; do
		_c=$((_c + 1))
		rm -f $S/L$_u.$_c.tap*
		start_daemon $_u --image $S/L$_u.$_c.tap || { echo "FAIL unit $_u: pmtd did not start" >>$S/load.$_u; break; }
		$F/fault_io write /dev/pmtm$_u --log $S/L$_u.$_c.log --seed $((SEED * 1000 + _u * 100 + _c)) --records 200 \
			--len 1:30000 --weof-every 10:50 >$S/lw.$_u 2>&1 ||
			echo "FAIL unit $_u cycle $_c: $(grep RESULT $S/lw.$_u)" >>$S/load.$_u
		pmtd_stop $_u
	done
	echo "writes $_c" >>$S/load.$_u
}

load_reader() { # UNIT: the read tape, read whole again and again
	_u=$1 _c=0
	while [ $_c = 0 ] || [ "$(date +%s)" -lt $LOAD_END ]; do
		_c=$((_c + 1))
		start_daemon $_u --image $S/R$_u.tap || { echo "FAIL unit $_u: pmtd did not start" >>$S/load.$_u; break; }
		$F/fault_io read /dev/npmtm$_u --layout $S/read.log >$S/lr.$_u 2>&1 ||
			echo "FAIL unit $_u pass $_c: $(grep RESULT $S/lr.$_u)" >>$S/load.$_u
		echo "read $(fld "$(grep RESULT $S/lr.$_u)" bytes)" >>$S/load.$_u
		pmtd_stop $_u
	done
	echo "passes $_c" >>$S/load.$_u
	$F/fault_check --same $S/R$_u.tap $S/read.tap.pristine >/dev/null || echo "FAIL unit $_u: the tape read changed" >>$S/load.$_u
}

load_poller() { # UNIT: mt status and MTIOCGET loops, the daemon restarted every ten
	_u=$1 _c=0
	while [ $_c = 0 ] || [ "$(date +%s)" -lt $LOAD_END ]; do
		start_daemon $_u --image $S/P$_u.tap || { echo "FAIL unit $_u: pmtd did not start" >>$S/load.$_u; break; }
		for _j in 1 2 3 4 5 6 7 8 9 10; do
			_c=$((_c + 1))
			mt -f /dev/npmtm$_u status >$S/lp.$_u 2>&1 && grep -q ONLINE $S/lp.$_u ||
				echo "FAIL unit $_u poll $_c: $(tail -n 1 $S/lp.$_u)" >>$S/load.$_u
		done
		$F/fault_io status /dev/npmtm$_u --records 200 >$S/lp.$_u 2>&1 ||
			echo "FAIL unit $_u: $(grep RESULT $S/lp.$_u)" >>$S/load.$_u
		pmtd_stop $_u
	done
	echo "polls $_c" >>$S/load.$_u
}

load_killer() { # UNIT: the daemon SIGKILLed mid-write, under load
	_u=$1 _c=0
	while [ $_c = 0 ] || [ "$(date +%s)" -lt $LOAD_END ]; do
		_c=$((_c + 1))
		rm -f $S/K$_u.tap*
		start_daemon $_u --image $S/K$_u.tap || { echo "FAIL unit $_u: pmtd did not start" >>$S/load.$_u; break; }
		$F/fault_io write /dev/pmtm$_u --log $S/K$_u.log --seed $((SEED * 1000 + 700 + _c)) --len 1:20000 \
			--weof-every 1:60 --kill "$(pid_of $_u)" --delay-us 20000:300000 >$S/lk.$_u 2>&1
		_r=$(grep RESULT $S/lk.$_u)
		reap $_u
		[ "$(fld "$_r" why)" = - ] || echo "FAIL unit $_u kill $_c: $_r" >>$S/load.$_u
		echo "ROUND kind=load-kill hit=$(fld "$_r" hit) latency_us=$(fld "$_r" latency_us) close_us=$(fld "$_r" close_us) lost=0 torn=0 hang=$(fld "$_r" hang)" >>$FIG
		_k=$($F/fault_check $S/K$_u.tap $S/K$_u.log --allow-torn)
		[ "$(fld "$_k" why)" = - ] || echo "FAIL unit $_u kill $_c: $_k" >>$S/load.$_u
		echo "lost $(fld "$_k" lost_bytes)" >>$S/load.$_u
		echo "checked $(fld "$_k" bytes)" >>$S/load.$_u
	done
	echo "kills $_c" >>$S/load.$_u
}

load_dd() { # UNIT: dd and tar round trips
	_u=$1 _c=0
	while [ $_c = 0 ] || [ "$(date +%s)" -lt $LOAD_END ]; do
		_c=$((_c + 1))
		rm -rf $S/D$_u.tap* $S/x$_u
		start_daemon $_u --image $S/D$_u.tap || { echo "FAIL unit $_u: pmtd did not start" >>$S/load.$_u; break; }
		dd if=$S/rand of=/dev/pmtm$_u bs=10240 2>/dev/null && dd if=/dev/pmtm$_u of=$S/back$_u bs=10240 2>/dev/null &&
			cmp -s $S/rand $S/back$_u || echo "FAIL unit $_u: dd round trip $_c differs" >>$S/load.$_u
		mkdir -p $S/x$_u
		tar -c -b 20 -f /dev/pmtm$_u -C / usr 2>/dev/null && tar -x -b 20 -f /dev/pmtm$_u -C $S/x$_u 2>/dev/null &&
			diff -r /usr $S/x$_u/usr >/dev/null 2>&1 || echo "FAIL unit $_u: tar round trip $_c differs" >>$S/load.$_u
		echo "checked $(($(stat -c %s $S/rand) * 2))" >>$S/load.$_u
		pmtd_stop $_u
	done
	echo "roundtrips $_c" >>$S/load.$_u
}

s=load-eight-units
rm -f $S/load.* $S/L[0-9].*
dd if=/dev/urandom of=$S/rand bs=10240 count=300 2>/dev/null
# The copies are made before the clock starts: on a slow kernel they alone
# took longer than a short run's load.
cp $S/read.tap $S/R3.tap
cp $S/read.tap $S/R4.tap
cp $S/space.tap $S/P5.tap
LOAD_END=$(($(date +%s) + LOAD_SECS))
load_writer 0 &
load_writer 1 &
load_writer 2 &
load_reader 3 &
load_reader 4 &
load_poller 5 &
load_killer 6 &
load_dd 7 &
wait
why=""
_bytes=0
for u in 0 1 2 3 4 5 6 7; do
	[ -f $S/load.$u ] || why="${why}unit $u left no report; "
	# Each unit did its work at least once, however slow the kernel.
	_n=$(sed -nE 's/^(writes|passes|polls|kills|roundtrips) //p' $S/load.$u 2>/dev/null | tail -n 1)
	[ "${_n:-0}" -ge 1 ] 2>/dev/null || why="${why}unit $u completed no cycle; "
	_f=$(grep -m 1 '^FAIL' $S/load.$u 2>/dev/null)
	[ -z "$_f" ] || why="${why}$_f; "
done
# Every byte every writer wrote, against its log.
_imgs=0
for img in $S/L[0-9].*.tap; do
	[ -f "$img" ] || continue
	_imgs=$((_imgs + 1))
	_k=$($F/fault_check "$img" "${img%.tap}.log" --exact)
	[ "$(fld "$_k" why)" = - ] || why="${why}$img: $(fld "$_k" why); "
	_bytes=$((_bytes + $(fld "$_k" bytes)))
done
[ $_imgs -ge 3 ] || why="${why}only $_imgs images written; "
for n in $(cat $S/load.* | sed -nE 's/^(read|checked) //p'); do _bytes=$((_bytes + n)); done
_lost=0
for n in $(cat $S/load.* | sed -n 's/^lost //p'); do _lost=$((_lost + n)); done
echo "LOAD units=8 secs=$LOAD_SECS images=$_imgs writer_cycles=$(cat $S/load.[012] | sed -n 's/^writes //p' | awk '{ n += $1 } END { print n + 0 }') polls=$(sed -n 's/^polls //p' $S/load.5) kills=$(sed -n 's/^kills //p' $S/load.6) roundtrips=$(sed -n 's/^roundtrips //p' $S/load.7) bytes_compared=$_bytes lost=$_lost" >>$FIG
cat $S/load.* >$LOG/load 2>/dev/null
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi
rm -f $S/L[0-9].* $S/R[0-9].tap* $S/D[0-9].tap* $S/K[0-9].* $S/P[0-9].tap*
rm -rf $S/x[0-9]

# ----- part 4: a hostile daemon -------------------------------------------------------------

# Twice: records in the frames, then in the data area the daemon maps
# (where it can also claim area data it was not given, or more than it was).
for area in 0 1; do
	s=hostile-daemon
	[ $area = 1 ] && s=hostile-daemon-area
	run_to 900 $LOG/$s $F/hostile_daemon attack 1 --inputs "$HOSTILE" --seed "$SEED" --secs 600 --area $area
	rc=$?
	line=$(grep '^HOSTILE' $LOG/$s | tail -n 1)
	echo "$line" >>$FIG
	if [ $rc = 0 ] && [ "$(fld "$line" wrong)" = 0 ] && [ "$(fld "$line" inputs)" -ge "$HOSTILE" ]; then
		pass $s
	else
		fail $s "exit $rc: $(grep -m 3 FAIL $LOG/$s | tr '\n' ' ')$line"
	fi
done

# A daemon that hangs (reads requests, answers none): a writer SIGKILLed
# then cannot finish its close (st's close waits for the drive, and so does
# pmt's, without being a hung task); the moment the daemon goes, it is freed.
s=stalled-daemon
why=""
rm -f $LOG/stall
$F/hostile_daemon serve 6 --records 1 --stall-after 40 >$LOG/stall 2>&1 &
sp=$!
_i=0
while ! grep -q serving $LOG/stall 2>/dev/null && [ $_i -lt 100 ]; do sleep 0.05; _i=$((_i + 1)); done
$F/fault_io write /dev/pmtm6 --log $S/stall.log --len 10000:20000 >$LOG/stall.w 2>&1 &
wp=$!
_i=0
while ! grep -q stalled $LOG/stall 2>/dev/null && [ $_i -lt 100 ]; do sleep 0.05; _i=$((_i + 1)); done
grep -q stalled $LOG/stall || why="the daemon never stalled; "
sleep 0.5
kill -9 $wp
sleep 2
stuck=0
[ -e /proc/$wp ] && [ "$(sed 's/.*) //' /proc/$wp/stat | cut -c1)" != Z ] && stuck=1
kill -9 $sp
_i=0
while [ -e /proc/$wp ] && [ "$(sed 's/.*) //' /proc/$wp/stat 2>/dev/null | cut -c1)" != Z ] && [ $_i -lt 100 ]; do
	sleep 0.01
	_i=$((_i + 1))
done
[ $_i -lt 100 ] || why="${why}the killed writer was still there 1 s after the daemon went; "
wait $wp 2>/dev/null
wait $sp 2>/dev/null
echo "STALL writer_held=$stuck freed_within_ms=$((_i * 10))" >>$FIG
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# The unit works with a good daemon afterwards: dd and tar round trips.
s=unit-usable-after-hostile-daemon
why=""
rm -rf $S/after.tap* $S/xa
start_daemon 1 --image $S/after.tap || why="pmtd did not start; "
dd if=$S/rand of=/dev/pmtm1 bs=10240 2>$LOG/after.dd && dd if=/dev/pmtm1 of=$S/back1 bs=10240 2>>$LOG/after.dd &&
	cmp -s $S/rand $S/back1 || why="${why}dd round trip: $(tail -n 1 $LOG/after.dd); "
mkdir -p $S/xa
tar -c -b 20 -f /dev/pmtm1 -C / usr 2>$LOG/after.tar && tar -x -b 20 -f /dev/pmtm1 -C $S/xa 2>>$LOG/after.tar &&
	diff -r /usr $S/xa/usr >>$LOG/after.tar 2>&1 || why="${why}tar round trip: $(tail -n 1 $LOG/after.tar); "
mt -f /dev/npmtm1 status >$LOG/after.mt 2>&1 && grep -q ONLINE $LOG/after.mt || why="${why}mt status; "
pmtd_stop 1
pmtd verify $S/after.tap >>$LOG/after.dd 2>&1 || why="${why}pmtd verify; "
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi
rm -rf $S/xa

# ----- part 5: hostile callers ------------------------------------------------------------------

caller() { # SCENARIO PROGRAM UNIT
	rm -f $S/hc$3.tap*
	why=""
	start_daemon "$3" --image $S/hc$3.tap || why="pmtd did not start; "
	run_to 300 $LOG/$1 "$2" "$3" --log $S/hc$3.log --seed "$SEED" --random "$IOCTLS" --big
	rc=$?
	pmtd_stop "$3"
	line=$(grep '^CALLER' $LOG/$1)
	echo "$line prog=$1" >>$FIG
	[ $rc = 0 ] || why="${why}$(grep -m 3 FAIL $LOG/$1 | tr '\n' ' ')(exit $rc); "
	_k=$($F/fault_check $S/hc$3.tap $S/hc$3.log --exact)
	[ "$(fld "$_k" why)" = - ] || why="${why}the tape is not exactly what was written: $(fld "$_k" why); "
	pmtd verify $S/hc$3.tap >/dev/null 2>&1 || why="${why}pmtd verify; "
	if [ -z "$why" ]; then pass "$1"; else fail "$1" "$why"; fi
	rm -f $S/hc$3.tap*
}
caller hostile-callers $F/hostile_caller 2
caller hostile-callers-32bit $F/hostile_caller32 3

# The drive's record limit (pmtd --max-block) reaches the writer as EINVAL.
s=record-limits
why=""
rm -f $S/lim.tap*
start_daemon 4 --image $S/lim.tap --max-block 64K || why="pmtd did not start; "
dd if=$S/rand of=/dev/pmtm4 bs=65537 count=1 2>$LOG/lim.dd && why="${why}a record of 65537 bytes was written; "
grep -q 'Invalid argument' $LOG/lim.dd || why="${why}not EINVAL: $(head -n 1 $LOG/lim.dd); "
dd if=$S/rand of=/dev/pmtm4 bs=65536 count=2 2>>$LOG/lim.dd || why="${why}records of 64 KiB refused; "
pmtd_stop 4
pmtd inspect $S/lim.tap >$LOG/lim.map 2>&1
grep -q '2 records, 131072 bytes' $LOG/lim.map || why="${why}tape: $(sed -n 2p $LOG/lim.map); "
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# ----- part 6: access and fill patterns ------------------------------------------------------------

access() { # SCENARIO PROGRAM
	rm -f $S/acc.tap*
	why=""
	start_daemon 5 --image $S/acc.tap || why="pmtd did not start; "
	run_to 120 $LOG/$1 "$2" 5 6
	rc=$?
	pmtd_stop 5
	echo "$(grep '^ACCESS' $LOG/$1) prog=$1" >>$FIG
	[ $rc = 0 ] || why="${why}$(grep -m 3 FAIL $LOG/$1 | tr '\n' ' ')(exit $rc)"
	if [ -z "$why" ]; then pass "$1"; else fail "$1" "$why"; fi
}
access access-and-fill $F/access_probe
access access-and-fill-32bit $F/access_probe32

# ----- the end: the module unloads ------------------------------------------------------------------

s=rmmod-at-end
why=""
for u in 0 1 2 3 4 5 6 7; do pmtd_stop $u; done
rmmod pmt 2>$LOG/rmmod2 || why="rmmod failed: $(cat $LOG/rmmod2); "
[ -e /dev/pmtm0 ] && why="${why}device nodes left behind; "
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi
