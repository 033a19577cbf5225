#pragma once
// The open-file limit a server's connection limits depend on. systemd starts
// services with a soft RLIMIT_NOFILE of 1024 (hard 524288): an HTTP server
// allowed 4,096 connections would hit EMFILE long before its own limit, and
// libmicrohttpd then stops accepting altogether, which is the stall a flood
// must not cause. Like Go's runtime does at start, raise the soft limit to the
// hard one; each server checks its own limits against the result.
#include <cstdint>

namespace metalpxe {

// Raises the soft RLIMIT_NOFILE to the hard limit (once per process; later
// calls only read it) and returns the soft limit now in force.
std::uint64_t RaiseOpenFileLimit();

}  // namespace metalpxe
