# QEMU scenarios for pmtd as a tape switchboard: mirrors of real pmt units
# (tape:) and of drives reached over rmt (rmt:, through Debian's rmt-dump and
# rmt-tar started by a local remote shell), filters, a cut rmt connection,
# pmtd copy. Run by scripts/qemu-test through scripts/vm-run with
#   /dev/vda  fsa (varied files)   /dev/vdb  fsbig (64 MB)
# and the dump package (rmt-dump) and tests/rsh-local in /run/files.
# One "PASS name" or "FAIL name: why" per scenario.
#
# shellcheck shell=dash
. /usr/local/lib/pmt.sh

SCENARIOS="mirror-dump-tape-and-rmt-dump mirror-dump-tape-and-rmt-tar tar-compressed-encrypted encrypted-damage-and-wrong-key rmt-cut-mid-dump copy-spans-file-boundaries"
echo "PLAN $SCENARIOS" >/out/results
LOG=/out/logs
mkdir -p $LOG /mnt/a /out/sw
mount -o ro /dev/vda /mnt/a || echo "cannot mount /dev/vda"
RSH=/run/files/rsh-local
chmod +x $RSH

cat >/tmp/eot.sh <<'EOF'
#!/bin/sh
echo "end of volume $2 on $1" >>/out/logs/switch-volumes.log
exit 0
EOF
cat >/tmp/bot.sh <<'EOF'
#!/bin/sh
echo "restore wants volume $2 on $1" >>/out/logs/switch-volumes.log
[ "$2" -gt 1 ] && mt -f "$1" offline
exit 0
EOF
chmod +x /tmp/eot.sh /tmp/bot.sh

# killname PATH: SIGKILL the processes whose program is PATH (argv[0]).
killname() {
	for _p in /proc/[0-9]*; do
		[ "$(tr '\0' '\n' <"$_p/cmdline" 2>/dev/null | head -n 1)" = "$1" ] && kill -9 "${_p#/proc/}" 2>/dev/null
	done
	return 0
}

# vols DIR PREFIX: four volume options for pmtd.
vols() { echo "--image $1/${2}1.tap --image $1/${2}2.tap --image $1/${2}3.tap --image $1/${2}4.tap"; }

# restore_from NAME IMAGES...: restores the volumes (served by pmtd on unit
# 0, changed by restore's -F script) and compares the tree with fsa.
restore_from() {
	_n=$1
	shift
	_v=""
	for _i in "$@"; do _v="$_v --image $_i"; done
	# shellcheck disable=SC2086
	pmtd_start 0 $_v || return 1
	rm -rf /tmp/rs && mkdir -p /tmp/rs && cd /tmp/rs || return 1
	timeout 300 restore -r -F /tmp/bot.sh -f /dev/pmtm0 >"$LOG/$_n.restore" 2>&1
	_rc=$?
	cd / || return 1
	pmtd_stop 0
	[ $_rc = 0 ] || { echo "restore failed: $(tail -n 2 "$LOG/$_n.restore" | tr '\n' ' ')"; return 1; }
	same_tree "$_n" /mnt/a /tmp/rs || { echo "the tree restored differs"; return 1; }
	rm -rf /tmp/rs
}

# mirror_dump NAME RMT-SERVER: dump of fsa to /dev/pmtm0, pmtd mirroring to
# /dev/npmtm1 (unit 1: 5 MB volumes with early warning 1 MB before the end,
# as a real drive has; it reaches early warning first) and to /dev/npmtm2
# over rmt (unit 2: 8 MB volumes); both copies restored alone. A real drive
# does not say how far early warning is, so the mirror keeps what the driver
# holds unanswered to half the zone a member's spec declares (1M by
# default); the member units take what was on its way after their early
# warning, as real drives do (--write-after-enospc).
mirror_dump() {
	s=$1
	d=/out/sw/$s
	rm -rf "$d" && mkdir -p "$d"
	why=""
	# shellcheck disable=SC2046
	pmtd_start 1 $(vols "$d" a) --capacity 5M --early-warning 1M --write-after-enospc || why="unit 1 daemon; "
	# shellcheck disable=SC2046
	pmtd_start 2 $(vols "$d" b) --capacity 8M --write-after-enospc || why="${why}unit 2 daemon; "
	pmtd_start 0 --mirror tape:/dev/npmtm1 --mirror "rmt:localhost:/dev/npmtm2,rsh=$RSH,rmt=$2" || why="${why}mirror daemon; "
	if [ -z "$why" ] && ! timeout 600 dump -0 -F /tmp/eot.sh -f /dev/pmtm0 /dev/vda >"$LOG/$s.dump" 2>&1; then
		why="dump failed: $(tail -n 2 "$LOG/$s.dump" | tr '\n' ' ')"
	fi
	pmtd_stop 0
	pmtd_stop 1
	pmtd_stop 2
	nvol=$(grep -c 'Volume [0-9]* started' "$LOG/$s.dump")
	[ -n "$why" ] || [ "$nvol" -ge 2 ] || why="dump used $nvol volume(s); the smaller copy should have ended the first"
	if [ -z "$why" ]; then
		# The copies are the same, volume for volume, record for record.
		i=1
		while [ $i -le "$nvol" ]; do
			pmtd inspect "$d/a$i.tap" | tail -n +2 >"$LOG/$s.a$i.map"
			pmtd inspect "$d/b$i.tap" | tail -n +2 >"$LOG/$s.b$i.map"
			cmp -s "$LOG/$s.a$i.map" "$LOG/$s.b$i.map" || why="${why}the maps of volume $i differ; "
			cmp -s "$d/a$i.tap" "$d/b$i.tap" || why="${why}the records of volume $i differ; "
			i=$((i + 1))
		done
	fi
	if [ -z "$why" ]; then
		va="" vb=""
		i=1
		while [ $i -le "$nvol" ]; do va="$va $d/a$i.tap"; vb="$vb $d/b$i.tap"; i=$((i + 1)); done
		# shellcheck disable=SC2086
		r=$(restore_from "$s-copy-a" $va) || why="${why}copy a: $r; "
		# shellcheck disable=SC2086
		r=$(restore_from "$s-copy-b" $vb) || why="${why}copy b: $r; "
	fi
	if [ -z "$why" ]; then pass "$s"; else fail "$s" "$why"; fi
}

