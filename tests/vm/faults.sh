# The fault suite in the VM (scripts/faults): the daemon SIGKILLed at random
# moments during every kind of operation, writers and readers killed, then
# (tests/vm/faults_more.sh) load on eight units, a hostile daemon, hostile
# callers and access checks.
#
#   faults.sh short|full SEED
#
# Run by scripts/faults through scripts/vm-run with pmt loaded with
# nunits=8, the probes in /run/files and /dev/vda an empty ext4 scratch
# disk. One "PASS name" / "FAIL name: why" per scenario in /out/results;
# one line per round or batch of inputs in /out/figures.raw, which the host
# turns into the figures. Program output goes to /out/logs.
#
# shellcheck shell=dash
. /usr/local/lib/pmt.sh

MODE=${1:-short}
SEED=${2:-1}
F=/run/files
LOG=/out/logs
FIG=/out/figures.raw
S=/scratch
U=0
chmod +x $F/* 2>/dev/null
mkdir -p $LOG $S
if [ "$MODE" = full ]; then
	ROUNDS=20 HOSTILE=12000 LOAD_SECS=120 IOCTLS=20000 PREP=6000
else
	ROUNDS=3 HOSTILE=1500 LOAD_SECS=15 IOCTLS=2000 PREP=2500
fi
KILLS="write read space status close offline ahead"
SCENARIOS="checker-rejects-damage kill-write-stream kill-read-stream kill-spacing kill-status-poll kill-close-filemark kill-volume-change kill-read-ahead writer-killed-mid-stream writer-killed-mid-record writer-killed-mid-copy reader-killed-mid-read rmmod-after-kills load-eight-units hostile-daemon hostile-daemon-area stalled-daemon unit-usable-after-hostile-daemon hostile-callers hostile-callers-32bit record-limits access-and-fill access-and-fill-32bit rmmod-at-end"
echo "PLAN $SCENARIOS" >/out/results
echo "MODE mode=$MODE seed=$SEED rounds=$ROUNDS hostile=$HOSTILE load_secs=$LOAD_SECS" >$FIG
if mount -t ext4 /dev/vda $S 2>/dev/null; then
	echo "scratch: ext4 on /dev/vda"
else
	echo "scratch: no disk, images in memory"
fi

# ----- helpers ---------------------------------------------------------------------

# fld LINE KEY: the value of KEY=... in a result line.
fld() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }

# A new seed for each round, from the run's, in RSEED (not through $(...):
# the count would stay in the subshell).
NSEED=0
rseed() { NSEED=$((NSEED + 1)); RSEED=$((SEED * 100000 + NSEED)); }

# run_to SECS OUT CMD...: runs CMD, output in OUT. Its exit status, or 124
# if it still runs after SECS (SIGKILLed then; if even that does not end
# it, it is left behind and counted as a hang).
HANGS=0
run_to() {
	_t=$(($1 * 10))
	_o=$2
	shift 2
	"$@" >"$_o" 2>&1 &
	_p=$!
	_i=0
	while [ "$(sed 's/.*) //' /proc/$_p/stat 2>/dev/null | cut -c1)" != Z ] && [ -e /proc/$_p ]; do
		if [ $_i -ge $_t ]; then
			kill -9 $_p 2>/dev/null
			sleep 1
			if [ "$(sed 's/.*) //' /proc/$_p/stat 2>/dev/null | cut -c1)" != Z ] && [ -e /proc/$_p ]; then
				HANGS=$((HANGS + 1))
				echo "HANG cmd=$(echo "$1" | sed 's|.*/||')" >>$FIG
				return 124
			fi
			wait $_p
			return 124
		fi
		sleep 0.05
		_i=$((_i + 1))
	done
	wait $_p
}

# start_daemon UNIT ARGS...: pmtd_start, patient under load.
start_daemon() { PMTD_START_TRIES=400 pmtd_start "$@"; }

pid_of() { eval echo "\$PMTD_PID_$1"; }

# reap UNIT: the daemon of a unit was killed: collect it.
reap() {
	_p=$(pid_of "$1")
	[ -n "$_p" ] && wait "$_p" 2>/dev/null
	eval "PMTD_PID_$1="
}

closes() { grep -c 'master close' "/out/pmtd$1.log" 2>/dev/null; }

