# Benchmark, run in the VM by scripts/bench. Everything on the same tmpfs in
# the same boot; each measurement is the median of RUNS runs, the kinds of a
# group interleaved run by run. Prints "bench: GROUP KIND SECONDS" lines and
# leaves /out/bench.median (GROUP KIND MEDIAN) for the host to summarise.
#
#   bench.sh RUNS POS_FILES STREAM_MB [PARTS [DUMP_KINDS]]
#
# PARTS (default "dump restore streams four pos library mirror") picks the
# groups to run, DUMP_KINDS the dumps (default: all of them).
#
# 1. dump of /dev/vda: to a plain file, to a pipe, to /dev/pmtm0 with pmtd
#    storing an image; through a two-way mirror, zstd, encryption; through
#    the rmt medium against dump's own rmt client to the same server
#    (rmt-dump serving /dev/npmtm1).
# 2. restore -r from the dump file and from /dev/pmtm0.
# 3. raw streams with dd at 512 B, 10 KiB, 64 KiB and 256 KiB records: write
#    and read, to and from a plain file, through a pipe into (from) a file,
#    through pmt (records in the data area pmtd maps) and through pmt with
#    records in the frames (PMTD_NO_AREA, as a daemon that maps no area).
# 3b. four streams at once: four units against four files (64 KiB records).
# 4. positioning on a tape of many files (posbench) and pmtd's load time.
# The dump, restore and streams run through CUSE too (kind cuse: pmtd
# --cuse 16, /dev/pmtm16, beside the module's units).
# 5. the tape library (pmtd library, 4 drives, 120 slots, 100 cartridges):
#    mtx load until the drive says ONLINE (MTIOCGET from a static probe; and
#    mt status with grep, what Bacula's mtx-changer runs), mtx unload, mtx
#    status, the move inside pmtd (its log), a process that does nothing
#    (/bin/true: what starting a program costs in the emulator); 3 x RUNS
#    runs each.
# 6. the mirrored library (pmtd library with sides: A a pmt library on this
#    host, B two pmt libraries reached through the remote changer protocol
#    and rmt over a local remote shell): a mirrored load until ONLINE and
#    its unload against one library's (side A's own); dump of /dev/vda
#    through the mirrored library's drive against dump to one library's
#    drive and to a plain pmt drive (pmtd --image).
# shellcheck shell=dash
. /usr/local/lib/pmt.sh
runs=${1:-3}
files=${2:-10000}
mb=${3:-32}
parts=${4:-dump restore streams four pos library mirror}
dump_kinds=${5:-file pipe pmt cuse mirror zstd seal rmt-own rmt-pmt}
want() { case " $parts " in *" $1 "*) return 0 ;; esac; return 1; }
mkdir -p /bench /out/logs
L=/out/logs
now() { /run/files/clock; }
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
elapsed() { echo "$2 $1" | awk '{printf "%.3f", $1 - $2}'; }
: >/out/bench.raw
# record GROUP KIND T0 T1
record() {
	t=$(elapsed "$3" "$4")
	echo "$1 $2 $t" >>/out/bench.raw
	echo "bench: $1 $2 $t s"
}

RSH=/run/files/rsh-local
chmod +x "$RSH"
head -c 32 /dev/urandom >/bench/key
chmod 600 /bench/key