# 1-2. The original scenario: a mirror of a tape device and an rmt drive.
mirror_dump mirror-dump-tape-and-rmt-dump /usr/sbin/rmt-dump
mirror_dump mirror-dump-tape-and-rmt-tar /usr/sbin/rmt-tar

# 3. tar through zstd and encryption into an image, read back.
s=tar-compressed-encrypted
head -c 32 /dev/urandom >/tmp/key
chmod 600 /tmp/key
rm -f /out/sw/sealed.tap*
why=""
pmtd_start 0 --image /out/sw/sealed.tap --compress --key-file /tmp/key || why="daemon; "
timeout 300 tar -c -b 20 -f /dev/pmtm0 -C /mnt/a . >"$LOG/$s.c" 2>&1 || why="${why}tar -c failed; "
rm -rf /tmp/tx && mkdir -p /tmp/tx
timeout 300 tar -x -b 20 -f /dev/pmtm0 -C /tmp/tx >"$LOG/$s.x" 2>&1 || why="${why}tar -x failed: $(tail -n 1 "$LOG/$s.x"); "
pmtd_stop 0
[ -n "$why" ] || same_tree $s /mnt/a /tmp/tx || why="${why}the tree differs; "
pmtd inspect /out/sw/sealed.tap >"$LOG/$s.inspect" 2>&1
grep -qi 'xchacha\|encrypt\|sealed' "$LOG/$s.inspect" || why="${why}inspect does not show the filter; "
# Stored bytes: far fewer than tar wrote for text (compressed), not plain.
grep -q 'the quick brown fox' /out/sw/sealed.tap && why="${why}plain text found in the encrypted image; "
rm -rf /tmp/tx
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# 4. One byte of the stored image changed: a read error, not wrong data; a
#    wrong key is refused.
s=encrypted-damage-and-wrong-key
why=""
cp /out/sw/sealed.tap /tmp/damaged.tap
# A byte inside the second record's ciphertext (the first one is checked
# when the volume loads): past its length word, the filter header and the
# nonce.
len0=$(od -An -tu4 -N4 /tmp/damaged.tap | tr -d ' ')
off=$((8 + len0 + len0 % 2 + 4 + 14 + 24 + 40))
# Its complement, so the byte always changes.
byte=$(od -An -tu1 -j "$off" -N1 /tmp/damaged.tap | tr -d ' ')
printf "\\$(printf '%03o' $((255 - byte)))" | dd of=/tmp/damaged.tap bs=1 seek=$off conv=notrunc 2>/dev/null
cmp -s /tmp/damaged.tap /out/sw/sealed.tap && why="the damage did not change the image; "
pmtd_start 0 --image /tmp/damaged.tap --compress --key-file /tmp/key || why="${why}daemon; "
rm -rf /tmp/tx && mkdir -p /tmp/tx
if timeout 300 tar -x -b 20 -f /dev/pmtm0 -C /tmp/tx >"$LOG/$s.x" 2>&1; then
	why="${why}tar read a damaged archive without an error; "
