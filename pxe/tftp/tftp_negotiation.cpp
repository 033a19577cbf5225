#include "pxe/tftp/tftp_negotiation.h"

#include <algorithm>
#include <string>

namespace metalpxe::tftp {
namespace {

// Decimal digits only, at most 19 of them (fits in 64 bits); no sign, no spaces.
std::optional<std::uint64_t> ParseDecimal(const std::string& text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

}  // namespace

Result<RequestedOptions> ReadRequestedOptions(const std::vector<TftpOption>& options) {
  RequestedOptions out;
  for (const auto& opt : options) {
    std::optional<std::uint64_t>* slot = nullptr;
    std::uint64_t minimum = 0;
    if (opt.name == "blksize") {
      slot = &out.blksize;
      minimum = kMinBlockSize;
    } else if (opt.name == "tsize") {
      slot = &out.tsize;
    } else if (opt.name == "timeout") {
      slot = &out.timeout;
      minimum = 1;
    } else if (opt.name == "windowsize") {
      slot = &out.windowsize;
      minimum = 1;
    } else {
      continue;
    }
    if (slot->has_value()) continue;
    const auto value = ParseDecimal(opt.value);
    if (!value) return Status(ErrorCode::kInvalidArgument, "option " + opt.name + " has a non-numeric value");
    if (*value < minimum)
      return Status(ErrorCode::kInvalidArgument,
                    "option " + opt.name + " is below its minimum " + std::to_string(minimum));
    *slot = *value;
  }
  return out;
}

NegotiatedOptions Negotiate(const RequestedOptions& requested, const NegotiationLimits& limits,
                            std::uint64_t file_size) {
  NegotiatedOptions out;
  // The OACK lists options in the order clients expect to see them; order is
  // not significant on the wire (RFC 2347), this one matches tftpd-hpa.
  if (requested.blksize) {
    const std::uint64_t cap = std::clamp<std::uint64_t>(limits.max_block_size, kMinBlockSize, kMaxBlockSize);
    out.block_size = static_cast<std::uint16_t>(std::min(*requested.blksize, cap));
    out.oack.push_back({"blksize", std::to_string(out.block_size)});
  }
  if (requested.timeout && *requested.timeout <= 255) {
    out.timeout = std::chrono::seconds(*requested.timeout);
    out.oack.push_back({"timeout", std::to_string(*requested.timeout)});
  }
  if (requested.tsize) out.oack.push_back({"tsize", std::to_string(file_size)});
  if (requested.windowsize) {
    const std::uint64_t cap = std::clamp<std::uint64_t>(limits.max_window_size, 1, 65535);
    out.window_size = static_cast<std::uint16_t>(std::min(*requested.windowsize, cap));
    out.oack.push_back({"windowsize", std::to_string(out.window_size)});
  }
  return out;
}

}  // namespace metalpxe::tftp
