// Wake-on-LAN: the magic packet leaves the serving interface as a UDP
// broadcast to port 9 and arrives, byte for byte, at a socket in the peer
// namespace at the other end of a veth pair.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "ipmi/power_driver.h"
#include "ipmi/wol_packet.h"
#include "tests/support/netns.h"

namespace metalpxe {
namespace {

using testing::ScopedNetNsEnter;
using testing::VethPair;

TEST(PowerWol, MagicPacketIsBroadcastOnTheServingInterface) {
  VethPair pair("pwwol", "10.77.0.1/24", "10.77.0.2/24");
  int rx = -1;
  {
    ScopedNetNsEnter in_client(pair.client.name());
    rx = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(rx, 0);
    const int on = 1;
    ASSERT_EQ(::setsockopt(rx, IPPROTO_IP, IP_PKTINFO, &on, sizeof on), 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(9);
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    ASSERT_EQ(::bind(rx, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
  }

  const auto mac = MacAddress::Parse("52:54:00:12:34:56").value();
  BmcConfig bmc;
  bmc.type = BmcType::kWol;
  PowerContext ctx;
  ctx.interface = "veth-s";
  {
    ScopedNetNsEnter in_server(pair.server.name());
    auto d = MakePowerDriver(bmc, mac, ctx);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ((*d)->Kind(), "wol");
    ASSERT_TRUE((*d)->PowerOn().ok());
    EXPECT_EQ((*d)->PowerCycle().code(), ErrorCode::kUnsupported);
    EXPECT_EQ((*d)->SetNextBootNetwork(true).code(), ErrorCode::kUnsupported);
  }

  pollfd p{rx, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  std::byte buf[512];
  char control[256];
  iovec iov{buf, sizeof buf};
  sockaddr_in from{};
  msghdr msg{};
  msg.msg_name = &from;
  msg.msg_namelen = sizeof from;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  const ssize_t n = ::recvmsg(rx, &msg, 0);
  ASSERT_EQ(n, ssize_t(kMagicPacketSize));
  const auto expected = BuildMagicPacket(mac);
  EXPECT_EQ(std::memcmp(buf, expected.data(), expected.size()), 0);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(buf[i], std::byte{0xFF});
  EXPECT_EQ(ParseMagicPacket(std::span<const std::byte>(buf, std::size_t(n))), mac);
  EXPECT_EQ(from.sin_addr.s_addr, inet_addr("10.77.0.1"));  // from the serving interface's address
  bool broadcast = false;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      broadcast = info.ipi_addr.s_addr == htonl(INADDR_BROADCAST);
    }
  EXPECT_TRUE(broadcast) << "destination was not 255.255.255.255";
  ::close(rx);
}

}  // namespace
}  // namespace metalpxe