# take OUT: the RESULT line of a probe into R_* (hit, latency, close, hang, why).
take() {
	_l=$(grep '^RESULT' "$1" | tail -n 1)
	echo "${_kind:-?} $_l" >>$LOG/results.all
	if [ -z "$_l" ]; then
		R_WHY="no result: $(tail -n 2 "$1" | tr '\n' ' ')"
		return
	fi
	R_HIT=$(fld "$_l" hit)
	R_LAT=$(fld "$_l" latency_us)
	R_CLOSE=$(fld "$_l" close_us)
	R_OP=$(fld "$_l" op_us)
	[ "$(fld "$_l" hang)" = 1 ] && R_HANG=1
	_w=$(fld "$_l" why)
	[ "$_w" = - ] || R_WHY="$_w"
}

# why_add TEXT: the first failure of the round.
why_add() { [ -n "$R_WHY" ] || R_WHY=$1; }

# after_write IMG LOG VOLUME SEED: the image of a killed round holds a
# prefix of what was attempted with everything durable (fault_check); pmtd
# verify and inspect open it (verify may only complain of a torn tail); a
# new daemon serves it: every object read back, two records appended after
# it (the torn tail goes), and the result is exact and clean.
after_write() {
	[ -f "$1" ] || : >"$1"
	_c=$($F/fault_check "$1" "$2" --volume "$3" --allow-torn --present "$2.p" 2>&1)
	echo "$_c" >>$LOG/checks
	R_LOST=$(($(fld "$_c" lost_bytes) + 0))
	[ "$(fld "$_c" torn)" = 1 ] && R_TORN=1
	[ "$(fld "$_c" why)" = - ] || { why_add "image: $(fld "$_c" why)"; return; }
	if ! pmtd verify "$1" >$LOG/verify 2>&1 && [ "$R_TORN" != 1 ]; then
		why_add "pmtd verify: $(head -n 1 $LOG/verify)"
	fi
	pmtd inspect "$1" >$LOG/inspect 2>&1 || why_add "pmtd inspect: $(head -n 1 $LOG/inspect)"
	start_daemon $U --image "$1" || { why_add "a new pmtd did not start"; return; }
	run_to 60 $LOG/readback $F/fault_io read /dev/npmtm$U --layout "$2.p" --rewind \
		--append 2 --first 1000000 --newlog "$2.2" --seed "$4" --len 1:5000
	pmtd_stop $U
	_r=$(grep '^RESULT' $LOG/readback)
	[ "$(fld "$_r" why)" = - ] || why_add "read back by a new daemon: $(fld "$_r" why)$(tail -n 1 $LOG/readback)"
	_c=$($F/fault_check "$1" "$2.2" --exact 2>&1)
	[ "$(fld "$_c" why)" = - ] || why_add "after appending: $(fld "$_c" why)"
	pmtd verify "$1" >$LOG/verify 2>&1 || why_add "pmtd verify after appending: $(head -n 1 $LOG/verify)"
}

# same IMG: a tape that was only read is unchanged.
same() {
	_c=$($F/fault_check --same "$1" "$1.pristine")
	[ "$(fld "$_c" same)" = 1 ] || { why_add "the image changed: $_c"; R_LOST=$(stat -c %s "$1"); }
	pmtd verify "$1" >$LOG/verify 2>&1 || why_add "pmtd verify: $(head -n 1 $LOG/verify)"
}

# prep NAME RECORDS LEN WEOF: a tape written once (no fault), kept pristine.
prep() {
	rm -f "$S/$1.tap" "$S/$1.tap.pmtidx"
	start_daemon $U --image "$S/$1.tap" || return 1
	$F/fault_io write /dev/pmtm$U --log "$S/$1.log" --seed $((SEED + 7)) --records "$2" --len "$3" \
		--weof-every "$4" >$LOG/prep-$1 2>&1
	_rc=$?
	pmtd_stop $U
	cp "$S/$1.tap" "$S/$1.tap.pristine"
	[ $_rc = 0 ] && $F/fault_check "$S/$1.tap" "$S/$1.log" --exact >>$LOG/prep-$1
}

fresh() { rm -f "$1" "$1.pmtidx" "$2" "$2.2" "$2.p"; }

# ----- rounds: the daemon killed during ... -------------------------------------------