# ----- 1. dump --------------------------------------------------------------------
dump_one() { # KIND
	rm -f /bench/*.tap /bench/*.pmtidx /bench/plain.dump /bench/pipe.dump
	sync
	case $1 in
	file)
		t0=$(now)
		dump 0f /bench/plain.dump /dev/vda >$L/bench-dump-file.log 2>&1
		t1=$(now)
		;;
	pipe)
		t0=$(now)
		dump 0f - /dev/vda 2>$L/bench-dump-pipe.log | cat >/bench/pipe.dump
		t1=$(now)
		;;
	cuse)
		pmtd_cuse_start 16 --image /bench/c.tap
		t0=$(now)
		dump 0f /dev/pmtm16 /dev/vda >$L/bench-dump-cuse.log 2>&1
		t1=$(now)
		pmtd_stop 16
		;;
	rmt-own)
		# dump's own rmt client, to rmt-dump serving a pmt unit.
		pmtd_start 1 --image /bench/r1.tap
		t0=$(now)
		RSH=$RSH RMT=/usr/sbin/rmt-dump dump 0f localhost:/dev/npmtm1 /dev/vda >$L/bench-dump-rmt-own.log 2>&1
		t1=$(now)
		pmtd_stop 1
		;;
	*)
		case $1 in
		pmt) set -- --image /bench/one.tap ;;
		mirror) set -- --mirror tap:/bench/m1.tap --mirror tap:/bench/m2.tap ;;
		zstd) set -- --image /bench/z.tap --compress ;;
		seal) set -- --image /bench/s.tap --key-file /bench/key ;;
		rmt-pmt)
			pmtd_start 1 --image /bench/r1.tap
			set -- --medium "rmt:localhost:/dev/npmtm1,rsh=$RSH,rmt=/usr/sbin/rmt-dump"
			;;
		esac
		kind=$KIND
		pmtd_start 0 "$@"
		t0=$(now)
		dump 0f /dev/pmtm0 /dev/vda >"$L/bench-dump-$kind.log" 2>&1
		t1=$(now)
		pmtd_stop 0
		pmtd_stop 1
		;;
	esac
	record dump "$KIND" "$t0" "$t1"
}

if want dump; then
	for i in $(seq "$runs"); do
		for KIND in $dump_kinds; do dump_one "$KIND"; done
	done
	# The mirror's copies are the same, record for record.
	pmtd_start 0 --mirror tap:/bench/m1.tap --mirror tap:/bench/m2.tap
	dump 0f /dev/pmtm0 /dev/vda >$L/bench-mirror-check.log 2>&1
	pmtd_stop 0
	cmp -s /bench/m1.tap /bench/m2.tap && echo "bench: mirror copies identical" || echo "bench: mirror copies DIFFER"
fi

# ----- 2. restore -------------------------------------------------------------------
rm -f /bench/*
if want restore; then
	dump 0f /bench/plain.dump /dev/vda >$L/bench-restore-dump1.log 2>&1
	pmtd_start 0 --image /bench/rest.tap
	dump 0f /dev/pmtm0 /dev/vda >$L/bench-restore-dump2.log 2>&1
	pmtd_stop 0
	cp /bench/rest.tap /bench/crest.tap
fi
restore_one() { # KIND
	rm -rf /bench/r && mkdir -p /bench/r && cd /bench/r || exit 1
	case $1 in
	file)
		t0=$(now)
		restore -r -f /bench/plain.dump >$L/bench-restore-file.log 2>&1
		t1=$(now)
		;;
	pmt | pmt-frames)
		[ "$1" = pmt-frames ] && export PMTD_NO_AREA=1
		pmtd_start 0 --image /bench/rest.tap
		unset PMTD_NO_AREA
		t0=$(now)
		restore -r -f /dev/pmtm0 >"$L/bench-restore-$1.log" 2>&1
		t1=$(now)
		pmtd_stop 0
		;;
	cuse)
		pmtd_cuse_start 16 --image /bench/crest.tap
		t0=$(now)
		restore -r -f /dev/pmtm16 >$L/bench-restore-cuse.log 2>&1
		t1=$(now)
		pmtd_stop 16
		;;
	esac
	cd / || exit 1
	record restore "$1" "$t0" "$t1"
}
if want restore; then
	for i in $(seq "$runs"); do
		for k in file pmt pmt-frames cuse; do restore_one $k; done
	done
fi
rm -rf /bench/r /bench/*

# ----- 3. raw streams --------------------------------------------------------------
stream_one() { # SIZE KIND (w-file w-pipe w-pmt w-frames w-cuse r-file r-pipe r-pmt r-frames r-cuse)
	bs=$1
	case $2 in
	w-file)
		rm -f /bench/out
		t0=$(now)
		dd if=/bench/src of=/bench/out bs="$bs" 2>/dev/null
		t1=$(now)
		;;
	w-pipe)
		rm -f /bench/out
		t0=$(now)
		dd if=/bench/src bs="$bs" 2>/dev/null | cat >/bench/out
		t1=$(now)
		;;
	w-pmt | w-frames)
		rm -f /bench/w.tap /bench/w.tap.pmtidx
		[ "$2" = w-frames ] && export PMTD_NO_AREA=1
		pmtd_start 0 --image /bench/w.tap
		unset PMTD_NO_AREA
		t0=$(now)
		dd if=/bench/src of=/dev/pmtm0 bs="$bs" 2>/dev/null
		t1=$(now)
		pmtd_stop 0
		;;
	w-cuse)
		rm -f /bench/wc.tap /bench/wc.tap.pmtidx
		pmtd_cuse_start 16 --image /bench/wc.tap
		t0=$(now)
		dd if=/bench/src of=/dev/pmtm16 bs="$bs" 2>/dev/null
		t1=$(now)
		pmtd_stop 16
		;;
	r-cuse)
		pmtd_cuse_start 16 --image /bench/wc.tap
		t0=$(now)
		dd if=/dev/pmtm16 of=/dev/null bs="$bs" 2>/dev/null
		t1=$(now)
		pmtd_stop 16
		;;
	r-file)
		t0=$(now)
		dd if=/bench/out of=/dev/null bs="$bs" 2>/dev/null
		t1=$(now)
		;;
	r-pipe)
		t0=$(now)
		cat /bench/out | dd of=/dev/null bs="$bs" 2>/dev/null
		t1=$(now)
		;;
	r-pmt | r-frames)
		[ "$2" = r-frames ] && export PMTD_NO_AREA=1
		pmtd_start 0 --image /bench/w.tap
		unset PMTD_NO_AREA
		t0=$(now)
		dd if=/dev/pmtm0 of=/dev/null bs="$bs" 2>/dev/null
		t1=$(now)
		pmtd_stop 0
		;;
	esac
	record "stream-$bs" "$2" "$t0" "$t1"
}
[ -f /bench/src ] || head -c $((mb * 1048576)) /dev/urandom >/bench/src
if want streams; then
	for bs in 512 10240 65536 262144; do
		for i in $(seq "$runs"); do
			for k in w-file w-pipe w-pmt w-frames w-cuse r-file r-pipe r-pmt r-frames r-cuse; do stream_one "$bs" "$k"; done
		done
	done
fi

# ----- 3b. four streams at once -----------------------------------------------------
four_one() { # KIND (w-file w-pmt r-file r-pmt)
	q=$((mb * 1048576 / 4 / 65536))
	case $1 in
	w-pmt | r-pmt) for u in 0 1 2 3; do
		[ "$1" = w-pmt ] && rm -f /bench/f$u.tap /bench/f$u.tap.pmtidx
		pmtd_start $u --image /bench/f$u.tap
	done ;;
	esac
	t0=$(now)
	pids=
	for u in 0 1 2 3; do
		case $1 in
		w-file) dd if=/bench/src of=/bench/o$u bs=65536 count=$q skip=$((u * q)) 2>/dev/null & ;;
		r-file) dd if=/bench/o$u of=/dev/null bs=65536 2>/dev/null & ;;
		w-pmt) dd if=/bench/src of=/dev/pmtm$u bs=65536 count=$q skip=$((u * q)) 2>/dev/null & ;;
		r-pmt) dd if=/dev/pmtm$u of=/dev/null bs=65536 2>/dev/null & ;;
		esac
		pids="$pids $!"
	done
	# The four dd's only: a bare wait would wait for the daemons too.
	# shellcheck disable=SC2086
	wait $pids
	t1=$(now)
	case $1 in w-pmt | r-pmt) for u in 0 1 2 3; do pmtd_stop $u; done ;; esac
	record four "$1" "$t0" "$t1"
}
if want four; then
	[ -f /bench/src ] || head -c $((mb * 1048576)) /dev/urandom >/bench/src
	for i in $(seq "$runs"); do
		for k in w-file w-pmt r-file r-pmt; do four_one "$k"; done
	done
fi
rm -f /bench/*

# ----- 5. the tape library ------------------------------------------------------------
if want library; then
	mkdir -p /bench/lib
	cat >/bench/lib/lib.toml <<EOF
changer = "/dev/pmcs0"
slots = 120
import-export = 4
tapes = "/bench/lib"
[[drive]]
device = "/dev/pmts0"
[[drive]]
device = "/dev/pmts1"
[[drive]]
device = "/dev/pmts2"
[[drive]]
device = "/dev/pmts3"
[[cartridges]]
barcodes = "ABC%03dL6"
count = 100
EOF
	pmtd library --config /bench/lib/lib.toml >/out/library.log 2>&1 &
	lp=$!
	i=0
	while [ $i -lt 100 ] && ! grep -q 'library serving' /out/library.log; do sleep 0.05; i=$((i + 1)); done
	n=0
	while [ $n -lt $((runs * 3)) ]; do
		s=$((n % 100 + 1)) d=$((n % 4))
		# mtx load, then the drive's status until ONLINE (a static probe,
		# then Bacula's way: mt status and grep).
		t0=$(now)
		mtx -f /dev/pmcm0 load $s $d >>$L/bench-library.log 2>&1
		t1=$(now)
		looks=$(/run/files/online /dev/npmtm$d)
		t2=$(now)
		mt -f /dev/npmtm$d status 2>/dev/null | grep -q ONLINE || echo "bench: drive $d not ONLINE after mtx load"
		t3=$(now)
		[ "$looks" = 1 ] || echo "bench: drive $d ONLINE after $looks looks"
		record library load-online "$t0" "$t2"
		record library mtx-load "$t0" "$t1"
		record library mt-status "$t2" "$t3"
		t0=$(now)
		mtx -f /dev/pmcm0 status >/dev/null 2>&1
		t1=$(now)
		record library status "$t0" "$t1"
		t0=$(now)
		mtx -f /dev/pmcm0 unload $s $d >>$L/bench-library.log 2>&1
		t1=$(now)
		record library unload "$t0" "$t1"
		t0=$(now)
		/bin/true
		t1=$(now)
		record library exec "$t0" "$t1"
		n=$((n + 1))
	done
	# The moves inside pmtd (its log: microseconds from the command to the
	# inventory written).
	sed -n 's/.* moved .*took_us=\([0-9]*\).*/\1/p' /out/library.log | awk '{print "library pmtd-move " $1 / 1e6}' >>/out/bench.raw
	kill $lp
	wait $lp
	rm -rf /bench/lib
fi

# ----- 6. the mirrored library ---------------------------------------------------------
# side NAME SLAVE SLOTS FIRST COUNT UNITS...: a pmt library in /bench/NAME.
side() {
	_d=/bench/$1
	mkdir -p "$_d"
	{
		printf 'changer = "%s"\nslots = %s\ntapes = "%s"\n' "$2" "$3" "$_d"
		_f=$4 _c=$5
		shift 5
		for _u in "$@"; do printf '[[drive]]\ndevice = "/dev/pmts%s"\n' "$_u"; done
		printf '[[cartridges]]\nbarcodes = "ABC%%03dL6"\nfirst = %s\ncount = %s\n' "$_f" "$_c"
	} >"$_d/lib.toml"
}
# serve NAME: starts library NAME; its pid in LP_NAME.
serve() {
	pmtd library --config "/bench/$1/lib.toml" >>"/out/library-$1.log" 2>&1 &
	eval "LP_$1=$!"
	_i=0
	while [ $_i -lt 200 ] && ! grep -q 'library serving' "/out/library-$1.log"; do sleep 0.05; _i=$((_i + 1)); done
}
# online DEV: waits until DEV reports a loaded tape (the static probe).
online() { /run/files/online "$1" >/dev/null || echo "bench: $1 not ONLINE"; }
if want mirror; then
	side A /dev/pmcs1 120 1 108 4 5 6 7
	side B1 /dev/pmcs2 54 1 54 8 9
	side B2 /dev/pmcs3 54 55 54 10 11
	mkdir -p /bench/M
	rm_=/usr/sbin/rmt-dump
	rs() { echo "rmt:localhost:/dev/npmtm$1,rsh=$RSH,rmt=$rm_"; }
	cat >/bench/M/lib.toml <<EOF
changer = "/dev/pmcs0"
slots = 108
inventory = "/bench/M/mirror.inventory"
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
changer = "remote:localhost:/dev/pmcm2,rsh=$RSH,pmtd=/usr/bin/pmtd"
drives = ["$(rs 8)", "$(rs 9)"]
[[side.library]]
changer = "remote:localhost:/dev/pmcm3,rsh=$RSH,pmtd=/usr/bin/pmtd"
drives = ["$(rs 10)", "$(rs 11)"]
EOF
	for l in A B1 B2 M; do serve $l; done
	n=0
	while [ $n -lt $((runs * 3)) ]; do
		s=$((n % 50 + 1))
		t0=$(now)
		mtx -f /dev/pmcm0 load $s 0 >>$L/bench-mirror.log 2>&1
		online /dev/npmtm0
		t1=$(now)
		record move mirror-load "$t0" "$t1"
		t0=$(now)
		mtx -f /dev/pmcm0 unload $s 0 >>$L/bench-mirror.log 2>&1
		t1=$(now)
		record move mirror-unload "$t0" "$t1"
		t0=$(now)
		mtx -f /dev/pmcm1 load $((s + 60)) 0 >>$L/bench-mirror.log 2>&1
		online /dev/npmtm4
		t1=$(now)
		record move one-load "$t0" "$t1"
		t0=$(now)
		mtx -f /dev/pmcm1 unload $((s + 60)) 0 >>$L/bench-mirror.log 2>&1
		t1=$(now)
		record move one-unload "$t0" "$t1"
		n=$((n + 1))
	done
	for i in $(seq "$runs"); do
		# Through the mirrored library: both sides' drives get every record.
		mtx -f /dev/pmcm0 load $((i + 1)) 0 >>$L/bench-mirror.log 2>&1
		t0=$(now)
		dump 0f /dev/pmtm0 /dev/vda >$L/bench-dump-mirrored.log 2>&1
		t1=$(now)
		record dump mirrored-library "$t0" "$t1"
		mtx -f /dev/pmcm0 unload $((i + 1)) 0 >>$L/bench-mirror.log 2>&1
		# One library's drive (side A's own).
		mtx -f /dev/pmcm1 load $((i + 70)) 0 >>$L/bench-mirror.log 2>&1
		t0=$(now)
		dump 0f /dev/pmtm4 /dev/vda >$L/bench-dump-onelib.log 2>&1
		t1=$(now)
		record dump one-library "$t0" "$t1"
		mtx -f /dev/pmcm1 unload $((i + 70)) 0 >>$L/bench-mirror.log 2>&1
	done
	for l in M A B1 B2; do kill "$(eval echo \$LP_$l)"; wait "$(eval echo \$LP_$l)"; done
	# The moves inside the daemons: the mirrored library's (planned, made on
	# side A through SG_IO and on side B over the remote protocol, the
	# drives unloaded and loaded) and side A's own.
	sed -n 's/.* moved .*took_us=\([0-9]*\).*/\1/p' /out/library-M.log | awk '{print "move mirror-pmtd " $1 / 1e6}' >>/out/bench.raw
	sed -n 's/.* moved .*took_us=\([0-9]*\).*/\1/p' /out/library-A.log | awk '{print "move one-pmtd " $1 / 1e6}' >>/out/bench.raw
	cmp -s /bench/A/ABC002L6.tap /bench/B1/ABC002L6.tap && echo "bench: mirrored library copies identical" || echo "bench: mirrored library copies DIFFER"
	# One pmt drive (unit 0, the mirrored library's drive 0 until now).
	for i in $(seq "$runs"); do
		rm -f /bench/one.tap /bench/one.tap.pmtidx
		pmtd_start 0 --image /bench/one.tap
		t0=$(now)
		dump 0f /dev/pmtm0 /dev/vda >$L/bench-dump-onedrive.log 2>&1
		t1=$(now)
		pmtd_stop 0
		record dump one-drive "$t0" "$t1"
	done
	rm -rf /bench/A /bench/B1 /bench/B2 /bench/M
fi

# The medians.
awk '{ print $1, $2 }' /out/bench.raw | sort -u | while read -r g k; do
	m=$(awk -v g="$g" -v k="$k" '$1 == g && $2 == k {print $3}' /out/bench.raw | median)
	echo "$g $k $m" >>/out/bench.median
done

# ----- 4. positioning --------------------------------------------------------------
want pos || exit 0
# loaded: the load time pmtd logged for the volume it loaded last (us).
loaded() { grep 'volume 1 loaded' /out/pmtd0.log | tail -n 1 | sed -n 's/.*load_us=\([0-9]*\).*/\1/p'; }
pmtd_start 0 --image /bench/pos.tap
/run/files/posbench write /dev/npmtm0 "$files" >>/out/posbench.raw || echo "posbench: failed" >>/out/posbench.raw
pmtd_stop 0
pmtd_start 0 --image /bench/pos.tap
echo "posbench: load-index $(loaded)" >>/out/posbench.raw
/run/files/posbench seek /dev/npmtm0 "$files" >>/out/posbench.raw || echo "posbench: failed" >>/out/posbench.raw
pmtd_stop 0
rm -f /bench/pos.tap.pmtidx
pmtd_start 0 --image /bench/pos.tap
echo "posbench: load-scan $(loaded)" >>/out/posbench.raw
pmtd_stop 0
echo "posbench: files $files $(stat -c %s /bench/pos.tap)" >>/out/posbench.raw
cat /out/posbench.raw
