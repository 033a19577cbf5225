#include "dhcp/option_defs.h"

#include <array>

namespace metalpxe::dhcp {
namespace {

using T = OptionType;

// RFC 2132, RFC 3004 (77), RFC 3046 (82), RFC 4578 (93, 94, 97), iPXE (175).
constexpr OptionDef kDefs[] = {
    {1, "subnet-mask", T::kIpv4, false, 0},
    {2, "time-offset", T::kU32, false, 0},
    {3, "routers", T::kIpv4, true, 0},
    {6, "domain-name-servers", T::kIpv4, true, 0},
    {12, "host-name", T::kString, false, 1},
    {15, "domain-name", T::kString, false, 1},
    {26, "interface-mtu", T::kU16, false, 0},
    {28, "broadcast-address", T::kIpv4, false, 0},
    {42, "ntp-servers", T::kIpv4, true, 0},
    {43, "vendor-encapsulated-options", T::kBytes, false, 0},
    {50, "requested-address", T::kIpv4, false, 0},
    {51, "lease-time", T::kU32, false, 0},
    {52, "option-overload", T::kU8, false, 0},
    {53, "message-type", T::kU8, false, 0},
    {54, "server-identifier", T::kIpv4, false, 0},
    {55, "parameter-request-list", T::kU8, true, 0},
    {56, "message", T::kString, false, 1},
    {57, "max-message-size", T::kU16, false, 0},
    {58, "renewal-time", T::kU32, false, 0},
    {59, "rebinding-time", T::kU32, false, 0},
    {60, "vendor-class-identifier", T::kString, false, 1},
    {61, "client-identifier", T::kBytes, false, 1},
    {66, "tftp-server-name", T::kString, false, 1},
    {67, "boot-file-name", T::kString, false, 1},
    {77, "user-class", T::kBytes, false, 1},
    {82, "relay-agent-information", T::kBytes, false, 0},
    {93, "client-system-architecture", T::kU16, true, 0},
    {94, "client-network-interface", T::kBytes, false, 3},
    {97, "client-machine-identifier", T::kBytes, false, 1},
    {175, "ipxe-encapsulated-options", T::kBytes, false, 0},
};

constexpr std::array<const OptionDef*, 256> BuildIndex() {
  std::array<const OptionDef*, 256> index{};
  for (const auto& d : kDefs) index[d.code] = &d;
  return index;
}
constexpr auto kIndex = BuildIndex();

std::size_t ElementSize(OptionType t) {
  switch (t) {
    case T::kU8: return 1;
    case T::kU16: return 2;
    case T::kU32:
    case T::kIpv4: return 4;
    case T::kBytes:
    case T::kString: return 1;
  }
  return 1;
}

}  // namespace

const OptionDef* FindOptionDef(std::uint8_t code) { return kIndex[code]; }

bool OptionLengthValid(const OptionDef& def, std::size_t length) {
  if (def.type == T::kBytes || def.type == T::kString) return length >= def.min_length;
  const std::size_t elem = ElementSize(def.type);
  if (def.array) return length >= elem && length % elem == 0;
  return length == elem;
}

}  // namespace metalpxe::dhcp
