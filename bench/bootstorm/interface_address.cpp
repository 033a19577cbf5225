#include "bench/bootstorm/interface_address.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace metalpxe::bench {
namespace {

void PutAttribute(nlmsghdr* msg, unsigned short type, const void* data, unsigned short len) {
  auto* rta = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(msg) + NLMSG_ALIGN(msg->nlmsg_len));
  rta->rta_type = type;
  rta->rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
  std::memcpy(RTA_DATA(rta), data, len);
  msg->nlmsg_len = NLMSG_ALIGN(msg->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

}  // namespace

InterfaceAddresses::InterfaceAddresses(const std::string& interface)
    : fd_(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)), ifindex_(if_nametoindex(interface.c_str())) {}

InterfaceAddresses::~InterfaceAddresses() {
  if (fd_ >= 0) ::close(fd_);
}

std::string InterfaceAddresses::Add(in_addr_t address) {
  alignas(nlmsghdr) char buf[256] = {};
  auto* msg = reinterpret_cast<nlmsghdr*>(buf);
  msg->nlmsg_len = NLMSG_LENGTH(sizeof(ifaddrmsg));
  msg->nlmsg_type = RTM_NEWADDR;
  msg->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
  msg->nlmsg_seq = ++seq_;
  auto* ifa = static_cast<ifaddrmsg*>(NLMSG_DATA(msg));
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = 32;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = ifindex_;
  PutAttribute(msg, IFA_LOCAL, &address, sizeof address);
  PutAttribute(msg, IFA_ADDRESS, &address, sizeof address);
  if (::send(fd_, buf, msg->nlmsg_len, 0) < 0) return std::string("netlink send: ") + std::strerror(errno);
  alignas(nlmsghdr) char reply[1024];
  const ssize_t n = ::recv(fd_, reply, sizeof reply, 0);
  if (n < static_cast<ssize_t>(NLMSG_LENGTH(sizeof(nlmsgerr)))) return "netlink: short reply";
  const auto* r = reinterpret_cast<const nlmsghdr*>(reply);
  if (r->nlmsg_type != NLMSG_ERROR) return "netlink: unexpected reply";
  const int err = static_cast<const nlmsgerr*>(NLMSG_DATA(r))->error;
  if (err == 0 || err == -EEXIST) return "";
  return std::string("adding the address: ") + std::strerror(-err);
}

}  // namespace metalpxe::bench
