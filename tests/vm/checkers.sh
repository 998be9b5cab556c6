#!/bin/sh
# The debug kernel's checkers, each provoked once by pmt_canary.ko
# (tests/vm/canary): the harness expects every report in the kernel log and
# the run to fail (scripts/qemu-test, on the debug kernel only). lockdep
# goes first: any report (its own, KASAN's, UBSAN's...) turns it off.
for w in lockdep sleep list ubsan kasan kfence leak; do
	echo "checkers: $w"
	insmod /run/files/pmt_canary.ko what=$w && rmmod pmt_canary
done
exit 0
