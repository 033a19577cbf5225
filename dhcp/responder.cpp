#include "dhcp/responder.h"

#include <algorithm>


namespace metalpxe::dhcp {
namespace {

constexpr Ipv4Address kBroadcastAddress{0xffffffffu};

// RFC 2132 9.7/9.8: renew at 1/2, rebind at 7/8 of the lease.
std::uint32_t Seconds(std::chrono::seconds s) {
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(s.count(), 60, 0xfffffffe));
}

Decision VerdictOnly(Verdict v) {
  Decision d;
  d.verdict = v;
  return d;
}

}  // namespace

std::vector<LeasePool> PoolsFromConfig(const AppConfig& config) {
  std::vector<LeasePool> pools;
  for (const auto& s : config.dhcp.subnets) pools.push_back(LeasePool{s.subnet, s.pool});
  return pools;
}

DhcpResponder::DhcpResponder(std::shared_ptr<const AppConfig> config, const std::vector<LeaseRecord>& leases,
                             BootPolicy policy)
    : table_(PoolsFromConfig(*config)), policy_(std::move(policy)) {
  UpdateConfig(std::move(config));
  table_.Load(leases);
}

void DhcpResponder::UpdateConfig(std::shared_ptr<const AppConfig> config) {
  if (config == config_) return;
  config_ = std::move(config);
  std::unordered_map<MacAddress, Ipv4Address> reservations;
  if (config_->inventory) {
    for (const auto& m : config_->inventory->machines)
      for (const auto& mac : m.macs)
        if (m.ip) reservations[mac] = *m.ip;
  }
  table_.SetReservations(std::move(reservations));
}

std::optional<LoaderAnswer> DhcpResponder::BootFor(const DhcpMessage& req, const ClientInfo& info) {
  if (info.client.stage == BootStage::kOs || !policy_) return std::nullopt;
  last_boot_ = policy_(info.client, req.Mac());
  return last_boot_.answer;
}

Decision DhcpResponder::Handle(const Inbound& in, std::int64_t now) {
  Decision d;
  const auto& req = in.msg;
  auto type = req.Type();
  if (req.op != 1 || !type || req.hlen != 6) return d;  // replies, BOOTP and non-Ethernet are not ours
  if (*type == MessageType::kOffer || *type == MessageType::kAck || *type == MessageType::kNak) return d;
  const ClientInfo info = ClassifyClient(req);
  last_boot_ = {};

  DhcpObservation obs;
  obs.mac = req.Mac();
  if (const auto* e = table_.FindByMac(obs.mac); e != nullptr && e->state == LeaseEntry::State::kActive)
    obs.leased_ip = e->ip;
  obs.vendor_class = info.vendor_class;
  obs.client = info.client;
  obs.uuid = info.uuid;
  obs.message_type = *type;

  if (in.boot_server_port) {
    d = HandleBootServer(in, info, *type);
    obs.proxy = true;
  } else if (config_->dhcp.mode == DhcpMode::kFull) {
    d = HandleFull(in, info, *type, now);
  } else if (config_->dhcp.mode == DhcpMode::kProxy) {
    d = HandleProxy(in, info, *type);
    obs.proxy = true;
  }
  if (d.reply) {
    obs.reply_type = d.reply->msg.Type();
    obs.offered = d.reply->msg.yiaddr;
  }
  if (last_boot_.answer) obs.boot_file = last_boot_.answer->boot_file;
  obs.boot_why = std::move(last_boot_.why);
  d.observation = std::move(obs);
  return d;
}

std::optional<std::size_t> DhcpResponder::ChoosePool(const Inbound& in) const {
  const auto& req = in.msg;
  // A relay's giaddr names the client's subnet; otherwise the receiving
  // interface does; a renewing client's own address is the last resort.
  if (!req.giaddr.IsUnspecified()) return table_.PoolFor(req.giaddr);
  for (const auto& a : in.local_addresses)
    if (auto p = table_.PoolFor(a)) return p;
  if (!req.ciaddr.IsUnspecified())
    if (auto p = table_.PoolFor(req.ciaddr)) return p;
  if (auto p = table_.PoolFor(config_->server.address)) return p;
  if (table_.pool_count() == 1) return 0;
  return std::nullopt;
}

