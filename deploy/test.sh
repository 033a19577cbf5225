#!/usr/bin/env bash
# Builds and runs every metalpxe test on a fresh Debian 12 machine:
#   1. installs dependencies (deploy/install-deps.sh)
#   2. release build: unit, integration (real peers in network namespaces) and
#      the QEMU end-to-end lab (its arm64 assets, fetched by
#      tests/e2e/lab/arm64-assets.sh, beside the unit and integration tests)
#   3. clang ASan/UBSan build (beside step 2's tests): unit and integration
#      tests again, then every libFuzzer target (same tree) for a bounded time
#   4. the Debian package (deploy/package.sh, beside step 3's tests),
#      installed, started, removed and purged in a clean Debian 12 root
#      (tests/package/, mmdebstrap)
#   5. the appliance image (deploy/image/build.sh: its Debian root beside
#      step 3's tests, then step 4's .deb in it, beside the package test),
#      booted in the QEMU lab with a second VM PXE-booting through it, beside
#      the fuzzers (ctest -L image)
# Needs root (network namespaces). Prints one closing line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || exec sudo -E "$0" "$@"

deploy/install-deps.sh || exit 1

summary=()
passed=0
failed=0
failures=0

# run_suite NAME BUILD_DIR CTEST_ARGS...: runs ctest, then counts it.
run_suite() {
  local name="$1" dir="$2"; shift 2
  echo "=== $name: ctest $*"
  local t0=$SECONDS
  ctest --test-dir "$dir" --output-on-failure --timeout 1500 "$@" 2>&1 | tee "$dir/ctest-$name.log"
  count_suite "$name" "$dir/ctest-$name.log" "${PIPESTATUS[0]}" "$t0"
}

# start_suite NAME BUILD_DIR CTEST_ARGS...: the same in the background (its
# log is printed when finish_suite NAME waits for it).
declare -A suite_pid suite_log suite_t0
start_suite() {
  local name="$1" dir="$2"; shift 2
  echo "=== $name: ctest $* (in the background)"
  suite_log[$name]="$dir/ctest-$name.log"
  suite_t0[$name]=$SECONDS
  ctest --test-dir "$dir" --output-on-failure --timeout 1500 "$@" > "${suite_log[$name]}" 2>&1 &
  suite_pid[$name]=$!
}
finish_suite() {
  local name="$1" rc
  wait "${suite_pid[$name]}"; rc=$?
  cat "${suite_log[$name]}"
  count_suite "$name" "${suite_log[$name]}" "$rc" "${suite_t0[$name]}"
}

