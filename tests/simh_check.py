#!/usr/bin/env python3
"""An independent checker for SIMH .tap images.

Written from the format description (Supnik, "SIMH magtape representation";
open-simh sim_tape.h), sharing no code with pmtd: a sequence of 32-bit
little-endian words and records from the beginning of tape. A record is its
length n (bits 0-23; bit 31 = error flag; bits 24-30 zero), n data bytes
padded to an even count, and n again. 0x00000000 is a tape mark, 0xFFFFFFFF
the end of medium, 0xFFFFFFFE an erase gap; other 0xFF...... words are
reserved.

  simh_check.py IMAGE [--files N] [--record-size N] [--min-records N]
                      [--eod-marks N] [--map]

Exit status 0 when the framing is valid and every expectation holds.
"""
import argparse
import struct
import sys


class FormatError(Exception):
    pass


def parse(data):
    """Returns [('R', length, error_flag) or ('M',)] or raises FormatError."""
    objs = []
    off = 0
    end = len(data)
    while off < end:
        if end - off < 4:
            raise FormatError(f"{end - off} trailing bytes at offset {off}")
        (w,) = struct.unpack_from("<I", data, off)
        if w == 0:
            objs.append(("M",))
            off += 4
        elif w == 0xFFFFFFFF:
            if off + 4 != end:
                raise FormatError(f"data after the end-of-medium marker at {off}")
            break
        elif w == 0xFFFFFFFE:
            off += 4
        elif w & 0xFF000000 == 0xFF000000:
            raise FormatError(f"reserved marker {w:#010x} at offset {off}")
        elif w & 0x7F000000:
            raise FormatError(f"reserved length bits in {w:#010x} at offset {off}")
        else:
            n = w & 0x00FFFFFF
            if n == 0:
                raise FormatError(f"zero-length record with flags at {off}")
            padded = n + (n & 1)
            if off + 8 + padded > end:
                raise FormatError(f"record of {n} bytes at offset {off} runs past the end")
            if n & 1 and data[off + 4 + n] != 0:
                raise FormatError(f"non-zero pad byte after the record at {off}")
            (trail,) = struct.unpack_from("<I", data, off + 4 + padded)
            if trail != w:
                raise FormatError(f"record at {off}: leading {w:#010x}, trailing {trail:#010x}")
            objs.append(("R", n, bool(w & 0x80000000)))
            off += 8 + padded
    return objs


def files_of(objs):
    """Splits the tape at its marks. Returns (files, tail, trailing): the
    record lengths of each file ended by a mark (empty files at the very end
    are not counted as files), the records after the last mark, and the
    number of those trailing empty files (extra marks at end of data)."""
    parts = [[]]
    for o in objs:
        if o[0] == "M":
            parts.append([])
        else:
            parts[-1].append(o[1])
    files, tail = parts[:-1], parts[-1]
    trailing = 0
    while files and not files[-1] and len(files) > 1:
        files.pop()
        trailing += 1
    return files, tail, trailing


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("--files", type=int, help="number of files ended by a tape mark")
    ap.add_argument("--record-size", type=int, help="every record but a file's last has this size")
    ap.add_argument("--all-records", type=int, help="every record has exactly this size")
    ap.add_argument("--min-records", type=int, default=0, help="at least this many records in all")
    ap.add_argument("--eod-marks", type=int, help="extra tape marks after the last file")
    ap.add_argument("--map", action="store_true", help="print the tape map")
    a = ap.parse_args()
    with open(a.image, "rb") as f:
        data = f.read()
    try:
        objs = parse(data)
    except FormatError as e:
        print(f"{a.image}: invalid: {e}")
        return 1
    files, tail, trailing = files_of(objs)
    records = sum(1 for o in objs if o[0] == "R")
    problems = []
    if tail:
        problems.append(f"{len(tail)} records after the last tape mark")
    if any(o[0] == "R" and o[2] for o in objs):
        problems.append("records flagged bad")
    if a.files is not None and len(files) != a.files:
        problems.append(f"{len(files)} files, expected {a.files}")
    if records < a.min_records:
        problems.append(f"{records} records, expected at least {a.min_records}")
    if a.record_size is not None:
        for i, f in enumerate(files):
            if any(r != a.record_size for r in f[:-1]) or (f and f[-1] > a.record_size):
                problems.append(f"file {i}: record sizes {sorted(set(f))}, expected {a.record_size}")
    if a.all_records is not None:
        sizes = sorted({o[1] for o in objs if o[0] == "R"})
        if sizes and sizes != [a.all_records]:
            problems.append(f"record sizes {sizes}, expected only {a.all_records}")
    if a.eod_marks is not None and trailing != a.eod_marks:
        problems.append(f"{trailing} extra tape marks at the end, expected {a.eod_marks}")
    if a.map:
        for i, f in enumerate(files):
            print(f"  file {i}: {len(f)} records, {sum(f)} bytes, sizes {sorted(set(f))[:5]}")
    if problems:
        print(f"{a.image}: " + "; ".join(problems))
        return 1
    print(f"{a.image}: valid, {len(files)} files, {records} records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
