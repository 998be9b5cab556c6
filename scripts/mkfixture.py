#!/usr/bin/env python3
"""Builds the ext4 filesystem images the VM tests dump, tar and restore.

  mkfixture.py OUTDIR

makes OUTDIR/fsa.img (several MB of varied files: empty, odd sizes, sparse,
hard links, symlinks, a deep directory, a FIFO, odd names, owners and modes),
OUTDIR/fsb.img (a different, smaller tree) and OUTDIR/fsbig.img (64 MB of
incompressible data, for the kill test and the benchmark). Contents are
deterministic. Needs root (owners) and mke2fs.
"""
import os
import random
import shutil
import subprocess
import sys

MTIME = 1_700_000_000


def write(path, data, mode=0o644, uid=0, gid=0, mtime=MTIME):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
    os.chown(path, uid, gid)
    os.utime(path, (mtime, mtime))


def tree_a(root, rnd):
    write(f"{root}/empty", b"")
    for n in (1, 3, 511, 512, 513, 1023, 4095, 4097, 10239, 10241, 65535, 65537, 1048577):
        write(f"{root}/sizes/odd-{n}", rnd.randbytes(n), mtime=MTIME + n)
    for i in range(3):
        write(f"{root}/data/blob{i}.bin", rnd.randbytes(1 << 20 + i % 2), mode=0o600, uid=1000, gid=1000)
    text = "".join(f"line {i}: the quick brown fox jumps over the lazy tape\n" for i in range(20000))
    write(f"{root}/data/text.txt", text.encode(), mode=0o640, uid=1001, gid=26)
    # A sparse file: 8 MiB with three islands of data.
    sp = f"{root}/sparse/holes.img"
    os.makedirs(os.path.dirname(sp), exist_ok=True)
    with open(sp, "wb") as f:
        for off in (0, 3 << 20, (8 << 20) - 4096):
            f.seek(off)
            f.write(rnd.randbytes(4096))
        f.truncate(8 << 20)
    os.utime(sp, (MTIME, MTIME))
    # Hard links: one inode, three names in two directories.
    write(f"{root}/links/original", rnd.randbytes(30000), mode=0o755)
    os.link(f"{root}/links/original", f"{root}/links/second")
    os.makedirs(f"{root}/other", exist_ok=True)
    os.link(f"{root}/links/original", f"{root}/other/third")
    # Symlinks: relative, absolute, dangling, to a directory.
    os.symlink("original", f"{root}/links/rel")
    os.symlink("/etc/passwd", f"{root}/links/abs")
    os.symlink("nowhere/at/all", f"{root}/links/dangling")
    os.symlink("../data", f"{root}/links/dir")
    # A deep directory.
    deep = root
    for i in range(40):
        deep = f"{deep}/d{i:02}"
    write(f"{deep}/bottom.txt", b"at the bottom\n")
    # Odd names.
    write(f"{root}/names/with space", b"space\n")
    write(f"{root}/names/caf\u00e9-\u00fcn\u00efc\u00f6d\u00e9", b"unicode\n")
    write(f"{root}/names/-dash", b"dash\n")
    # A FIFO and a setgid directory owned by someone else.
    os.mkfifo(f"{root}/names/fifo", 0o644)
    os.makedirs(f"{root}/shared", exist_ok=True)
    os.chown(f"{root}/shared", 1000, 26)
    os.chmod(f"{root}/shared", 0o2775)
    write(f"{root}/shared/file", b"shared\n", mode=0o664, uid=1000, gid=26)


def tree_b(root, rnd):
    for i in range(40):
        write(f"{root}/b/file{i:03}", rnd.randbytes(rnd.randrange(1, 70000)), mtime=MTIME + 1000 + i)
    os.symlink("b/file000", f"{root}/first")
    write(f"{root}/README", b"second filesystem\n")


def tree_big(root, rnd):
    for i in range(16):
        write(f"{root}/big/chunk{i:02}", rnd.randbytes(4 << 20))


def build(outdir, name, fill, size_mb):
    src = os.path.join(outdir, name + ".d")
    img = os.path.join(outdir, name + ".img")
    shutil.rmtree(src, ignore_errors=True)
    os.makedirs(src)
    fill(src, random.Random(name))
    # Directory times last: filling them changed them.
    for d, _, _ in os.walk(src, topdown=False):
        os.utime(d, (MTIME, MTIME))
    if os.path.exists(img):
        os.remove(img)
    subprocess.run(
        ["mke2fs", "-q", "-F", "-t", "ext4", "-E", "root_owner=0:0", "-L", name, "-d", src, img, f"{size_mb}M"],
        check=True,
    )
    shutil.rmtree(src)


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    build(outdir, "fsa", tree_a, 48)
    build(outdir, "fsb", tree_b, 16)
    build(outdir, "fsbig", tree_big, 96)


if __name__ == "__main__":
    main()
