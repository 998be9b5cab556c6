#!/bin/bash
# The install test, inside the Debian 12 VM (scripts/install-test): run by
# pmt-install-test.service at every boot from the exchange disk, mounted at
# /mnt/x, which holds the packages (debs/), the filesystem to dump (fs.img)
# and receives the results (out/results, one PASS/FAIL line per step; the
# logs in out/logs).
#   boot 1: install pmtd and the module package; their files; systemctl
#           enable --now pmtd@tape0; the devices and their modes; alice, in
#           group tape and not root, dumps a filesystem to /dev/pmtm0 and
#           restores it (every file's bytes compared); she cannot open the
#           slave; reboot
#   boot 2: the service and the devices are back; alice restores the tape
#           written before the reboot; the same unit serves the example
#           library (pmtd@library: its inventory over the operators'
#           socket, alice opens the changer master); pmtd-cuse@ctape makes
#           /dev/pmtm5 itself through CUSE and alice writes and reads a tar
#           there; purge; nothing of the packages is left (but the tape
#           images and the library's inventory, the user's data); the
#           kernel log is clean; power off
set -u
x=/mnt/x
out=$x/out
log=$out/logs
state=/var/lib/pmt-install-test
mkdir -p "$out" "$log" "$state"
boot=$(($(cat "$state/boot" 2>/dev/null || echo 0) + 1))
echo $boot >"$state/boot"
sync

STEPS1="install package-files enable-now devices user-dump-restore slave-refused"
STEPS2="back-after-reboot restore-after-reboot library-unit cuse-unit purge nothing-left kernel-log-clean"
pass() { echo "PASS $1" | tee -a "$out/results"; }
fail() { echo "FAIL $1: $2" | tee -a "$out/results"; }
finish() {
	journalctl -b --no-pager >"$log/journal-boot$boot" 2>&1
	dmesg >"$log/dmesg-boot$boot" 2>&1
	sync
	cd / && umount "$x"
	systemctl "$1"
	exit 0
}
echo "stage: boot $boot" >&2

# The pmtd of unit NAME (tape0) serves: its log says so (since START, a
# journalctl --since time, or this boot).
serving() { # [NAME [START]]
	local i=0 u=pmtd@${1:-tape0} since=${2:+--since=$2}
	while [ $i -lt 120 ]; do
		systemctl is-active --quiet "$u" && journalctl -b ${since:+"$since"} -u "$u" --no-pager | grep -q serving && return 0
		sleep 0.5
		i=$((i + 1))
	done
	return 1
}

# mode owner group of each node, as the udev rules make them.
nodes_ok() {
	local why="" n want got
	udevadm settle -t 30
	for n in pmtm0:660:root:tape npmtm0:660:root:tape pmcm0:660:root:tape pmts0:600:root:root pmcs0:600:root:root; do
		want=${n#*:}
		got=$(stat -c '%a:%U:%G' "/dev/${n%%:*}" 2>/dev/null)
		[ "$got" = "$want" ] || why="$why /dev/${n%%:*} is ${got:-missing}, not $want;"
	done
	echo "$why"
	[ -z "$why" ]
}

# Regular files, directories and links of a tree: path, type, size, MD5 or
# link target (ownership and times are not restored by a user's restore).
manifest() {
	(cd "$1" && find . ! -name restoresymtable ! -path ./lost+found -printf '%p|%y|%s|%l\n' | sort |
		while IFS='|' read -r p t s l; do
			case $t in
			f) echo "$p|f|$s|$(md5sum <"$p" | cut -d' ' -f1)" ;;
			d) echo "$p|d" ;;
			*) echo "$p|$t|$l" ;;
			esac
		done)
}

# Alice restores the tape into a fresh directory; it must match the
# filesystem, file for file and byte for byte.
restore_compare() { # NAME
	local dir=/home/alice/$1
	rm -rf "$dir"
	runuser -u alice -- mkdir "$dir"
	if ! runuser -u alice -- sh -c "cd $dir && restore -r -y -f /dev/pmtm0" >"$log/$1.restore" 2>&1; then
		echo "restore failed: $(tail -n 2 "$log/$1.restore" | tr '\n' ' ')"
		return 1
	fi
	manifest /mnt/data >"$log/$1.src"
	manifest "$dir" >"$log/$1.dst"
	if [ "$(wc -l <"$log/$1.src")" -lt 20 ]; then
		echo "the source tree is too small"
		return 1
	fi
	if ! diff "$log/$1.src" "$log/$1.dst" >"$log/$1.diff"; then
		echo "the restored tree differs: $(head -n 4 "$log/$1.diff" | tr '\n' ' ')"
		return 1
	fi
	echo "$(grep -c '|f|' "$log/$1.src") files compared"
}

# The filesystem to dump: fs.img, read-only on a loop device given to alice
# (dump reads the device: she needs that, not group disk), and mounted for
# the comparison.
data_device() {
	local loop
	loop=$(losetup --find --show --read-only "$x/fs.img") || return 1
	chown alice "$loop"
	mkdir -p /mnt/data
	mount -o ro "$loop" /mnt/data || return 1
	echo "$loop"
}

