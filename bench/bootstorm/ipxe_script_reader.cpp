#include "bench/bootstorm/ipxe_script_reader.h"

#include <cstdlib>
#include <sstream>
#include <vector>

namespace metalpxe::bench {
namespace {

std::string Lookup(std::string name, const IpxeSettings& s) {
  std::string type;
  if (auto colon = name.find(':'); colon != std::string::npos) type = name.substr(colon + 1), name.resize(colon);
  if (name.size() > 4 && name.rfind("net", 0) == 0 && name.ends_with("/mac")) {
    std::string mac = s.mac;
    if (type == "hexhyp")
      for (char& c : mac) c = c == ':' ? '-' : c;
    return mac;
  }
  auto it = s.values.find(name);
  return it == s.values.end() ? "" : it->second;
}

constexpr int kMaxNesting = 8;  // iPXE's scripts nest one level; text from the network is bounded

// Expands from `at` up to the closing brace of a "${" opened before it
// (`depth` of them).
std::string ExpandUntil(std::string_view text, std::size_t& at, const IpxeSettings& s, int depth) {
  std::string out;
  const bool inside = depth > 0;
  while (at < text.size()) {
    if (text.compare(at, 2, "${") == 0 && depth < kMaxNesting) {
      at += 2;
      out += Lookup(ExpandUntil(text, at, s, depth + 1), s);
    } else if (inside && text[at] == '}') {
      ++at;
      return out;
    } else {
      out += text[at++];
    }
  }
  return out;
}

std::vector<std::string> Words(std::string_view line) {
  std::vector<std::string> words;
  std::istringstream in{std::string(line)};
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

// The first word of `words` after `from` that is not an --option (or the
// value of --name/-n, which takes one).
std::optional<std::string> FirstArgument(const std::vector<std::string>& words, std::size_t from, std::size_t* index) {
  for (std::size_t i = from; i < words.size(); ++i) {
    if (words[i] == "--name" || words[i] == "-n") {
      ++i;
      continue;
    }
    if (words[i].rfind("-", 0) == 0) continue;
    if (index) *index = i;
    return words[i];
  }
  return std::nullopt;
}

}  // namespace

std::string ExpandSettings(std::string_view text, const IpxeSettings& settings) {
  std::size_t at = 0;
  return ExpandUntil(text, at, settings, 0);
}

std::optional<std::string> ChainUrl(std::string_view script, const IpxeSettings& settings) {
  for (std::string_view line : Lines(script)) {
    const auto words = Words(line);
    if (words.empty() || words[0] != "chain") continue;
    if (auto url = FirstArgument(words, 1, nullptr)) return ExpandSettings(*url, settings);
  }
  return std::nullopt;
}

std::optional<InstallScript> ReadInstallScript(std::string_view script, const IpxeSettings& settings) {
  InstallScript out;
  for (std::string_view line : Lines(script)) {
    const auto words = Words(ExpandSettings(line, settings));
    if (words.empty()) continue;
    std::size_t at = 0;
    if (words[0] == "kernel") {
      auto url = FirstArgument(words, 1, &at);
      if (!url) return std::nullopt;
      out.kernel_url = *url;
      for (std::size_t i = at + 1; i < words.size(); ++i)
        if (words[i].rfind("talos.config=", 0) == 0) out.config_url = words[i].substr(13);
    } else if (words[0] == "initrd") {
      auto url = FirstArgument(words, 1, &at);
      if (!url) return std::nullopt;
      out.initrd_url = *url;
    }
  }
  if (out.kernel_url.empty() || out.initrd_url.empty()) return std::nullopt;
  return out;
}

std::optional<HttpUrl> ParseHttpUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) return std::nullopt;
  url.remove_prefix(kScheme.size());
  const auto slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  HttpUrl out;
  out.path = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    const std::string port(authority.substr(colon + 1));
    char* end = nullptr;
    const long p = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end != '\0' || p < 1 || p > 65535) return std::nullopt;
    out.port = static_cast<unsigned>(p);
    authority = authority.substr(0, colon);
  }
  if (authority.empty()) return std::nullopt;
  out.host = std::string(authority);
  return out;
}

}  // namespace metalpxe::bench
