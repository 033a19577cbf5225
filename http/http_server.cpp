#include "http/http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "core/fd_limit.h"
#include "core/log.h"
#include "http/asset_file.h"
#include "http/asset_path.h"
#include "http/file_plan.h"
#include "http/log_redaction.h"

namespace metalpxe::http {

struct HttpServer::Counters {
  std::array<std::atomic<std::uint64_t>, 5> by_class{};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<std::uint64_t> active{0};
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::int64_t> last_refusal_warning_s{-1'000'000};  // steady clock, seconds
  // By route; filled by Start() (routes are registered before), read-only
  // while the daemon runs, so lookups need no lock.
  std::map<std::string, std::unique_ptr<LatencyHistogram>> durations;
};

// Lives from the first access-handler call of a request to its completion
// callback, so the bytes of a response are counted only when it was sent.
struct HttpServer::RequestContext {
  std::uint64_t body_bytes = 0;
  LatencyHistogram* durations = nullptr;  // the route's, once the request line is read
  std::chrono::steady_clock::time_point timing_since;
  bool stretched_timeout = false;  // send_stall_timeout in force for this request
  // Static files only, for HttpServerOptions::file_observer.
  bool file = false;
  int status = 0;
  std::string path;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

namespace {

constexpr auto relaxed = std::memory_order_relaxed;

// A body up to this size fits the kernel's socket buffer at once: sending it
// cannot stall long enough to need the longer timeout.
constexpr std::uint64_t kStretchTimeoutAboveBytes = 64 * 1024;
// Open files the process keeps for other things than HTTP connections
// (listeners of the other servers, the store, log files, asset fds).
constexpr std::uint64_t kFdsKeptForOthers = 256;
// libmicrohttpd 0.9.75 reports each connection it closes at once for a
// limit with this message (daemon.c, new_connection_prepare_); no callback
// sees them otherwise.
constexpr std::string_view kMhdRefusedMessage = "Server reached connection limit";
// The duration label of requests no route matched (and refused methods).
constexpr const char* kOtherRoute = "other";

bool IsHead(const char* method) { return std::strcmp(method, MHD_HTTP_METHOD_HEAD) == 0; }

MHD_Result CollectQuery(void* cls, MHD_ValueKind, const char* key, const char* value) {
  auto* query = static_cast<std::map<std::string, std::string>*>(cls);
  if (key != nullptr) query->insert_or_assign(key, value != nullptr ? value : "");
  return MHD_YES;
}

MHD_Result CollectHeader(void* cls, MHD_ValueKind, const char* key, const char* value) {
  auto* headers = static_cast<std::map<std::string, std::string, CaseInsensitiveLess>*>(cls);
  if (key == nullptr) return MHD_YES;
  const std::string_view v = value != nullptr ? value : "";
  auto [it, inserted] = headers->try_emplace(key, v);
  if (!inserted) it->second.append(", ").append(v);  // RFC 9110 §5.3: combine repeated fields
  return MHD_YES;
}

// The peer's address; an IPv4-mapped IPv6 peer (dual-stack socket) is IPv4.
IpAddress PeerOf(MHD_Connection* connection) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (info == nullptr || info->client_addr == nullptr) return Ipv4Address{};
  if (info->client_addr->sa_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(info->client_addr);
    Ipv6Address a;
    std::memcpy(a.bytes.data(), sin6->sin6_addr.s6_addr, 16);
    return a;
  }
  if (info->client_addr->sa_family != AF_INET) return Ipv4Address{};
  const auto* sin = reinterpret_cast<const sockaddr_in*>(info->client_addr);
  return Ipv4Address{ntohl(sin->sin_addr.s_addr)};
}

void LogRequest(const char* method, std::string_view path, int status, std::uint64_t bytes,
                MHD_Connection* connection) {
  if (!spdlog::should_log(spdlog::level::debug)) return;
  spdlog::debug("http {} {} {} {}B peer={}", method, PathForLog(path), status, bytes, PeerOf(connection).ToString());
}

}  // namespace

// The C callbacks libmicrohttpd calls; friends of HttpServer.
struct MhdCallbacks {
  static MHD_Result OnAccess(void* cls, MHD_Connection* connection, const char* url, const char* method,
                             const char* /*version*/, const char* /*upload_data*/, std::size_t* upload_data_size,
                             void** req_cls) {
    auto* self = static_cast<HttpServer*>(cls);
    if (*req_cls == nullptr) {
      *req_cls = new HttpServer::RequestContext;
      // libmicrohttpd 0.9.75 closes the connection when a response is queued
      // in this first call, so GET/HEAD answer on the next one (keep-alive).
      // Other methods are refused right away: closing is what we want then,
      // without reading their body.
      if (std::strcmp(method, MHD_HTTP_METHOD_GET) == 0 || IsHead(method)) return MHD_YES;
      return self->Refuse(connection, static_cast<HttpServer::RequestContext*>(*req_cls)) ? MHD_YES : MHD_NO;
    }
    if (*upload_data_size != 0) {  // a body on a GET: read and dropped
      *upload_data_size = 0;
      return MHD_YES;
    }
    return self->OnRequest(connection, url, method, static_cast<HttpServer::RequestContext*>(*req_cls)) ? MHD_YES
                                                                                                         : MHD_NO;
  }

