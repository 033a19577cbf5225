#include "ui/ui_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <deque>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/log.h"
#include "core/net_types.h"
#include "ui/ui_assets.h"
#include "ui/ui_clusters.h"
#include "ui/ui_form.h"
#include "ui/ui_password.h"

namespace metalpxe::ui {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;

namespace {

constexpr auto kRequestDeadline = std::chrono::seconds(15);
constexpr std::uint32_t kMaxHeaderBytes = 8192;
constexpr std::size_t kMaxOutbox = 2000;           // queued SSE events before a slow page is dropped
constexpr auto kHeartbeat = std::chrono::seconds(15);
constexpr auto kMachinesDebounce = std::chrono::milliseconds(250);
constexpr auto kLoginBackoff = std::chrono::seconds(1);
constexpr std::size_t kKernelLogTail = 200;
constexpr std::string_view kCookieName = "metalpxe_session";

json UiMachineJson(const metalpxe::v1::Machine& m) {
  // Only what the page shows: never a BMC address or credential, never a config.
  return json{{"name", m.name()},
              {"mac", m.macs_size() > 0 ? m.macs(0) : ""},
              {"state", m.state()},
              {"reason", m.reason()},
              {"ip", m.ip()},
              {"firmware", m.arch()},
              {"profile", m.profile()},
              {"role", m.role()},
              {"lastSeenUnix", m.last_seen_unix()}};
}

json UiTimelineJson(const metalpxe::v1::TimelineEntry& e) {
  return json{{"seq", e.seq()},         {"timeUnixMs", e.time_unix_ms()}, {"source", e.source()},
              {"summary", e.summary()}, {"details", e.details()},         {"repeats", e.repeats()},
              {"lastUnixMs", e.last_unix_ms()}};
}

json UiLogJson(const metalpxe::v1::LogLine& l) {
  return json{{"timeUnixMs", l.time_unix_ms()},
              {"facility", l.facility()},
              {"priority", l.priority()},
              {"message", l.message()}};
}

std::string SseEvent(std::string_view name, const json& data) {
  // dump() escapes newlines, so one data: line holds the whole object;
  // invalid UTF-8 from a machine is replaced rather than thrown on.
  return "event: " + std::string(name) + "\ndata: " + data.dump(-1, ' ', false, json::error_handler_t::replace) +
         "\n\n";
}

std::string MachinesEvent(ManagementBackend& backend) {
  json list = json::array();
  for (const auto& m : backend.ListMachines()) list.push_back(UiMachineJson(m));
  return SseEvent("machines", json{{"machines", list}});
}

std::string UiClustersBody(ManagementBackend& backend, const std::map<std::string, UiClusterProbe>& probes) {
  return UiClustersJson(backend.ListClusters(), probes).dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

class UiConnection;

struct UiServer::Impl {
  Impl(UiServerOptions o, ManagementBackend& b) : options(std::move(o)), backend(b), sessions(options.sessions) {}

  UiServerOptions options;
  ManagementBackend& backend;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::thread thread;
  UiSessions sessions;
  std::uint16_t port = 0;
  // io thread only
  std::map<std::uint64_t, std::weak_ptr<UiConnection>> connections;
  std::uint64_t next_id = 1;
  std::size_t streams = 0;
  std::chrono::steady_clock::time_point next_login{};
  bool stopping = false;
  std::map<std::string, UiClusterProbe> cluster_probes;  // the prober's last round
  std::unique_ptr<UiClusterProber> prober;               // any thread (its own lock)

  void Accept();
  // A new probe round arrived: to every open page.
  void BroadcastClusters();
  std::string ClustersEvent() {
    return "event: clusters\ndata: " + UiClustersBody(backend, cluster_probes) + "\n\n";
  }
};

class UiConnection : public std::enable_shared_from_this<UiConnection> {
 public:
  UiConnection(UiServer::Impl& server, tcp::socket socket, std::uint64_t id)
      : server_(server), stream_(std::move(socket)), id_(id), heartbeat_(stream_.get_executor()),
        debounce_(stream_.get_executor()) {}
  ~UiConnection() { Close(); }

  void Start() { Read(); }

  bool streaming() const { return streaming_ && !closed_; }
  // An event for an open stream (io thread).
  void Push(std::string text) { Enqueue(std::move(text)); }

  void Close() {
    if (closed_) return;
    closed_ = true;
    if (events_sub_ >= 0) server_.backend.UnsubscribeEvents(events_sub_);
    if (timeline_sub_ >= 0) server_.backend.UnsubscribeTimeline(timeline_sub_);
    if (log_sub_) server_.backend.UnsubscribeKernelLogs(*log_sub_);
    if (streaming_ && --server_.streams == 0 && server_.prober) server_.prober->SetWatched(false);
    heartbeat_.cancel();
    debounce_.cancel();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
    server_.connections.erase(id_);
  }

 private:
  using Response = http::response<http::string_body>;

  void Read() {
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    parser_->body_limit(kMaxFormBytes);
    stream_.expires_after(kRequestDeadline);
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->Close();
      self->Handle(self->parser_->release());
    });
  }

