# Helpers for scripts run in the pmt VM: . /usr/local/lib/pmt.sh
# (scripts/vm-run puts this file there; pmtd is /usr/bin/pmtd).

# PMT_CUSE=1 (vm-run --cuse): no pmt.ko; pmtd_start makes the unit's
# master nodes itself through CUSE, and every result is named cuse-NAME.
cuse() { [ "${PMT_CUSE:-}" = 1 ]; }
_pfx=""
cuse && _pfx=cuse-

# plan NAME...: the scenarios this script will report, in /out/results.
plan() {
	_p=""
	for _s in "$@"; do _p="$_p $_pfx$_s"; done
	echo "PLAN$_p" >>/out/results
}

# pass NAME / fail NAME WHY: a test result, on the console and in /out/results.
pass() { echo "PASS $_pfx$1" | tee -a /out/results; }
fail() { echo "FAIL $_pfx$1: $2" | tee -a /out/results; }

# mtpos DEV: "file,block" from mt status.
mtpos() {
	mt -f "$1" status 2>&1 | sed -n 's/^File number=\(-*[0-9]*\), block number=\(-*[0-9]*\).*/\1,\2/p'
}

# pmtd_start UNIT [PMTD-ARGS...]: serve /dev/pmts<UNIT> in the background
# (with PMT_CUSE=1: make /dev/pmtm<UNIT> and /dev/npmtm<UNIT> through CUSE
# and serve them); its log goes to /out/pmtd<UNIT>.log. Waits until the
# slave is held, or the nodes exist (at most PMTD_START_TRIES times 50 ms,
# 100 by default).
_pmtd_start() { # CUSE UNIT ARGS... (sets no variable the scripts use)
	_pmtd_cuse=$1
	_u=$2
	shift 2
	_n=$(grep -c serving "/out/pmtd$_u.log" 2>/dev/null || true)
	if [ "$_pmtd_cuse" = 1 ]; then
		pmtd --cuse "$_u" "$@" >>"/out/pmtd$_u.log" 2>&1 &
	else
		pmtd "$@" "/dev/pmts$_u" >>"/out/pmtd$_u.log" 2>&1 &
	fi
	eval "PMTD_PID_$_u=$!"
	_i=0
	while [ $_i -lt "${PMTD_START_TRIES:-100}" ]; do
		[ "$(grep -c serving "/out/pmtd$_u.log" 2>/dev/null)" -gt "${_n:-0}" ] && return 0
		kill -0 "$(eval echo \$PMTD_PID_$_u)" 2>/dev/null || break
		sleep 0.05
		_i=$((_i + 1))
	done
	echo "pmtd_start: pmtd for unit $_u did not start" >&2
	cat "/out/pmtd$_u.log" >&2
	return 1
}

pmtd_start() { _pmtd_start "$(cuse && echo 1)" "$@"; }

# pmtd_cuse_start UNIT [PMTD-ARGS...]: pmtd_start through CUSE, even with
# pmt.ko loaded (give a unit the module does not have).
pmtd_cuse_start() { _pmtd_start 1 "$@"; }

# pmtd_signal UNIT SIGNAL: signal the daemon of a unit and wait for it.
pmtd_signal() {
	_p=$(eval echo \$PMTD_PID_$1)
	[ -n "$_p" ] || return 0
	kill "-$2" "$_p" 2>/dev/null
	wait "$_p" 2>/dev/null
	eval "PMTD_PID_$1="
	return 0
}

# pmtd_stop UNIT: stop the daemon of a unit (SIGTERM: it syncs and exits).
pmtd_stop() { pmtd_signal "$1" TERM; }

# pmtd_kill UNIT: SIGKILL, as a crash.
pmtd_kill() { pmtd_signal "$1" KILL; }

# manifest DIR: one line per entry: path, type, mode, owner, links, time,
# size and MD5 of regular files, symlink targets; hard links are shown as
# "=first-path". The root's own time and restore's symbol table are left out.
manifest() {
	(
		cd "$1" || exit 1
		find . ! -name restoresymtable | sort | while IFS= read -r p; do
			t=$(stat -c '%F|%a|%u|%g|%h|%i' "$p")
			case $t in
			regular*) x="$(stat -c %s "$p")|$(md5sum <"$p" | cut -d' ' -f1)" ;;
			symbolic*) x="->$(readlink "$p")" ;;
			*) x="" ;;
			esac
			case $t in
			symbolic*) m=- ;;
			*) m=$(stat -c %Y "$p") ;;
			esac
			[ "$p" = . ] && m=-
			echo "$p|$t|$m|$x"
		done
	) | awk -F'|' 'BEGIN { OFS = "|" }
		{ ino = $7; if ($2 ~ /regular/ && $6 > 1) { if (ino in first) $7 = "=" first[ino]; else { first[ino] = $1; $7 = "first" } } else $7 = ""; print }'
}

# same_tree NAME SRC DST: compares the manifests of two trees; they and
# their diff are kept in $LOG (default /out/logs) as NAME.*.
same_tree() {
	_l=${LOG:-/out/logs}
	mkdir -p "$_l"
	manifest "$2" >"$_l/$1.src.manifest"
	manifest "$3" >"$_l/$1.dst.manifest"
	if [ "$(wc -l <"$_l/$1.src.manifest")" -lt 20 ]; then
		echo "source tree too small" >"$_l/$1.diff"
		return 1
	fi
	diff "$_l/$1.src.manifest" "$_l/$1.dst.manifest" >"$_l/$1.diff"
}