  static void OnCompleted(void* cls, MHD_Connection* connection, void** req_cls, MHD_RequestTerminationCode toe) {
    auto* self = static_cast<HttpServer*>(cls);
    auto* ctx = static_cast<HttpServer::RequestContext*>(*req_cls);
    if (ctx == nullptr) return;
    if (ctx->durations != nullptr) {
      ctx->durations->Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx->timing_since).count());
    }
    if (ctx->file && self->options_.file_observer) {
      HttpFileReport report;
      report.peer = PeerOf(connection);
      report.path = std::move(ctx->path);
      report.status = ctx->status;
      report.completed = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
      report.bytes = report.completed ? ctx->body_bytes : 0;
      report.duration = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                                ctx->started);
      self->options_.file_observer(report);
    }
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) {
      self->counters_->bytes.fetch_add(ctx->body_bytes, relaxed);
      // Back to the idle timeout for whatever the client does next.
      if (ctx->stretched_timeout)
        MHD_set_connection_option(connection, MHD_CONNECTION_OPTION_TIMEOUT,
                                  static_cast<unsigned>(self->options_.idle_timeout.count()));
    }
    delete ctx;
    *req_cls = nullptr;
  }

  static void OnConnection(void* cls, MHD_Connection*, void**, MHD_ConnectionNotificationCode toe) {
    auto* self = static_cast<HttpServer*>(cls);
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
      self->counters_->active.fetch_add(1, relaxed);
      self->counters_->connections.fetch_add(1, relaxed);
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
      self->counters_->active.fetch_sub(1, relaxed);
    }
  }

  // MHD's own diagnostics may quote the URL: redact before logging.
  static void OnLog(void* cls, const char* format, va_list ap) {
    char buf[1024];
    std::vsnprintf(buf, sizeof buf, format, ap);
    std::string_view text(buf);
    if (text.substr(0, kMhdRefusedMessage.size()) == kMhdRefusedMessage) {
      // One line per refused connection would let a flood fill the log.
      static_cast<HttpServer*>(cls)->NoteRefusedConnection();
      return;
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    spdlog::warn("http: libmicrohttpd: {}", RedactFreeText(text));
  }
};

HttpServer::HttpServer(HttpServerOptions options)
    : options_(std::move(options)), counters_(std::make_unique<Counters>()) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Handle(std::string exact_path, HttpHandler handler) {
  exact_.insert_or_assign(std::move(exact_path), std::move(handler));
}

void HttpServer::HandlePrefix(std::string prefix, HttpHandler handler) {
  prefixes_.push_back(PrefixRoute{std::move(prefix), std::move(handler), {}, false});
}

void HttpServer::ServeFiles(std::string url_prefix, std::vector<std::string> roots) {
  prefixes_.push_back(PrefixRoute{std::move(url_prefix), nullptr, std::move(roots), true});
}

