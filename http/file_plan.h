#pragma once
// What to answer for a GET/HEAD of a static file, decided from the request's
// conditional and Range headers and the file's size and mtime. Pure: the
// server turns the plan into a libmicrohttpd response (sendfile of
// [offset, offset+length) for 200/206).
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace metalpxe::http {

// Header values as received; an empty view means "absent".
struct FileRequestHeaders {
  std::string_view range;
  std::string_view if_none_match;
  std::string_view if_modified_since;
  std::string_view if_range;
};

struct FilePlan {
  int status = 200;           // 200, 206, 304 or 416
  std::uint64_t offset = 0;   // bytes of the file to send, for 200/206
  std::uint64_t length = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // incl. Content-Type
};

// Order follows RFC 9110 §13.2.2: If-None-Match (If-Modified-Since only when
// If-None-Match is absent) -> 304; then Range, honoured only if If-Range (when
// present) still matches the file.
FilePlan PlanFileResponse(const FileRequestHeaders& request, std::uint64_t size, std::int64_t mtime_ns,
                          std::string_view content_type);

}  // namespace metalpxe::http