round_write() {
	fresh $S/w.tap $S/w.log
	start_daemon $U --image $S/w.tap || { R_WHY="pmtd did not start"; return; }
	run_to 60 $LOG/round $F/fault_io write /dev/pmtm$U --log $S/w.log --seed "$1" --len 1:20000 \
		--weof-every 1:60 --kill "$(pid_of $U)" --delay-us 20000:300000
	reap $U
	take $LOG/round
	after_write $S/w.tap $S/w.log 1 "$1"
}

round_read() {
	start_daemon $U --image $S/read.tap || { R_WHY="pmtd did not start"; return; }
	run_to 60 $LOG/round $F/fault_io read /dev/npmtm$U --layout $S/read.log --seed "$1" --kill "$(pid_of $U)" --delay-us 2000:150000
	reap $U
	take $LOG/round
	same $S/read.tap
	start_daemon $U --image $S/read.tap || { why_add "a new pmtd did not start"; return; }
	run_to 60 $LOG/readback $F/fault_io read /dev/npmtm$U --layout $S/read.log
	pmtd_stop $U
	[ "$(fld "$(grep RESULT $LOG/readback)" why)" = - ] || why_add "read by a new daemon: $(tail -n 1 $LOG/readback)"
}

round_space() {
	start_daemon $U --image $S/space.tap || { R_WHY="pmtd did not start"; return; }
	run_to 60 $LOG/round $F/fault_io space /dev/npmtm$U --layout $S/space.log --seed "$1" \
		--kill "$(pid_of $U)" --delay-us 2000:200000
	reap $U
	take $LOG/round
	same $S/space.tap
	start_daemon $U --image $S/space.tap || { why_add "a new pmtd did not start"; return; }
	run_to 60 $LOG/readback $F/fault_io space /dev/npmtm$U --layout $S/space.log --seed "$1" --records 30
	pmtd_stop $U
	[ "$(fld "$(grep RESULT $LOG/readback)" why)" = - ] || why_add "spacing with a new daemon: $(tail -n 1 $LOG/readback)"
}

round_status() {
	start_daemon $U --image $S/space.tap || { R_WHY="pmtd did not start"; return; }
	run_to 60 $LOG/round $F/fault_io status /dev/npmtm$U --seed "$1" --kill "$(pid_of $U)" --delay-us 2000:150000
	reap $U
	take $LOG/round
	same $S/space.tap
	start_daemon $U --image $S/space.tap || { why_add "a new pmtd did not start"; return; }
	mt -f /dev/npmtm$U status >$LOG/mtstatus 2>&1 && grep -q ONLINE $LOG/mtstatus || why_add "mt status with a new daemon"
	pmtd_stop $U
}

CLOSE_D=20000
round_close() {
	fresh $S/c.tap $S/c.log
	start_daemon $U --image $S/c.tap || { R_WHY="pmtd did not start"; return; }
	run_to 60 $LOG/round $F/fault_io close /dev/pmtm$U --log $S/c.log --seed "$1" --records 300 --len 8000:16000 \
		--kill "$(pid_of $U)" --delay-us "0:$CLOSE_D" --kill-after-writes 1:8
	reap $U
	take $LOG/round
	after_write $S/c.tap $S/c.log 1 "$1"
}

# The volume change: a scan of the second volume, 10-20 ms.
OFFL_D=20000
# The second volume holds a tape of many small records and no index: loading
# it is a scan, so the volume change lasts long enough for a kill to land
# in it. The writer appends after what it holds.
round_offline() {
	fresh $S/v1.tap $S/o.log
	rm -f $S/v2.tap $S/v2.tap.pmtidx
	cp $S/vol2.tap.pristine $S/v2.tap
	start_daemon $U --image $S/v1.tap --image $S/v2.tap || { R_WHY="pmtd did not start"; return; }
	run_to 60 $LOG/round $F/fault_io offline /dev/pmtm$U --log $S/o.log --seed "$1" --records 100 --len 1000:20000 \
		--kill "$(pid_of $U)" --delay-us "0:$OFFL_D" --kill-after-writes 1:3
	reap $U
	take $LOG/round
	after_write $S/v1.tap $S/o.log 1 "$1"
	_l1=$R_LOST
	# Volume 2: its own tape, then what the writer put after it.
	{
		awk -v s=$((SEED + 7)) '$1 == "W" { print $1, $2, $3, s; next } { print }' $S/vol2.log
		echo "S $1"
		sed -n '/^o 0/,$p' $S/o.log | sed 1d
	} >$S/o2.log
	after_write $S/v2.tap $S/o2.log 1 "$1"
	R_LOST=$((R_LOST + _l1))
}

