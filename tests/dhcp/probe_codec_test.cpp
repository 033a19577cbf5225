// The ping-check's packets: what we send is what RFC 5227 and RFC 792 say,
// and answers are read only when they are what they claim to be.
#include <gtest/gtest.h>

#include "dhcp/probe_codec.h"
#include "tests/dhcp/test_config.h"

namespace metalpxe::dhcp {
namespace {

using namespace testing;

TEST(dhcp_probe_codec, ArpProbeHasNoSenderAddressAndAsksForTheTarget) {
  const auto p = EncodeArpProbe(Mac("02:00:00:00:00:01"), Ip("10.66.1.1"));
  const std::vector<std::uint8_t> want = {0, 1, 8, 0, 6, 4, 0, 1,           // Ethernet, IPv4, request
                                          2, 0, 0, 0, 0, 1, 0, 0, 0, 0,     // our MAC, sender 0.0.0.0
                                          0, 0, 0, 0, 0, 0, 10, 66, 1, 1};  // target
  EXPECT_EQ(p, want);
  EXPECT_FALSE(ArpSenderAddress(p).has_value()) << "another host's probe does not say the address is in use";
}

TEST(dhcp_probe_codec, ArpReplyNamesTheHolder) {
  auto reply = EncodeArpProbe(Mac("02:00:00:00:00:02"), Ip("0.0.0.0"));
  reply[7] = 2;  // reply
  reply[14] = 10, reply[15] = 66, reply[16] = 1, reply[17] = 1;
  EXPECT_EQ(ArpSenderAddress(reply), Ip("10.66.1.1"));
  reply[7] = 3;  // RARP request: not ours
  EXPECT_FALSE(ArpSenderAddress(reply).has_value());
  reply[7] = 2;
  reply[2] = 0x86;  // not IPv4
  EXPECT_FALSE(ArpSenderAddress(reply).has_value());
  EXPECT_FALSE(ArpSenderAddress(std::span(reply).first(27)).has_value()) << "short";
}

TEST(dhcp_probe_codec, EchoRequestChecksumsAndEchoReplyIsMatchedById) {
  const auto req = EncodeEchoRequest(0x1234, 7);
  ASSERT_EQ(req.size(), 16u);
  EXPECT_EQ(req[0], 8);
  // The checksum over the whole message, checksum included, is 0xffff.
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < req.size(); i += 2) sum += static_cast<std::uint32_t>(req[i] << 8 | req[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  EXPECT_EQ(sum, 0xffffu);

  std::vector<std::uint8_t> ip = {0x45, 0, 0, 36, 0, 0, 0, 0, 64, 1, 0, 0, 10, 77, 0, 10, 10, 66, 0, 1};
  auto reply = ip;
  reply.insert(reply.end(), req.begin(), req.end());
  reply[20] = 0;  // echo reply
  EXPECT_EQ(EchoReplySource(reply, 0x1234), Ip("10.77.0.10"));
  EXPECT_FALSE(EchoReplySource(reply, 0x4321).has_value()) << "someone else's ping";
  reply[20] = 3;  // destination unreachable
  EXPECT_FALSE(EchoReplySource(reply, 0x1234).has_value());
  reply[20] = 0;
  reply[0] = 0x4f;  // header length past the packet
  EXPECT_FALSE(EchoReplySource(reply, 0x1234).has_value());
  EXPECT_FALSE(EchoReplySource(std::span(reply).first(10), 0x1234).has_value());
}

}  // namespace
}  // namespace metalpxe::dhcp
