# Benchmark, run in the VM by scripts/bench. Everything on the same tmpfs in
# the same boot; each measurement is the median of RUNS runs, the kinds of a
# group interleaved run by run. Prints "bench: GROUP KIND SECONDS" lines and
# leaves /out/bench.median (GROUP KIND MEDIAN) for the host to summarise.
#
#   bench.sh RUNS POS_FILES STREAM_MB [PARTS]
#
# PARTS (default "dump restore streams four pos") picks the groups to run.
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
# shellcheck shell=dash
. /usr/local/lib/pmt.sh
runs=${1:-3}
files=${2:-10000}
mb=${3:-32}
parts=${4:-dump restore streams four pos}
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
		for KIND in file pipe pmt mirror zstd seal rmt-own rmt-pmt; do dump_one "$KIND"; done
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
	esac
	cd / || exit 1
	record restore "$1" "$t0" "$t1"
}
if want restore; then
	for i in $(seq "$runs"); do
		for k in file pmt pmt-frames; do restore_one $k; done
	done
fi
rm -rf /bench/r /bench/*

# ----- 3. raw streams --------------------------------------------------------------
stream_one() { # SIZE KIND (w-file w-pipe w-pmt r-file r-pipe r-pmt)
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
			for k in w-file w-pipe w-pmt w-frames r-file r-pipe r-pmt r-frames; do stream_one "$bs" "$k"; done
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
