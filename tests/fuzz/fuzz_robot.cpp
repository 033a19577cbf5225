// libFuzzer target: Hetzner Robot answers (errors, server, rescue, reset
// types) and the kexec and image install script builders over arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ipmi/robot_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  using namespace metalpxe;
  (void)ParseRobotError(text);
  (void)ParseRobotServer(text);
  (void)ParseRobotRescue(text);
  (void)ParseRobotResetTypes(text);
  const auto third = text.size() / 3;
  (void)BuildKexecScript(text.substr(0, third), text.substr(third, third), text.substr(2 * third));
  (void)BuildImageInstallScript(text.substr(0, third), text.substr(third, third), text.substr(2 * third));
  return 0;
}
