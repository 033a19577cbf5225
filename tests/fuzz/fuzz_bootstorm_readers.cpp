// bench/bootstorm's readers of what servers send: iPXE scripts (chain,
// kernel, initrd lines, ${settings}), HTTP URLs and response heads.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bench/bootstorm/http_response_head.h"
#include "bench/bootstorm/ipxe_script_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  metalpxe::bench::IpxeSettings settings;
  settings.mac = "02:b5:70:00:00:01";
  settings.values = {{"idx", "0"}, {"uuid", "u"}, {"buildarch", "x86_64"}};
  (void)metalpxe::bench::ExpandSettings(text, settings);
  (void)metalpxe::bench::ChainUrl(text, settings);
  (void)metalpxe::bench::ReadInstallScript(text, settings);
  (void)metalpxe::bench::ParseHttpUrl(text);
  (void)metalpxe::bench::ParseResponseHead(text);
  return 0;
}
