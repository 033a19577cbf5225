#pragma once
// The head of an HTTP/1.1 response, as much of it as a download needs:
// status, body length, whether the connection stays open and, for a 206,
// the total size from Content-Range. Pure function over text.
#include <cstdint>
#include <optional>
#include <string_view>

namespace metalpxe::bench {

struct HttpResponseHead {
  int status = 0;
  std::optional<std::uint64_t> content_length;
  bool chunked = false;
  bool close = false;                      // Connection: close, or HTTP/1.0 without keep-alive
  std::optional<std::uint64_t> range_total;  // Content-Range: bytes a-b/<total>
};

// `head` is everything before the blank line (CRLF CRLF excluded). nullopt
// for a malformed status line or header.
std::optional<HttpResponseHead> ParseResponseHead(std::string_view head);

}  // namespace metalpxe::bench