RUNS=0
# serve_c LOGFILE ARGS...: the C daemon (tests/vm/cdrive.h) on unit U, read
# ahead answered; its pid in CPID once it serves.
serve_c() {
	_o=$1
	shift
	_t=0
	while [ $_t -lt 20 ]; do
		# Removed first: the old file says "serving" too.
		rm -f "$_o"
		$F/hostile_daemon serve $U "$@" >"$_o" 2>&1 &
		CPID=$!
		_i=0
		while ! grep -q serving "$_o" 2>/dev/null && [ $_i -lt 100 ] && kill -0 $CPID 2>/dev/null; do
			sleep 0.05
			_i=$((_i + 1))
		done
		grep -q serving "$_o" && return 0
		# Not serving (the slave still held?): once more.
		kill -9 $CPID 2>/dev/null
		wait $CPID 2>/dev/null
		cat "$_o" >>$LOG/serve-retries
		_t=$((_t + 1))
		sleep 0.1
	done
	why_add "the C daemon did not start: $(tail -n 1 "$_o")"
	return 1
}

round_ahead() {
	rm -f $S/runs
	serve_c $LOG/serve --records 3000 --len 1:8000 --layout $S/a.log --run-delay-us 20000 --runs-log $S/runs --seed "$1"
	run_to 60 $LOG/round $F/fault_io read /dev/npmtm$U --layout $S/a.log --seed "$1" --kill "$CPID" --delay-us 10000:250000
	kill -9 $CPID 2>/dev/null
	wait $CPID 2>/dev/null
	take $LOG/round
	RUNS=$((RUNS + $(wc -l <$S/runs 2>/dev/null || echo 0)))
	# The unit serves the next daemon: a whole read, read ahead.
	serve_c $LOG/serve2 --records 200 --len 1:8000 --layout $S/a2.log --seed "$1"
	run_to 60 $LOG/readback $F/fault_io read /dev/npmtm$U --layout $S/a2.log
	kill -9 $CPID 2>/dev/null
	wait $CPID 2>/dev/null
	[ "$(fld "$(grep RESULT $LOG/readback)" why)" = - ] || why_add "read with a new daemon: $(tail -n 1 $LOG/readback) (daemon: $(tr '\n' ' ' <$LOG/serve2))"
}

# kill_kind KIND SCENARIO: rounds until ROUNDS of them had the kill land
# during the operation (at most five times as many attempts).
kill_kind() {
	_kind=$1
	HITS=0 ATT=0 KWHY=""
	while [ $HITS -lt $ROUNDS ] && [ $ATT -lt $((ROUNDS * 5)) ]; do
		ATT=$((ATT + 1))
		R_HIT=0 R_LAT=-1 R_CLOSE=-1 R_OP=-1 R_LOST=0 R_TORN=0 R_HANG=0 R_WHY=""
		rseed
		"round_$_kind" "$RSEED"
		[ -n "$R_WHY" ] && [ -z "$KWHY" ] && KWHY="round $ATT: $R_WHY"
		[ "$R_HIT" = 1 ] && HITS=$((HITS + 1))
		echo "ROUND kind=$_kind seed=$RSEED hit=$R_HIT latency_us=$R_LAT close_us=$R_CLOSE lost=$R_LOST torn=$R_TORN hang=$R_HANG" >>$FIG
	done
	[ $HITS -ge $ROUNDS ] || [ -n "$KWHY" ] || KWHY="only $HITS of $ATT kills landed during the operation"
	if [ -z "$KWHY" ]; then pass "$2"; else fail "$2" "$KWHY"; fi
}

# ----- part 1: the daemon killed ------------------------------------------------------

prep read "$PREP" 1:16000 200:400 || fail kill-read-stream "cannot write the read tape"
prep space "$PREP" 1:3000 1:3 || fail kill-spacing "cannot write the tape of many files"
prep vol2 40000 1:64 200:400 || fail kill-volume-change "cannot write the second volume"

