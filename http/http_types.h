#pragma once
// What a route handler sees and returns. Handlers run on libmicrohttpd's
// worker threads, several at once: a handler must be thread-safe.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/boot_client.h"
#include "core/net_types.h"

namespace metalpxe::http {

// Header names compare case-insensitively (RFC 9110 §5.1).
struct CaseInsensitiveLess {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const;
};

struct HttpRequest {
  std::string method;                         // "GET" or "HEAD" (others never reach a handler)
  std::string path;                           // percent-decoded, without the query
  std::map<std::string, std::string> query;   // decoded; a key without '=' maps to ""
  std::map<std::string, std::string, CaseInsensitiveLess> headers;  // repeated headers joined by ", "
  Ipv4Address peer;                           // unspecified for an IPv6 peer
  IpFamily peer_family = IpFamily::kIpv4;     // IPv4-mapped peers on a dual-stack socket count as IPv4
  std::optional<Ipv6Address> peer6;           // the IPv6 peer (peer_family kIpv6)

  // The header's value, or "" when absent; name is case-insensitive.
  std::string_view Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const { return headers.find(name) != headers.end(); }
  // The query parameter's value, or "" when absent.
  std::string_view Query(std::string_view key) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::string body;                                          // not sent for HEAD

  static HttpResponse Text(int status, std::string body, std::string content_type = "text/plain") {
    return HttpResponse{status, std::move(content_type), {}, std::move(body)};
  }
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

}  // namespace metalpxe::http