  // Session cookie -> is this a logged-in page?
  bool LoggedIn(const http::request<http::string_body>& req) {
    const auto it = req.find(http::field::cookie);
    if (it == req.end()) return false;
    const auto id = CookieValue(std::string_view(it->value().data(), it->value().size()), kCookieName);
    return id && server_.sessions.Check(*id);
  }

  std::optional<std::string> SessionId(const http::request<http::string_body>& req) {
    const auto it = req.find(http::field::cookie);
    if (it == req.end()) return std::nullopt;
    return CookieValue(std::string_view(it->value().data(), it->value().size()), kCookieName);
  }

  Response Make(http::status status, std::string_view type, std::string body, bool keep_alive) {
    Response res{status, 11};
    res.set(http::field::content_type, std::string(type));
    res.set(http::field::cache_control, "no-store");
    res.set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'");
    res.set("X-Content-Type-Options", "nosniff");
    // same-origin, not no-referrer: with no-referrer Chromium sends
    // "Origin: null" on the login form's POST, which SameOrigin() refuses.
    res.set("Referrer-Policy", "same-origin");
    res.body() = std::move(body);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    return res;
  }

  Response Redirect(std::string_view to, bool keep_alive) {
    Response res = Make(http::status::see_other, "text/plain; charset=utf-8", "", keep_alive);
    res.set(http::field::location, std::string(to));
    return res;
  }

  // A form post from another site (Origin not ours) is refused: with
  // SameSite=Strict the cookie would not come along anyway, but a login
  // CSRF would still log the browser into our appliance.
  static bool SameOrigin(const http::request<http::string_body>& req) {
    const auto origin = req.find(http::field::origin);
    if (origin == req.end()) return true;
    const auto host = req.find(http::field::host);
    if (host == req.end()) return false;
    const std::string expected = "http://" + std::string(host->value().data(), host->value().size());
    return std::string(origin->value().data(), origin->value().size()) == expected;
  }