# The checker itself must be able to fail: a flipped byte in a record, a
# tape cut before its last durable object, a record that is not the log's.
s=checker-rejects-damage
why=""
cp $S/space.tap $S/bad.tap
_l=$(od -An -tu4 -N4 $S/space.tap | tr -d ' ')
_b=$(od -An -tu1 -j $((4 + _l / 2)) -N1 $S/space.tap | tr -d ' ')
printf "\\$(printf %o $((255 - _b)))" | dd of=$S/bad.tap bs=1 seek=$((4 + _l / 2)) conv=notrunc 2>/dev/null
$F/fault_check $S/bad.tap $S/space.log --exact >$LOG/bad 2>&1 && why="a flipped byte passed; "
head -c $(($(stat -c %s $S/space.tap) / 2)) $S/space.tap >$S/bad.tap
$F/fault_check $S/bad.tap $S/space.log --allow-torn >>$LOG/bad 2>&1 && why="${why}half a durable tape passed; "
$F/fault_check $S/space.tap $S/read.log >>$LOG/bad 2>&1 && why="${why}another tape's log passed; "
$F/fault_check $S/space.tap $S/space.log --exact >>$LOG/bad 2>&1 || why="${why}the good tape failed; "
rm -f $S/bad.tap
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# A close lasts tens of milliseconds: the kill's delay is drawn from the
# length of an undisturbed one.
fresh $S/c.tap $S/c.log
start_daemon $U --image $S/c.tap && $F/fault_io close /dev/pmtm$U --log $S/c.log --records 300 --len 8000:16000 >$LOG/calib-close 2>&1
pmtd_stop $U
_d=$(fld "$(grep RESULT $LOG/calib-close)" op_us)
[ -n "$_d" ] && [ "$_d" -gt 1000 ] && CLOSE_D=$_d
echo "CALIB close_us=$CLOSE_D offline_us=$OFFL_D" >>$FIG

kill_kind write kill-write-stream
kill_kind read kill-read-stream
kill_kind space kill-spacing
kill_kind status kill-status-poll
kill_kind close kill-close-filemark
kill_kind offline kill-volume-change
kill_kind ahead kill-read-ahead
echo "RUNS served=$RUNS" >>$FIG
if [ "$RUNS" -eq 0 ]; then
	fail kill-read-ahead "no read-ahead run was ever asked for"
fi

# ----- part 2: writers and readers killed -----------------------------------------------

# wround NAME ARGS...: a writer killed while the daemon lives: the daemon
# sees the close, the image is whole (no torn record), every record whose
# write() returned is there, st's close filemark after what reached the drive.
wround() {
	_name=$1
	shift
	fresh $S/k.tap $S/k.log
	start_daemon $U --image $S/k.tap || { R_WHY="pmtd did not start"; return; }
	_n0=$(closes $U)
	run_to 120 $LOG/round "$@" --log $S/k.log
	_rc=$?
	[ $_rc = 137 ] && R_HIT=1
	_i=0
	while [ "$(closes $U)" -le "$_n0" ] && [ $_i -lt 40 ]; do sleep 0.05; _i=$((_i + 1)); done
	[ "$(closes $U)" -gt "$_n0" ] || why_add "the daemon's log shows no close"
	_c=$($F/fault_check $S/k.tap $S/k.log --acked --close-fm --present $S/k.log.p 2>&1)
	echo "$_name $_c" >>$LOG/checks
	R_LOST=$(($(fld "$_c" lost_bytes) + 0))
	[ "$(fld "$_c" why)" = - ] || why_add "image: $(fld "$_c" why)"
	R_FM=$(fld "$_c" close_fm)
	R_OBJ=$(fld "$_c" objects)
	pmtd verify $S/k.tap >$LOG/verify 2>&1 || why_add "pmtd verify: $(head -n 1 $LOG/verify)"
	# The killed writer may have left the position unknown (a command it
	# waited for was interrupted): as on st, a rewind sets it right.
	run_to 60 $LOG/readback $F/fault_io read /dev/npmtm$U --layout $S/k.log.p --rewind
	pmtd_stop $U
	[ "$(fld "$(grep RESULT $LOG/readback)" why)" = - ] || why_add "read back: $(tail -n 1 $LOG/readback)"
}