std::optional<Ipv4Cidr> DhcpResponder::SubnetOf(const Inbound& in) const {
  const auto p = ChoosePool(in);
  if (!p) return std::nullopt;
  return table_.pool(*p).subnet;
}

DhcpMessage DhcpResponder::BaseReply(const DhcpMessage& req, MessageType type) const {
  DhcpMessage r;
  r.op = 2;
  r.htype = req.htype;
  r.hlen = req.hlen;
  r.xid = req.xid;
  r.flags = req.flags;
  r.giaddr = req.giaddr;
  r.chaddr = req.chaddr;
  r.SetU8(opt::kMessageType, static_cast<std::uint8_t>(type));
  r.SetIpv4(opt::kServerId, config_->server.address);
  return r;
}

void DhcpResponder::AddSubnetOptions(DhcpMessage& r, const SubnetConfig& s, bool with_lease) const {
  if (with_lease) {
    const std::uint32_t t = Seconds(s.lease_time);
    r.SetU32(opt::kLeaseTime, t);
    r.SetU32(opt::kRenewalTime, t / 2);
    r.SetU32(opt::kRebindingTime, static_cast<std::uint32_t>(std::uint64_t(t) * 7 / 8));
  }
  r.SetIpv4(opt::kSubnetMask, s.subnet.Netmask());
  if (s.router) r.SetIpv4List(opt::kRouter, {*s.router});
  if (!s.dns.empty()) r.SetIpv4List(opt::kDns, s.dns);
  if (!s.domain.empty()) r.SetString(opt::kDomainName, s.domain);
  r.SetIpv4(opt::kBroadcast, s.subnet.Broadcast());
}

void DhcpResponder::AddBootOptions(DhcpMessage& r, const ClientInfo& info, const LoaderAnswer& boot) const {
  r.siaddr = config_->server.address;
  if (boot.boot_file.size() < 128) r.file = boot.boot_file;
  r.SetString(opt::kBootfileName, boot.boot_file);
  if (!boot.http_client) r.SetString(opt::kTftpServerName, config_->server.address.ToString());
  // PXE firmware only takes offers that name themselves PXEClient; UEFI HTTP
  // boot wants HTTPClient back (UEFI 2.x, 24.7.3).
  if (boot.http_client)
    r.SetString(opt::kVendorClass, "HTTPClient");
  else if (info.vendor_class.rfind("PXEClient", 0) == 0)
    r.SetString(opt::kVendorClass, "PXEClient");
}

// Orders options as the client asked (55), after 53 and 54, and echoes the
// relay agent information (82) unchanged as the last option (RFC 3046 2.2).
void DhcpResponder::Finish(DhcpMessage& r, const DhcpMessage& req) const {
  std::vector<DhcpOption> ordered;
  ordered.reserve(r.options.size() + 1);
  auto take = [&](std::uint8_t code) {
    auto it = std::find_if(r.options.begin(), r.options.end(), [&](const DhcpOption& o) { return o.code == code; });
    if (it != r.options.end() && it->code != opt::kPad) {
      ordered.push_back(std::move(*it));
      it->code = opt::kPad;  // taken
    }
  };
  take(opt::kMessageType);
  take(opt::kServerId);
  if (const auto* prl = req.Find(opt::kParameterRequestList))
    for (auto code : prl->data) take(code);
  for (auto& o : r.options)
    if (o.code != opt::kPad) ordered.push_back(std::move(o));
  if (const auto* rai = req.Find(opt::kRelayAgentInfo)) ordered.push_back(*rai);
  r.options = std::move(ordered);
}

// RFC 2131 4.1: relay first, then a configured client, then broadcast or a
// unicast to the new address as the client's broadcast bit asks.
Outbound DhcpResponder::Address(const Inbound& in, DhcpMessage reply, bool nak) const {
  Outbound out;
  out.ifindex = in.ifindex;
  const auto& req = in.msg;
  if (!req.giaddr.IsUnspecified()) {
    out.dest = req.giaddr;
    out.port = kServerPort;
    if (nak) reply.flags |= kBroadcastFlag;
  } else if (nak) {
    out.dest = kBroadcastAddress;
  } else if (!req.ciaddr.IsUnspecified()) {
    out.dest = req.ciaddr;
  } else if (req.Broadcast() || reply.yiaddr.IsUnspecified()) {
    out.dest = kBroadcastAddress;
  } else {
    out.dest = reply.yiaddr;
    out.to_unconfigured_client = true;
  }
  out.msg = std::move(reply);
  return out;
}

