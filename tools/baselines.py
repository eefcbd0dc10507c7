#!/usr/bin/python3
"""Baselines for the demo model's validation score, on the same split as tools/train.py (the last tenth
of the King James Bible, verse references stripped), in bits per byte of the held-out text:

- gzip -9, xz -9e, 7z's PPMd (order 24, 1 GB: Debian's p7zip-full) and zpaq -m5 (Debian's zpaq), each given the
  training text first: (compressed(train + val) - compressed(train)) * 8 / len(val)
- a unigram model: the cross-entropy of the held-out bytes under the training text's byte frequencies
  (add-one smoothing)

and the same compressors on the last 60,000 bytes of the Bible, given everything before them (the compressor
issue's second anchor). A compressor whose program is missing is reported as such.

    /usr/bin/python3 tools/baselines.py [--write-val FILE]     (FILE: the held-out text, for bench/eval-bpb.mjs)
"""
import collections
import lzma
import math
import os
import shutil
import subprocess
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train import kjv_text, split  # noqa: E402


def archive_size(command, data):
    """The size of the archive that `command` (a list, with {archive} and {file}) makes of data, in a temporary
    directory (the same file name each time, so the archives' own headers cancel out)."""
    with tempfile.TemporaryDirectory() as d:
        path, archive = os.path.join(d, "text"), os.path.join(d, "archive")
        with open(path, "wb") as f:
            f.write(data)
        subprocess.run([a.format(archive=archive, file=path) for a in command], check=True, capture_output=True, cwd=d)
        produced = [n for n in os.listdir(d) if n.startswith("archive")]
        return os.path.getsize(os.path.join(d, produced[0]))


COMPRESSORS = [
    ("gzip -9", None, lambda d: len(zlib.compress(d, 9))),
    ("xz -9e", None, lambda d: len(lzma.compress(d, preset=9 | lzma.PRESET_EXTREME))),
    ("7z PPMd o=24 mem=1g", "7z", lambda d: archive_size(["7z", "a", "-m0=PPMd:o=24:mem=1g", "{archive}.7z", "{file}"], d)),
    ("zpaq -m5", "zpaq", lambda d: archive_size(["zpaq", "a", "{archive}.zpaq", "{file}", "-m5"], d)),
]


def increments(before, after):
    """bits per byte of `after` for each compressor, given `before` first (None when its program is missing)."""
    out = []
    for name, program, size in COMPRESSORS:
        if program and not shutil.which(program):
            out.append((name, None))
            continue
        out.append((name, (size(before + after) - size(before)) * 8 / len(after)))
    return out


def main():
    train_text, val_text = split(kjv_text())
    train, val = train_text.encode("utf-8"), val_text.encode("utf-8")
    if len(sys.argv) == 3 and sys.argv[1] == "--write-val":
        with open(sys.argv[2], "wb") as f:
            f.write(val)
    counts = collections.Counter(train)
    total = len(train) + 256
    unigram = -sum(math.log2((counts[b] + 1) / total) for b in val) / len(val)
    print(f"validation: {len(val):,} bytes (the last tenth), training: {len(train):,} bytes")
    for name, bpb in increments(train, val) + [("unigram byte frequencies", unigram)]:
        print(f"  {name:40s} {'(not installed)' if bpb is None else f'{bpb:.3f} bits/byte'}", flush=True)
    whole = train + val
    print("the last 60,000 bytes, given everything before them:")
    for name, bpb in increments(whole[:-60000], whole[-60000:]):
        print(f"  {name:40s} {'(not installed)' if bpb is None else f'{bpb:.3f} bits/byte'}", flush=True)


if __name__ == "__main__":
    main()
