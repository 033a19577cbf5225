// The IPv4 + UDP packet for direct replies: checked the way a receiving
// kernel checks it (both checksums verify to zero over what they cover).
#include <gtest/gtest.h>

#include <vector>

#include "dhcp/internet_checksum.h"
#include "dhcp/udp_frame.h"

namespace metalpxe::dhcp {
namespace {

std::vector<std::uint8_t> Bytes(const std::vector<std::byte>& b) {
  std::vector<std::uint8_t> out(b.size());
  for (std::size_t i = 0; i < b.size(); ++i) out[i] = static_cast<std::uint8_t>(b[i]);
  return out;
}

unsigned Be16(const std::vector<std::uint8_t>& p, std::size_t at) { return unsigned(p[at]) << 8 | p[at + 1]; }

// A receiver's check: the UDP checksum over pseudo-header + UDP is 0 (or the
// field is 0, "none").
bool UdpChecksumVerifies(const std::vector<std::uint8_t>& p) {
  const std::size_t udp_length = Be16(p, 24);
  std::vector<std::uint8_t> pseudo(p.begin() + 12, p.begin() + 20);
  pseudo.insert(pseudo.end(), {0, 17, static_cast<std::uint8_t>(udp_length >> 8), static_cast<std::uint8_t>(udp_length)});
  const std::uint32_t sum = InternetSum({p.data() + 20, udp_length}, InternetSum(pseudo));
  return InternetChecksumOf(sum) == 0;
}

TEST(UdpFrame, HeadersAndChecksumsAsAReceiverChecksThem) {
  for (std::size_t size : {0u, 1u, 300u, 301u, 548u}) {
    std::vector<std::byte> payload(size);
    for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<std::byte>(i * 7 + 3);
    const UdpEndpoints e{*Ipv4Address::Parse("10.66.0.1"), 67, *Ipv4Address::Parse("10.66.1.17"), 68};
    const auto p = Bytes(EncodeIpv4Udp(e, payload));
    ASSERT_EQ(p.size(), 28 + size);
    EXPECT_EQ(p[0], 0x45);
    EXPECT_EQ(Be16(p, 2), 28 + size);  // total length
    EXPECT_EQ(p[9], 17);               // UDP
    EXPECT_EQ(p[8], 64);
    EXPECT_EQ(InternetChecksum({p.data(), 20}), 0) << "IPv4 header checksum, payload " << size;
    EXPECT_EQ((std::vector<std::uint8_t>(p.begin() + 12, p.begin() + 20)),
              (std::vector<std::uint8_t>{10, 66, 0, 1, 10, 66, 1, 17}));
    EXPECT_EQ(Be16(p, 20), 67u);
    EXPECT_EQ(Be16(p, 22), 68u);
    EXPECT_EQ(Be16(p, 24), 8 + size);
    EXPECT_NE(Be16(p, 26), 0u) << "a checksum is always given";
    EXPECT_TRUE(UdpChecksumVerifies(p)) << "payload " << size;
    for (std::size_t i = 0; i < size; ++i) ASSERT_EQ(p[28 + i], static_cast<std::uint8_t>(i * 7 + 3));
  }
}

TEST(UdpFrame, AChecksumThatSumsToZeroIsSentAsAllOnes) {
  // Search a payload whose checksum computes to 0: UDP must send 0xffff.
  const UdpEndpoints e{*Ipv4Address::Parse("10.0.0.1"), 67, *Ipv4Address::Parse("10.0.0.2"), 68};
  bool found = false;
  for (unsigned v = 0; v < 65536 && !found; ++v) {
    const std::vector<std::byte> payload{static_cast<std::byte>(v >> 8), static_cast<std::byte>(v)};
    const auto p = Bytes(EncodeIpv4Udp(e, payload));
    if (Be16(p, 26) == 0xffff) {
      found = true;
      EXPECT_TRUE(UdpChecksumVerifies(p));
    }
    ASSERT_NE(Be16(p, 26), 0u);
  }
  EXPECT_TRUE(found);
}

TEST(UdpFrame, APayloadBeyondOneDatagramIsRefused) {
  const UdpEndpoints e{*Ipv4Address::Parse("10.0.0.1"), 67, *Ipv4Address::Parse("10.0.0.2"), 68};
  EXPECT_TRUE(EncodeIpv4Udp(e, std::vector<std::byte>(65536)).empty());
  EXPECT_EQ(EncodeIpv4Udp(e, std::vector<std::byte>(65507)).size(), 65535u);
}

TEST(InternetChecksum, Rfc1071Example) {
  // RFC 1071 section 3: the sum of these words is ddf2, the checksum 220d.
  const std::vector<std::uint8_t> words{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(InternetChecksum(words), 0x220d);
}

}  // namespace
}  // namespace metalpxe::dhcp
