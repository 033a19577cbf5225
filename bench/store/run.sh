#!/bin/sh
# Group commit vs one fsync per write, durable lease writes/s.
# Usage: bench/store/run.sh [BUILD_DIR] [SCRATCH_DIR]
# Builds metalpxe_store in BUILD_DIR (default build), compiles the bench
# against it, runs it on SCRATCH_DIR (default /var/tmp, a real disk: tmpfs
# would make fsync free and the comparison meaningless).
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build}
scratch=${2:-/var/tmp/metalpxe-store-bench}
cmake --build "$build" --target metalpxe_store >/dev/null
bin=$build/bench-store/store_bench
mkdir -p "$(dirname "$bin")"
c++ -std=c++20 -O2 -DSPDLOG_COMPILED_LIB -DSPDLOG_FMT_EXTERNAL -I"$src" -I"$build" \
  "$src/bench/store/store_bench.cpp" -o "$bin" \
  "$build/core/store/libmetalpxe_store.a" "$build/core/libmetalpxe_core.a" \
  -lsqlite3 -lspdlog -lfmt -lyaml-cpp -pthread
exec "$bin" "$scratch"
