#include "dhcp/v6/responder6.h"

#include <algorithm>
#include <functional>

#include "core/hex.h"

namespace metalpxe::dhcp6 {
namespace {

std::string ClientKey6(const std::optional<MacAddress>& mac, const std::vector<std::uint8_t>& duid) {
  return mac ? "mac:" + mac->ToString() : "duid:" + HexLower(duid);
}

std::uint32_t ClampLifetime6(std::int64_t v) {
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(v, 0, 0xffffffffLL));
}

}  // namespace

std::optional<MacAddress> ClientMac6(const Message6& msg, const Ipv6Address& source) {
  if (auto mac = MacFromDuid(msg.ClientId())) return mac;
  return MacFromLinkLocal(source);
}

BootClient ClassifyClient6(const Message6& msg) {
  std::optional<std::uint16_t> arch;
  if (auto archs = msg.ClientArchTypes(); !archs.empty()) arch = archs.front();
  std::string vendor;
  if (auto vc = msg.GetVendorClass(); vc && vc->enterprise == kEnterpriseIntel && !vc->data.empty())
    vendor = vc->data.front();
  bool ipxe = false;
  for (const auto& uc : msg.UserClasses())
    if (uc == "iPXE") ipxe = true;
  BootClient c = BootClientFromDhcp(arch, vendor, ipxe);
  c.family = IpFamily::kIpv6;
  return c;
}

Dhcp6Responder::Dhcp6Responder(std::shared_ptr<const AppConfig> config, dhcp::BootPolicy policy,
                               std::vector<std::uint8_t> server_duid)
    : config_(std::move(config)), policy_(std::move(policy)), server_duid_(std::move(server_duid)) {}

const Subnet6Config* Dhcp6Responder::SubnetFor(const Inbound6& in) const {
  const auto& subnets = config_->dhcp6.subnets;
  for (const auto& s : subnets)
    for (const auto& local : in.local_addresses)
      if (s.subnet.Contains(local)) return &s;
  // One served subnet and no global address on the interface yet (the
  // router's prefix may not be configured on it): that subnet.
  return subnets.size() == 1 ? &subnets.front() : nullptr;
}

bool Dhcp6Responder::FreeFor(const Ipv6Address& a, const std::string& key, std::int64_t now) const {
  auto it = by_address_.find(a);
  if (it == by_address_.end()) return true;
  if (it->second == key) return true;
  const auto b = bindings_.find(it->second);
  return b == bindings_.end() || b->second.expires <= now;
}

std::optional<Ipv6Address> Dhcp6Responder::Choose(const Subnet6Config& subnet, const std::string& key,
                                                  const std::vector<Ipv6Address>& wanted, std::int64_t now) const {
  if (auto it = bindings_.find(key); it != bindings_.end() && !it->second.declined &&
                                     subnet.pool.Contains(it->second.address))
    return it->second.address;
  for (const auto& w : wanted)
    if (subnet.pool.Contains(w) && FreeFor(w, key, now)) return w;
  // Start where the key hashes to, so clients spread over the pool and one
  // client tends to get the same address back; walk at most past every
  // address in use (each takes one binding), so the walk is bounded.
  const std::uint64_t size = subnet.pool.Size();
  const std::uint64_t start = std::hash<std::string>{}(key) % size;
  const std::uint64_t steps = std::min<std::uint64_t>(size, by_address_.size() + 1);
  for (std::uint64_t i = 0; i < steps; ++i) {
    const Ipv6Address a = subnet.pool.At((start + i) % size);
    if (FreeFor(a, key, now)) return a;
  }
  return std::nullopt;
}

void Dhcp6Responder::Bind(const std::string& key, const Ipv6Address& a, const Message6& req, std::uint32_t iaid,
                          std::int64_t expires) {
  // The address may still name an expired binding of another client: that one goes.
  if (auto it = by_address_.find(a); it != by_address_.end() && it->second != key) {
    if (auto old = bindings_.find(it->second); old != bindings_.end() && old->second.address == a)
      bindings_.erase(old);
    by_address_.erase(it);
  }
  if (auto it = bindings_.find(key); it != bindings_.end() && it->second.address != a)
    by_address_.erase(it->second.address);
  bindings_[key] = Binding{a, req.ClientId(), iaid, expires, false};
  by_address_[a] = key;
}

Message6 Dhcp6Responder::BaseReply(const Message6& req, MsgType type) const {
  Message6 r;
  r.type = type;
  r.xid = req.xid;
  r.Add(opt6::kServerId, server_duid_);
  if (const auto* cid = req.Find(opt6::kClientId)) r.Add(opt6::kClientId, cid->data);
  return r;
}