  void Handle(http::request<http::string_body> req) {
    const bool keep = req.keep_alive();
    const std::string target(req.target().data(), req.target().size());
    const auto q = target.find('?');
    const std::string path = target.substr(0, q);
    const std::string query = q == std::string::npos ? "" : target.substr(q + 1);
    const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
    const bool post = req.method() == http::verb::post;

    if (const UiAsset* asset = FindUiAsset(path); asset && get) {
      if (path == "/" && !LoggedIn(req)) return Send(Redirect("/login", keep));
      return Send(Make(http::status::ok, asset->content_type, std::string(asset->body), keep));
    }
    if (path == "/login" && get) return Send(Make(http::status::ok, "text/html; charset=utf-8",
                                                  std::string(UiLoginPage(false)), keep));
    if (path == "/login" && post) return Login(req, keep);
    if (path == "/logout" && post) {
      if (!SameOrigin(req)) return Send(Make(http::status::forbidden, "text/plain", "cross-origin form\n", false));
      if (auto id = SessionId(req)) server_.sessions.Remove(*id);
      Response res = Redirect("/login", keep);
      res.set(http::field::set_cookie, std::string(kCookieName) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
      return Send(std::move(res));
    }
    if (path == "/api/machines" && get) {
      if (!LoggedIn(req)) return Send(Make(http::status::unauthorized, "application/json", "{\"error\":\"log in\"}", keep));
      json list = json::array();
      for (const auto& m : server_.backend.ListMachines()) list.push_back(UiMachineJson(m));
      return Send(Make(http::status::ok, "application/json",
                       json{{"machines", list}}.dump(-1, ' ', false, json::error_handler_t::replace), keep));
    }
    if (path == "/api/clusters" && get) {
      if (!LoggedIn(req)) return Send(Make(http::status::unauthorized, "application/json", "{\"error\":\"log in\"}", keep));
      return Send(Make(http::status::ok, "application/json", UiClustersBody(server_.backend, server_.cluster_probes),
                       keep));
    }
    if (path == "/api/stream" && get) {
      if (!LoggedIn(req)) return Send(Make(http::status::unauthorized, "text/plain", "log in\n", false));
      if (server_.streams >= server_.options.max_streams)
        return Send(Make(http::status::service_unavailable, "text/plain", "too many open pages\n", false));
      return StartStream(FormField(query, "machine").value_or(""));
    }
    if (FindUiAsset(path) || path == "/login" || path == "/logout" || path.rfind("/api/", 0) == 0)
      return Send(Make(http::status::method_not_allowed, "text/plain", "method not allowed\n", keep));
    return Send(Make(http::status::not_found, "text/plain", "not found\n", keep));
  }

  void Login(const http::request<http::string_body>& req, bool keep) {
    if (!SameOrigin(req)) return Send(Make(http::status::forbidden, "text/plain", "cross-origin form\n", false));
    const auto now = std::chrono::steady_clock::now();
    if (now < server_.next_login) {
      return Send(Make(http::status::too_many_requests, "text/html; charset=utf-8", std::string(UiLoginPage(true)),
                       keep));
    }
    auto hash = ReadUiPasswordFile(server_.options.state_dir);
    if (!hash.ok()) {
      return Send(Make(http::status::service_unavailable, "text/plain; charset=utf-8",
                       "No password is set for this page. On the appliance run: metalpxed --config FILE "
                       "--set-ui-password\n",
                       keep));
    }
    const auto password = FormField(req.body(), "password");
    if (!password || !VerifyUiPassword(*password, *hash)) {
      server_.next_login = std::chrono::steady_clock::now() + kLoginBackoff;
      spdlog::warn("status page: failed login from {}", Peer());
      return Send(Make(http::status::unauthorized, "text/html; charset=utf-8", std::string(UiLoginPage(true)), keep));
    }
    const std::string id = server_.sessions.Create();
    Response res = Redirect("/", keep);
    res.set(http::field::set_cookie, std::string(kCookieName) + "=" + id + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                                         std::to_string(server_.sessions.lifetime().count()));
    spdlog::info("status page: login from {}", Peer());
    Send(std::move(res));
  }

  std::string Peer() const {
    beast::error_code ec;
    const auto ep = stream_.socket().remote_endpoint(ec);
    return ec ? std::string("?") : ep.address().to_string();
  }

  void Send(Response res) {
    auto sp = std::make_shared<Response>(std::move(res));
    const bool keep = sp->keep_alive();
    http::async_write(stream_, *sp, [self = shared_from_this(), sp, keep](beast::error_code ec, std::size_t) {
      if (ec || !keep) return self->Close();
      self->Read();
    });
  }

  // --- server-sent events -------------------------------------------------
  void StartStream(const std::string& machine) {
    streaming_ = true;
    ++server_.streams;
    if (server_.prober) {
      server_.prober->SetWatched(true);
      server_.prober->ProbeSoon();
    }
    stream_.expires_never();
    auto& backend = server_.backend;
    std::weak_ptr<UiConnection> weak = shared_from_this();
    auto& io = server_.io;
    auto post_text = [weak, &io](std::string text) {
      asio::post(io, [weak, text = std::move(text)]() mutable {
        if (auto self = weak.lock()) self->Enqueue(std::move(text));
      });
    };
    // Any machine event may change the list (state, address, last seen).
    events_sub_ = backend.SubscribeEvents([weak, &io](const metalpxe::v1::Event&) {
      asio::post(io, [weak] {
        if (auto self = weak.lock()) self->MachinesSoon();
      });
    });
    Enqueue("retry: 3000\n\n");
    Enqueue(MachinesEvent(backend));
    Enqueue(server_.ClustersEvent());
    if (!machine.empty()) {
      auto sub = backend.SubscribeTimeline(machine, [post_text](const metalpxe::v1::TimelineEntry& e) {
        post_text(SseEvent("timeline", UiTimelineJson(e)));
      });
      if (sub.ok()) timeline_sub_ = *sub;
      if (auto history = backend.Timeline(machine, 0); history.ok())
        for (const auto& e : history->entries()) Enqueue(SseEvent("timeline", UiTimelineJson(e)));
      auto logs = backend.SubscribeKernelLogs(machine, [post_text](const metalpxe::v1::LogLine& l) {
        post_text(SseEvent("log", UiLogJson(l)));
      });
      if (logs.ok()) log_sub_ = *logs;
      if (auto tail = backend.KernelLogTail(machine, kKernelLogTail); tail.ok())
        for (const auto& l : *tail) Enqueue(SseEvent("log", UiLogJson(l)));
    }
    const std::string header =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
        "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n";
    outbox_.push_front(header);
    WriteNext();
    Heartbeat();
    WatchForClose();
  }

  void Enqueue(std::string text) {
    if (closed_) return;
    if (outbox_.size() >= kMaxOutbox) {
      spdlog::info("status page: dropping a page that reads too slowly ({})", Peer());
      return Close();
    }
    outbox_.push_back(std::move(text));
    if (started_) WriteNext();
  }

  void WriteNext() {
    started_ = true;
    if (writing_ || outbox_.empty() || closed_) return;
    writing_ = true;
    asio::async_write(stream_.socket(), asio::buffer(outbox_.front()),
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        self->writing_ = false;
                        if (ec) return self->Close();
                        self->outbox_.pop_front();
                        self->WriteNext();
                      });
  }

