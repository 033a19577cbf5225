// metalpxe-http-serve: the metalpxe HTTP server on its own, for bench/http
// and manual checks. Serves ROOT under /assets/ and, at /ipxe?mac=..., a
// ~300-byte iPXE script rendered per request (the shape of the per-MAC
// script the daemon serves), until SIGINT/SIGTERM.
//
//   metalpxe-http-serve --root DIR [--bind 127.0.0.1] [--port 8080] [--threads 2] [--log info]
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/log.h"
#include "http/http_server.h"

namespace {

int Usage() {
  std::fprintf(stderr, "usage: metalpxe-http-serve --root DIR [--bind ADDR] [--port N] [--threads N] [--log LEVEL]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using metalpxe::http::HttpRequest;
  using metalpxe::http::HttpResponse;
  metalpxe::http::HttpServerOptions options;
  options.bind_address = metalpxe::Ipv4Address::FromOctets(127, 0, 0, 1);
  std::string root, log_level = "info";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--root") root = value;
    else if (flag == "--port") options.port = static_cast<std::uint16_t>(std::atoi(value));
    else if (flag == "--threads") options.threads = static_cast<unsigned>(std::atoi(value));
    else if (flag == "--log") log_level = value;
    else if (flag == "--bind") {
      auto a = metalpxe::Ipv4Address::Parse(value);
      if (!a) return Usage();
      options.bind_address = *a;
    } else return Usage();
  }
  if (root.empty() || argc % 2 == 0) return Usage();
  if (auto s = metalpxe::InitLogging(log_level); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 2;
  }

  // Block the stop signals before the server's threads start, so only
  // sigwait() below sees them; SIGPIPE from a vanished client is ignored.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  metalpxe::http::HttpServer server(options);
  server.ServeFiles("/assets", {root});
  server.Handle("/ipxe", [](const HttpRequest& req) {
    const std::string mac(req.Query("mac"));
    std::string script;
    script.reserve(320);
    script += "#!ipxe\n";
    script += "# metalpxe: machine " + mac + "\n";
    script += "kernel http://10.66.0.1:8080/assets/vmlinuz-amd64 initrd=initramfs-amd64.xz talos.platform=metal "
              "console=tty0 console=ttyS0 talos.config=http://10.66.0.1:8080/config/0123456789abcdef\n";
    script += "initrd http://10.66.0.1:8080/assets/initramfs-amd64.xz\n";
    script += "boot\n";
    return HttpResponse::Text(200, std::move(script));
  });
  if (auto s = server.Start(); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("listening %s:%u\n", options.bind_address.ToString().c_str(), server.Port());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  server.Stop();
  const auto st = server.Stats();
  std::printf("requests=%llu bytes=%llu\n", static_cast<unsigned long long>(st.requests_total),
              static_cast<unsigned long long>(st.bytes_sent));
  return 0;
}