Status HttpServer::Start() {
  if (daemon_ != nullptr) return {ErrorCode::kFailedPrecondition, "HTTP server already started"};
  if (options_.threads == 0) return {ErrorCode::kInvalidArgument, "HTTP server needs at least one thread"};
  if (options_.per_ip_connection_limit == 0 || options_.per_ip_connection_limit > options_.connection_limit / 2)
    return {ErrorCode::kInvalidArgument, "HTTP per-address connection limit must be between 1 and half the total (" +
                                             std::to_string(options_.connection_limit / 2) + ")"};
  if (options_.idle_timeout.count() <= 0 || options_.send_stall_timeout < options_.idle_timeout)
    return {ErrorCode::kInvalidArgument, "HTTP idle timeout must be positive and the send-stall timeout no shorter"};
  FitLimitsToOpenFiles();
  std::stable_sort(prefixes_.begin(), prefixes_.end(),
                   [](const PrefixRoute& a, const PrefixRoute& b) { return a.prefix.size() > b.prefix.size(); });
  auto add_durations = [this](const std::string& route) {
    auto& h = counters_->durations[route];
    if (!h) h = std::make_unique<LatencyHistogram>(HttpDurationBounds());
  };
  for (const auto& [path, handler] : exact_) add_durations(path);
  for (const auto& route : prefixes_) add_durations(route.prefix);
  add_durations(kOtherRoute);

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(options_.port);
  addr.sin_addr.s_addr = htonl(options_.bind_address.value);

  std::vector<MHD_OptionItem> opts;
  // The logger must come first, or MHD reports option errors on stderr itself.
  opts.push_back({MHD_OPTION_EXTERNAL_LOGGER, reinterpret_cast<intptr_t>(&MhdCallbacks::OnLog), this});
  sockaddr_in6 addr6{};
  addr6.sin6_family = AF_INET6;
  addr6.sin6_port = htons(options_.port);
  addr6.sin6_addr = in6addr_any;
  const bool dual = options_.dual_stack && options_.bind_address.IsUnspecified();
  if (dual)
    opts.push_back({MHD_OPTION_SOCK_ADDR, 0, &addr6});
  else
    opts.push_back({MHD_OPTION_SOCK_ADDR, 0, &addr});
  opts.push_back({MHD_OPTION_CONNECTION_LIMIT, static_cast<intptr_t>(options_.connection_limit), nullptr});
  // Counted on the master daemon, so the limit holds across the thread pool.
  opts.push_back(
      {MHD_OPTION_PER_IP_CONNECTION_LIMIT, static_cast<intptr_t>(options_.per_ip_connection_limit), nullptr});
  opts.push_back({MHD_OPTION_CONNECTION_TIMEOUT, static_cast<intptr_t>(options_.idle_timeout.count()), nullptr});
  opts.push_back({MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<intptr_t>(options_.max_request_bytes), nullptr});
  if (options_.threads > 1)
    opts.push_back({MHD_OPTION_THREAD_POOL_SIZE, static_cast<intptr_t>(options_.threads), nullptr});
  opts.push_back({MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(&MhdCallbacks::OnCompleted), this});
  opts.push_back({MHD_OPTION_NOTIFY_CONNECTION, reinterpret_cast<intptr_t>(&MhdCallbacks::OnConnection), this});
  opts.push_back({MHD_OPTION_END, 0, nullptr});

  // TURBO: optimistic non-blocking reads and fewer shutdown() calls on the
  // epoll path; measured worthwhile in bench/http.
  const unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_TURBO |
                         (dual ? static_cast<unsigned>(MHD_USE_DUAL_STACK) : 0u);
  daemon_ = MHD_start_daemon(flags, options_.port, nullptr, nullptr, &MhdCallbacks::OnAccess, this,
                             MHD_OPTION_ARRAY, opts.data(), MHD_OPTION_END);
  if (daemon_ == nullptr)
    return {ErrorCode::kUnavailable, "cannot start HTTP server on " + options_.bind_address.ToString() + ":" +
                                         std::to_string(options_.port) + " (address in use or not local?)"};
  spdlog::info("http: listening on {}:{} ({} threads, {} connections, {} per address)",
               options_.bind_address.ToString(), Port(), options_.threads, options_.connection_limit,
               options_.per_ip_connection_limit);
  return Status::Ok();
}

void HttpServer::Stop() {
  if (daemon_ == nullptr) return;
  MHD_stop_daemon(daemon_);
  daemon_ = nullptr;
}

std::uint16_t HttpServer::Port() const {
  if (daemon_ == nullptr) return 0;
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
  return info != nullptr ? info->port : 0;
}

HttpStats HttpServer::Stats() const {
  HttpStats s;
  for (std::size_t i = 0; i < s.responses_by_class.size(); ++i)
    s.responses_by_class[i] = counters_->by_class[i].load(relaxed);
  s.requests_total = counters_->requests.load(relaxed);
  s.bytes_sent = counters_->bytes.load(relaxed);
  s.active_connections = counters_->active.load(relaxed);
  s.connections_total = counters_->connections.load(relaxed);
  s.connections_refused = counters_->refused.load(relaxed);
  for (const auto& [route, h] : counters_->durations) s.durations.emplace_back(route, h->Read());
  return s;
}

