#include "ipmi/ssh_exec.h"

#include <libssh/libssh.h>

#include <cctype>
#include <cstdio>
#include <memory>
#include <vector>

namespace metalpxe {
namespace {

struct SessionDeleter {
  void operator()(ssh_session s) const {
    if (ssh_is_connected(s)) ssh_disconnect(s);
    ssh_free(s);
  }
};
struct ChannelDeleter {
  void operator()(ssh_channel c) const {
    if (ssh_channel_is_open(c)) ssh_channel_close(c);
    ssh_channel_free(c);
  }
};
struct KeyDeleter {
  void operator()(ssh_key k) const { ssh_key_free(k); }
};
using SessionPtr = std::unique_ptr<ssh_session_struct, SessionDeleter>;
using ChannelPtr = std::unique_ptr<ssh_channel_struct, ChannelDeleter>;
using KeyPtr = std::unique_ptr<ssh_key_struct, KeyDeleter>;

Result<KeyPtr> LoadKey(const std::string& file) {
  ssh_key key = nullptr;
  if (file.empty() || ssh_pki_import_privkey_file(file.c_str(), nullptr, nullptr, nullptr, &key) != SSH_OK)
    return Status{ErrorCode::kPermissionDenied, "cannot load SSH private key " + (file.empty() ? "(none configured)" : file)};
  return KeyPtr(key);
}

std::string SshHexFingerprint(ssh_key key, ssh_publickey_hash_type type) {
  unsigned char* hash = nullptr;
  size_t len = 0;
  if (ssh_get_publickey_hash(key, type, &hash, &len) != 0) return "";
  std::string out;
  if (type == SSH_PUBLICKEY_HASH_MD5) {
    char* hex = ssh_get_hexa(hash, len);
    out = hex ? hex : "";
    ssh_string_free_char(hex);
    for (auto& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  } else {
    char* printable = ssh_get_fingerprint_hash(type, hash, len);
    out = printable ? printable : "";
    ssh_string_free_char(printable);
  }
  ssh_clean_pubkey_hash(&hash);
  return out;
}

Status CheckHostKeyPinned(ssh_session session, const SshTarget& target, const std::string& where) {
  ssh_key raw = nullptr;
  if (ssh_get_server_publickey(session, &raw) != SSH_OK)
    return {ErrorCode::kUnavailable, "SSH " + where + ": no host key offered"};
  KeyPtr key(raw);
  const std::string md5 = SshHexFingerprint(key.get(), SSH_PUBLICKEY_HASH_MD5);
  for (const auto& pin : target.pinned_host_keys) {
    std::string p = pin;
    for (auto& c : p) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (!md5.empty() && p == md5) return Status::Ok();
  }
  std::string listed;
  for (const auto& pin : target.pinned_host_keys) listed += (listed.empty() ? "" : ", ") + pin;
  return {ErrorCode::kFailedPrecondition,
          "SSH " + where + ": " + std::string(kHostKeyNotPinned) + " (it offered MD5:" + md5 + " " +
              SshHexFingerprint(key.get(), SSH_PUBLICKEY_HASH_SHA256) + "; Robot listed " +
              (listed.empty() ? "none" : listed) + "); nothing was sent"};
}

// Streams `path` into the channel's stdin, then EOF.
Status StreamFileToChannel(ssh_channel channel, const std::string& path, const std::string& where) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return {ErrorCode::kInternal, "cannot open " + path + " to send to " + where};
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(f, &std::fclose);
  std::vector<char> buf(256 * 1024);
  while (true) {
    const std::size_t n = std::fread(buf.data(), 1, buf.size(), f);
    if (n == 0) break;
    std::size_t off = 0;
    while (off < n) {
      const int w = ssh_channel_write(channel, buf.data() + off, uint32_t(n - off));
      if (w == SSH_ERROR) return {ErrorCode::kUnavailable, "SSH " + where + ": the connection broke while sending"};
      off += std::size_t(w);
    }
  }
  if (std::ferror(f)) return {ErrorCode::kInternal, "reading " + path + " failed"};
  ssh_channel_send_eof(channel);
  return Status::Ok();
}

}  // namespace

Result<std::string> SshKeyMd5Fingerprint(const std::string& private_key_file) {
  auto key = LoadKey(private_key_file);
  if (!key.ok()) return key.status();
  ssh_key pub_raw = nullptr;
  if (ssh_pki_export_privkey_to_pubkey(key->get(), &pub_raw) != SSH_OK)
    return Status{ErrorCode::kInternal, "cannot derive the public key of " + private_key_file};
  KeyPtr pub(pub_raw);
  unsigned char* hash = nullptr;
  size_t len = 0;
  if (ssh_get_publickey_hash(pub.get(), SSH_PUBLICKEY_HASH_MD5, &hash, &len) != 0)
    return Status{ErrorCode::kInternal, "cannot hash the public key of " + private_key_file};
  char* hex = ssh_get_hexa(hash, len);
  std::string out = hex ? hex : "";
  ssh_string_free_char(hex);
  ssh_clean_pubkey_hash(&hash);
  for (auto& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Result<SshExecResult> SshExec(const SshTarget& target, const std::string& command,
                              std::chrono::milliseconds timeout, const std::string& stdin_file) {
  auto key = LoadKey(target.private_key_file);
  if (!key.ok()) return key.status();
  SessionPtr session(ssh_new());
  if (!session) return Status{ErrorCode::kInternal, "cannot create an SSH session"};
  const std::string where = target.user + "@" + target.host + ":" + std::to_string(target.port);
  long timeout_s = std::max<long>(1, long(timeout.count() / 1000));
  unsigned port = target.port;
  const int no = 0;
  ssh_options_set(session.get(), SSH_OPTIONS_HOST, target.host.c_str());
  ssh_options_set(session.get(), SSH_OPTIONS_PORT, &port);
  ssh_options_set(session.get(), SSH_OPTIONS_USER, target.user.c_str());
  ssh_options_set(session.get(), SSH_OPTIONS_TIMEOUT, &timeout_s);
  // A fresh rescue system has a fresh host key: no known_hosts, no ~/.ssh config.
  ssh_options_set(session.get(), SSH_OPTIONS_KNOWNHOSTS, "/dev/null");
  ssh_options_set(session.get(), SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
  ssh_options_set(session.get(), SSH_OPTIONS_STRICTHOSTKEYCHECK, &no);
  ssh_options_set(session.get(), SSH_OPTIONS_PROCESS_CONFIG, &no);
  if (ssh_connect(session.get()) != SSH_OK)
    return Status{ErrorCode::kUnavailable, "SSH " + where + ": " + ssh_get_error(session.get())};
  // Pin before anything of ours crosses: no authentication, no command.
  if (Status pinned = CheckHostKeyPinned(session.get(), target, where); !pinned.ok()) return pinned;
  if (ssh_userauth_publickey(session.get(), nullptr, key->get()) != SSH_AUTH_SUCCESS)
    return Status{ErrorCode::kUnavailable, "SSH " + where + ": key not accepted (not the rescue system yet?)"};
  ChannelPtr channel(ssh_channel_new(session.get()));
  if (!channel || ssh_channel_open_session(channel.get()) != SSH_OK)
    return Status{ErrorCode::kUnavailable, "SSH " + where + ": cannot open a channel: " + ssh_get_error(session.get())};
  if (ssh_channel_request_exec(channel.get(), command.c_str()) != SSH_OK)
    return Status{ErrorCode::kUnavailable, "SSH " + where + ": exec refused: " + ssh_get_error(session.get())};
  if (!stdin_file.empty())
    if (Status sent = StreamFileToChannel(channel.get(), stdin_file, where); !sent.ok()) return sent;

  SshExecResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    bool progressed = false;
    for (int is_stderr = 0; is_stderr < 2; ++is_stderr) {
      const int n = ssh_channel_read_timeout(channel.get(), buf, sizeof buf, is_stderr, 100);
      if (n > 0) {
        if (result.output.size() < 64 * 1024) result.output.append(buf, std::size_t(n));
        progressed = true;
      } else if (n == SSH_ERROR) {
        return result;  // connection gone: exit_status stays empty
      }
    }
    if (!progressed && ssh_channel_is_eof(channel.get())) break;
  }
  if (!ssh_channel_is_eof(channel.get()))
    return Status{ErrorCode::kDeadlineExceeded, "SSH " + where + ": command did not finish in time"};
  // The exit-status message may trail EOF by a moment.
  const int status = ssh_channel_get_exit_status(channel.get());
  if (status >= 0) result.exit_status = status;
  return result;
}

}  // namespace metalpxe
