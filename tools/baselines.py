#!/usr/bin/python3
"""Baselines for the demo model's validation score, on the same split as tools/train.py (the last tenth
of the King James Bible, verse references stripped), in bits per byte of the held-out text:

- gzip -9 and xz -9 given the training text first: (compressed(train + val) - compressed(train)) * 8 / len(val)
- a unigram model: the cross-entropy of the held-out bytes under the training text's byte frequencies
  (add-one smoothing)

    /usr/bin/python3 tools/baselines.py [--write-val FILE]     (FILE: the held-out text, for bench/eval-bpb.mjs)
"""
import collections
import lzma
import math
import os
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train import kjv_text, split  # noqa: E402


def compressed_bits(compress, train, val):
    return (len(compress(train + val)) - len(compress(train))) * 8 / len(val)


def main():
    train_text, val_text = split(kjv_text())
    train, val = train_text.encode("utf-8"), val_text.encode("utf-8")
    if len(sys.argv) == 3 and sys.argv[1] == "--write-val":
        with open(sys.argv[2], "wb") as f:
            f.write(val)
    counts = collections.Counter(train)
    total = len(train) + 256
    unigram = -sum(math.log2((counts[b] + 1) / total) for b in val) / len(val)
    rows = [
        ("gzip -9 (after the training text)", compressed_bits(lambda d: zlib.compress(d, 9), train, val)),
        ("xz -9 (after the training text)", compressed_bits(lambda d: lzma.compress(d, preset=9 | lzma.PRESET_EXTREME), train, val)),
        ("unigram byte frequencies", unigram),
    ]
    print(f"validation: {len(val):,} bytes (the last tenth), training: {len(train):,} bytes")
    for name, bpb in rows:
        print(f"{name:40s} {bpb:.3f} bits/byte")


if __name__ == "__main__":
    main()
