# Run by scripts/qemu-test with `vm-run --pkg e2fsprogs`: the package's
# programs run with their libraries, and its data files are there; a
# filesystem made by them goes through the tape and back intact.
# shellcheck shell=dash
. /usr/local/lib/pmt.sh
set -e
test -f /etc/mke2fs.conf
/sbin/mke2fs -q -F -t ext4 -L viatape /tmp/fs.img 8M
/sbin/e2fsck -fn /tmp/fs.img >/out/e2fsck.log 2>&1
pmtd_start 0 --image /out/pkg.tap
dd if=/tmp/fs.img of=/dev/pmtm0 bs=64k 2>/dev/null
dd if=/dev/pmtm0 of=/tmp/back.img bs=64k 2>/dev/null
pmtd_stop 0
cmp /tmp/fs.img /tmp/back.img
/sbin/e2fsck -fn /tmp/back.img >>/out/e2fsck.log 2>&1
/sbin/tune2fs -l /tmp/back.img | grep -q 'volume name:.*viatape'
echo "pkg: e2fsprogs ran in the guest; its filesystem went through the tape intact"
