# The pmt demo, run in the VM by scripts/demo: a sysadmin's level-0 dump of a
# filesystem to /dev/pmtm0, pmtd keeping the tape in /out/demo.tap, then a
# restore from the same tape, compared with the original.
# shellcheck shell=dash
. /usr/local/lib/pmt.sh
set -e
mkdir -p /mnt/fs /tmp/restored /out/logs
mount -o ro /dev/vda /mnt/fs
echo "demo: pmtd serves /dev/pmts0 with /out/demo.tap"
pmtd_start 0 --image /out/demo.tap
echo "demo: dump 0f /dev/pmtm0 /dev/vda"
dump 0f /dev/pmtm0 /dev/vda 2>&1 | tee /out/logs/dump.log | sed -n 's/^  DUMP: /  /p' | grep -E 'Dumping|estimated|finished|DONE'
mt -f /dev/pmtm0 status | sed 's/^/  /'
pmtd_stop 0
echo "demo: a new pmtd on the same image; restore -rf /dev/pmtm0"
pmtd_start 0 --image /out/demo.tap
cd /tmp/restored
restore -rf /dev/pmtm0 >/out/logs/restore.log 2>&1
cd /
pmtd_stop 0
if same_tree demo /mnt/fs /tmp/restored; then
	echo "demo: restored tree identical to the original ($(wc -l </out/logs/demo.src.manifest) entries: contents, modes, owners, times, links)"
else
	echo "demo: restored tree DIFFERS:"
	head -20 /out/logs/demo.diff
	exit 1
fi
