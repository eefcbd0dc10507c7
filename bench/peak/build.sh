#!/bin/sh
# Builds bench/peak/peak-{plain,relaxed}.wasm from peak.c with Debian's clang-19 and wasm-ld-19 (apt-get install
# clang-19 lld-19): compile, then link by hand (clang would run binaryen's wasm-opt, whose Debian version predates
# relaxed SIMD). The .wasm files are committed; npm run bench (bench/bench.mjs) rebuilds them when peak.c is newer
# and clang-19 is there.
set -e
cd "$(dirname "$0")"
for v in plain relaxed; do
  extra=""; [ "$v" = relaxed ] && extra="-mrelaxed-simd"
  clang-19 --target=wasm32 -O3 -msimd128 $extra -c -o "peak-$v.o" peak.c
  wasm-ld-19 --no-entry --export=madd --export=accumulators --export=madd1 -o "peak-$v.wasm" "peak-$v.o"
  rm "peak-$v.o"
done
