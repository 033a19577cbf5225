#pragma once
// Settings and counters of the TFTP server (tftp_server.h).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/latency_histogram.h"
#include "core/net_types.h"
#include "pxe/tftp/tftp_packet.h"
#include "pxe/tftp/tftp_root.h"

namespace metalpxe::tftp {

// How one request ended, for the machine's boot timeline (core/timeline.h):
// a finished or failed transfer, or a request refused before one started.
struct TftpTransferReport {
  IpAddress peer;                       // IPv4 or IPv6
  std::string file;                     // as requested (printable bytes only)
  std::uint64_t size = 0;               // the file's size (0 when refused)
  std::chrono::milliseconds duration{0};
  unsigned retransmits = 0;             // timeouts that sent a window or OACK again
  std::uint16_t block_size = 0, window_size = 0;
  bool ok = false;
  std::string error;                    // why it failed or was refused, "" when ok
};
using TftpObserver = std::function<void(const TftpTransferReport&)>;

// Files that are not in the root: asked first for every read request with
// the requested name and the client's address; nullopt = not one of them
// (the root answers), else the opened file or why not (kNotFound,
// kPermissionDenied as for the root). Runs on the event loop: must not block.
using TftpVirtualFiles = std::function<std::optional<Result<OpenedFile>>(std::string_view filename, Ipv4Address peer)>;

struct TftpOptions {
  std::string root;                     // served directory (read-only)
  Ipv4Address bind_address{};           // 0.0.0.0: every local address
  // Listen on [::] for IPv6 only (DHCPv6 clients: tftp://[addr]/file);
  // the daemon runs one server per family. bind_address is then unused.
  bool ipv6 = false;
  std::uint16_t port = 69;              // 0: let the kernel pick (tests)
  std::string interface;                // non-empty: SO_BINDTODEVICE on every socket
  std::size_t max_transfers = 256;      // concurrent; requests beyond wait for a slot (below)
  // Read requests beyond max_transfers wait here, in arrival order, and start
  // as transfers end: a boot storm is served, never refused (an ERROR ends a
  // PXE boot). Beyond this many waiting, requests are dropped unanswered and
  // the client's retransmission asks again; a waiting request older than
  // max_retransmit_timeout is dropped likewise (its client has retransmitted
  // or given up by then).
  std::size_t max_waiting = 1024;
  std::chrono::milliseconds retransmit_timeout{1000};      // first retransmission
  std::chrono::milliseconds max_retransmit_timeout{8000};  // backoff doubles up to this
  unsigned max_retries = 5;             // retransmissions of one window before giving up
  std::uint16_t max_block_size = kMaxBlockSize;  // blksize answers are capped here
  std::uint16_t max_window_size = 64;            // windowsize answers are capped here
  bool use_gso = true;  // send a window as one UDP GSO datagram train where the path allows
  TftpObserver observer;  // may be empty; runs on the event loop, must only queue
  TftpVirtualFiles virtual_files;  // may be empty
};

// Counters since Start(), for /metrics. Bytes are DATA payload put on the
// wire, retransmissions included.
struct TftpStats {
  std::uint64_t transfers_started = 0;
  std::uint64_t transfers_completed = 0;
  std::uint64_t transfers_failed = 0;   // timed out, aborted by the client, read error, stopped
  std::uint64_t requests_refused = 0;   // ERROR sent instead of a transfer (not found, WRQ, busy, ...)
  std::uint64_t bytes_sent = 0;
  std::uint64_t retransmits = 0;        // windows or OACKs sent again after a timeout
  std::uint64_t active_transfers = 0;
  std::uint64_t requests_waited = 0;    // read requests that waited for a slot (max_transfers reached)
  std::uint64_t requests_dropped = 0;   // dropped unanswered: the wait queue was full or the request stale
  // Completed transfers, request to last ACK (retries included).
  LatencyHistogram::Snapshot durations;
};

}  // namespace metalpxe::tftp
