#include "api/management/client_config.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml-cpp/yaml.h>

namespace metalpxe {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { int f = fd_; fd_ = -1; return f; }

 private:
  int fd_;
};

// PEM reads best as a literal block; anything else (a hand-edited value with
// odd spacing) goes in yaml-cpp's default style, which round-trips exactly.
void EmitPem(YAML::Emitter& out, const std::string& value) {
  const bool plain_pem = value.rfind("-----", 0) == 0 && !value.empty() && value.back() == '\n' &&
                         value.find("\n\n") == std::string::npos &&
                         value.find('\t') == std::string::npos && value.find('\r') == std::string::npos;
  if (plain_pem) out << YAML::Literal;
  else out << YAML::DoubleQuoted;
  out << value;
}

Status Errno(const std::string& what) { return Status(ErrorCode::kUnavailable, what + ": " + std::strerror(errno)); }

}  // namespace

std::string RenderClientConfig(const ClientConfig& config) {
  YAML::Emitter out;
  out << YAML::Comment("metalpxectl client configuration (mutual TLS). Keep it private: it holds a key.");
  out << YAML::BeginMap;
  out << YAML::Key << "endpoint" << YAML::Value << config.endpoint;
  out << YAML::Key << "ca" << YAML::Value;
  EmitPem(out, config.ca_pem);
  out << YAML::Key << "crt" << YAML::Value;
  EmitPem(out, config.cert_pem);
  out << YAML::Key << "key" << YAML::Value;
  EmitPem(out, config.key_pem.Reveal());
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

Result<ClientConfig> ParseClientConfig(std::string_view yaml_text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return Status(ErrorCode::kInvalidArgument, std::string("client config is not YAML: ") + e.what());
  }
  if (!root.IsMap()) return Status(ErrorCode::kInvalidArgument, "client config must be a map of endpoint, ca, crt, key");
  static const std::set<std::string> kKeys = {"endpoint", "ca", "crt", "key"};
  ClientConfig config;
  std::string key_pem;
  try {
    for (const auto& kv : root) {
      if (!kv.first.IsScalar()) return Status(ErrorCode::kInvalidArgument, "client config: keys must be strings");
      const std::string name = kv.first.Scalar();
      if (!kKeys.count(name)) return Status(ErrorCode::kInvalidArgument, "client config: unknown key '" + name + "'");
      if (!kv.second.IsScalar() || kv.second.Scalar().empty()) {
        return Status(ErrorCode::kInvalidArgument, "client config: '" + name + "' must be a non-empty string");
      }
      const std::string& v = kv.second.Scalar();
      if (name == "endpoint") config.endpoint = v;
      else if (name == "ca") config.ca_pem = v;
      else if (name == "crt") config.cert_pem = v;
      else key_pem = v;
    }
  } catch (const YAML::Exception& e) {
    return Status(ErrorCode::kInvalidArgument, std::string("client config: ") + e.what());
  }
  for (const auto& [name, value] : {std::pair{"endpoint", &config.endpoint}, std::pair{"ca", &config.ca_pem},
                                    std::pair{"crt", &config.cert_pem}, std::pair{"key", &key_pem}}) {
    if (value->empty()) return Status(ErrorCode::kInvalidArgument, std::string("client config: missing '") + name + "'");
    // Endpoints and PEM blocks are printable ASCII plus line feeds (YAML
    // turns a file's CRLF breaks into LF); anything else, a stray CR included,
    // is a damaged file, not something to hand to TLS.
    for (const unsigned char c : *value)
      if (c >= 0x7f || (c < 0x20 && c != '\n'))
        return Status(ErrorCode::kInvalidArgument, std::string("client config: '") + name + "' is not ASCII text");
  }
  config.key_pem = Secret(std::move(key_pem));
  return config;
}

Result<ClientConfig> LoadClientConfig(const std::string& path) {
  auto text = ReadSmallFile(path);
  if (!text.ok()) return text.status();
  auto config = ParseClientConfig(*text);
  if (!config.ok()) return Status(config.status().code(), path + ": " + config.status().message());
  return config;
}

Status WritePrivateFile(const std::string& path, std::string_view content) {
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) return Errno("create " + tmp);
  // The umask cannot widen 0600, but an inherited ACL default could: be explicit.
  if (::fchmod(fd.get(), 0600) != 0) return Errno("chmod " + tmp);
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Errno("write " + tmp);
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return Errno("fsync " + tmp);
  if (::close(fd.release()) != 0) return Errno("close " + tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("rename " + tmp);
  return Status::Ok();
}

Result<std::string> ReadSmallFile(const std::string& path, std::size_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    ErrorCode code = errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kUnavailable;
    return Status(code, "read " + path + ": " + std::strerror(errno));
  }
  std::string out;
  char buf[8192];
  while (true) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("read " + path);
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > max_bytes) return Status(ErrorCode::kInvalidArgument, path + ": larger than expected");
  }
  return out;
}

}  // namespace metalpxe