# count_suite NAME LOG EXIT_STATUS T0: adds ctest's counts to the totals.
count_suite() {
  local name="$1" log="$2" rc="$3" t0="$4"
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

# The tests mostly wait (on peers, namespaces, timeouts) while the builds use
# both cores, so the next build runs beside the previous phase's tests at the
# lowest CPU and I/O priority: the tests keep the CPU whenever they want it
# (the suite is meant to pass on a loaded machine anyway), the build takes
# what they leave. On 2 cores this cut the run from ~57 min to ~40.
# background_job NAME LOG COMMAND... ; wait_job NAME
declare -A job_pid job_log job_t0
background_job() {
  local name="$1" log="$2"; shift 2
  job_log[$name]="$log"
  job_t0[$name]=$SECONDS
  nice -n 19 ionice -c 3 "$@" > "$log" 2>&1 &
  job_pid[$name]=$!
}
# Returns the job's exit status; prints its log's tail when it failed.
wait_job() {
  local name="$1" rc
  wait "${job_pid[$name]}"; rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "=== $name failed (exit $rc), last lines of ${job_log[$name]}:"
    tail -n 40 "${job_log[$name]}"
  fi
  echo "=== $name: done after $((SECONDS - job_t0[$name])) s (in the background)"
  return "$rc"
}

mkdir -p build-asan build-package
if build_or_fail release; then
  background_job asan-build build-asan/build.log deploy/build.sh asan
  # The arm64-install scenario's iPXE (Debian 13's ipxe-arm64.efi), arm64
  # kernel and stand-in initramfs (~70 MB to fetch on a cold cache), beside
  # the release tests too; reused from the lab cache when present.
  background_job arm64-assets build/arm64-assets.log tests/e2e/lab/arm64-assets.sh
  # -j 2: tests marked RUN_SERIAL (those that load the machine) still run alone.
  run_suite release build -LE 'e2e|package' -j 2
  t0=$SECONDS
  # A failure shows again, as a FAIL, in the arm64-install scenario.
  wait_job arm64-assets && summary+=("arm64 assets (iPXE, kernel, initramfs): ready $((SECONDS - t0)) s after the release tests")
  # QEMU scenarios: each lab is its own namespace, two at a time (one TCG
  # core each); every scenario reports its time against its budget.
  rm -rf build/e2e-times
  # (The appliance image's scenarios wait for the image: step 5.)
  run_suite e2e build -L e2e -LE image -j 2
  for f in build/e2e-times/*; do [ -f "$f" ] && summary+=("  e2e $(cat "$f")"); done
else
  background_job asan-build build-asan/build.log deploy/build.sh asan
fi
# ASan/UBSan (clang): its build ran beside the release tests.
t0=$SECONDS
asan_built=0
if wait_job asan-build; then
  asan_built=1
  summary+=("build asan: finished $((SECONDS - t0)) s after the release phase")
else
  failed=$((failed + 1))
  failures=$((failures + 1))
  summary+=("build asan: failed (build-asan/build.log)")
fi
# The Debian package (deploy/package.sh, Debian's flags, lintian) builds
# beside the ASan tests; then it is installed into a clean Debian 12 root
# made by mmdebstrap. The appliance image's Debian root is made beside them
# too; the image build waits for the .deb only where it installs it (it used
# to start after the package and end ~130 s after the fuzzers).
background_job package build-package/package.log deploy/package.sh
mkdir -p build-image
background_job image build-image/image.log env METALPXE_IMAGE_DEB_WAIT=3600 deploy/image/build.sh
if [ "$asan_built" -eq 1 ]; then
  run_suite asan build-asan -LE 'e2e|bench|fuzz|package' -j 2
fi
t0=$SECONDS
image_started=1
if wait_job package; then
  summary+=("package: $(tail -n 1 build-package/package.log) (finished $((SECONDS - t0)) s after the ASan tests)")
  [ -d build ] && run_suite package build -L package
else
  failed=$((failed + 1))
  failures=$((failures + 1))
  summary+=("package: deploy/package.sh failed (build-package/package.log)")
  # No .deb will come: the image build's wait for it fails now, not in an hour.
  pkill -f deploy/image/wait-for-file.sh
  wait_job image
  image_started=0
fi
# The fuzzers (two single-threaded processes at a time, each for a fixed
# time) start at once; the appliance image's two VMs (one TCG core each) run
# beside them as soon as the image is ready, instead of after them (~75 s).
[ "$asan_built" -eq 1 ] && start_suite fuzz build-asan -L fuzz -j 2
if [ "$image_started" -eq 1 ]; then
  t0=$SECONDS
  if wait_job image; then
    summary+=("image: $(tail -n 1 build-image/image.log) (ready $((SECONDS - t0)) s after the package test)")
    if [ -d build ]; then
      run_suite image build -L image -j 2
      for f in build/e2e-times/appliance-*; do [ -f "$f" ] && summary+=("  e2e $(cat "$f")"); done
    fi
  else
    failed=$((failed + 1))
    failures=$((failures + 1))
    summary+=("image: deploy/image/build.sh failed (build-image/image.log)")
  fi
fi
[ "$asan_built" -eq 1 ] && finish_suite fuzz

echo
echo "=== summary"
printf '%s\n' "${summary[@]}"
echo "wall time: $SECONDS s"
echo "total: $passed passed, $failed failed"
[ "$failures" -eq 0 ] && [ "$failed" -eq 0 ]
