# Helpers for scripts run in the pmt VM: . /usr/local/lib/pmt.sh
# (scripts/vm-run puts this file there; pmtd is /usr/bin/pmtd).

# pmtd_start UNIT [PMTD-ARGS...]: serve /dev/pmts<UNIT> in the background;
# its log goes to /out/pmtd<UNIT>.log. Waits until the slave is held.
pmtd_start() {
	_u=$1
	shift
	pmtd "$@" "/dev/pmts$_u" >>"/out/pmtd$_u.log" 2>&1 &
	eval "PMTD_PID_$_u=$!"
	_i=0
	while [ $_i -lt 100 ]; do
		grep -q serving "/out/pmtd$_u.log" 2>/dev/null && return 0
		kill -0 "$(eval echo \$PMTD_PID_$_u)" 2>/dev/null || break
		sleep 0.05
		_i=$((_i + 1))
	done
	echo "pmtd_start: pmtd for unit $_u did not start" >&2
	cat "/out/pmtd$_u.log" >&2
	return 1
}

# pmtd_stop UNIT: stop the daemon of a unit (SIGTERM: it syncs and exits).
pmtd_stop() {
	_p=$(eval echo \$PMTD_PID_$1)
	[ -n "$_p" ] || return 0
	kill -TERM "$_p" 2>/dev/null
	wait "$_p" 2>/dev/null
	eval "PMTD_PID_$1="
	return 0
}

# pmtd_kill UNIT: SIGKILL, as a crash.
pmtd_kill() {
	_p=$(eval echo \$PMTD_PID_$1)
	[ -n "$_p" ] || return 0
	kill -KILL "$_p" 2>/dev/null
	wait "$_p" 2>/dev/null
	eval "PMTD_PID_$1="
	return 0
}