void HttpServer::FitLimitsToOpenFiles() {
  const std::uint64_t files = RaiseOpenFileLimit();
  if (files >= std::uint64_t{options_.connection_limit} + kFdsKeptForOthers) return;
  // Past the open-file limit libmicrohttpd stops accepting altogether:
  // better a lower limit that holds.
  const unsigned fitted = files > 2 * kFdsKeptForOthers ? static_cast<unsigned>(files - kFdsKeptForOthers)
                                                        : static_cast<unsigned>(files / 2);
  spdlog::warn("http: the open-file limit ({}) is below the connection limit ({}); serving at most {} connections",
               files, options_.connection_limit, fitted);
  options_.connection_limit = std::max(2u, fitted);
  options_.per_ip_connection_limit = std::min(options_.per_ip_connection_limit, options_.connection_limit / 2);
}

void HttpServer::NoteRefusedConnection() {
  const std::uint64_t n = counters_->refused.fetch_add(1, relaxed) + 1;
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
  std::int64_t last = counters_->last_refusal_warning_s.load(relaxed);
  if (now - last < 10 || !counters_->last_refusal_warning_s.compare_exchange_strong(last, now, relaxed)) return;
  spdlog::warn("http: closing new connections at a limit ({} per address, {} in all); {} refused so far",
               options_.per_ip_connection_limit, options_.connection_limit, n);
}

void HttpServer::StretchTimeoutForBody(MHD_Connection* connection, std::uint64_t body_bytes, RequestContext* ctx) {
  if (body_bytes <= kStretchTimeoutAboveBytes || options_.send_stall_timeout == options_.idle_timeout) return;
  MHD_set_connection_option(connection, MHD_CONNECTION_OPTION_TIMEOUT,
                            static_cast<unsigned>(options_.send_stall_timeout.count()));
  ctx->stretched_timeout = true;
}

const HttpServer::PrefixRoute* HttpServer::FindPrefix(std::string_view path) const {
  for (const auto& route : prefixes_) {
    const std::string_view p = route.prefix;
    if (path.substr(0, p.size()) != p) continue;
    if (p.empty() || p.back() == '/' || path.size() == p.size() || path[p.size()] == '/') return &route;
  }
  return nullptr;
}

LatencyHistogram* HttpServer::DurationsOf(const std::string& route) const {
  auto it = counters_->durations.find(route);
  if (it == counters_->durations.end()) it = counters_->durations.find(kOtherRoute);
  return it == counters_->durations.end() ? nullptr : it->second.get();
}

bool HttpServer::Refuse(MHD_Connection* connection, RequestContext* ctx) {
  counters_->requests.fetch_add(1, relaxed);
  ctx->durations = DurationsOf(kOtherRoute);
  ctx->timing_since = std::chrono::steady_clock::now();
  LogRequest("-", "-", 405, 0, connection);  // method and path are client text we do not need
  return QueueText(connection, 405, "method not allowed\n", ctx, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
}

bool HttpServer::OnRequest(MHD_Connection* connection, const char* url, const char* method, RequestContext* ctx) {
  counters_->requests.fetch_add(1, relaxed);
  ctx->timing_since = std::chrono::steady_clock::now();
  const std::string_view path = url;
  if (const auto it = exact_.find(std::string(path)); it != exact_.end()) {
    ctx->durations = DurationsOf(it->first);
    return ServeHandler(connection, it->second, method, url, ctx);
  }
  if (const PrefixRoute* route = FindPrefix(path)) {
    ctx->durations = DurationsOf(route->prefix);
    if (route->files) return ServeFile(connection, method, *route, path, ctx);
    return ServeHandler(connection, route->handler, method, url, ctx);
  }
  ctx->durations = DurationsOf(kOtherRoute);
  LogRequest(method, path, 404, 0, connection);
  return QueueText(connection, 404, "not found\n", ctx);
}

// Count the response and queue it; MHD owns `response` afterwards.
static bool QueueAndCount(MHD_Connection* connection, int status, MHD_Response* response,
                          std::array<std::atomic<std::uint64_t>, 5>& by_class) {
  if (response == nullptr) return false;
  const int cls = status / 100 - 1;
  if (cls >= 0 && cls < 5) by_class[std::size_t(cls)].fetch_add(1, relaxed);
  const MHD_Result r = MHD_queue_response(connection, static_cast<unsigned>(status), response);
  MHD_destroy_response(response);
  return r == MHD_YES;
}

bool HttpServer::QueueText(MHD_Connection* connection, int status, std::string_view body, RequestContext* ctx,
                           const char* extra_header, const char* extra_value) {
  // Only ever called with string literals: PERSISTENT avoids a copy.
  MHD_Response* response =
      MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_PERSISTENT);
  if (response == nullptr) return false;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
  if (extra_header != nullptr) MHD_add_response_header(response, extra_header, extra_value);
  ctx->body_bytes = body.size();
  return QueueAndCount(connection, status, response, counters_->by_class);
}

