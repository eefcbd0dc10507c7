#!/bin/sh
# Builds bench/tiles/tiles.wasm from tiles.c with Debian's clang-19 and wasm-ld-19, as bench/peak/build.sh does
# (not committed: run this first). Then: node bench/tiles/tiles.mjs [M N K]
set -e
cd "$(dirname "$0")"
clang-19 --target=wasm32 -O3 -msimd128 -mrelaxed-simd -mbulk-memory -c -o tiles.o tiles.c
wasm-ld-19 --no-entry -o tiles.wasm tiles.o
rm tiles.o
