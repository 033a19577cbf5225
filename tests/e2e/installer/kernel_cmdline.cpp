#include "tests/e2e/installer/kernel_cmdline.h"

#include <charconv>

namespace metalpxe::standin {

Result<std::map<std::string, std::string>> ParseKernelCmdline(std::string_view text) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    if (i >= text.size()) break;
    // One word; double quotes may open anywhere and hide spaces.
    std::string word;
    bool quoted = false;
    for (; i < text.size() && (quoted || !is_space(text[i])); ++i) {
      if (text[i] == '"') {
        quoted = !quoted;
        continue;
      }
      word.push_back(text[i]);
    }
    if (quoted) return Status(ErrorCode::kInvalidArgument, "unterminated quote in kernel command line");
    if (word == "--") break;  // the rest belongs to init
    const size_t eq = word.find('=');
    if (eq == 0) return Status(ErrorCode::kInvalidArgument, "parameter without a name: " + word);
    if (eq == std::string::npos) {
      out[word] = "";
    } else {
      out[word.substr(0, eq)] = word.substr(eq + 1);
    }
  }
  return out;
}

Result<HostPort> ParseEndpoint(std::string_view text) {
  constexpr std::string_view kTcp = "tcp://";
  if (text.starts_with(kTcp)) text.remove_prefix(kTcp.size());
  if (text.find("://") != std::string_view::npos) {
    return Status(ErrorCode::kInvalidArgument, "unsupported endpoint scheme: " + std::string(text));
  }
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= text.size()) {
    return Status(ErrorCode::kInvalidArgument, "endpoint is not host:port: " + std::string(text));
  }
  const std::string_view port_text = text.substr(colon + 1);
  int port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 || port > 65535) {
    return Status(ErrorCode::kInvalidArgument, "bad port in endpoint: " + std::string(text));
  }
  std::string_view host = text.substr(0, colon);
  // An IPv6 literal comes bracketed ("[fd00:66::1]:50101", RFC 3986); the
  // host is kept bare, each client brackets it as its API wants.
  if (host.starts_with('[')) {
    if (!host.ends_with(']') || host.size() < 3)
      return Status(ErrorCode::kInvalidArgument, "bad IPv6 literal in endpoint: " + std::string(text));
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return Status(ErrorCode::kInvalidArgument, "an IPv6 endpoint needs brackets: " + std::string(text));
  }
  return HostPort{std::string(host), port};
}

Result<StandinArgs> StandinArgsFromCmdline(std::string_view text) {
  auto params = ParseKernelCmdline(text);
  if (!params) return params.status();
  StandinArgs args;
  const auto get = [&](const char* key) -> const std::string* {
    auto it = params->find(key);
    return it == params->end() ? nullptr : &it->second;
  };
  // Without talos.config Talos waits in maintenance mode for ApplyConfiguration.
  if (const std::string* config = get("talos.config"); config != nullptr) {
    if (config->empty()) return Status(ErrorCode::kInvalidArgument, "talos.config is empty");
    args.config_url = *config;
  }
  if (const std::string* boot = get("standin.boot"); boot != nullptr) {
    if (*boot != "disk") return Status(ErrorCode::kInvalidArgument, "standin.boot is not 'disk'");
    args.boot_from_disk = true;
  }
  if (const std::string* sink = get("talos.events.sink"); sink != nullptr && !sink->empty()) {
    auto ep = ParseEndpoint(*sink);
    if (!ep) return Status(ErrorCode::kInvalidArgument, "talos.events.sink: " + ep.status().message());
    args.events_sink = *ep;
  }
  if (const std::string* logs = get("talos.logging.kernel"); logs != nullptr && !logs->empty()) {
    auto ep = ParseEndpoint(*logs);
    if (!ep) return Status(ErrorCode::kInvalidArgument, "talos.logging.kernel: " + ep.status().message());
    args.logging_kernel = *ep;
  }
  if (const std::string* expect = get("standin.expect"); expect != nullptr) {
    const size_t slash = expect->find('/');
    if (slash == std::string::npos) {
      return Status(ErrorCode::kInvalidArgument, "standin.expect is not <hostname>/<role>");
    }
    args.expect_hostname = expect->substr(0, slash);
    args.expect_role = expect->substr(slash + 1);
  }
  if (const std::string* disk = get("standin.disk"); disk != nullptr && !disk->empty()) args.disk = *disk;
  return args;
}

}  // namespace metalpxe::standin