bool HttpServer::ServeHandler(MHD_Connection* connection, const HttpHandler& handler, const char* method,
                              const char* path, RequestContext* ctx) {
  HttpRequest request;
  request.method = method;
  request.path = path;
  const IpAddress peer = PeerOf(connection);
  request.peer = peer.v4().value_or(Ipv4Address{});
  request.peer6 = peer.v6();
  request.peer_family = request.peer6 ? IpFamily::kIpv6 : IpFamily::kIpv4;
  MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, &CollectQuery, &request.query);
  MHD_get_connection_values(connection, MHD_HEADER_KIND, &CollectHeader, &request.headers);

  HttpResponse reply;
  try {
    reply = handler(request);
  } catch (const std::exception& e) {
    spdlog::error("http: handler for {} threw: {}", PathForLog(request.path), e.what());
    reply = HttpResponse::Text(500, "internal error\n");
  }
  if (reply.status < 200 || reply.status > 599) {
    spdlog::error("http: handler for {} returned status {}", PathForLog(request.path), reply.status);
    reply = HttpResponse::Text(500, "internal error\n");
  }

  MHD_Response* response =
      MHD_create_response_from_buffer(reply.body.size(), reply.body.data(), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return false;
  if (!reply.content_type.empty())
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, reply.content_type.c_str());
  for (const auto& [name, value] : reply.headers) {
    if (MHD_add_response_header(response, name.c_str(), value.c_str()) != MHD_YES)
      spdlog::warn("http: handler for {} set an invalid header '{}'", PathForLog(request.path), name);
  }
  ctx->body_bytes = IsHead(method) ? 0 : reply.body.size();
  StretchTimeoutForBody(connection, ctx->body_bytes, ctx);
  LogRequest(method, request.path, reply.status, ctx->body_bytes, connection);
  return QueueAndCount(connection, reply.status, response, counters_->by_class);
}

bool HttpServer::ServeFile(MHD_Connection* connection, const char* method, const PrefixRoute& route,
                           std::string_view path, RequestContext* ctx) {
  const std::string_view rel = path.substr(route.prefix.size());
  auto asset = OpenAsset(rel, route.roots);
  ctx->file = !IsHead(method);
  ctx->path = std::string(path.substr(0, 512));
  if (!asset.ok()) {
    const bool bad = asset.status().code() == ErrorCode::kInvalidArgument;
    ctx->status = bad ? 400 : 404;
    if (asset.status().code() == ErrorCode::kPermissionDenied)
      spdlog::warn("http: refused {}{}: {}", route.prefix, PathForLog(rel), asset.status().message());
    LogRequest(method, path, bad ? 400 : 404, 0, connection);
    return bad ? QueueText(connection, 400, "bad request\n", ctx) : QueueText(connection, 404, "not found\n", ctx);
  }

  const auto header = [connection](const char* name) {
    const char* v = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, name);
    return v != nullptr ? std::string_view(v) : std::string_view();
  };
  FileRequestHeaders request;
  request.range = header(MHD_HTTP_HEADER_RANGE);
  request.if_none_match = header(MHD_HTTP_HEADER_IF_NONE_MATCH);
  request.if_modified_since = header(MHD_HTTP_HEADER_IF_MODIFIED_SINCE);
  request.if_range = header(MHD_HTTP_HEADER_IF_RANGE);
  const FilePlan plan = PlanFileResponse(request, asset->size, asset->mtime_ns, ContentTypeForPath(rel));

  MHD_Response* response = nullptr;
  const bool has_body = (plan.status == 200 || plan.status == 206) && plan.length > 0;
  if (has_body) {
    // Zero-copy: MHD sendfile()s [offset, offset+length) and closes the fd
    // when the response is destroyed. 64-bit offsets: multi-GB safe.
    response = MHD_create_response_from_fd_at_offset64(plan.length, asset->fd.get(), plan.offset);
    if (response != nullptr) asset->fd.Release();
  } else {
    response = MHD_create_response_from_buffer(0, nullptr, MHD_RESPMEM_PERSISTENT);
  }
  if (response == nullptr) return false;
  for (const auto& [name, value] : plan.headers) MHD_add_response_header(response, name.c_str(), value.c_str());
  ctx->body_bytes = has_body && !IsHead(method) ? plan.length : 0;
  ctx->status = plan.status;
  StretchTimeoutForBody(connection, ctx->body_bytes, ctx);
  LogRequest(method, path, plan.status, ctx->body_bytes, connection);
  return QueueAndCount(connection, plan.status, response, counters_->by_class);
}

}  // namespace metalpxe::http
