#pragma once
// What each protocol adapter's report reads like in a machine's boot
// timeline (core/timeline.h): one summary line an operator scans, and
// details as key=value pairs. Pure functions over plain data, so the wording
// is tested without sockets. Nothing here takes a secret: callers pass file
// names, paths without queries, decisions and reasons only.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/boot_client.h"
#include "core/net_types.h"
#include "core/talos_event.h"

namespace metalpxe {

struct TimelineText {
  std::string summary;
  std::string details;
};

// One DHCP exchange as the DHCP server saw it.
struct DhcpExchange {
  std::string received;                 // "DISCOVER", "REQUEST", ...
  std::string replied;                  // "OFFER", "ACK", "NAK", "" for no reply
  BootClient client;
  std::string vendor_class;
  std::optional<Ipv4Address> offered;   // yiaddr of the reply (full mode)
  std::string boot_file;                // "" for none
  std::string boot_why;
  bool proxy = false;                   // proxyDHCP / boot-server answer, no address
};
TimelineText DhcpTimelineText(const DhcpExchange& x);

// One TFTP request: a finished or failed transfer, or a refusal.
struct TftpFetch {
  std::string file;
  std::uint64_t size = 0;
  std::chrono::milliseconds duration{0};
  unsigned retransmits = 0;
  std::uint16_t block_size = 0, window_size = 0;
  bool ok = false;
  std::string error;
};
TimelineText TftpTimelineText(const TftpFetch& f);

// One static file over HTTP (iPXE binaries, kernel, initramfs).
struct HttpFileFetch {
  std::string path;                     // without the query
  int status = 0;
  std::uint64_t bytes = 0;              // body bytes sent
  std::chrono::milliseconds duration{0};
  bool completed = false;               // the whole response was sent
};
TimelineText HttpFileTimelineText(const HttpFileFetch& f);

// "kernel" / "initramfs" / "UKI" / "" from an asset path.
std::string_view BootAssetKind(std::string_view path);

// A kernel-log line worth a timeline entry ("kernel started", "init
// started", "Talos phase …", "kernel panic", "rebooting"); nullopt for the
// rest. `msg` is the line's message as received (tokens already redacted).
std::optional<std::string> KernelLogMilestone(std::string_view msg);

// Talos's own events, shortened: "sequence install START", "phase … done".
std::string TalosTimelineSummary(const TalosEvent& ev);

// "1.2 MiB" / "512 B": sizes people read.
std::string HumanBytes(std::uint64_t bytes);

}  // namespace metalpxe