Decision DhcpResponder::Nak(const Inbound& in, const char* why) {
  DhcpMessage r = BaseReply(in.msg, MessageType::kNak);
  r.SetString(opt::kMessage, why);
  Finish(r, in.msg);
  Decision d;
  d.verdict = Verdict::kReply;
  d.reply = Address(in, std::move(r), true);
  return d;
}

Decision DhcpResponder::HandleFull(const Inbound& in, const ClientInfo& info, MessageType type, std::int64_t now) {
  Decision d;
  const auto& req = in.msg;
  const MacAddress mac = req.Mac();
  const auto server_id = req.GetIpv4(opt::kServerId);
  const bool for_us = !server_id || *server_id == config_->server.address;

  switch (type) {
    case MessageType::kDiscover: {
      auto p = ChoosePool(in);
      if (!p) return VerdictOnly(Verdict::kNoPool);
      // A retransmission while this client's offer waits for its probe: the
      // probe's answer sends that offer.
      if (const auto* cur = table_.FindByMac(mac); cur != nullptr && cur->probing)
        return VerdictOnly(Verdict::kNoReply);
      bool unbound = false;
      auto ip = table_.Offer(*p, mac, req.GetIpv4(opt::kRequestedIp), now, kOfferHoldSeconds, &unbound);
      if (!ip) return VerdictOnly(Verdict::kNoPool);
      if (unbound && probe_room_ == ProbeRoom::kAvailable) {
        bool on_link = false;
        for (const auto& a : in.local_addresses) on_link = on_link || table_.pool(*p).subnet.Contains(a);
        table_.SetProbing(*ip, true);
        d.probe = ProbeRequest{*ip, on_link};
      } else if (unbound && probe_room_ == ProbeRoom::kFull) {
        d.probe_skipped = true;
      }
      DhcpMessage r = BaseReply(req, MessageType::kOffer);
      r.yiaddr = *ip;
      AddSubnetOptions(r, config_->dhcp.subnets[*p], true);
      if (auto boot = BootFor(req, info)) AddBootOptions(r, info, *boot);
      Finish(r, req);
      d.verdict = Verdict::kReply;
      d.reply = Address(in, std::move(r), false);
      return d;
    }
    case MessageType::kRequest: {
      if (!for_us) return d;  // the client took another server's offer
      std::optional<Ipv4Address> ip = req.GetIpv4(opt::kRequestedIp);
      if (!ip && !req.ciaddr.IsUnspecified()) ip = req.ciaddr;  // renewing / rebinding
      if (!ip) return d;
      auto p = ChoosePool(in);
      if (!p) {
        // Init-reboot on a network we do not serve: wrong network (RFC 2131 4.3.2).
        return server_id ? VerdictOnly(Verdict::kNoPool) : Nak(in, "wrong network");
      }
      if (!table_.MayLease(*p, mac, *ip, now)) return Nak(in, "address not available");
      const auto& subnet = config_->dhcp.subnets[*p];
      std::string client_id;
      if (const auto* cid = req.Find(opt::kClientId)) client_id = HexString(cid->data);
      std::string hostname(req.GetString(opt::kHostname).value_or(""));
      auto previous = table_.Commit(mac, *ip, client_id, hostname, now + subnet.lease_time.count());
      if (previous)
        if (const auto* old = table_.FindByIp(*previous)) d.writes.push_back(LeaseTable::ToRecord(*old));
      d.writes.push_back(LeaseTable::ToRecord(*table_.FindByIp(*ip)));
      DhcpMessage r = BaseReply(req, MessageType::kAck);
      r.ciaddr = req.ciaddr;
      r.yiaddr = *ip;
      AddSubnetOptions(r, subnet, true);
      if (auto boot = BootFor(req, info)) AddBootOptions(r, info, *boot);
      Finish(r, req);
      d.verdict = Verdict::kReply;
      d.reply = Address(in, std::move(r), false);
      return d;
    }
    case MessageType::kDecline: {
      auto ip = req.GetIpv4(opt::kRequestedIp);
      if (!for_us || !ip || !table_.Decline(mac, *ip, now + kDeclineQuarantineSeconds)) return d;
      d.verdict = Verdict::kNoReply;
      d.writes.push_back(LeaseTable::ToRecord(*table_.FindByIp(*ip)));
      return d;
    }
    case MessageType::kRelease: {
      if (!for_us || !table_.Release(mac, req.ciaddr, now)) return d;
      d.verdict = Verdict::kNoReply;
      d.writes.push_back(LeaseTable::ToRecord(*table_.FindByIp(req.ciaddr)));
      return d;
    }
    case MessageType::kInform: {
      // RFC 2131 4.3.5: configuration only, no lease, unicast to ciaddr.
      auto p = ChoosePool(in);
      DhcpMessage r = BaseReply(req, MessageType::kAck);
      r.ciaddr = req.ciaddr;
      if (p) AddSubnetOptions(r, config_->dhcp.subnets[*p], false);
      if (auto boot = BootFor(req, info)) AddBootOptions(r, info, *boot);
      Finish(r, req);
      d.verdict = Verdict::kReply;
      d.reply = Address(in, std::move(r), false);
      if (req.ciaddr.IsUnspecified() && !in.source.IsUnspecified() && req.giaddr.IsUnspecified())
        d.reply->dest = in.source;
      return d;
    }
    default: return d;
  }
}

