# Helpers every folder uses to declare its library, tests and fuzz targets,
# so flags, sanitizers and test labels are set in one place.
include(GoogleTest)

# metalpxe_add_library(NAME SOURCES a.cpp ... DEPS lib ...)
function(metalpxe_add_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${name} PUBLIC ${A_DEPS})
endfunction()

# metalpxe_add_test(NAME SOURCES ... DEPS ... [LABELS unit|integration|e2e] [TIMEOUT s] [SERIAL] [ALONE])
# SERIAL: the tests start servers on loopback addresses and fixed ports, make
# network namespaces and links: each test process runs in a network namespace
# of its own (tests/support/own-netns.sh), so tests of different binaries never
# meet on an address and run side by side, and the tests of one binary take
# turns (they may share names under /run/netns or files). Until 2026-12 these
# ran with nothing beside them, which left one core idle for ~500 s of each
# suite run: most of them wait on their peers.
# ALONE: the test loads the machine on purpose (a perfdhcp storm, kill -9 under
# load) and judges what it gets: nothing runs beside it (RUN_SERIAL).
function(metalpxe_add_test name)
  cmake_parse_arguments(A "SERIAL;ALONE" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  # A test's own code only drives the product, whose libraries keep the
  # tree's optimisation (-O2 release, -O1 ASan): at -O0 a test unit compiles
  # about a third faster (etcd_store_test's: gcc 20.7 s -> 14.0 s, clang ASan
  # 24.5 s -> 16.8 s), and test units are two thirds of each tree's compile.
  target_compile_options(${name} PRIVATE -O0)
  target_compile_definitions(${name} PRIVATE METALPXE_SOURCE_DIR_DEFAULT="${PROJECT_SOURCE_DIR}"
                                             METALPXE_BINARY_DIR_DEFAULT="${PROJECT_BINARY_DIR}")
  if(NOT A_LABELS)
    set(A_LABELS unit)
  endif()
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  set(props LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT})
  if(A_ALONE)
    list(APPEND props RUN_SERIAL TRUE)
  endif()
  if(A_SERIAL OR A_ALONE)
    list(APPEND props RESOURCE_LOCK ${name})
    # gtest_discover_tests runs the binary (listing and each test) through it.
    set_target_properties(${name} PROPERTIES CROSSCOMPILING_EMULATOR ${PROJECT_SOURCE_DIR}/tests/support/own-netns.sh)
  endif()
  gtest_discover_tests(${name} TEST_PREFIX "${name}." DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60
                       PROPERTIES ${props})
endfunction()

# metalpxe_add_fuzzer(NAME SOURCE file.cpp DEPS ... [SECONDS n])
# With METALPXE_FUZZ (clang) it is a libFuzzer binary run for a bounded time
# by ctest (label fuzz) over its seed corpus; without, nothing is built.
function(metalpxe_add_fuzzer name)
  cmake_parse_arguments(A "" "SOURCE;SECONDS" "DEPS" ${ARGN})
  if(NOT METALPXE_FUZZ)
    return()
  endif()
  if(NOT A_SECONDS)
    set(A_SECONDS 15)  # per target, every CI run; longer campaigns run by hand
  endif()
  add_executable(${name} ${A_SOURCE})
  add_dependencies(fuzzers ${name})
  target_link_libraries(${name} PRIVATE ${A_DEPS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  set(corpus ${PROJECT_BINARY_DIR}/fuzz-corpus/${name})
  set(seeds ${PROJECT_SOURCE_DIR}/tests/fuzz/seeds/${name})
  add_test(NAME ${name}
           COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
                   sh -c "mkdir -p '${corpus}' && exec \"$0\" -max_total_time=${A_SECONDS} -timeout=10 -artifact_prefix=${corpus}/ -rss_limit_mb=2048 -print_final_stats=1 '${corpus}' $(test -d '${seeds}' && echo '${seeds}')"
                   $<TARGET_FILE:${name}>)
  set_tests_properties(${name} PROPERTIES LABELS fuzz TIMEOUT ${A_SECONDS}0)
endfunction()
