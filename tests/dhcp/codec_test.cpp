#include <gtest/gtest.h>

#include "dhcp/message.h"
#include "tests/dhcp/packet_builder.h"

namespace metalpxe::dhcp {
namespace {

using testing::RawPacket;

TEST(dhcp_codec, ParsesHandBuiltDiscover) {
  RawPacket p;
  p.Opt(53, {1})
      .Opt(55, {1, 3, 6, 67, 66})
      .Opt(57, {0x05, 0xc0})
      .Opt(61, {1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56})
      .Opt(93, {0, 7})
      .Opt(94, {1, 3, 16})
      .OptText(60, "PXEClient:Arch:00007:UNDI:003016")
      .Opt(82, {1, 3, 'a', 'b', 'c', 2, 2, 9, 9})
      .End();
  auto m = ParseDhcpMessage(p.span());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->xid, 0x12345678u);
  EXPECT_EQ(m->Type(), MessageType::kDiscover);
  EXPECT_EQ(m->Mac().ToString(), "52:54:00:12:34:56");
  EXPECT_EQ(m->GetU16(57), 1472);
  EXPECT_EQ(m->GetU16Array(93), std::vector<std::uint16_t>{7});
  EXPECT_EQ(*m->GetString(60), "PXEClient:Arch:00007:UNDI:003016");
  ASSERT_NE(m->Find(55), nullptr);
  EXPECT_EQ(m->Find(55)->data, (std::vector<std::uint8_t>{1, 3, 6, 67, 66}));
  EXPECT_EQ(m->Find(82)->data, (std::vector<std::uint8_t>{1, 3, 'a', 'b', 'c', 2, 2, 9, 9}));
  EXPECT_EQ(HexString(m->Find(61)->data), "01525400123456");
}

TEST(dhcp_codec, RoundTripKeepsEveryField) {
  DhcpMessage m;
  m.op = 2;
  m.xid = 0xdeadbeef;
  m.secs = 3;
  m.flags = kBroadcastFlag;
  m.ciaddr = *Ipv4Address::Parse("10.0.0.1");
  m.yiaddr = *Ipv4Address::Parse("10.0.0.2");
  m.siaddr = *Ipv4Address::Parse("10.0.0.3");
  m.giaddr = *Ipv4Address::Parse("10.0.0.4");
  m.SetMac(*MacAddress::Parse("aa:bb:cc:dd:ee:ff"));
  m.sname = "server";
  m.file = "snponly.efi";
  m.SetU8(opt::kMessageType, 5);
  m.SetIpv4(opt::kServerId, m.siaddr);
  m.SetU32(opt::kLeaseTime, 3600);
  m.SetIpv4List(opt::kDns, {m.siaddr, m.giaddr});
  m.SetString(opt::kVendorClass, "HTTPClient");
  m.Set(opt::kIpxeEncap, {1, 1, 1});
  auto bytes = SerializeDhcpMessage(m);
  ASSERT_TRUE(bytes.ok());
  EXPECT_GE(bytes->size(), 300u);
  auto back = ParseDhcpMessage(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->op, 2);
  EXPECT_EQ(back->xid, m.xid);
  EXPECT_EQ(back->secs, 3);
  EXPECT_TRUE(back->Broadcast());
  EXPECT_EQ(back->ciaddr, m.ciaddr);
  EXPECT_EQ(back->yiaddr, m.yiaddr);
  EXPECT_EQ(back->siaddr, m.siaddr);
  EXPECT_EQ(back->giaddr, m.giaddr);
  EXPECT_EQ(back->Mac(), m.Mac());
  EXPECT_EQ(back->sname, "server");
  EXPECT_EQ(back->file, "snponly.efi");
  ASSERT_EQ(back->options.size(), m.options.size());
  for (std::size_t i = 0; i < m.options.size(); ++i) {
    EXPECT_EQ(back->options[i].code, m.options[i].code);
    EXPECT_EQ(back->options[i].data, m.options[i].data);
  }
}

TEST(dhcp_codec, RewriteXidChangesOnlyTheTransactionId) {
  DhcpMessage m;
  m.op = 2;
  m.xid = 0x01020304;
  m.SetMac(*MacAddress::Parse("aa:bb:cc:dd:ee:ff"));
  m.SetU8(opt::kMessageType, 2);
  auto bytes = SerializeDhcpMessage(m, 548);
  ASSERT_TRUE(bytes.ok());
  auto rewritten = *bytes;
  ASSERT_TRUE(RewriteXid(rewritten, 0xa1b2c3d4));
  auto back = ParseDhcpMessage(rewritten);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->xid, 0xa1b2c3d4u);
  for (std::size_t i = 0; i < bytes->size(); ++i) {
    if (i < 4 || i > 7) {
      ASSERT_EQ((*bytes)[i], rewritten[i]) << "byte " << i;
    }
  }
  std::vector<std::byte> short_one(7);
  EXPECT_FALSE(RewriteXid(short_one, 1));
  EXPECT_EQ(short_one, std::vector<std::byte>(7));
}

