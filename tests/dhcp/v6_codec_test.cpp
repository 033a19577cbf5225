#include <gtest/gtest.h>

#include <cstring>

#include "dhcp/v6/message6.h"

namespace metalpxe::dhcp6 {
namespace {

std::vector<std::byte> Bytes6(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int b : v) out.push_back(static_cast<std::byte>(b));
  return out;
}

// OVMF's PXEv6 Solicit, as UefiPxeBcDxe builds it (PxeBcDhcp6Discover /
// Dhcp6 Solicit): DUID-UUID client id, IA_NA without addresses, ORO
// asking for 59 and 60, client arch 7, NII 1.3.16 and the PXEClient
// vendor class under enterprise 343.
std::vector<std::byte> OvmfSolicit() {
  Message6 m;
  m.type = MsgType::kSolicit;
  m.xid = 0xabcdef;
  std::vector<std::uint8_t> duid = {0, 4};
  for (int i = 0; i < 16; ++i) duid.push_back(static_cast<std::uint8_t>(0x10 + i));
  m.Add(opt6::kClientId, duid);
  m.Add(opt6::kElapsedTime, {0, 0});
  m.Add(opt6::kIaNa, EncodeIaNa(IaNa{0x01020304, 0, 0, {}, std::nullopt, ""}));
  m.Add(opt6::kOro, EncodeU16List({opt6::kBootfileUrl, opt6::kBootfileParam, opt6::kDnsServers}));
  m.Add(opt6::kClientArchType, EncodeU16List({7}));
  m.Add(opt6::kNii, {1, 3, 0x10});
  m.Add(opt6::kVendorClass, EncodeVendorClass({kEnterpriseIntel, {"PXEClient:Arch:00007:UNDI:003016"}}));
  return SerializeMessage6(m).value();
}

TEST(dhcp6_codec, ParsesAnOvmfStyleSolicit) {
  auto m = ParseMessage6(OvmfSolicit());
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->type, MsgType::kSolicit);
  EXPECT_EQ(m->xid, 0xabcdefu);
  EXPECT_EQ(m->ClientId().size(), 18u);
  EXPECT_EQ(UuidFromDuid(m->ClientId()), "10111213-1415-1617-1819-1a1b1c1d1e1f");
  EXPECT_FALSE(MacFromDuid(m->ClientId()));
  ASSERT_EQ(m->IaNas().size(), 1u);
  EXPECT_EQ(m->IaNas()[0].iaid, 0x01020304u);
  EXPECT_TRUE(m->IaNas()[0].addresses.empty());
  EXPECT_EQ(m->RequestedOptions(), (std::vector<std::uint16_t>{59, 60, 23}));
  EXPECT_EQ(m->ClientArchTypes(), (std::vector<std::uint16_t>{7}));
  auto vc = m->GetVendorClass();
  ASSERT_TRUE(vc);
  EXPECT_EQ(vc->enterprise, 343u);
  ASSERT_EQ(vc->data.size(), 1u);
  EXPECT_EQ(vc->data[0], "PXEClient:Arch:00007:UNDI:003016");
}

TEST(dhcp6_codec, ReplyRoundTripsWithAddressBootUrlAndParams) {
  Message6 r;
  r.type = MsgType::kReply;
  r.xid = 0x000102;
  IaNa ia{7, 1800, 2880, {}, std::nullopt, ""};
  ia.addresses.push_back({*Ipv6Address::Parse("fd00:66::100"), 3600, 7200, {}});
  r.Add(opt6::kIaNa, EncodeIaNa(ia));
  r.Add(opt6::kBootfileUrl, {'t', 'f', 't', 'p', ':', '/', '/', '[', 'f', 'd', ':', ':', '1', ']', '/', 'x'});
  r.Add(opt6::kBootfileParam, EncodeStringList({"a", "", "bc"}));
  r.Add(opt6::kDnsServers, EncodeAddressList({*Ipv6Address::Parse("fd00:66::1")}));
  r.Add(opt6::kStatusCode, EncodeStatus(StatusCode::kSuccess, "ok"));
  auto bytes = SerializeMessage6(r);
  ASSERT_TRUE(bytes.ok());
  auto back = ParseMessage6(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->options, r.options);
  auto ias = back->IaNas();
  ASSERT_EQ(ias.size(), 1u);
  EXPECT_EQ(ias[0].t1, 1800u);
  ASSERT_EQ(ias[0].addresses.size(), 1u);
  EXPECT_EQ(ias[0].addresses[0].address.ToString(), "fd00:66::100");
  EXPECT_EQ(ias[0].addresses[0].valid, 7200u);
  EXPECT_EQ(back->BootfileUrl(), "tftp://[fd::1]/x");
  EXPECT_EQ(back->BootfileParams(), (std::vector<std::string>{"a", "", "bc"}));
  EXPECT_EQ(back->Status(), StatusCode::kSuccess);
}

