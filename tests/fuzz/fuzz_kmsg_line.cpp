// libFuzzer target: the kernel log framer + JSON line parser on arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/kmsg_line.h"
#include "api/kmsg_log_receiver.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)metalpxe::ParseKmsgLine(input);
  // Also through the framer in two uneven chunks, as TCP may deliver them.
  metalpxe::LineFramer framer(256);
  auto on_line = [](std::string_view line) { (void)metalpxe::ParseKmsgLine(line); };
  std::size_t cut = size / 3;
  framer.Feed(input.substr(0, cut), on_line, [] {});
  framer.Feed(input.substr(cut), on_line, [] {});
  framer.Finish(on_line);
  return 0;
}