fi
grep -q 'Input/output error' "$LOG/$s.x" || why="${why}no I/O error reported: $(tail -n 1 "$LOG/$s.x"); "
pmtd_stop 0
head -c 32 /dev/urandom >/tmp/other.key
chmod 600 /tmp/other.key
if timeout 20 pmtd --image /out/sw/sealed.tap --key-file /tmp/other.key /dev/pmts0 >"$LOG/$s.wrongkey" 2>&1; then
	why="${why}pmtd served the volume with the wrong key; "
fi
grep -qi 'key' "$LOG/$s.wrongkey" || why="${why}the refusal does not name the key: $(head -n 1 "$LOG/$s.wrongkey"); "
rm -rf /tmp/tx /tmp/damaged.tap*
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# 5. The rmt connection cut in the middle of a dump: dump gets an error
#    within a few seconds and nothing hangs.
s=rmt-cut-mid-dump
rm -f /out/sw/cut.tap*
why=""
pmtd_start 2 --image /out/sw/cut.tap || why="unit 2 daemon; "
pmtd_start 0 --medium "rmt:localhost:/dev/npmtm2,rsh=$RSH,rmt=/usr/sbin/rmt-dump" || why="${why}rmt daemon; "
dump -0 -f /dev/pmtm0 /dev/vdb >"$LOG/$s.dump" 2>&1 &
dpid=$!
i=0
while [ $i -lt 600 ] && [ "$(stat -c %s /out/sw/cut.tap 2>/dev/null || echo 0)" -lt 3000000 ]; do
	sleep 0.05
	i=$((i + 1))
done
at=$(stat -c %s /out/sw/cut.tap 2>/dev/null || echo 0)
killname /usr/sbin/rmt-dump
t0=$(date +%s)
i=0
while kill -0 $dpid 2>/dev/null && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
if kill -0 $dpid 2>/dev/null; then
	why="${why}dump still running $(($(date +%s) - t0)) s after the cut; "
	kill -9 $dpid 2>/dev/null
else
	wait $dpid
	rc=$?
	took=$(($(date +%s) - t0))
	[ "$at" -ge 3000000 ] || why="${why}dump never got going ($at bytes); "
	[ $rc != 0 ] || why="${why}dump exited 0 after the cut; "
	[ $took -le 5 ] || why="${why}dump took ${took} s to fail; "
fi
pmtd_stop 0
pmtd_stop 2
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

# 6. pmtd copy of a multi-file tape to a shorter destination: spanning at
#    file boundaries, verified, every file whole on some volume.
s=copy-spans-file-boundaries
rm -f /out/sw/full.tap* /out/sw/half*
why=""
pmtd_start 0 --image /out/sw/full.tap || why="daemon; "
for dir in sizes data links sparse deep; do
	[ -e "/mnt/a/$dir" ] || continue
	timeout 120 tar -c -b 20 -f /dev/npmtm0 -C /mnt/a "./$dir" >>"$LOG/$s.tar" 2>&1 || why="${why}tar of $dir failed; "
done
mt -f /dev/npmtm0 weof 1
pmtd_stop 0
# Volumes that hold the largest file with a little to spare: the smaller
# files share volumes, none is split.
big=$(pmtd inspect /out/sw/full.tap | sed -n 's/^file [0-9]*: \([0-9]*\) records, \([0-9]*\) bytes.*/\1 \2/p' |
	awk '{ n = $2 + 16 * $1; if (n > m) m = n } END { print m }')
cap=$((big + big / 4 + 65536))
if ! timeout 300 pmtd copy --verify /out/sw/full.tap "tap:/out/sw/half%d.tap,volumes=10,capacity=$cap" >"$LOG/$s.map" 2>"$LOG/$s.log"; then
	why="${why}pmtd copy failed: $(tail -n 2 "$LOG/$s.log" | tr '\n' ' '); "
fi
nv=$(grep -c 'volume [0-9]* (' "$LOG/$s.map")
[ "$nv" -ge 2 ] || why="${why}the copy used $nv volume(s); "
grep -q 'verified' "$LOG/$s.map" || why="${why}no volume verified; "
# The files, in order, across the volumes, are the source's files.
pmtd inspect /out/sw/full.tap | grep '^file' | sed 's/^file [0-9]*: //' >"$LOG/$s.src"
: >"$LOG/$s.dst"
for v in /out/sw/half*.tap; do
	pmtd inspect "$v" | grep '^file' | sed 's/^file [0-9]*: //' >>"$LOG/$s.dst"
done
diff "$LOG/$s.src" "$LOG/$s.dst" >"$LOG/$s.diff" || why="${why}the files across the volumes differ from the source's; "
# And tar reads the first file of the second volume whole.
pmtd_start 0 --image /out/sw/half2.tap || why="${why}daemon; "
timeout 120 tar -t -b 20 -f /dev/pmtm0 >"$LOG/$s.t" 2>&1 || why="${why}tar -t of volume 2 failed; "
pmtd_stop 0
if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi
exit 0
