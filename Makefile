# pmt: pseudo-tape device pairs.
#   make demo   the main job on a fresh machine: dump -> /dev/pmtm0 -> pmtd ->
#               image, restore back, verified, in QEMU; leaves out/demo.tap
#   make test   every test: host tests, build gates, the QEMU harness on
#               6.1 and 6.12, the short fault suite, the install test
#   make faults the full fault, load and hostile-input suite, with figures
#   make deb    the Debian packages (pmtd, pmt-dkms) in out/deb, lintian-clean
#   make install-test  the packages installed, used, rebooted and purged on a
#               systemd-booted Debian 12 machine in QEMU
# All install what they need first (scripts/deps, Debian 12, as root).
.PHONY: all deps build demo test faults check bench deb install-test clean

all: build

deps:
	scripts/deps

build: deps
	scripts/build

demo: deps
	scripts/demo

test: deps
	scripts/test-all

# The full fault suite in QEMU (about 10 minutes); figures in
# out/faults-full/figures.txt.
faults: deps
	scripts/faults --full --out out/faults-full

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

clean:
	rm -rf build out target
