#!/usr/bin/env bash
# Builds and runs every metalpxe test on a fresh Debian 12 machine:
#   1. installs dependencies (deploy/install-deps.sh)
#   2. release build: unit, integration (real peers in network namespaces) and
#      the QEMU end-to-end lab
#   3. the Debian package (deploy/package.sh), installed, started, removed and
#      purged in a clean Debian 12 root (tests/package/, mmdebstrap)
#   4. clang ASan/UBSan build: unit and integration tests again, then every
#      libFuzzer target (same tree) for a bounded time
# Needs root (network namespaces). Prints one closing line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || exec sudo -E "$0" "$@"

deploy/install-deps.sh || exit 1

summary=()
passed=0
failed=0
failures=0

# run_suite NAME BUILD_DIR CTEST_ARGS...
run_suite() {
  local name="$1" dir="$2"; shift 2
  echo "=== $name: ctest $*"
  local t0=$SECONDS
  local log="$dir/ctest-$name.log"
  ctest --test-dir "$dir" --output-on-failure --timeout 1500 "$@" 2>&1 | tee "$log"
  local rc="${PIPESTATUS[0]}"
  # ctest: "100% tests passed, 0 tests failed out of 42"
  local line
  line="$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)"
  if [ -n "$line" ]; then
    local total nfail
    nfail="$(sed -E 's/.*passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")"
    total="$(sed -E 's/.*passed, ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")"
    passed=$((passed + total - nfail))
    failed=$((failed + nfail))
    summary+=("$name: $((total - nfail)) passed, $nfail failed ($((SECONDS - t0)) s)")
  elif [ "$rc" -ne 0 ]; then
    failed=$((failed + 1))
    summary+=("$name: ctest failed to run (exit $rc)")
  fi
  [ "$rc" -eq 0 ] || failures=$((failures + 1))
}

build_or_fail() {
  local t0=$SECONDS
  if ! deploy/build.sh "$1"; then
    echo "build $1 failed" >&2
    failed=$((failed + 1))
    failures=$((failures + 1))
    summary+=("build $1: failed")
    return 1
  fi
  summary+=("build $1: $((SECONDS - t0)) s")
}

if build_or_fail release; then
  run_suite release build -LE 'e2e|package'
  # QEMU scenarios: each lab is its own namespace, two at a time (one TCG
  # core each); every scenario reports its time against its budget.
  rm -rf build/e2e-times
  run_suite e2e build -L e2e -j 2
  for f in build/e2e-times/*; do [ -f "$f" ] && summary+=("  e2e $(cat "$f")"); done
fi
# The Debian package (deploy/package.sh, Debian's flags, lintian) installed
# into a clean Debian 12 root made by mmdebstrap.
t0=$SECONDS
mkdir -p build-package
if deploy/package.sh > build-package/package.log 2>&1; then
  summary+=("package: $(tail -n 1 build-package/package.log) ($((SECONDS - t0)) s)")
  [ -d build ] && run_suite package build -L package
else
  tail -n 30 build-package/package.log
  failed=$((failed + 1))
  failures=$((failures + 1))
  summary+=("package: deploy/package.sh failed (build-package/package.log)")
fi
if build_or_fail asan; then
  run_suite asan build-asan -LE 'e2e|bench|fuzz'
  # Each fuzzer is one single-threaded process with a fixed time: two at once.
  run_suite fuzz build-asan -L fuzz -j 2
fi

echo
echo "=== summary"
printf '%s\n' "${summary[@]}"
echo "wall time: $SECONDS s"
echo "total: $passed passed, $failed failed"
[ "$failures" -eq 0 ] && [ "$failed" -eq 0 ]
