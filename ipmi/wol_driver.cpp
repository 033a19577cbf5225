#include "ipmi/wol_driver.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipmi/wol_packet.h"

namespace metalpxe {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { if (fd_ >= 0) ::close(fd_); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Status Errno(const std::string& what) { return {ErrorCode::kUnavailable, what + ": " + std::strerror(errno)}; }

}  // namespace

Status SendMagicPacket(const MacAddress& mac, const std::string& interface, std::uint16_t port) {
  Fd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return Errno("wake-on-LAN socket");
  const int on = 1;
  if (::setsockopt(sock.get(), SOL_SOCKET, SO_BROADCAST, &on, sizeof on) != 0) return Errno("SO_BROADCAST");
  if (!interface.empty() &&
      ::setsockopt(sock.get(), SOL_SOCKET, SO_BINDTODEVICE, interface.c_str(), socklen_t(interface.size())) != 0)
    return Errno("wake-on-LAN: bind to interface " + interface);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_BROADCAST);
  const auto packet = BuildMagicPacket(mac);
  if (::sendto(sock.get(), packet.data(), packet.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) !=
      ssize_t(packet.size()))
    return Errno("wake-on-LAN: send on " + (interface.empty() ? std::string("default route") : interface));
  return Status::Ok();
}

WolPowerDriver::WolPowerDriver(MacAddress mac, std::string interface, std::uint16_t port)
    : mac_(mac), interface_(std::move(interface)), port_(port) {}

PowerCapabilities WolPowerDriver::Capabilities() const {
  PowerCapabilities c;
  c.power_on = true;
  return c;
}

Status WolPowerDriver::PowerOn() {
  // UDP may drop one; NICs ignore duplicates. Three copies is common practice.
  for (int i = 0; i < 3; ++i)
    if (Status s = SendMagicPacket(mac_, interface_, port_); !s.ok()) return s;
  return Status::Ok();
}

Status WolPowerDriver::PowerOff() {
  return {ErrorCode::kUnsupported, "wake-on-LAN can only power on: power off by hand"};
}
Status WolPowerDriver::PowerCycle() {
  return {ErrorCode::kUnsupported, "wake-on-LAN can only power on: power-cycle by hand"};
}
Status WolPowerDriver::SetNextBootNetwork(bool) {
  return {ErrorCode::kUnsupported, "wake-on-LAN cannot choose the boot device: set network boot first in the firmware"};
}

}  // namespace metalpxe