TEST(dhcp_codec, FollowsOptionOverloadIntoFileAndSname) {
  RawPacket p;
  p.Opt(53, {3}).Opt(52, {3}).End();
  // file (offset 108): option 67 boot file; sname (offset 44): option 12 then 67 continued.
  p.At(108, {67, 4, 'a', 'b', 'c', 'd', 255});
  p.At(44, {12, 2, 'h', 'x', 67, 2, '.', 'e', 255});
  auto m = ParseDhcpMessage(p.span());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(*m->GetString(67), "abcd.e");  // RFC 3396 concatenation, file before sname
  EXPECT_EQ(*m->GetString(12), "hx");
  EXPECT_TRUE(m->file.empty());
  EXPECT_TRUE(m->sname.empty());
}

TEST(dhcp_codec, OverloadInsideFileIsIgnoredSoItCannotLoop) {
  RawPacket p;
  p.Opt(53, {1}).Opt(52, {1}).End();
  p.At(108, {52, 1, 3, 12, 1, 'z', 255});
  auto m = ParseDhcpMessage(p.span());
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(*m->GetString(12), "z");
  EXPECT_FALSE(m->Has(52));
}

TEST(dhcp_codec, SerialiseOverloadsWhenOptionsDoNotFit) {
  DhcpMessage m;
  m.SetU8(opt::kMessageType, 2);
  // 300 bytes of options against a 400-byte message: main area holds 159.
  m.SetString(opt::kVendorClass, std::string(100, 'v'));
  m.SetString(opt::kHostname, std::string(100, 'h'));
  m.SetString(opt::kDomainName, std::string(50, 'd'));
  auto bytes = SerializeDhcpMessage(m, 400);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_LE(bytes->size(), 400u);
  auto back = ParseDhcpMessage(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back->GetString(opt::kVendorClass), std::string(100, 'v'));
  EXPECT_EQ(*back->GetString(opt::kHostname), std::string(100, 'h'));
  EXPECT_EQ(*back->GetString(opt::kDomainName), std::string(50, 'd'));
  // And when even file and sname are not enough, a clean error.
  m.SetString(opt::kMessage, std::string(250, 'm'));
  EXPECT_FALSE(SerializeDhcpMessage(m, 400).ok());
}

TEST(dhcp_codec, LongOptionsAreSplitAndMerged) {
  DhcpMessage m;
  m.SetU8(opt::kMessageType, 5);
  std::vector<std::uint8_t> big(600);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i);
  m.Set(opt::kVendorSpecific, big);
  auto bytes = SerializeDhcpMessage(m, 1472);
  ASSERT_TRUE(bytes.ok());
  auto back = ParseDhcpMessage(*bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->Find(opt::kVendorSpecific)->data, big);
}

TEST(dhcp_codec, MissingEndOptionIsTolerated) {
  RawPacket p;
  p.Opt(53, {1}).Opt(12, {'a'});
  auto m = ParseDhcpMessage(p.span());
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(*m->GetString(12), "a");
}

TEST(dhcp_codec, RejectsMalformedInput) {
  {
    RawPacket p;
    p.bytes().resize(239);
    EXPECT_FALSE(ParseDhcpMessage(p.span()).ok()) << "truncated header";
  }
  {
    RawPacket p;
    p.At(236, {1, 2, 3, 4}).Opt(53, {1});
    EXPECT_FALSE(ParseDhcpMessage(p.span()).ok()) << "bad cookie";
  }
  {
    RawPacket p;
    p.Opt(53, {1}).Raw({12, 10, 'a'});
    EXPECT_FALSE(ParseDhcpMessage(p.span()).ok()) << "option runs past the end";
  }
  {
    RawPacket p;
    p.Opt(53, {1}).Raw({12});
    EXPECT_FALSE(ParseDhcpMessage(p.span()).ok()) << "option without length";
  }
  {
    RawPacket p;
    p.Opt(53, {1, 1});
    EXPECT_FALSE(ParseDhcpMessage(p.span()).ok()) << "message type of two bytes";
  }
  {
    RawPacket p;
    p.Opt(53, {1}).Opt(54, {1, 2, 3});
    EXPECT_FALSE(ParseDhcpMessage(p.span()).ok()) << "server id of three bytes";
  }
  {
    RawPacket p;
    p.Opt(53, {1}).Opt(93, {0});
    EXPECT_FALSE(ParseDhcpMessage(p.span()).ok()) << "odd arch list";
  }
  {
    RawPacket p;
    p.At(2, {17}).Opt(53, {1});
    EXPECT_FALSE(ParseDhcpMessage(p.span()).ok()) << "hlen > 16";
  }
  {
    RawPacket p;
    p.Opt(53, {1}).Opt(52, {7});
    EXPECT_FALSE(ParseDhcpMessage(p.span()).ok()) << "bad overload value";
  }
  {
    RawPacket p;
    p.Opt(53, {1});
    p.bytes().resize(kMaxParseSize + 1, 0);
    EXPECT_FALSE(ParseDhcpMessage(p.span()).ok()) << "absurd size";
  }
  {
    RawPacket p;
    p.Opt(53, {1});
    for (int i = 0; i < 20; ++i) p.Raw({43, 250}), p.bytes().resize(p.bytes().size() + 250, 7);
    EXPECT_FALSE(ParseDhcpMessage(p.span()).ok()) << "one option grown past any sane size";
  }
}

}  // namespace
}  // namespace metalpxe::dhcp