  void MachinesSoon() {
    if (machines_pending_ || closed_) return;
    machines_pending_ = true;
    debounce_.expires_after(kMachinesDebounce);
    debounce_.async_wait([self = shared_from_this()](beast::error_code ec) {
      self->machines_pending_ = false;
      if (ec || self->closed_) return;
      // A machine's state is its cluster's node state; the bootstrap record
      // changes with a cluster event: both go out with the machines.
      self->Enqueue(MachinesEvent(self->server_.backend));
      self->Enqueue(self->server_.ClustersEvent());
    });
  }

  void Heartbeat() {
    heartbeat_.expires_after(kHeartbeat);
    heartbeat_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->closed_) return;
      self->Enqueue(": keep-alive\n\n");
      self->Heartbeat();
    });
  }

  // The page sends nothing more; a read that ends means it went away.
  void WatchForClose() {
    stream_.socket().async_read_some(asio::buffer(sink_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->Close();
      self->WatchForClose();
    });
  }

  UiServer::Impl& server_;
  beast::tcp_stream stream_;
  std::uint64_t id_;
  beast::flat_buffer buffer_{kMaxHeaderBytes + kMaxFormBytes};
  std::optional<http::request_parser<http::string_body>> parser_;
  asio::steady_timer heartbeat_, debounce_;
  std::deque<std::string> outbox_;
  std::array<char, 512> sink_{};
  int events_sub_ = -1, timeline_sub_ = -1;
  std::optional<std::uint64_t> log_sub_;
  bool closed_ = false, streaming_ = false, writing_ = false, started_ = false, machines_pending_ = false;
};

void UiServer::Impl::BroadcastClusters() {
  std::string event;
  for (auto& [id, weak] : connections) {
    auto c = weak.lock();
    if (!c || !c->streaming()) continue;
    if (event.empty()) event = ClustersEvent();
    c->Push(event);
  }
}

void UiServer::Impl::Accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (stopping || ec == asio::error::operation_aborted) return;
      spdlog::warn("status page: accept failed: {}", ec.message());
    } else if (connections.size() >= options.max_connections) {
      beast::error_code ignored;
      socket.close(ignored);  // over the bound: closed at once
    } else {
      const std::uint64_t id = next_id++;
      auto c = std::make_shared<UiConnection>(*this, std::move(socket), id);
      connections[id] = c;
      c->Start();
    }
    if (!stopping) Accept();
  });
}

UiServer::UiServer(UiServerOptions options, ManagementBackend& backend)
    : impl_(std::make_shared<Impl>(std::move(options), backend)) {}

UiServer::~UiServer() { Stop(); }

Status UiServer::Start() {
  const auto& listen = impl_->options.listen;
  const auto colon = listen.rfind(':');
  const auto address = Ipv4Address::Parse(colon == std::string::npos ? "" : listen.substr(0, colon));
  int port = -1;
  try {
    port = colon == std::string::npos ? -1 : std::stoi(listen.substr(colon + 1));
  } catch (...) {
  }
  if (!address || port < 0 || port > 65535)
    return Status(ErrorCode::kInvalidArgument, "status page: '" + listen + "' is not ADDRESS:PORT");
  beast::error_code ec;
  const tcp::endpoint ep(asio::ip::address_v4(address->value), static_cast<std::uint16_t>(port));
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status(ErrorCode::kUnavailable, "status page: cannot listen on " + listen + ": " + ec.message());
  impl_->port = a.local_endpoint().port();
  impl_->Accept();
  std::weak_ptr<Impl> weak = impl_;
  impl_->prober = std::make_unique<UiClusterProber>(
      impl_->backend, impl_->options.cluster_probe_interval, [weak](std::map<std::string, UiClusterProbe> probes) {
        auto impl = weak.lock();
        if (!impl) return;
        asio::post(impl->io, [impl, probes = std::move(probes)]() mutable {
          impl->cluster_probes = std::move(probes);
          impl->BroadcastClusters();
        });
      });
  impl_->prober->Start();
  impl_->thread = std::thread([impl = impl_] { impl->io.run(); });
  return Status::Ok();
}

void UiServer::Stop() {
  if (!impl_->thread.joinable()) return;
  impl_->prober->Stop();  // before the io thread: its last round posts there
  asio::post(impl_->io, [impl = impl_.get()] {
    impl->stopping = true;
    beast::error_code ec;
    impl->acceptor.close(ec);
    auto conns = impl->connections;  // Close() erases from the map
    for (auto& [id, weak] : conns)
      if (auto c = weak.lock()) c->Close();
  });
  impl_->thread.join();
}

std::uint16_t UiServer::port() const { return impl_->port; }

}  // namespace metalpxe::ui
