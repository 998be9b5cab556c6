# pmt: pseudo-tape device pairs.
#   make demo   the main job on a fresh machine: dump -> /dev/pmtm0 -> pmtd ->
#               image, restore back, verified, in QEMU; leaves out/demo.tap
#   make test   every test: host tests, build gates, the QEMU harness and
#               the short fault suite on Debian's kernel, the basic scenarios
#               on Debian 13's 6.12, a subset of the harness on the debug
#               kernel (KASAN, KFENCE, lockdep, UBSAN...; built if not
#               cached), the install test
#   make test-debug  the whole harness and the short fault suite on the
#               debug kernel
#   make faults the full fault, load and hostile-input suite, with figures,
#               on both kernels
#   make deb    the Debian packages (pmtd, pmt-dkms) in out/deb, lintian-clean
#   make install-test  the packages installed, used, rebooted and purged on a
#               systemd-booted Debian 12 machine in QEMU
# They install what they need first (scripts/deps, Debian 12, as root).
.PHONY: all deps build demo test test-debug faults check bench deb install-test clean

all: build

deps:
	scripts/deps

build: deps
	scripts/build

demo: deps
	scripts/demo

test: deps
	scripts/test-all

test-debug: deps
	scripts/test-all --debug

# The full fault suite in QEMU on Debian's kernel (about 10 minutes), then
# on the debug kernel; figures in out/faults-full/figures.txt and
# out/faults-full-debug/figures.txt.
faults: deps
	rc=0; \
	scripts/faults --full --out out/faults-full || rc=1; \
	scripts/faults --full --kernel debug --out out/faults-full-debug || rc=1; \
	exit $$rc

# Host tests only (no kernel, no QEMU).
check:
	. scripts/cargo-env && $$CARGO test --workspace

bench: deps
	scripts/bench

# The Debian packages, from a source package with every crate vendored
# (docs/DEBIAN.md).
deb: deps
	scripts/deb

# About 6 minutes (part of make test), the machine's root filesystem cached
# in ~/.cache/pmt (docs/DEBIAN.md); results in out/install.
install-test: deps
	scripts/install-test

# target and fuzz/target may be links to the compiled crates in the cache
# (scripts/deps): what they point to goes too.
clean:
	for t in target fuzz/target; do if [ -L $$t ]; then rm -rf "$$(readlink $$t)"; fi; done
	rm -rf build out target fuzz/target