bool DhcpResponder::ProbeAnswered(const MacAddress& mac, Ipv4Address ip, bool in_use, std::int64_t now) {
  const LeaseEntry* e = table_.FindByIp(ip);
  const bool held = e != nullptr && e->mac == mac && e->state == LeaseEntry::State::kOffered;
  if (!held) return false;
  if (in_use) {
    table_.MarkInUse(mac, ip, now + kDeclineQuarantineSeconds);
    return false;
  }
  table_.SetProbing(ip, false);
  return true;
}

// ProxyDHCP on port 67: answer DISCOVERs of boot clients with an offer that
// carries no address, only the boot server and file (PXE 2.1, 2.2.5).
Decision DhcpResponder::HandleProxy(const Inbound& in, const ClientInfo& info, MessageType type) {
  Decision d;
  const auto& req = in.msg;
  if (!config_->dhcp.proxy_port67) return d;
  const auto server_id = req.GetIpv4(opt::kServerId);
  const bool discover = type == MessageType::kDiscover;
  const bool request_to_us = type == MessageType::kRequest && server_id && *server_id == config_->server.address;
  if (!discover && !request_to_us) return d;
  auto boot = BootFor(req, info);
  if (!boot) return d;
  DhcpMessage r = BaseReply(req, discover ? MessageType::kOffer : MessageType::kAck);
  AddBootOptions(r, info, *boot);
  if (boot->http_client == false) r.SetString(opt::kVendorClass, "PXEClient");
  Finish(r, req);
  d.verdict = Verdict::kReply;
  d.reply = Address(in, std::move(r), false);
  return d;
}

// The boot server on port 4011: the client already has its address and asks
// only for the boot file; reply to where it asked from.
Decision DhcpResponder::HandleBootServer(const Inbound& in, const ClientInfo& info, MessageType type) {
  Decision d;
  const auto& req = in.msg;
  if (type != MessageType::kRequest && type != MessageType::kInform && type != MessageType::kDiscover) return d;
  auto boot = BootFor(req, info);
  if (!boot) return d;
  DhcpMessage r = BaseReply(req, MessageType::kAck);
  r.ciaddr = req.ciaddr;
  AddBootOptions(r, info, *boot);
  if (boot->http_client == false) r.SetString(opt::kVendorClass, "PXEClient");
  Finish(r, req);
  Outbound out;
  out.ifindex = in.ifindex;
  if (!req.giaddr.IsUnspecified()) {
    out.dest = req.giaddr;
    out.port = kServerPort;
  } else if (!in.source.IsUnspecified()) {
    out.dest = in.source;
    out.port = in.source_port;
  } else {
    out.dest = Ipv4Address{0xffffffffu};
  }
  out.msg = std::move(r);
  d.verdict = Verdict::kReply;
  d.reply = std::move(out);
  return d;
}

}  // namespace metalpxe::dhcp
