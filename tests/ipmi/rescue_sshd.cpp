#include "tests/ipmi/rescue_sshd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace metalpxe::testing {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

void Must(const CommandResult& r, const std::string& what) {
  if (r.exit_code != 0) throw std::runtime_error(what + " failed: " + r.output);
}

}  // namespace

std::uint16_t FreeTcpPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("no free port");
  ::close(fd);
  return ntohs(a.sin_port);
}

RescueSshd::RescueSshd(std::string netns, std::uint16_t port) : netns_(std::move(netns)), port_(port) {
  char tmpl[] = "/tmp/mpx-rescue-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
  dir_ = tmpl;
  client_key_ = dir_ + "/metalpxe_key";
  std::filesystem::create_directory(dir_ + "/bin");
  Must(RunCommand({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "metalpxe", "-f", client_key_}), "ssh-keygen");
  Must(RunCommand({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir_ + "/host_key"}), "ssh-keygen");
  std::filesystem::copy_file(client_key_ + ".pub", dir_ + "/authorized_keys");
  Write(dir_ + "/bin/kexec",
        "#!/bin/sh\n"
        "# kexec stand-in: records, never executes\n"
        "D=" + dir_ + "\n"
        "{ printf 'kexec'; for a in \"$@\"; do printf ' [%s]' \"$a\"; done; echo; } >> $D/kexec.log\n"
        "if [ \"$1\" = -l ]; then cp \"$2\" $D/loaded-kernel; cp \"${3#--initrd=}\" $D/loaded-initrd; fi\n");
  std::filesystem::permissions(dir_ + "/bin/kexec", std::filesystem::perms::owner_all);
  Write(dir_ + "/sshd_config",
        "Port " + std::to_string(port_) + "\n"
        "ListenAddress 127.0.0.1\n"
        "HostKey " + dir_ + "/host_key\n"
        "AuthorizedKeysFile " + dir_ + "/authorized_keys\n"
        "PidFile " + dir_ + "/sshd.pid\n"
        "PermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UsePAM no\n"
        "StrictModes no\n"
        "LogLevel VERBOSE\n"
        "SetEnv PATH=" + dir_ + "/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");
  std::filesystem::create_directories("/run/sshd");  // sshd's privilege-separation dir
}

RescueSshd::~RescueSshd() {
  {
    std::lock_guard l(mu_);
    sshd_.reset();
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string RescueSshd::ClientKeyMd5() const {
  auto r = RunCommand({"ssh-keygen", "-l", "-E", "md5", "-f", client_key_ + ".pub"});
  // "256 MD5:aa:bb:... metalpxe (ED25519)"
  const auto start = r.output.find("MD5:");
  if (start == std::string::npos) return "";
  return r.output.substr(start + 4, r.output.find(' ', start) - start - 4);
}

std::string RescueSshd::HostPublicKey() const {
  std::string line = Read(dir_ + "/host_key.pub");
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return line;
}

void RescueSshd::Start() {
  std::lock_guard l(mu_);
  if (sshd_) return;
  sshd_ = std::make_unique<Subprocess>(
      Subprocess::Start({"/usr/sbin/sshd", "-D", "-e", "-f", dir_ + "/sshd_config"}, netns_));
}

bool RescueSshd::started() const {
  std::lock_guard l(mu_);
  return sshd_ != nullptr;
}

std::string RescueSshd::KexecLog() const { return Read(dir_ + "/kexec.log"); }
std::string RescueSshd::LoadedKernel() const { return Read(dir_ + "/loaded-kernel"); }
std::string RescueSshd::LoadedInitrd() const { return Read(dir_ + "/loaded-initrd"); }
std::string RescueSshd::SshdLog() const {
  std::lock_guard l(mu_);
  return sshd_ ? sshd_->Stderr() : "";
}

}  // namespace metalpxe::testing
