# Benchmark, run in the VM by scripts/bench: dump of /dev/vda to a plain
# file, to a pipe, and to /dev/pmtm0 with pmtd storing the image, all on the
# same tmpfs in the same boot. Prints one line per run and the medians.
# Then positioning on a tape of many files (scripts/guest/posbench.c) and
# the time pmtd takes to load that image with and without its index.
# shellcheck shell=dash
. /usr/local/lib/pmt.sh
runs=${1:-5}
mkdir -p /bench /out/logs
now() { cut -d' ' -f1 /proc/uptime; }
# CPU time used by everything (user+nice+system+irq+softirq), in seconds.
busy() { awk '/^cpu / {print ($2 + $3 + $4 + $7 + $8) / 100}' /proc/stat; }
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
elapsed() { echo "$2 $1" | awk '{printf "%.2f", $1 - $2}'; }

one() { # KIND
	rm -f /bench/*
	sync
	case $1 in
	file)
		c0=$(busy)
		t0=$(now)
		dump 0f /bench/plain.dump /dev/vda >/out/logs/bench-file.log 2>&1
		t1=$(now)
		c1=$(busy)
		size=$(stat -c %s /bench/plain.dump)
		;;
	pipe)
		c0=$(busy)
		t0=$(now)
		dump 0f - /dev/vda 2>/out/logs/bench-pipe.log | cat >/bench/pipe.dump
		t1=$(now)
		c1=$(busy)
		size=$(stat -c %s /bench/pipe.dump)
		;;
	pmt)
		pmtd_start 0 --image /bench/pmt.tap
		c0=$(busy)
		t0=$(now)
		dump 0f /dev/pmtm0 /dev/vda >/out/logs/bench-pmt.log 2>&1
		t1=$(now)
		c1=$(busy)
		pmtd_stop 0
		size=$(stat -c %s /bench/pmt.tap)
		;;
	esac
	t=$(elapsed "$t0" "$t1")
	c=$(elapsed "$c0" "$c1")
	echo "$1 $t $size $c" >>/out/bench.raw
	echo "bench: $1 run: $t s, $size bytes, $c s of CPU"
}

: >/out/bench.raw
for i in $(seq "$runs"); do
	for k in file pipe pmt; do one $k; done
done
for k in file pipe pmt; do
	m=$(awk -v k=$k '$1 == k {print $2}' /out/bench.raw | median)
	b=$(awk -v k=$k '$1 == k {print $3}' /out/bench.raw | head -n 1)
	c=$(awk -v k=$k '$1 == k {print $4}' /out/bench.raw | median)
	echo "$k $m $b $c" >>/out/bench.median
done

# Positioning on a tape of many files (second argument, default 10 000).
files=${2:-10000}
# loaded: the load time pmtd logged for the volume it loaded last (us).
loaded() { grep 'volume 1 loaded' /out/pmtd0.log | tail -n 1 | sed -n 's/.*load_us=\([0-9]*\).*/\1/p'; }
rm -f /bench/*
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
