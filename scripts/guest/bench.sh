# Benchmark, run in the VM by scripts/bench: dump of /dev/vda to a plain
# file, to a pipe, and to /dev/pmtm0 with pmtd storing the image, all on the
# same tmpfs in the same boot. Prints one line per run and the medians.
# shellcheck shell=dash
. /usr/local/lib/pmt.sh
runs=${1:-5}
mkdir -p /bench /out/logs
now() { cut -d' ' -f1 /proc/uptime; }
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
elapsed() { echo "$2 $1" | awk '{printf "%.2f", $1 - $2}'; }

one() { # KIND
	rm -f /bench/*
	sync
	case $1 in
	file)
		t0=$(now)
		dump 0f /bench/plain.dump /dev/vda >/out/logs/bench-file.log 2>&1
		t1=$(now)
		size=$(stat -c %s /bench/plain.dump)
		;;
	pipe)
		t0=$(now)
		dump 0f - /dev/vda 2>/out/logs/bench-pipe.log | cat >/bench/pipe.dump
		t1=$(now)
		size=$(stat -c %s /bench/pipe.dump)
		;;
	pmt)
		pmtd_start 0 --image /bench/pmt.tap
		t0=$(now)
		dump 0f /dev/pmtm0 /dev/vda >/out/logs/bench-pmt.log 2>&1
		t1=$(now)
		pmtd_stop 0
		size=$(stat -c %s /bench/pmt.tap)
		;;
	esac
	t=$(elapsed "$t0" "$t1")
	echo "$1 $t $size" >>/out/bench.raw
	echo "bench: $1 run: $t s, $size bytes"
}

: >/out/bench.raw
for i in $(seq "$runs"); do
	for k in file pipe pmt; do one $k; done
done
for k in file pipe pmt; do
	m=$(awk -v k=$k '$1 == k {print $2}' /out/bench.raw | median)
	b=$(awk -v k=$k '$1 == k {print $3}' /out/bench.raw | head -n 1)
	echo "$k $m $b" >>/out/bench.median
done
