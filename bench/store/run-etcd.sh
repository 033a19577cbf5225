#!/bin/sh
# EtcdStore vs SqliteStore, durable lease writes/s, same run.
# Usage: bench/store/run-etcd.sh [SCRATCH_DIR] [RUNS] [WRITES]
# Builds etcd_store_bench in build/ and runs it as root (it makes a network
# namespace for the etcd members). SCRATCH_DIR (default /var/tmp) must be a
# real disk: etcd and SQLite both fsync, tmpfs would hide it.
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
"$src/deploy/build.sh" release etcd_store_bench >/dev/null
exec "$src/build/bench/store/etcd_store_bench" "${1:-/var/tmp}" "${2:-5}" "${3:-20000}"
