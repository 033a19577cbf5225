// metalpxe-tftpd: the metalpxe TFTP server on its own, for benchmarks and
// for poking at by hand. metalpxed runs the same TftpServer in its loop.
//   metalpxe-tftpd --root DIR [--address A] [--port P] [--interface IF]
//                  [--max-transfers N] [--max-window N] [--no-gso] [--log-level L]
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/log.h"
#include "pxe/tftp/tftp_server.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: metalpxe-tftpd --root DIR [--address A] [--port P] [--interface IF]\n"
               "                      [--max-transfers N] [--max-window N] [--no-gso] [--log-level L]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace metalpxe;
  tftp::TftpOptions options;
  std::string level = "info";
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--no-gso") {
      options.use_gso = false;
      continue;
    }
    if (i + 1 >= argc) return Usage();
    const std::string value = argv[++i];
    if (flag == "--root") {
      options.root = value;
    } else if (flag == "--address") {
      auto a = Ipv4Address::Parse(value);
      if (!a) return Usage();
      options.bind_address = *a;
    } else if (flag == "--port") {
      options.port = static_cast<std::uint16_t>(std::stoul(value));
    } else if (flag == "--interface") {
      options.interface = value;
    } else if (flag == "--max-transfers") {
      options.max_transfers = std::stoul(value);
    } else if (flag == "--max-window") {
      options.max_window_size = static_cast<std::uint16_t>(std::stoul(value));
    } else if (flag == "--log-level") {
      level = value;
    } else {
      return Usage();
    }
  }
  if (options.root.empty()) return Usage();
  if (auto st = InitLogging(level); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.ToString().c_str());
    return 2;
  }
  boost::asio::io_context io;
  tftp::TftpServer server(io, options);
  if (auto st = server.Start(); !st.ok()) {
    std::fprintf(stderr, "metalpxe-tftpd: %s\n", st.ToString().c_str());
    return 1;
  }
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    server.Stop();
    const auto s = server.Stats();
    spdlog::info("tftp: {} transfers started, {} completed, {} failed, {} refused, {} bytes, {} retransmits",
                 s.transfers_started, s.transfers_completed, s.transfers_failed, s.requests_refused, s.bytes_sent,
                 s.retransmits);
    io.stop();
  });
  io.run();
  return 0;
}