void Dhcp6Responder::AddBootAndInfo(Message6& reply, Observation6& obs,
                                    const std::optional<MacAddress>& mac, const Subnet6Config* subnet) {
  if (subnet && !subnet->dns.empty()) reply.Add(opt6::kDnsServers, EncodeAddressList(subnet->dns));
  if (obs.client.stage == BootStage::kOs) return;
  if (!mac) {
    obs.why = "no MAC in the DUID or the link-local address: no per-machine boot decision";
    return;
  }
  if (!policy_) return;
  const LoaderChoice choice = policy_(obs.client, *mac);
  obs.why = choice.why;
  if (!choice.answer) return;
  obs.boot_file = choice.answer->boot_file;
  reply.Add(opt6::kBootfileUrl, std::vector<std::uint8_t>(obs.boot_file.begin(), obs.boot_file.end()));
  // UEFI HTTP boot looks for its own vendor class in the answer (UEFI 2.x
  // §24.7: "HTTPClient"); PXE clients are told nothing extra.
  if (choice.answer->http_client) reply.Add(opt6::kVendorClass, EncodeVendorClass({kEnterpriseIntel, {"HTTPClient"}}));
}

Decision6 Dhcp6Responder::Handle(const Inbound6& in, std::int64_t now) {
  Decision6 d;
  const Message6& req = in.msg;
  Observation6& obs = d.observation;
  obs.received = req.type;
  switch (req.type) {
    case MsgType::kAdvertise:
    case MsgType::kReply:
    case MsgType::kReconfigure:
      obs.why = "not a client message";
      return d;
    default: break;
  }
  const DhcpMode mode = config_->dhcp6.mode;
  if (mode == DhcpMode::kOff) return d;
  const std::vector<std::uint8_t> client_id = req.ClientId();
  const std::vector<std::uint8_t> server_id = req.ServerId();
  // RFC 8415 §16: every message but Information-request names its client.
  if (client_id.empty() && req.type != MsgType::kInformationRequest) {
    obs.why = "no client identifier";
    return d;
  }
  const bool to_us = !server_id.empty() && server_id == server_duid_;
  const bool to_other = !server_id.empty() && !to_us;
  obs.mac = ClientMac6(req, in.source);
  obs.client = ClassifyClient6(req);
  obs.uuid = UuidFromDuid(client_id);
  if (auto vc = req.GetVendorClass(); vc && !vc->data.empty()) obs.vendor_class = vc->data.front();
  const std::string key = ClientKey6(obs.mac, client_id);
  const Subnet6Config* subnet = SubnetFor(in);
  const bool full = mode == DhcpMode::kFull;

  auto lifetimes = [&](IaNa& ia) {
    const std::int64_t lease = subnet ? subnet->lease_time.count() : 3600;
    ia.t1 = ClampLifetime6(lease / 2);
    ia.t2 = ClampLifetime6(lease * 4 / 5);
    for (auto& a : ia.addresses) a.preferred = a.valid = ClampLifetime6(lease);
  };
  // The IA_NAs of an answer: the first gets the client's address, any
  // further one says NoAddrsAvail (one address per machine bounds the pool).
  auto answer_ias = [&](Message6& reply, bool commit) {
    const auto ias = req.IaNas();
    bool given = false;
    for (const auto& ia_req : ias) {
      IaNa ia{ia_req.iaid, 0, 0, {}, std::nullopt, ""};
      std::optional<Ipv6Address> a;
      if (!given && subnet) {
        std::vector<Ipv6Address> wanted;
        for (const auto& x : ia_req.addresses) wanted.push_back(x.address);
        a = Choose(*subnet, key, wanted, now);
      }
      if (a) {
        given = true;
        ia.addresses.push_back({*a, 0, 0, {}});
        lifetimes(ia);
        obs.address = *a;
        if (commit) {
          const std::int64_t until = now + (subnet ? subnet->lease_time.count() : 3600);
          Bind(key, *a, req, ia_req.iaid, until);
          obs.bound = true;
          obs.valid_until = until;
        }
      } else {
        ia.status = StatusCode::kNoAddrsAvail;
        ia.status_message = subnet ? "no address available" : "no subnet served on this link";
      }
      reply.Add(opt6::kIaNa, EncodeIaNa(ia));
    }
  };

  switch (req.type) {
    case MsgType::kSolicit: {
      if (to_us || to_other) return d;  // RFC 8415 §16.2: a Solicit names no server
      // Full mode holds nothing for an Advertise (a flood of Solicits takes
      // no address); the address is bound by the Request.
      Message6 r = BaseReply(req, MsgType::kAdvertise);
      if (full) answer_ias(r, false);
      AddBootAndInfo(r, obs, obs.mac, subnet);
      if (!full && !r.Has(opt6::kBootfileUrl)) return d;  // proxy: nothing to say
      d.reply = std::move(r);
      break;
    }
    case MsgType::kRequest: {
      if (!to_us) return d;  // the client chose another server
      Message6 r = BaseReply(req, MsgType::kReply);
      if (full) answer_ias(r, true);
      AddBootAndInfo(r, obs, obs.mac, subnet);
      d.reply = std::move(r);
      break;
    }
    case MsgType::kRenew:
    case MsgType::kRebind: {
      if (!full) return d;
      if (req.type == MsgType::kRenew ? !to_us : !server_id.empty()) return d;
      Message6 r = BaseReply(req, MsgType::kReply);
      for (const auto& ia_req : req.IaNas()) {
        IaNa ia{ia_req.iaid, 0, 0, {}, std::nullopt, ""};
        for (const auto& held : ia_req.addresses) {
          const auto it = bindings_.find(key);
          const bool ours = it != bindings_.end() && it->second.address == held.address && !it->second.declined;
          // After a restart (leases are in memory) a free pool address the
          // client still holds is bound to it again.
          const bool rebindable = subnet && subnet->pool.Contains(held.address) && FreeFor(held.address, key, now) &&
                                  (it == bindings_.end() || it->second.address == held.address);
          if ((ours || rebindable) && subnet != nullptr) {
            Bind(key, held.address, req, ia_req.iaid, now + subnet->lease_time.count());
            ia.addresses.push_back({held.address, 0, 0, {}});
            obs.address = held.address;
            obs.bound = true;
            obs.valid_until = now + subnet->lease_time.count();
          } else {
            ia.addresses.push_back({held.address, 0, 0, {}});  // lifetimes 0: stop using it (§18.3.4)
          }
        }
        if (!ia.addresses.empty() && obs.address) lifetimes(ia);
        if (ia.addresses.empty()) {
          if (req.type == MsgType::kRebind) continue;
          ia.status = StatusCode::kNoBinding;
          ia.status_message = "no binding for this IA";
        }
        // Addresses not ours keep lifetime 0 even when another was renewed.
        for (auto& a : ia.addresses)
          if (!obs.address || a.address != *obs.address) a.preferred = a.valid = 0;
        r.Add(opt6::kIaNa, EncodeIaNa(ia));
      }
      AddBootAndInfo(r, obs, obs.mac, subnet);
      d.reply = std::move(r);
      break;
    }
    case MsgType::kConfirm: {
      if (!full || to_us || to_other || subnet == nullptr) return d;
      bool any = false;
      bool on_link = true;
      for (const auto& ia : req.IaNas())
        for (const auto& a : ia.addresses) {
          any = true;
          if (!subnet->subnet.Contains(a.address)) on_link = false;
        }
      if (!any) return d;  // §18.3.3: nothing to confirm, no reply
      Message6 r = BaseReply(req, MsgType::kReply);
      r.Add(opt6::kStatusCode, on_link ? EncodeStatus(StatusCode::kSuccess, "on link")
                                       : EncodeStatus(StatusCode::kNotOnLink, "not on this link"));
      d.reply = std::move(r);
      break;
    }
    case MsgType::kRelease:
    case MsgType::kDecline: {
      if (!full || !to_us) return d;
      const bool decline = req.type == MsgType::kDecline;
      for (const auto& ia : req.IaNas())
        for (const auto& a : ia.addresses) {
          // Only the binding's own client may give it up.
          auto it = bindings_.find(key);
          if (it == bindings_.end() || it->second.address != a.address || it->second.declined) continue;
          obs.released = a.address;
          if (decline) {
            // Quarantined under a key of its own (no client owns it).
            by_address_.erase(a.address);
            bindings_.erase(it);
            const std::string q = "declined:" + a.address.ToString();
            bindings_[q] = Binding{a.address, {}, 0, now + kDeclineQuarantineSeconds, true};
            by_address_[a.address] = q;
          } else {
            by_address_.erase(a.address);
            bindings_.erase(it);
          }
        }
      Message6 r = BaseReply(req, MsgType::kReply);
      r.Add(opt6::kStatusCode, EncodeStatus(StatusCode::kSuccess, decline ? "declined" : "released"));
      d.reply = std::move(r);
      break;
    }
    case MsgType::kInformationRequest: {
      if (to_other) return d;
      Message6 r = BaseReply(req, MsgType::kReply);
      AddBootAndInfo(r, obs, obs.mac, subnet);
      d.reply = std::move(r);
      break;
    }
    default:
      return d;
  }
  // Expired declines leave quarantine lazily, bounded by the pool size anyway.
  if (d.reply) obs.replied = d.reply->type;
  return d;
}

}  // namespace metalpxe::dhcp6
