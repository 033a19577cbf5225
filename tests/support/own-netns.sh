#!/bin/sh
# Runs one test process in a network namespace of its own, with loopback up:
#   own-netns.sh TEST-BINARY [ARG...]
# (CMake runs the SERIAL tests' binaries through it, cmake/MetalpxeTargets.cmake.)
# Servers a test starts on 127.0.0.x and fixed ports, links it adds outside
# the namespaces it makes, sysctls it sets: all stay in this namespace and
# vanish with the process, so two such tests can run side by side, and
# nothing a test starts listens in the machine's own namespace.
exec unshare --net -- sh -c 'ip link set lo up && exec "$@"' own-netns "$@"
