#pragma once
// Option negotiation for read requests: RFC 2347 (framework), RFC 2348
// (blksize), RFC 2349 (timeout, tsize), RFC 7440 (windowsize). Pure
// functions: what the client asked for in, what the server answers out.
#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/result.h"
#include "pxe/tftp/tftp_packet.h"

namespace metalpxe::tftp {

// The options a request carried that this server understands, as numbers.
struct RequestedOptions {
  std::optional<std::uint64_t> blksize;
  std::optional<std::uint64_t> tsize;
  std::optional<std::uint64_t> timeout;  // seconds
  std::optional<std::uint64_t> windowsize;
};

// Unknown options are skipped (RFC 2347: the server omits what it does not
// support). A known option whose value is not a decimal number, or is below
// its RFC minimum (blksize < 8, timeout 0, windowsize 0), is an error: the
// caller answers ERROR 8 (option negotiation failure). Repeated options: the
// first one counts.
Result<RequestedOptions> ReadRequestedOptions(const std::vector<TftpOption>& options);

struct NegotiationLimits {
  std::uint16_t max_block_size = kMaxBlockSize;
  std::uint16_t max_window_size = 64;
};

// What the transfer will use, and the OACK that announces it.
struct NegotiatedOptions {
  std::uint16_t block_size = kDefaultBlockSize;
  std::uint16_t window_size = 1;
  std::optional<std::chrono::seconds> timeout;  // the client's retransmit timeout, adopted by the server
  std::vector<TftpOption> oack;                 // empty: no OACK, DATA 1 goes out at once
};

// blksize and windowsize above the limits are lowered to them (RFC 2348/7440
// let the server answer a smaller value); a timeout above 255 s is left out
// of the OACK; tsize is answered with file_size.
NegotiatedOptions Negotiate(const RequestedOptions& requested, const NegotiationLimits& limits,
                            std::uint64_t file_size);

}  // namespace metalpxe::tftp