TEST(dhcp6_codec, RefusesMalformedInput) {
  EXPECT_FALSE(ParseMessage6(Bytes6({1, 0, 0})).ok());                    // short header
  EXPECT_FALSE(ParseMessage6(Bytes6({12, 0, 0, 0})).ok());                // relay-forward
  EXPECT_FALSE(ParseMessage6(Bytes6({0, 0, 0, 0})).ok());                 // type 0
  EXPECT_FALSE(ParseMessage6(Bytes6({1, 0, 0, 0, 0, 1, 0})).ok());        // option header cut
  EXPECT_FALSE(ParseMessage6(Bytes6({1, 0, 0, 0, 0, 1, 0, 5, 0, 3})).ok());  // runs past the end
  EXPECT_FALSE(ParseMessage6(Bytes6({1, 0, 0, 0, 0, 1, 0, 2, 0, 3})).ok());  // DUID too short
  EXPECT_FALSE(ParseMessage6(Bytes6({1, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 1})).ok());  // IA_NA < 12
  EXPECT_FALSE(ParseMessage6(Bytes6({1, 0, 0, 0, 0, 6, 0, 3, 0, 59, 0})).ok());    // odd ORO
  EXPECT_FALSE(ParseMessage6(Bytes6({1, 0, 0, 0, 0, 16, 0, 6, 0, 0, 1, 87, 0, 9})).ok());  // vendor item cut
  EXPECT_FALSE(ParseMessage6(Bytes6({1, 0, 0, 0, 0, 61, 0, 0})).ok());    // empty arch list
  EXPECT_FALSE(ParseMessage6(Bytes6({1, 0, 0, 0, 0, 62, 0, 2, 1, 3})).ok());  // NII of 2 bytes
  // An IAADDR inside an IA_NA that is too short.
  EXPECT_FALSE(ParseMessage6(Bytes6({1, 0, 0, 0, 0, 3, 0, 20, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
                                     0, 5, 0, 4, 1, 2, 3, 4})).ok());
  // Too many options.
  std::vector<std::byte> many = Bytes6({1, 0, 0, 0});
  for (int i = 0; i < 300; ++i) {
    auto o = Bytes6({0, 99, 0, 0});
    many.insert(many.end(), o.begin(), o.end());
  }
  EXPECT_FALSE(ParseMessage6(many).ok());
  // Unknown options are kept as opaque bytes.
  auto ok = ParseMessage6(Bytes6({11, 1, 2, 3, 0x12, 0x34, 0, 1, 9}));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->type, MsgType::kInformationRequest);
  ASSERT_EQ(ok->options.size(), 1u);
  EXPECT_EQ(ok->options[0].code, 0x1234);
}

TEST(dhcp6_codec, MacFromDuidLlAndLltAndLinkLocal) {
  const MacAddress mac = *MacAddress::Parse("52:54:00:12:34:56");
  EXPECT_EQ(MacFromDuid(DuidLl(mac)), mac);
  std::vector<std::uint8_t> llt = {0, 1, 0, 1, 0x2a, 0x2b, 0x2c, 0x2d, 0x52, 0x54, 0, 0x12, 0x34, 0x56};
  EXPECT_EQ(MacFromDuid(llt), mac);
  llt[3] = 6;  // not Ethernet
  EXPECT_FALSE(MacFromDuid(llt));
  EXPECT_EQ(MacFromLinkLocal(*Ipv6Address::Parse("fe80::5054:ff:fe12:3456")), mac);
  EXPECT_FALSE(MacFromLinkLocal(*Ipv6Address::Parse("fe80::1234:5678:9abc:def0")));  // not EUI-64
  EXPECT_FALSE(MacFromLinkLocal(*Ipv6Address::Parse("fd00::5054:ff:fe12:3456")));    // not link-local
}

TEST(dhcp6_codec, Ipv6TextCidrAndRange) {
  EXPECT_EQ(Ipv6Address::Parse("FD00:66:0:0::1")->ToString(), "fd00:66::1");
  EXPECT_FALSE(Ipv6Address::Parse("fd00::1%eth0"));
  EXPECT_FALSE(Ipv6Address::Parse("10.0.0.1"));
  EXPECT_FALSE(Ipv6Address::Parse(""));
  auto cidr = Ipv6Cidr::Parse("fd00:66::/64");
  ASSERT_TRUE(cidr);
  EXPECT_TRUE(cidr->Contains(*Ipv6Address::Parse("fd00:66::ffff")));
  EXPECT_FALSE(cidr->Contains(*Ipv6Address::Parse("fd00:67::1")));
  EXPECT_FALSE(Ipv6Cidr::Parse("fd00:66::1/64"));  // host bits set
  EXPECT_FALSE(Ipv6Cidr::Parse("fd00:66::/129"));
  auto range = Ipv6Range::Parse("fd00:66::1fe - fd00:66::201");
  ASSERT_TRUE(range);
  EXPECT_EQ(range->Size(), 4u);
  EXPECT_EQ(range->At(2).ToString(), "fd00:66::200");
  EXPECT_FALSE(Ipv6Range::Parse("fd00:66::2-fd00:66::1"));
  EXPECT_EQ(Ipv6Range::Parse("fd00::-fd01::")->Size(), std::uint64_t{1} << 32);
  EXPECT_EQ(UrlHost(*Ipv6Address::Parse("fd00::1")), "[fd00::1]");
}

}  // namespace
}  // namespace metalpxe::dhcp6
