#include <gtest/gtest.h>

#include "dhcp/responder.h"
#include "tests/dhcp/test_config.h"

namespace metalpxe::dhcp {
namespace {

using namespace testing;

constexpr std::int64_t kNow = 1'700'000'000;

Inbound Local(DhcpMessage m) {
  Inbound in;
  in.msg = std::move(m);
  in.ifindex = 3;
  in.local_addresses = {Ip("10.66.0.1")};
  return in;
}

struct Fixture {
  explicit Fixture(DhcpMode mode = DhcpMode::kFull)
      : config(MakeConfig(mode)), r(config, {}, StandaloneBootPolicy([this] { return config; })) {}
  std::shared_ptr<AppConfig> config;
  DhcpResponder r;

  // DISCOVER then REQUEST (selecting); returns the ACK decision.
  Decision Dora(DhcpMessage discover) {
    auto offer = r.Handle(Local(discover), kNow);
    EXPECT_TRUE(offer.reply.has_value());
    auto req = discover;
    req.SetU8(opt::kMessageType, 3);
    req.SetIpv4(opt::kRequestedIp, offer.reply->msg.yiaddr);
    req.SetIpv4(opt::kServerId, config->server.address);
    return r.Handle(Local(req), kNow);
  }
};

TEST(dhcp_responder, OfferCarriesAddressAndOptionsInRequestedOrder) {
  Fixture f;
  auto d = Request(MessageType::kDiscover);
  d.Set(opt::kParameterRequestList, {6, 3, 1, 51});
  d.flags = kBroadcastFlag;
  auto out = f.r.Handle(Local(d), kNow);
  ASSERT_EQ(out.verdict, Verdict::kReply);
  const auto& m = out.reply->msg;
  EXPECT_EQ(m.op, 2);
  EXPECT_EQ(m.xid, 42u);
  EXPECT_EQ(m.Type(), MessageType::kOffer);
  EXPECT_EQ(m.yiaddr, Ip("10.66.0.100"));
  EXPECT_EQ(m.GetIpv4(opt::kServerId), Ip("10.66.0.1"));
  EXPECT_EQ(m.GetU32(opt::kLeaseTime), 3600u);
  EXPECT_EQ(m.GetU32(opt::kRenewalTime), 1800u);
  EXPECT_EQ(m.GetIpv4(opt::kSubnetMask), Ip("255.255.255.0"));
  ASSERT_GE(m.options.size(), 6u);
  EXPECT_EQ(m.options[0].code, opt::kMessageType);
  EXPECT_EQ(m.options[1].code, opt::kServerId);
  EXPECT_EQ(m.options[2].code, 6);
  EXPECT_EQ(m.options[3].code, 3);
  EXPECT_EQ(m.options[4].code, 1);
  EXPECT_EQ(m.options[5].code, 51);
  EXPECT_EQ(m.Find(opt::kDns)->data.size(), 8u);
  EXPECT_TRUE(m.file.empty()) << "not a PXE client";
  EXPECT_EQ(out.reply->dest, Ip("255.255.255.255"));
  EXPECT_TRUE(out.writes.empty()) << "offers are not stored";
}

TEST(dhcp_responder, AckNeedsDurableLeaseAndUnicastsToUnconfiguredClient) {
  Fixture f;
  auto ack = f.Dora(Request(MessageType::kDiscover));
  ASSERT_EQ(ack.verdict, Verdict::kReply);
  EXPECT_EQ(ack.reply->msg.Type(), MessageType::kAck);
  EXPECT_EQ(ack.reply->msg.yiaddr, Ip("10.66.0.100"));
  ASSERT_EQ(ack.writes.size(), 1u);
  EXPECT_EQ(ack.writes[0].ip, Ip("10.66.0.100"));
  EXPECT_EQ(ack.writes[0].expires_unix, kNow + 3600);
  EXPECT_TRUE(ack.reply->to_unconfigured_client);
  EXPECT_EQ(ack.reply->dest, Ip("10.66.0.100"));
  EXPECT_EQ(ack.observation->message_type, MessageType::kRequest);
}

TEST(dhcp_responder, RequestForAnotherServerIsIgnored) {
  Fixture f;
  auto req = Request(MessageType::kRequest);
  req.SetIpv4(opt::kRequestedIp, Ip("10.66.0.150"));
  req.SetIpv4(opt::kServerId, Ip("10.66.0.254"));
  EXPECT_EQ(f.r.Handle(Local(req), kNow).verdict, Verdict::kIgnored);
}

TEST(dhcp_responder, InitRebootOnWrongNetworkIsNaked) {
  Fixture f;
  auto req = Request(MessageType::kRequest);
  req.SetIpv4(opt::kRequestedIp, Ip("192.168.1.50"));
  auto d = f.r.Handle(Local(req), kNow);
  ASSERT_EQ(d.verdict, Verdict::kReply);
  EXPECT_EQ(d.reply->msg.Type(), MessageType::kNak);
  EXPECT_EQ(d.reply->dest, Ip("255.255.255.255"));
  EXPECT_TRUE(d.reply->msg.yiaddr.IsUnspecified());
  EXPECT_TRUE(d.writes.empty());
}

TEST(dhcp_responder, InitRebootOfAnotherClientsAddressIsNaked) {
  Fixture f;
  f.Dora(Request(MessageType::kDiscover, "02:00:00:00:00:01"));
  auto req = Request(MessageType::kRequest, "02:00:00:00:00:02");
  req.SetIpv4(opt::kRequestedIp, Ip("10.66.0.100"));
  EXPECT_EQ(f.r.Handle(Local(req), kNow).reply->msg.Type(), MessageType::kNak);
}

TEST(dhcp_responder, RenewingClientIsAnsweredByUnicast) {
  Fixture f;
  f.Dora(Request(MessageType::kDiscover));
  auto renew = Request(MessageType::kRequest);
  renew.ciaddr = Ip("10.66.0.100");
  auto in = Local(renew);
  in.source = renew.ciaddr;
  auto d = f.r.Handle(in, kNow + 1800);
  ASSERT_EQ(d.reply->msg.Type(), MessageType::kAck);
  EXPECT_EQ(d.reply->dest, Ip("10.66.0.100"));
  EXPECT_FALSE(d.reply->to_unconfigured_client);
  EXPECT_EQ(d.reply->msg.ciaddr, Ip("10.66.0.100"));
  EXPECT_EQ(d.writes.at(0).expires_unix, kNow + 1800 + 3600);
}

TEST(dhcp_responder, RelayedRequestsUseGiaddrSubnetAndGoBackToTheRelay) {
  Fixture f;
  auto d = Request(MessageType::kDiscover);
  d.giaddr = Ip("10.77.0.1");
  d.Set(opt::kRelayAgentInfo, {1, 4, 'e', 't', 'h', '0'});
  d.Set(opt::kParameterRequestList, {3});
  auto out = f.r.Handle(Local(d), kNow);
  ASSERT_EQ(out.verdict, Verdict::kReply);
  EXPECT_EQ(out.reply->msg.yiaddr, Ip("10.77.0.10"));
  EXPECT_EQ(out.reply->msg.giaddr, Ip("10.77.0.1"));
  EXPECT_EQ(out.reply->dest, Ip("10.77.0.1"));
  EXPECT_EQ(out.reply->port, 67);
  EXPECT_EQ(out.reply->msg.GetU32(opt::kLeaseTime), 600u);
  EXPECT_EQ(out.reply->msg.options.back().code, opt::kRelayAgentInfo) << "82 echoed last";
  EXPECT_EQ(out.reply->msg.options.back().data, (std::vector<std::uint8_t>{1, 4, 'e', 't', 'h', '0'}));

  d.giaddr = Ip("172.16.0.1");  // a relay for a subnet we do not serve
  EXPECT_EQ(f.r.Handle(Local(d), kNow).verdict, Verdict::kNoPool);
}

TEST(dhcp_responder, OneMachineKeepsOneAddressAcrossFirmwareIpxeAndInstaller) {
  Fixture f;
  const char* mac = "52:54:00:aa:bb:cc";
  auto firmware = Request(MessageType::kDiscover, mac, 1);
  MakePxe(firmware, 7);
  firmware.Set(opt::kClientMachineId, std::vector<std::uint8_t>(17, 1));
  auto ipxe = Request(MessageType::kDiscover, mac, 2);
  MakePxe(ipxe, 7);
  ipxe.SetString(opt::kUserClass, "iPXE");
  ipxe.Set(opt::kClientId, {1, 0x52, 0x54, 0, 0xaa, 0xbb, 0xcc});
  auto installer = Request(MessageType::kDiscover, mac, 3);
  installer.Set(opt::kClientId, {0xff, 1, 2, 3, 4, 0, 1, 0, 1, 9, 9});

  auto a1 = f.Dora(firmware);
  auto a2 = f.Dora(ipxe);
  auto a3 = f.Dora(installer);
  EXPECT_EQ(a1.reply->msg.file, "snponly.efi");
  EXPECT_EQ(a2.reply->msg.GetString(opt::kBootfileName), "http://10.66.0.1:8080/boot.ipxe");
  EXPECT_TRUE(a3.reply->msg.file.empty());
  EXPECT_EQ(a1.reply->msg.yiaddr, a2.reply->msg.yiaddr);
  EXPECT_EQ(a2.reply->msg.yiaddr, a3.reply->msg.yiaddr);
  EXPECT_EQ(a3.writes.at(0).client_id, "ff01020304000100010909");
}

TEST(dhcp_responder, PxeOfferCarriesBootServerAndFile) {
  Fixture f;
  auto d = Request(MessageType::kDiscover);
  MakePxe(d, 0);
  auto out = f.r.Handle(Local(d), kNow);
  const auto& m = out.reply->msg;
  EXPECT_EQ(m.siaddr, Ip("10.66.0.1"));
  EXPECT_EQ(m.file, "undionly.kpxe");
  EXPECT_EQ(m.GetString(opt::kVendorClass), "PXEClient");
  EXPECT_EQ(m.GetString(opt::kTftpServerName), "10.66.0.1");
}

TEST(dhcp_responder, StaticAddressFromInventory) {
  Fixture f;
  auto ack = f.Dora(Request(MessageType::kDiscover, "52:54:00:00:00:11"));
  EXPECT_EQ(ack.reply->msg.yiaddr, Ip("10.66.0.11"));
  EXPECT_EQ(ack.reply->msg.Type(), MessageType::kAck);
}

TEST(dhcp_responder, IgnorePolicyGivesAddressButNoBootFileInFullMode) {
  Fixture f;
  f.config->boot.unknown_machines = UnknownMachinePolicy::kIgnore;
  auto unknown = Request(MessageType::kDiscover, "52:54:00:99:99:99");
  MakePxe(unknown, 7);
  auto out = f.r.Handle(Local(unknown), kNow);
  ASSERT_EQ(out.verdict, Verdict::kReply);
  EXPECT_FALSE(out.reply->msg.yiaddr.IsUnspecified());
  EXPECT_TRUE(out.reply->msg.file.empty());
  auto known = Request(MessageType::kDiscover, "52:54:00:00:00:22");
  MakePxe(known, 7);
  EXPECT_EQ(f.r.Handle(Local(known), kNow).reply->msg.file, "snponly.efi");
}

TEST(dhcp_responder, DeclineQuarantinesAndReleaseFrees) {
  Fixture f;
  f.Dora(Request(MessageType::kDiscover));
  auto decline = Request(MessageType::kDecline);
  decline.SetIpv4(opt::kRequestedIp, Ip("10.66.0.100"));
  decline.SetIpv4(opt::kServerId, Ip("10.66.0.1"));
  auto d = f.r.Handle(Local(decline), kNow);
  EXPECT_EQ(d.verdict, Verdict::kNoReply);
  ASSERT_EQ(d.writes.size(), 1u);
  EXPECT_EQ(d.writes[0].kind, LeaseRecord::Kind::kDeclined);
  auto again = f.Dora(Request(MessageType::kDiscover));
  EXPECT_EQ(again.reply->msg.yiaddr, Ip("10.66.0.101"));

  auto release = Request(MessageType::kRelease);
  release.ciaddr = Ip("10.66.0.101");
  release.SetIpv4(opt::kServerId, Ip("10.66.0.1"));
  auto r = f.r.Handle(Local(release), kNow);
  EXPECT_EQ(r.verdict, Verdict::kNoReply);
  EXPECT_EQ(r.writes.at(0).kind, LeaseRecord::Kind::kReleased);
}

TEST(dhcp_responder, InformGetsConfigurationWithoutLease) {
  Fixture f;
  auto inform = Request(MessageType::kInform);
  inform.ciaddr = Ip("10.66.0.50");
  auto d = f.r.Handle(Local(inform), kNow);
  ASSERT_EQ(d.verdict, Verdict::kReply);
  EXPECT_EQ(d.reply->msg.Type(), MessageType::kAck);
  EXPECT_TRUE(d.reply->msg.yiaddr.IsUnspecified());
  EXPECT_FALSE(d.reply->msg.Has(opt::kLeaseTime));
  EXPECT_TRUE(d.reply->msg.Has(opt::kRouter));
  EXPECT_EQ(d.reply->dest, Ip("10.66.0.50"));
  EXPECT_TRUE(d.writes.empty());
}

TEST(dhcp_responder, ProxyAnswersOnlyBootClientsWithoutAddress) {
  Fixture f(DhcpMode::kProxy);
  auto plain = Request(MessageType::kDiscover);
  EXPECT_EQ(f.r.Handle(Local(plain), kNow).verdict, Verdict::kIgnored);
  auto req = Request(MessageType::kRequest);
  req.SetIpv4(opt::kRequestedIp, Ip("10.66.0.150"));
  MakePxe(req, 7);
  req.SetIpv4(opt::kServerId, Ip("10.66.0.254"));
  EXPECT_EQ(f.r.Handle(Local(req), kNow).verdict, Verdict::kIgnored) << "the address server's business";

  auto pxe = Request(MessageType::kDiscover);
  MakePxe(pxe, 7);
  pxe.flags = kBroadcastFlag;
  auto d = f.r.Handle(Local(pxe), kNow);
  ASSERT_EQ(d.verdict, Verdict::kReply);
  EXPECT_EQ(d.reply->msg.Type(), MessageType::kOffer);
  EXPECT_TRUE(d.reply->msg.yiaddr.IsUnspecified());
  EXPECT_EQ(d.reply->msg.siaddr, Ip("10.66.0.1"));
  EXPECT_EQ(d.reply->msg.file, "snponly.efi");
  EXPECT_EQ(d.reply->msg.GetString(opt::kVendorClass), "PXEClient");
  EXPECT_FALSE(d.reply->msg.Has(opt::kLeaseTime));
  EXPECT_TRUE(d.writes.empty());
}

TEST(dhcp_responder, ProxyBootServerPortAcksToTheAskingAddress) {
  Fixture f(DhcpMode::kProxy);
  auto req = Request(MessageType::kRequest);
  MakePxe(req, 7);
  req.ciaddr = Ip("10.66.0.150");
  auto in = Local(req);
  in.boot_server_port = true;
  in.source = Ip("10.66.0.150");
  in.source_port = 68;
  auto d = f.r.Handle(in, kNow);
  ASSERT_EQ(d.verdict, Verdict::kReply);
  EXPECT_EQ(d.reply->msg.Type(), MessageType::kAck);
  EXPECT_EQ(d.reply->msg.file, "snponly.efi");
  EXPECT_EQ(d.reply->dest, Ip("10.66.0.150"));
  EXPECT_EQ(d.reply->port, 68);
}

TEST(dhcp_responder, ProxyIgnorePolicySaysNothingAndPort67CanBeOff) {
  Fixture f(DhcpMode::kProxy);
  f.config->boot.unknown_machines = UnknownMachinePolicy::kIgnore;
  auto pxe = Request(MessageType::kDiscover, "52:54:00:99:99:99");
  MakePxe(pxe, 7);
  EXPECT_EQ(f.r.Handle(Local(pxe), kNow).verdict, Verdict::kIgnored);

  Fixture g(DhcpMode::kProxy);
  g.config->dhcp.proxy_port67 = false;
  EXPECT_EQ(g.r.Handle(Local(pxe), kNow).verdict, Verdict::kIgnored);
}

TEST(dhcp_responder, HttpBootClientGetsUrlAndHttpClientVendor) {
  Fixture f;
  auto d = Request(MessageType::kDiscover);
  d.SetString(opt::kVendorClass, "HTTPClient:Arch:00016:UNDI:003001");
  d.SetU16(opt::kClientArch, 16);
  auto out = f.r.Handle(Local(d), kNow);
  EXPECT_EQ(out.reply->msg.GetString(opt::kVendorClass), "HTTPClient");
  EXPECT_EQ(out.reply->msg.file, "http://10.66.0.1:8080/assets/snponly.efi");
  EXPECT_FALSE(out.reply->msg.Has(opt::kTftpServerName));
}

TEST(dhcp_responder, RepliesAndBootpAreNotAnswered) {
  Fixture f;
  auto offer = Request(MessageType::kOffer);
  EXPECT_EQ(f.r.Handle(Local(offer), kNow).verdict, Verdict::kIgnored);
  auto bootp = Request(MessageType::kDiscover);
  bootp.Remove(opt::kMessageType);
  EXPECT_EQ(f.r.Handle(Local(bootp), kNow).verdict, Verdict::kIgnored);
}


TEST(dhcp_responder, UnboundAddressIsProbedAndOneInUseIsSkippedAndQuarantined) {
  Fixture f;
  f.r.SetProbeRoom(ProbeRoom::kAvailable);
  auto d = Request(MessageType::kDiscover);
  auto first = f.r.Handle(Local(d), kNow);
  ASSERT_EQ(first.verdict, Verdict::kReply);
  ASSERT_TRUE(first.probe.has_value()) << "a never-leased address is probed before it is offered";
  EXPECT_EQ(first.probe->ip, Ip("10.66.0.100"));
  EXPECT_TRUE(first.probe->on_link) << "the pool's subnet is on the receiving interface: ARP";
  // A retransmission while the probe runs is not answered twice.
  EXPECT_EQ(f.r.Handle(Local(d), kNow).verdict, Verdict::kNoReply);
  // Someone answered: the address is skipped, quarantined, and the next one probed.
  EXPECT_FALSE(f.r.ProbeAnswered(d.Mac(), Ip("10.66.0.100"), true, kNow));
  EXPECT_EQ(f.r.leases().FindByIp(Ip("10.66.0.100"))->state, LeaseEntry::State::kDeclined);
  auto second = f.r.Handle(Local(d), kNow);
  ASSERT_TRUE(second.probe.has_value());
  EXPECT_EQ(second.probe->ip, Ip("10.66.0.101"));
  EXPECT_TRUE(f.r.ProbeAnswered(d.Mac(), Ip("10.66.0.101"), false, kNow)) << "nobody answered: the offer leaves";
  // The client's own offer is not probed again, and no write was asked for.
  auto again = f.r.Handle(Local(d), kNow);
  EXPECT_FALSE(again.probe.has_value());
  EXPECT_EQ(again.reply->msg.yiaddr, Ip("10.66.0.101"));
  EXPECT_TRUE(again.writes.empty());
}

TEST(dhcp_responder, RelayedSubnetIsProbedByEchoAndNoRoomMeansOfferedUnprobed) {
  Fixture f;  // 10.77.0.0/24 is served through a relay
  auto& r = f.r;
  r.SetProbeRoom(ProbeRoom::kAvailable);
  auto d = Request(MessageType::kDiscover);
  d.giaddr = Ip("10.77.0.1");
  auto out = r.Handle(Local(d), kNow);
  ASSERT_TRUE(out.probe.has_value());
  EXPECT_EQ(out.probe->ip, Ip("10.77.0.10"));
  EXPECT_FALSE(out.probe->on_link) << "not our link: ICMP echo";
  r.SetProbeRoom(ProbeRoom::kFull);
  auto other = Request(MessageType::kDiscover, "52:54:00:12:34:99");
  auto unprobed = r.Handle(Local(other), kNow);
  EXPECT_FALSE(unprobed.probe.has_value());
  EXPECT_TRUE(unprobed.probe_skipped);
  EXPECT_EQ(unprobed.verdict, Verdict::kReply);
}

}  // namespace
}  // namespace metalpxe::dhcp
