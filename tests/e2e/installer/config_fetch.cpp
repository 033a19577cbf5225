#include "tests/e2e/installer/config_fetch.h"

#include <curl/curl.h>

#include <memory>
#include <thread>

namespace metalpxe::standin {

namespace {

size_t Append(char* data, size_t size, size_t count, void* user) {
  auto* out = static_cast<std::string*>(user);
  constexpr size_t kMaxConfig = 4 << 20;  // a Talos config is a few KiB
  if (out->size() + size * count > kMaxConfig) return 0;  // aborts the transfer
  out->append(data, size * count);
  return size * count;
}

}  // namespace

Result<FetchedConfig> HttpGet(const std::string& url, std::chrono::seconds timeout) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return Status(ErrorCode::kInternal, "curl_easy_init failed");
  FetchedConfig out;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &out.body);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, 5L);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  const CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) return Status(ErrorCode::kUnavailable, curl_easy_strerror(rc));
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &out.http_status);
  return out;
}

Result<FetchedConfig> FetchConfig(const std::string& url, std::chrono::seconds budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  Result<FetchedConfig> last = Status(ErrorCode::kDeadlineExceeded, "no attempt made");
  for (int attempt = 0; attempt < 30 && std::chrono::steady_clock::now() < deadline; ++attempt) {
    last = HttpGet(url, std::chrono::seconds(10));
    if (last.ok() && last->http_status < 500) return last;
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  return last;
}

}  // namespace metalpxe::standin
