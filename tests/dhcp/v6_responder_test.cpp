// The DHCPv6 responder's decisions: full and proxy mode, OVMF-shaped
// Solicit/Request exchanges, Renew after a restart, and that nothing a
// client sends takes another client's address or starves the pool.
#include <gtest/gtest.h>

#include "core/provisioning/boot_files.h"
#include "dhcp/v6/responder6.h"

namespace metalpxe::dhcp6 {
namespace {

Ipv6Address A6(const char* s) { return *Ipv6Address::Parse(s); }

std::shared_ptr<AppConfig> Config6(DhcpMode mode, const char* pool = "fd00:66::100-fd00:66::1ff") {
  auto c = std::make_shared<AppConfig>();
  c->server.address = *Ipv4Address::Parse("10.66.0.1");
  c->server.address6 = A6("fd00:66::1");
  c->server.http_port = 8080;
  c->dhcp6.mode = mode;
  Subnet6Config s;
  s.subnet = *Ipv6Cidr::Parse("fd00:66::/64");
  s.pool = *Ipv6Range::Parse(pool);
  s.dns = {A6("fd00:66::53")};
  s.lease_time = std::chrono::seconds(3600);
  c->dhcp6.subnets.push_back(s);
  return c;
}

// Every boot client gets snponly.efi / the chain script (the real table).
dhcp::BootPolicy TablePolicy(std::shared_ptr<AppConfig> c) {
  return [c](const BootClient& client, const MacAddress&) {
    return ChooseLoader(client, c->server, [](std::string_view) { return true; });
  };
}

const MacAddress kMac = *MacAddress::Parse("52:54:00:12:34:56");
const Ipv6Address kLinkLocal = A6("fe80::5054:ff:fe12:3456");  // EUI-64 of kMac

std::vector<std::uint8_t> UuidDuid(std::uint8_t seed) {
  std::vector<std::uint8_t> d = {0, 4};
  for (int i = 0; i < 16; ++i) d.push_back(static_cast<std::uint8_t>(seed + i));
  return d;
}

// OVMF PXEv6 (or HTTPv6 with http=true): DUID-UUID, IA_NA, ORO 59/60, arch, vendor class.
Message6 Firmware(MsgType type, std::vector<std::uint8_t> duid, bool http = false) {
  Message6 m;
  m.type = type;
  m.xid = 0x123456;
  m.Add(opt6::kClientId, std::move(duid));
  m.Add(opt6::kIaNa, EncodeIaNa(IaNa{1, 0, 0, {}, std::nullopt, ""}));
  m.Add(opt6::kOro, EncodeU16List({59, 60}));
  m.Add(opt6::kClientArchType, EncodeU16List({static_cast<std::uint16_t>(http ? 16 : 7)}));
  m.Add(opt6::kVendorClass, EncodeVendorClass({kEnterpriseIntel, {http ? "HTTPClient:Arch:00016:UNDI:003016"
                                                                        : "PXEClient:Arch:00007:UNDI:003016"}}));
  return m;
}

Inbound6 From(Message6 m, Ipv6Address src = kLinkLocal) { return Inbound6{std::move(m), src, {A6("fd00:66::1")}}; }

class Responder6Test : public ::testing::Test {
 protected:
  void SetUp() override { Make(DhcpMode::kFull); }
  void Make(DhcpMode mode, const char* pool = "fd00:66::100-fd00:66::1ff") {
    cfg_ = Config6(mode, pool);
    r_ = std::make_unique<Dhcp6Responder>(cfg_, TablePolicy(cfg_), DuidLl(*MacAddress::Parse("02:00:00:00:00:01")));
  }
  Message6 WithServer(Message6 m) {
    m.Add(opt6::kServerId, r_->server_duid());
    return m;
  }
  std::shared_ptr<AppConfig> cfg_;
  std::unique_ptr<Dhcp6Responder> r_;
};

TEST_F(Responder6Test, OvmfPxeSolicitGetsAnAddressAndATftpUrlWithAnIpv6Literal) {
  auto d = r_->Handle(From(Firmware(MsgType::kSolicit, UuidDuid(1))), 1000);
  ASSERT_TRUE(d.reply);
  EXPECT_EQ(d.reply->type, MsgType::kAdvertise);
  EXPECT_EQ(d.reply->xid, 0x123456u);
  EXPECT_EQ(d.reply->ServerId(), r_->server_duid());
  EXPECT_EQ(d.reply->ClientId(), UuidDuid(1));
  auto ias = d.reply->IaNas();
  ASSERT_EQ(ias.size(), 1u);
  ASSERT_EQ(ias[0].addresses.size(), 1u);
  EXPECT_TRUE(cfg_->dhcp6.subnets[0].pool.Contains(ias[0].addresses[0].address));
  EXPECT_EQ(ias[0].addresses[0].valid, 3600u);
  EXPECT_EQ(ias[0].t1, 1800u);
  EXPECT_EQ(d.reply->BootfileUrl(), "tftp://[fd00:66::1]/snponly.efi");
  EXPECT_EQ(d.observation.mac, kMac);  // from the EUI-64 link-local source
  EXPECT_EQ(d.observation.uuid, "01020304-0506-0708-090a-0b0c0d0e0f10");
  EXPECT_TRUE(r_->bindings().empty());  // an Advertise binds nothing
  EXPECT_FALSE(d.observation.bound);     // ... and says so to the provisioning core

  auto reply = r_->Handle(From(WithServer(Firmware(MsgType::kRequest, UuidDuid(1)))), 1001);
  ASSERT_TRUE(reply.reply);
  EXPECT_EQ(reply.reply->type, MsgType::kReply);
  EXPECT_EQ(reply.reply->IaNas().at(0).addresses.at(0).address, ias[0].addresses[0].address);
  EXPECT_EQ(r_->bindings().size(), 1u);
  EXPECT_EQ(r_->bindings().begin()->first, "mac:52:54:00:12:34:56");
  // The provisioning core's lease book learns the binding from the observation.
  EXPECT_TRUE(reply.observation.bound);
  EXPECT_EQ(reply.observation.address, ias[0].addresses[0].address);
  EXPECT_EQ(reply.observation.valid_until, 1001 + 3600);
}

TEST_F(Responder6Test, HttpBootGetsAnHttpUrlAndTheHttpClientVendorClass) {
  auto d = r_->Handle(From(Firmware(MsgType::kSolicit, UuidDuid(1), true)), 1000);
  ASSERT_TRUE(d.reply);
  EXPECT_EQ(d.reply->BootfileUrl(), "http://[fd00:66::1]:8080/assets/snponly.efi");
  auto vc = d.reply->GetVendorClass();
  ASSERT_TRUE(vc);
  EXPECT_EQ(vc->enterprise, 343u);
  EXPECT_EQ(vc->data.at(0), "HTTPClient");
}

TEST_F(Responder6Test, IpxeChainsToTheScriptAndAnOsClientGetsNoBootFile) {
  Message6 ipxe = Firmware(MsgType::kSolicit, DuidLl(kMac));
  ipxe.Add(opt6::kUserClass, EncodeStringList({"iPXE"}));
  auto d = r_->Handle(From(ipxe, A6("fe80::1234:5678:9abc:def0")), 1000);  // MAC from the DUID-LL
  ASSERT_TRUE(d.reply);
  EXPECT_EQ(d.reply->BootfileUrl(), "http://[fd00:66::1]:8080/boot.ipxe");
  EXPECT_EQ(d.observation.mac, kMac);

  Message6 os;
  os.type = MsgType::kSolicit;
  os.Add(opt6::kClientId, {0, 1, 0, 1, 1, 2, 3, 4, 0x52, 0x54, 0, 0x12, 0x34, 0x56});
  os.Add(opt6::kIaNa, EncodeIaNa(IaNa{9, 0, 0, {}, std::nullopt, ""}));
  auto o = r_->Handle(From(os), 1000);
  ASSERT_TRUE(o.reply);
  EXPECT_FALSE(o.reply->BootfileUrl());
  EXPECT_EQ(o.reply->IaNas().at(0).addresses.size(), 1u);
  EXPECT_EQ(o.reply->Find(opt6::kDnsServers)->data.size(), 16u);
}

TEST_F(Responder6Test, RequestsForAnotherServerAndSolicitsWithAServerIdAreIgnored) {
  Message6 other = Firmware(MsgType::kRequest, UuidDuid(1));
  other.Add(opt6::kServerId, DuidLl(*MacAddress::Parse("02:00:00:00:00:99")));
  EXPECT_FALSE(r_->Handle(From(other), 1000).reply);
  EXPECT_FALSE(r_->Handle(From(WithServer(Firmware(MsgType::kSolicit, UuidDuid(1)))), 1000).reply);
  Message6 no_client;
  no_client.type = MsgType::kSolicit;
  EXPECT_FALSE(r_->Handle(From(no_client), 1000).reply);
  EXPECT_TRUE(r_->bindings().empty());
}

TEST_F(Responder6Test, NoClientTakesOrReleasesAnotherClientsAddress) {
  auto mine = r_->Handle(From(WithServer(Firmware(MsgType::kRequest, UuidDuid(1)))), 1000);
  const Ipv6Address held = mine.reply->IaNas().at(0).addresses.at(0).address;
  // Another machine asks for that very address: it gets a different one.
  Message6 thief = WithServer(Firmware(MsgType::kRequest, UuidDuid(2)));
  thief.options.erase(thief.options.begin() + 1);  // drop the empty IA_NA
  thief.Add(opt6::kIaNa, EncodeIaNa(IaNa{1, 0, 0, {{held, 0, 0, {}}}, std::nullopt, ""}));
  auto t = r_->Handle(From(thief, A6("fe80::5054:ff:fe00:2")), 1001);
  ASSERT_TRUE(t.reply);
  EXPECT_NE(t.reply->IaNas().at(0).addresses.at(0).address, held);
  // ... and cannot release or decline it, nor renew it as its own.
  Message6 release = WithServer(Firmware(MsgType::kRelease, UuidDuid(2)));
  release.options.erase(release.options.begin() + 1);
  release.Add(opt6::kIaNa, EncodeIaNa(IaNa{1, 0, 0, {{held, 0, 0, {}}}, std::nullopt, ""}));
  EXPECT_FALSE(r_->Handle(From(release, A6("fe80::5054:ff:fe00:2")), 1002).observation.released);
  Message6 renew = release;
  renew.type = MsgType::kRenew;
  auto rn = r_->Handle(From(renew, A6("fe80::5054:ff:fe00:2")), 1003);
  ASSERT_TRUE(rn.reply);
  EXPECT_EQ(rn.reply->IaNas().at(0).addresses.at(0).valid, 0u);  // not yours: stop using it
  EXPECT_EQ(r_->bindings().at("mac:52:54:00:12:34:56").address, held);
  // Its owner may release it.
  Message6 own = release;
  own.options[0].data = UuidDuid(1);
  auto ok = r_->Handle(From(own), 1004);
  ASSERT_TRUE(ok.reply);
  EXPECT_EQ(ok.reply->Status(), StatusCode::kSuccess);
  EXPECT_EQ(ok.observation.released, held);
  EXPECT_FALSE(r_->bindings().count("mac:52:54:00:12:34:56"));
}

TEST_F(Responder6Test, OneAddressPerMachineSoAFloodCannotDrainThePool) {
  Make(DhcpMode::kFull, "fd00:66::100-fd00:66::103");  // 4 addresses
  // One machine, many DUIDs and IA_NAs: still one binding.
  for (std::uint8_t i = 0; i < 50; ++i) {
    Message6 m = WithServer(Firmware(MsgType::kRequest, UuidDuid(i)));
    m.Add(opt6::kIaNa, EncodeIaNa(IaNa{2, 0, 0, {}, std::nullopt, ""}));
    auto d = r_->Handle(From(m), 1000 + i);
    ASSERT_TRUE(d.reply);
    EXPECT_EQ(d.reply->IaNas().at(1).status, StatusCode::kNoAddrsAvail);
  }
  EXPECT_EQ(r_->bindings().size(), 1u);
  // Solicits bind nothing: 1000 of them leave the pool free.
  for (int i = 0; i < 1000; ++i) {
    const std::string ll = "fe80::5054:ff:fe00:" + std::to_string(1000 + i);
    r_->Handle(From(Firmware(MsgType::kSolicit, UuidDuid(static_cast<std::uint8_t>(i))), A6(ll.c_str())), 2000);
  }
  EXPECT_EQ(r_->bindings().size(), 1u);
  // The pool runs out at its size, and expired bindings are reused.
  for (int i = 0; i < 5; ++i) {
    const std::string ll = "fe80::5054:ff:fe00:" + std::to_string(i + 1);
    r_->Handle(From(WithServer(Firmware(MsgType::kRequest, UuidDuid(static_cast<std::uint8_t>(100 + i)))),
                    A6(ll.c_str())),
               3000);
  }
  EXPECT_EQ(r_->bindings().size(), 4u);
  auto later = r_->Handle(From(WithServer(Firmware(MsgType::kRequest, UuidDuid(200))), A6("fe80::5054:ff:fe00:99")),
                          3000 + 3601);
  ASSERT_TRUE(later.reply);
  EXPECT_EQ(later.reply->IaNas().at(0).addresses.size(), 1u);
  EXPECT_EQ(r_->bindings().size(), 4u);
}

TEST_F(Responder6Test, RenewAfterARestartRebindsAFreeAddress) {
  const Ipv6Address mine = A6("fd00:66::150");
  Message6 renew = WithServer(Firmware(MsgType::kRenew, UuidDuid(1)));
  renew.options.erase(renew.options.begin() + 1);
  renew.Add(opt6::kIaNa, EncodeIaNa(IaNa{1, 0, 0, {{mine, 0, 0, {}}}, std::nullopt, ""}));
  auto d = r_->Handle(From(renew), 1000);
  ASSERT_TRUE(d.reply);
  EXPECT_EQ(d.reply->IaNas().at(0).addresses.at(0).valid, 3600u);
  EXPECT_EQ(r_->bindings().at("mac:52:54:00:12:34:56").address, mine);
  EXPECT_TRUE(d.observation.bound);
  EXPECT_EQ(d.observation.valid_until, 1000 + 3600);
  // A Confirm for an address off the link says NotOnLink.
  Message6 confirm = Firmware(MsgType::kConfirm, UuidDuid(1));
  confirm.options.erase(confirm.options.begin() + 1);
  confirm.Add(opt6::kIaNa, EncodeIaNa(IaNa{1, 0, 0, {{A6("fd00:99::1"), 0, 0, {}}}, std::nullopt, ""}));
  auto c = r_->Handle(From(confirm), 1001);
  ASSERT_TRUE(c.reply);
  EXPECT_EQ(c.reply->Status(), StatusCode::kNotOnLink);
}

TEST_F(Responder6Test, ProxyModeAnswersBootOptionsOnlyAndInformationRequests) {
  Make(DhcpMode::kProxy);
  auto d = r_->Handle(From(Firmware(MsgType::kSolicit, UuidDuid(1))), 1000);
  ASSERT_TRUE(d.reply);
  EXPECT_TRUE(d.reply->IaNas().empty());
  EXPECT_EQ(d.reply->BootfileUrl(), "tftp://[fd00:66::1]/snponly.efi");
  // An OS client gets no answer at all from the proxy.
  Message6 os;
  os.type = MsgType::kSolicit;
  os.Add(opt6::kClientId, DuidLl(kMac));
  EXPECT_FALSE(r_->Handle(From(os), 1000).reply);
  // Stateless: Information-request (iPXE/OVMF after SLAAC) gets the boot URL.
  Message6 info = Firmware(MsgType::kInformationRequest, UuidDuid(1));
  auto i = r_->Handle(From(info), 1000);
  ASSERT_TRUE(i.reply);
  EXPECT_EQ(i.reply->type, MsgType::kReply);
  EXPECT_EQ(i.reply->BootfileUrl(), "tftp://[fd00:66::1]/snponly.efi");
  EXPECT_TRUE(i.reply->IaNas().empty());
  // Renew/Release belong to the server that owns addresses.
  EXPECT_FALSE(r_->Handle(From(WithServer(Firmware(MsgType::kRenew, UuidDuid(1)))), 1000).reply);
  EXPECT_TRUE(r_->bindings().empty());
}

TEST_F(Responder6Test, OffAnswersNothing) {
  Make(DhcpMode::kOff);
  EXPECT_FALSE(r_->Handle(From(Firmware(MsgType::kSolicit, UuidDuid(1))), 1000).reply);
}

}  // namespace
}  // namespace metalpxe::dhcp6