if [ $boot = 1 ]; then
	echo "PLAN $STEPS1 $STEPS2" >"$out/results"
	# (With pmt-dkms, DKMS builds the module here: the time is kept.)
	s=install
	t=$(date +%s)
	if dpkg -i "$x"/debs/*.deb >"$log/$s" 2>&1; then pass $s; else fail $s "$(tail -n 3 "$log/$s" | tr '\n' ' ')"; fi
	echo $(($(date +%s) - t)) >"$out/install-seconds"

	s=package-files
	why=""
	for f in /usr/bin/pmtd /lib/systemd/system/pmtd@.service /lib/systemd/system/pmtd-cuse@.service \
		/lib/udev/rules.d/60-pmt.rules /etc/modprobe.d/pmt.conf /etc/pmt/tape0.toml \
		/usr/share/man/man8/pmtd.8.gz /usr/share/man/man4/pmt.4.gz /usr/share/doc/pmtd/examples/library.toml \
		"/lib/modules/$(uname -r)/updates/dkms/pmt.ko"; do
		[ -e "$f" ] || why="$why $f missing;"
	done
	modinfo -F parm pmt >"$log/$s.modinfo" 2>&1 || why="$why modinfo pmt failed;"
	grep -q '^nunits:' "$log/$s.modinfo" || why="$why modinfo shows no nunits;"
	pmtd --version >"$log/$s.version" 2>&1 || why="$why pmtd --version failed;"
	if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

	s=enable-now
	systemctl enable --now pmtd@tape0 >"$log/$s" 2>&1
	if serving; then pass $s; else fail $s "pmtd@tape0 is $(systemctl is-active pmtd@tape0): $(journalctl -b -u pmtd@tape0 --no-pager | tail -n 3 | tr '\n' ' ')"; fi

	s=devices
	if why=$(nodes_ok) && lsmod | grep -q '^pmt '; then pass $s; else fail $s "${why:-pmt is not loaded}"; fi

	s=user-dump-restore
	useradd --create-home --groups tape --shell /bin/bash alice
	why=""
	id -u alice | grep -qx 0 && why="alice is root;"
	id -nG alice | tr ' ' '\n' | grep -qx tape || why="$why alice is not in group tape;"
	id -nG alice | tr ' ' '\n' | grep -qx disk && why="$why alice is in group disk;"
	if ! loop=$(data_device); then
		why="$why no loop device for fs.img;"
	elif ! runuser -u alice -- dump -0 -f /dev/pmtm0 "$loop" >"$log/$s.dump" 2>&1; then
		why="$why dump failed: $(tail -n 2 "$log/$s.dump" | tr '\n' ' ');"
	elif ! r=$(restore_compare first); then
		why="$why $r"
	fi
	if [ -z "$why" ]; then pass $s; echo "$r" >"$log/$s.compared"; else fail $s "$why"; fi

	s=slave-refused
	if runuser -u alice -- sh -c 'exec 3</dev/pmts0' >"$log/$s" 2>&1; then
		fail $s "alice opened the slave"
	elif grep -q 'Permission denied' "$log/$s"; then
		pass $s
	else
		fail $s "not EACCES: $(cat "$log/$s")"
	fi
	finish reboot
fi

if [ $boot = 2 ]; then
	s=back-after-reboot
	why=""
	serving || why="pmtd@tape0 is $(systemctl is-active pmtd@tape0) after the reboot;"
	systemctl is-enabled --quiet pmtd@tape0 || why="$why pmtd@tape0 is not enabled;"
	lsmod | grep -q '^pmt ' || why="$why pmt is not loaded;"
	w=$(nodes_ok) || why="$why $w"
	if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

	s=restore-after-reboot
	if ! loop=$(data_device); then
		fail $s "no loop device for fs.img"
	elif r=$(restore_compare second); then
		pass $s
	else
		fail $s "$r"
	fi
	umount /mnt/data 2>/dev/null
	losetup -D

	# The example library through the same unit: pmtd --config serves a
	# file that names a changer as a library. Its drive 0 is tape0's.
	s=library-unit
	why=""
	systemctl stop pmtd@tape0
	cp /usr/share/doc/pmtd/examples/library.toml /etc/pmt/library.toml
	t=$(date '+%Y-%m-%d %H:%M:%S')
	systemctl start pmtd@library
	if ! serving library "$t"; then
		why="pmtd@library is $(systemctl is-active pmtd@library): $(journalctl -b -u pmtd@library --no-pager | tail -n 3 | tr '\n' ' ');"
	else
		pmtd library --config /etc/pmt/library.toml status >"$log/$s.status" 2>&1
		grep -q 'not running' "$log/$s.status" && why="$why its status came from the file, not the socket;"
		grep -q 'slot 1 .* ABC001L6' "$log/$s.status" || why="$why its status lacks ABC001L6 in slot 1;"
		[ -S /var/lib/pmt/library.inventory.sock ] || why="$why no operators' socket;"
		runuser -u alice -- sh -c 'exec 3</dev/pmcm0' >"$log/$s.pmcm" 2>&1 || why="$why alice cannot open /dev/pmcm0: $(cat "$log/$s.pmcm");"
	fi
	systemctl stop pmtd@library
	# The administrator's file goes with the setup; tape0 serves again, and
	# the purge stops it.
	rm -f /etc/pmt/library.toml
	t=$(date '+%Y-%m-%d %H:%M:%S')
	systemctl start pmtd@tape0
	serving tape0 "$t" || why="$why pmtd@tape0 did not serve again;"
	if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

	# The CUSE unit: pmtd makes the master nodes of the file's unit itself
	# (unit 5: the module's units are 0 to 3), 0660 group tape.
	s=cuse-unit
	why=""
	printf 'device = "/dev/pmts5"\nimage = ["/var/lib/pmt/ctape.tap"]\n' >/etc/pmt/ctape.toml
	systemctl start pmtd-cuse@ctape
	i=0
	while [ $i -lt 120 ] && ! [ -c /dev/npmtm5 ]; do sleep 0.5; i=$((i + 1)); done
	if ! [ -c /dev/pmtm5 ] || ! [ -c /dev/npmtm5 ]; then
		why="no /dev/pmtm5 (pmtd-cuse@ctape is $(systemctl is-active pmtd-cuse@ctape): $(journalctl -b -u pmtd-cuse@ctape --no-pager | tail -n 3 | tr '\n' ' '));"
	else
		got=$(stat -c '%a:%U:%G' /dev/pmtm5)
		[ "$got" = 660:root:tape ] || why="$why /dev/pmtm5 is $got, not 660:root:tape;"
		if ! runuser -u alice -- tar -cf /dev/pmtm5 -C /mnt/x stage.sh >"$log/$s.tar" 2>&1; then
			why="$why alice's tar -c failed: $(tail -n 2 "$log/$s.tar" | tr '\n' ' ');"
		elif ! runuser -u alice -- tar -xOf /dev/pmtm5 stage.sh >"$log/$s.out" 2>>"$log/$s.tar" || ! cmp -s "$log/$s.out" /mnt/x/stage.sh; then
			why="$why alice's tar -x did not read back what she wrote: $(tail -n 2 "$log/$s.tar" | tr '\n' ' ');"
		fi
	fi
	systemctl stop pmtd-cuse@ctape
	udevadm settle -t 30
	[ -e /dev/pmtm5 ] && why="$why /dev/pmtm5 outlived its daemon;"
	rm -f /etc/pmt/ctape.toml
	if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

	s=purge
	mod=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' 'pmt-modules-*' pmt-dkms 2>/dev/null | awk '$2 == "ii" {print $1}' | head -n 1)
	if apt-get purge -y pmtd "$mod" >"$log/$s" 2>&1; then pass $s; else fail $s "$(tail -n 3 "$log/$s" | tr '\n' ' ')"; fi

	s=nothing-left
	why=""
	for p in pmtd "$mod"; do
		st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)
		[ -z "$st" ] || [ "$st" = "un " ] || why="$why package $p is '$st';"
	done
	pgrep -x pmtd >/dev/null && why="$why pmtd still runs;"
	systemctl is-active --quiet pmtd@tape0 && why="$why pmtd@tape0 is active;"
	for f in /usr/bin/pmtd /lib/systemd/system/pmtd@.service /lib/systemd/system/pmtd-cuse@.service \
		/etc/systemd/system/multi-user.target.wants/pmtd@tape0.service /lib/udev/rules.d/60-pmt.rules \
		/etc/modprobe.d/pmt.conf /etc/pmt /usr/share/man/man8/pmtd.8.gz /usr/share/man/man4/pmt.4.gz \
		/usr/share/doc/pmtd "/lib/modules/$(uname -r)/updates/dkms/pmt.ko" /var/lib/pmt/tape0.tap.pmtidx \
		/usr/src/pmt-* /var/lib/dkms/pmt; do
		[ -e "$f" ] && why="$why $f is left;"
	done
	modinfo pmt >/dev/null 2>&1 && why="$why modinfo still finds pmt;"
	# The tapes and the library's inventory (where its cartridges are) are
	# the user's data: a purge leaves them, and nothing else.
	left=$(cd /var/lib/pmt 2>/dev/null && find . -mindepth 1 | sort | tr '\n' ' ')
	[ "$left" = "./ctape.tap ./library.inventory ./tape0.tap " ] || why="$why /var/lib/pmt holds '$left', not the tapes and the inventory alone;"
	# The module still loaded unloads, and its nodes go.
	rmmod pmt 2>"$log/$s.rmmod" || why="$why rmmod pmt failed: $(cat "$log/$s.rmmod");"
	udevadm settle -t 30
	[ -e /dev/pmtm0 ] && why="$why /dev/pmtm0 is left after rmmod;"
	if [ -z "$why" ]; then pass $s; else fail $s "$why"; fi

	s=kernel-log-clean
	if dmesg | grep -E 'BUG|WARNING|Oops|Call Trace' >"$log/$s"; then
		fail $s "$(head -n 3 "$log/$s" | tr '\n' ' ')"
	else
		pass $s
	fi
	finish poweroff
fi

fail boot-$boot "an unexpected boot"
finish poweroff
