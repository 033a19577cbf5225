#include "images/http_fetch.h"

#include "images/content_range.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <string_view>

#include <curl/curl.h>

namespace metalpxe {
namespace {

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char a = s[i], b = prefix[i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z') b = static_cast<char>(b - 'A' + 'a');
    if (a != b) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  return s;
}

// State shared with the curl callbacks for one attempt.
struct Transfer {
  const FetchRequest* req = nullptr;
  CURL* curl = nullptr;
  // Per response (reset on each status line: redirects bring several).
  std::string status_line;
  std::optional<std::uint64_t> range_start, range_total;
  bool body_started = false;
  bool writing = false;  // this response's body goes to the file
  // Across the attempt.
  std::uint64_t position = 0;  // where the next body byte goes in the file
  std::uint64_t total = 0;
  std::uint64_t last_report = 0;
  std::optional<Status> abort;  // why a callback stopped the transfer
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const std::string_view line(data, size * n);
  if (StartsWithNoCase(line, "HTTP/")) {
    t.status_line = std::string(Trim(line));
    t.range_start.reset();
    t.range_total.reset();
  } else if (StartsWithNoCase(line, "content-range:")) {
    if (auto cr = ParseContentRange(line.substr(14))) {
      t.range_start = cr->first;
      t.range_total = cr->total;
    }
  }
  return size * n;
}

// Decides, at the first body byte of the final response, where the body goes.
bool StartBody(Transfer& t) {
  t.body_started = true;
  long code = 0;
  curl_easy_getinfo(t.curl, CURLINFO_RESPONSE_CODE, &code);
  const auto& req = *t.req;
  if (code == 206) {
    if (!t.range_start || *t.range_start != req.offset) {
      t.abort = Status(ErrorCode::kFailedPrecondition,
                       "server answered the Range request for byte " + std::to_string(req.offset) +
                           " with a different range");
      return false;
    }
    t.writing = true;
    t.position = req.offset;
    t.total = t.range_total.value_or(0);
  } else if (code == 200) {
    // The server ignored the Range request (or none was sent): start over.
    if (req.offset > 0) {
      if (ftruncate(req.fd, 0) != 0) {
        t.abort = Status(ErrorCode::kUnavailable, std::string("cannot truncate partial file: ") + std::strerror(errno));
        return false;
      }
      req.hasher->Reset();
    }
    t.writing = true;
    t.position = 0;
    t.last_report = 0;
    curl_off_t len = -1;
    curl_easy_getinfo(t.curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
    t.total = len > 0 ? static_cast<std::uint64_t>(len) : 0;
  } else {
    t.writing = false;  // an error page: read and drop it, the status says what happened
    return true;
  }
  if (t.total > req.limits.max_bytes) {
    t.abort = Status(ErrorCode::kResourceExhausted, "asset is " + std::to_string(t.total) + " bytes, over the " +
                                                        std::to_string(req.limits.max_bytes) + "-byte limit");
    return false;
  }
  return true;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const size_t len = size * n;
  if (!t.body_started && !StartBody(t)) return CURL_WRITEFUNC_ERROR;
  if (!t.writing) return len;
  const auto& req = *t.req;
  if (t.position + len > req.limits.max_bytes) {
    t.abort = Status(ErrorCode::kResourceExhausted,
                     "asset is over the " + std::to_string(req.limits.max_bytes) + "-byte limit");
    return CURL_WRITEFUNC_ERROR;
  }
  size_t done = 0;
  while (done < len) {
    const ssize_t w = pwrite(req.fd, data + done, len - done, static_cast<off_t>(t.position + done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      t.abort = Status(errno == ENOSPC ? ErrorCode::kResourceExhausted : ErrorCode::kUnavailable,
                       std::string("cannot write the partial file: ") + std::strerror(errno));
      return CURL_WRITEFUNC_ERROR;
    }
    done += static_cast<size_t>(w);
  }
  req.hasher->Update(std::as_bytes(std::span(data, len)));
  t.position += len;
  // Report every MiB and at the end, not every few KiB.
  if (req.progress && (t.position - t.last_report >= (1u << 20) || (t.total && t.position == t.total))) {
    t.last_report = t.position;
    req.progress(t.position, t.total);
  }
  return len;
}

int OnXferInfo(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto& t = *static_cast<Transfer*>(user);
  return (t.req->cancel && t.req->cancel->load()) ? 1 : 0;
}

bool IsTransient(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR: return true;
    default: return false;
  }
}

}  // namespace

FetchOutcome FetchOnce(const FetchRequest& req) {
  GlobalInitOnce();
  FetchOutcome out;
  std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
  if (!curl) {
    out.status = Status(ErrorCode::kInternal, "curl_easy_init failed");
    return out;
  }
  Transfer t;
  t.req = &req;
  t.curl = curl.get();
  t.position = req.offset;
  t.last_report = req.offset;
  char errbuf[CURL_ERROR_SIZE] = {0};
  const std::string range = std::to_string(req.offset) + "-";
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);  // Image Factory may redirect to a CDN
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // we run on worker threads
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "metalpxe/0.1");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(req.limits.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, req.limits.low_speed_bytes_per_s);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(req.limits.low_speed_time.count()));
  if (req.offset > 0) curl_easy_setopt(c, CURLOPT_RANGE, range.c_str());
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, OnXferInfo);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);

  const CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out.http_status);
  // An empty 200/206 body never reaches OnBody; settle where it would have gone.
  if (rc == CURLE_OK && !t.body_started && (out.http_status == 200 || out.http_status == 206)) {
    if (!StartBody(t)) {
      out.status = *t.abort;
      out.file_size = t.position;
      return out;
    }
  }
  out.file_size = t.position;
  out.total = t.total;
  const std::string what = "download of " + req.url;

  if (req.cancel && req.cancel->load()) {
    out.status = Status(ErrorCode::kUnavailable, what + " cancelled");
    return out;
  }
  if (t.abort) {
    out.status = Status(t.abort->code(), what + ": " + t.abort->message());
    return out;
  }
  if (rc != CURLE_OK) {
    out.transient = IsTransient(rc);
    std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    if (t.writing && t.total > 0 && t.position < t.total) {
      detail = "truncated: got " + std::to_string(t.position) + " of " + std::to_string(t.total) + " bytes (" +
               detail + ")";
    }
    out.status = Status(out.transient ? ErrorCode::kUnavailable : ErrorCode::kFailedPrecondition,
                        what + " failed: " + detail);
    return out;
  }
  const long code = out.http_status;
  if (code == 200 || code == 206) {
    if (t.total > 0 && t.position != t.total) {  // curl checks Content-Length; this also covers Content-Range
      out.transient = true;
      out.status = Status(ErrorCode::kUnavailable, what + " truncated: got " + std::to_string(t.position) +
                                                       " of " + std::to_string(t.total) + " bytes");
    }
    return out;
  }
  const std::string server_said = t.status_line.empty() ? "HTTP " + std::to_string(code) : t.status_line;
  if (code == 416) {
    out.range_not_satisfiable = true;
    out.status = Status(ErrorCode::kFailedPrecondition,
                        what + ": server refused to resume at byte " + std::to_string(req.offset) + " (" +
                            server_said + ")");
  } else if (code == 404 || code == 410) {
    out.status = Status(ErrorCode::kNotFound, what + ": not found on the server (" + server_said + ")");
  } else if (code >= 500 || code == 429 || code == 408) {
    out.transient = true;
    out.status = Status(ErrorCode::kUnavailable, what + ": server error (" + server_said + ")");
  } else {
    out.status = Status(ErrorCode::kFailedPrecondition, what + ": unexpected answer (" + server_said + ")");
  }
  return out;
}

}  // namespace metalpxe