# part2 SCENARIO NAME ROUND-ARGS...: ROUNDS kills that landed.
part2() {
	_sc=$1 _name=$2
	shift 2
	HITS=0 ATT=0 KWHY=""
	while [ $HITS -lt $ROUNDS ] && [ $ATT -lt $((ROUNDS * 5)) ]; do
		ATT=$((ATT + 1))
		R_HIT=0 R_LOST=0 R_WHY="" R_FM=""
		rseed
		_s=$RSEED
		wround "$_name" "$@" --seed "$_s"
		if [ "$_name" = uffd ]; then
			grep -q '^K' $S/k.log || why_add "the copy was not caught mid-record: $(tail -n 1 $LOG/round)"
			[ "$R_FM" = 1 ] && [ "$R_OBJ" = 20 ] || why_add "expected the 20 records and the close filemark: $R_OBJ, close filemark $R_FM"
		fi
		[ -n "$R_WHY" ] && [ -z "$KWHY" ] && KWHY="round $ATT: $R_WHY"
		[ "$R_HIT" = 1 ] && HITS=$((HITS + 1))
		echo "WROUND kind=$_name hit=$R_HIT lost=$R_LOST close_fm=$R_FM" >>$FIG
	done
	[ $HITS -ge $ROUNDS ] || [ -n "$KWHY" ] || KWHY="only $HITS of $ATT kills landed"
	if [ -z "$KWHY" ]; then pass "$_sc"; else fail "$_sc" "$KWHY"; fi
}

part2 writer-killed-mid-stream stream $F/fault_io write /dev/pmtm$U --len 1:20000 --weof-every 1:60 \
	--kill-self --delay-us 20000:300000
part2 writer-killed-mid-record bigrecord $F/fault_io write /dev/pmtm$U --len 16777215:16777215 --records 6 \
	--kill-self --delay-us 0:300000
part2 writer-killed-mid-copy uffd $F/fault_midrecord /dev/pmtm$U --records 20

# A reader killed mid-read: the daemon sees the close, the tape is unchanged,
# the next reader reads it whole.
HITS=0 ATT=0 KWHY=""
while [ $HITS -lt $ROUNDS ] && [ $ATT -lt $((ROUNDS * 5)) ]; do
	ATT=$((ATT + 1))
	R_HIT=0 R_LOST=0 R_WHY=""
	start_daemon $U --image $S/read.tap || R_WHY="pmtd did not start"
	_n0=$(closes $U)
	rseed
	run_to 60 $LOG/round $F/fault_io read /dev/npmtm$U --layout $S/read.log --kill-self --delay-us 2000:100000 --seed $RSEED
	[ $? = 137 ] && R_HIT=1
	_i=0
	while [ "$(closes $U)" -le "$_n0" ] && [ $_i -lt 40 ]; do sleep 0.05; _i=$((_i + 1)); done
	[ "$(closes $U)" -gt "$_n0" ] || why_add "the daemon's log shows no close"
	same $S/read.tap
	run_to 60 $LOG/readback $F/fault_io read /dev/npmtm$U --layout $S/read.log --rewind
	[ "$(fld "$(grep RESULT $LOG/readback)" why)" = - ] || why_add "the next reader: $(tail -n 1 $LOG/readback)"
	pmtd_stop $U
	[ -n "$R_WHY" ] && [ -z "$KWHY" ] && KWHY="round $ATT: $R_WHY"
	[ "$R_HIT" = 1 ] && HITS=$((HITS + 1))
	echo "WROUND kind=reader hit=$R_HIT lost=$R_LOST" >>$FIG
done
[ $HITS -ge $ROUNDS ] || [ -n "$KWHY" ] || KWHY="only $HITS of $ATT kills landed"
if [ -z "$KWHY" ]; then pass reader-killed-mid-read; else fail reader-killed-mid-read "$KWHY"; fi

# After all that, the module unloads (nothing holds a unit) and loads again.
s=rmmod-after-kills
why=""
for u in 0 1 2 3 4 5 6 7; do pmtd_stop $u; done
rmmod pmt 2>$LOG/rmmod || why="rmmod failed: $(cat $LOG/rmmod); "
[ -e /dev/pmtm0 ] && why="${why}device nodes left behind; "
insmod /lib/modules/pmt.ko nunits=8 2>>$LOG/rmmod || why="${why}insmod failed: $(cat $LOG/rmmod); "
_i=0
while [ ! -e /dev/pmts7 ] && [ $_i -lt 50 ]; do sleep 0.1; _i=$((_i + 1)); done
[ -e /dev/pmts7 ] || why="${why}no /dev/pmts7 after insmod; "
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

. $F/faults_more.sh
echo "HANGS count=$HANGS" >>$FIG
exit 0
