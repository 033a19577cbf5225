#include "etcd/etcd_store_codec.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/store/store_ops.h"
#include "core/hex.h"

namespace metalpxe::etcd {
namespace {

using nlohmann::json;

constexpr int kFormat = 1;  // bump when a field changes meaning; readers refuse newer

Status Bad(std::string_view what, const std::string& why) {
  return Status(ErrorCode::kDataLoss, "etcd store: bad " + std::string(what) + " value: " + why);
}

// Parses an object and checks the format version; fields are read with
// the typed getters below, which throw json::exception on a wrong type.
Result<json> ParseObject(std::string_view what, std::string_view value) {
  json j = json::parse(value.begin(), value.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Bad(what, "not JSON");
  if (!j.is_object()) return Bad(what, "not a JSON object");
  const auto v = j.find("v");
  if (v == j.end() || !v->is_number_integer()) return Bad(what, "no format version");
  if (v->get<std::int64_t>() != kFormat)
    return Bad(what, "format version " + v->dump() + " (this metalpxe reads " + std::to_string(kFormat) + ")");
  return j;
}

bool IsUtf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if ((c >> 5) == 0x6) {
      n = 1, cp = c & 0x1f;
    } else if ((c >> 4) == 0xe) {
      n = 2, cp = c & 0x0f;
    } else if ((c >> 3) == 0x1e) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 0x2) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += n + 1;
  }
  return true;
}

// Text from the wire (a DHCP hostname, a vendor class) may be any bytes; JSON
// strings hold only UTF-8. Such values go as hex under "<key>Hex", so every
// byte comes back.
void PutText(json& j, const char* key, const std::string& value) {
  if (IsUtf8(value)) {
    j[key] = value;
    return;
  }
  j[std::string(key) + "Hex"] = HexLower(value);
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string Str(const json& j, const char* key) {
  if (const auto it = j.find(key); it != j.end()) return it->get<std::string>();
  const auto hex = j.find(std::string(key) + "Hex");
  if (hex == j.end()) return "";
  const auto text = hex->get<std::string>();
  if (text.size() % 2 != 0) throw json::other_error::create(501, std::string(key) + "Hex has an odd length", nullptr);
  std::string out;
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int hi = HexDigit(text[i]), lo = HexDigit(text[i + 1]);
    if (hi < 0 || lo < 0) throw json::other_error::create(501, std::string(key) + "Hex is not hex", nullptr);
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}
std::int64_t Int(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end()) return 0;
  if (!it->is_number_integer()) throw json::type_error::create(302, std::string(key) + " is not an integer", nullptr);
  return it->get<std::int64_t>();
}

template <typename T, typename F>
Result<T> Decode(std::string_view what, std::string_view value, F fill) {
  auto j = ParseObject(what, value);
  if (!j.ok()) return j.status();
  try {
    T out{};
    if (auto st = fill(*j, out); !st.ok()) return st;
    return out;
  } catch (const json::exception& e) {
    return Bad(what, e.what());
  }
}

}  // namespace

std::string StoreKeys::Event(std::int64_t id) const {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%020lld", static_cast<long long>(id));
  return EventsPrefix() + digits;
}

namespace {
std::string ZeroPadded20(std::int64_t v) {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%020lld", static_cast<long long>(v));
  return digits;
}
std::optional<std::int64_t> Padded20After(const std::string& p, std::string_view key) {
  if (key.size() != p.size() + 20 || key.substr(0, p.size()) != p) return std::nullopt;
  std::int64_t id = 0;
  const auto digits = key.substr(p.size());
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc() || end != digits.data() + digits.size() || id < 0) return std::nullopt;
  return id;
}
}  // namespace

std::string StoreKeys::TimelineEntryKey(const MacAddress& mac, std::int64_t seq) const {
  return TimelinePrefix(mac) + ZeroPadded20(seq < 0 ? 0 : seq);
}

std::optional<std::int64_t> StoreKeys::TimelineSeq(const MacAddress& mac, std::string_view key) const {
  return Padded20After(TimelinePrefix(mac), key);
}

std::optional<std::int64_t> StoreKeys::EventId(std::string_view key) const {
  const std::string p = EventsPrefix();
  if (key.size() != p.size() + 20 || key.substr(0, p.size()) != p) return std::nullopt;
  std::int64_t id = 0;
  const auto digits = key.substr(p.size());
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc() || end != digits.data() + digits.size() || id < 0) return std::nullopt;
  return id;
}

std::string EncodeLease(const LeaseRecord& l) {
  json j = {{"v", kFormat},
            {"ip", l.ip.ToString()},
            {"mac", l.mac.ToString()},
            {"expires", l.expires_unix},
            {"kind", std::string(LeaseKindName(l.kind))}};
  PutText(j, "clientId", l.client_id);
  PutText(j, "hostname", l.hostname);
  return j.dump();
}

Result<LeaseRecord> DecodeLease(std::string_view value) {
  return Decode<LeaseRecord>("lease", value, [](const json& j, LeaseRecord& l) {
    auto ip = Ipv4Address::Parse(Str(j, "ip"));
    if (!ip) return Bad("lease", "ip '" + Str(j, "ip") + "'");
    auto mac = MacAddress::Parse(Str(j, "mac"));
    if (!mac) return Bad("lease", "mac '" + Str(j, "mac") + "'");
    auto kind = ParseLeaseKind(Str(j, "kind"));
    if (!kind) return Bad("lease", "kind '" + Str(j, "kind") + "'");
    l.ip = *ip;
    l.mac = *mac;
    l.client_id = Str(j, "clientId");
    l.expires_unix = Int(j, "expires");
    l.hostname = Str(j, "hostname");
    l.kind = *kind;
    return Status::Ok();
  });
}

std::string EncodeMachine(const MachineRecord& m) {
  json j = {{"v", kFormat},
            {"mac", m.mac.ToString()},
            {"state", std::string(MachineStateName(m.state))},
            {"lastIp", m.last_ip.ToString()},
            {"firstSeen", m.first_seen_unix},
            {"lastSeen", m.last_seen_unix},
            {"stateChanged", m.state_changed_unix}};
  PutText(j, "name", m.name);
  PutText(j, "reason", m.reason);
  PutText(j, "uuid", m.uuid);
  PutText(j, "arch", m.arch);
  PutText(j, "vendorClass", m.vendor_class);
  PutText(j, "serial", m.serial);
  return j.dump();
}

Result<MachineRecord> DecodeMachine(std::string_view value) {
  return Decode<MachineRecord>("machine", value, [](const json& j, MachineRecord& m) {
    auto mac = MacAddress::Parse(Str(j, "mac"));
    if (!mac) return Bad("machine", "mac '" + Str(j, "mac") + "'");
    auto state = ParseMachineState(Str(j, "state"));
    if (!state) return Bad("machine", "state '" + Str(j, "state") + "'");
    auto last_ip = Ipv4Address::Parse(Str(j, "lastIp"));
    if (!last_ip) return Bad("machine", "lastIp '" + Str(j, "lastIp") + "'");
    m.mac = *mac;
    m.name = Str(j, "name");
    m.state = *state;
    m.reason = Str(j, "reason");
    m.uuid = Str(j, "uuid");
    m.arch = Str(j, "arch");
    m.vendor_class = Str(j, "vendorClass");
    m.serial = Str(j, "serial");
    m.last_ip = *last_ip;
    m.first_seen_unix = Int(j, "firstSeen");
    m.last_seen_unix = Int(j, "lastSeen");
    m.state_changed_unix = Int(j, "stateChanged");
    return Status::Ok();
  });
}

std::string EncodeToken(const TokenRecord& t) {
  json j = {{"v", kFormat},
            {"mac", t.mac.ToString()},
            {"issued", t.issued_unix},
            {"expires", t.expires_unix},
            {"maxFetches", t.max_fetches},
            {"fetches", t.fetches}};
  PutText(j, "tokenHash", t.token_hash);
  if (t.bound_ip) j["boundIp"] = t.bound_ip->ToString();
  return j.dump();
}

Result<TokenRecord> DecodeToken(std::string_view value) {
  return Decode<TokenRecord>("token", value, [](const json& j, TokenRecord& t) {
    t.token_hash = Str(j, "tokenHash");
    if (t.token_hash.empty()) return Bad("token", "no tokenHash");
    auto mac = MacAddress::Parse(Str(j, "mac"));
    if (!mac) return Bad("token", "mac '" + Str(j, "mac") + "'");
    t.mac = *mac;
    if (j.contains("boundIp")) {
      auto ip = Ipv4Address::Parse(Str(j, "boundIp"));
      if (!ip) return Bad("token", "boundIp '" + Str(j, "boundIp") + "'");
      t.bound_ip = *ip;
    }
    t.issued_unix = Int(j, "issued");
    t.expires_unix = Int(j, "expires");
    const auto max_fetches = Int(j, "maxFetches"), fetches = Int(j, "fetches");
    if (max_fetches < 0 || max_fetches > 1'000'000 || fetches < 0 || fetches > 1'000'000)
      return Bad("token", "fetch counts out of range");
    t.max_fetches = static_cast<int>(max_fetches);
    t.fetches = static_cast<int>(fetches);
    return Status::Ok();
  });
}

std::string EncodeCluster(const ClusterRecord& c) {
  json j = {{"v", kFormat},
            {"bootstrap", std::string(ClusterBootstrapStateName(c.bootstrap))},
            {"attempts", c.attempts},
            {"changed", c.changed_unix}};
  PutText(j, "name", c.name);
  PutText(j, "node", c.node);
  PutText(j, "reason", c.reason);
  return j.dump();
}

Result<ClusterRecord> DecodeCluster(std::string_view value) {
  return Decode<ClusterRecord>("cluster", value, [](const json& j, ClusterRecord& c) {
    c.name = Str(j, "name");
    if (c.name.empty()) return Bad("cluster", "no name");
    auto state = ParseClusterBootstrapState(Str(j, "bootstrap"));
    if (!state) return Bad("cluster", "bootstrap '" + Str(j, "bootstrap") + "'");
    const auto attempts = Int(j, "attempts");
    if (attempts < 0 || attempts > 1'000'000) return Bad("cluster", "attempts out of range");
    c.bootstrap = *state;
    c.node = Str(j, "node");
    c.reason = Str(j, "reason");
    c.attempts = static_cast<int>(attempts);
    c.changed_unix = Int(j, "changed");
    return Status::Ok();
  });
}

std::string EncodeApplyTarget(const ApplyTargetRecord& t) {
  json j = {{"v", kFormat}, {"mac", t.mac.ToString()}, {"address", t.address.ToString()}, {"since", t.since_unix}};
  PutText(j, "machine", t.machine);
  return j.dump();
}

Result<ApplyTargetRecord> DecodeApplyTarget(std::string_view value) {
  return Decode<ApplyTargetRecord>("apply target", value, [](const json& j, ApplyTargetRecord& t) {
    auto mac = MacAddress::Parse(Str(j, "mac"));
    if (!mac) return Bad("apply target", "mac '" + Str(j, "mac") + "'");
    auto address = Ipv4Address::Parse(Str(j, "address"));
    if (!address) return Bad("apply target", "address '" + Str(j, "address") + "'");
    t.mac = *mac;
    t.address = *address;
    t.machine = Str(j, "machine");
    t.since_unix = Int(j, "since");
    return Status::Ok();
  });
}

std::string EncodeUpgrade(const UpgradeRecord& u) {
  json j = {{"v", kFormat},
            {"state", std::string(UpgradeRunStateName(u.state))},
            {"nodeSince", u.node_since_ms},
            {"changed", u.changed_unix}};
  std::string done;  // one name a line, as SQLite keeps it
  for (const auto& n : u.done) done += (done.empty() ? "" : "\n") + n;
  PutText(j, "cluster", u.cluster);
  PutText(j, "version", u.version);
  PutText(j, "schematic", u.schematic);
  PutText(j, "node", u.node);
  PutText(j, "done", done);
  PutText(j, "reason", u.reason);
  PutText(j, "pinnedVersion", u.pinned_version);
  PutText(j, "pinnedSchematic", u.pinned_schematic);
  return j.dump();
}

Result<UpgradeRecord> DecodeUpgrade(std::string_view value) {
  return Decode<UpgradeRecord>("upgrade", value, [](const json& j, UpgradeRecord& u) {
    u.cluster = Str(j, "cluster");
    if (u.cluster.empty()) return Bad("upgrade", "no cluster");
    auto state = ParseUpgradeRunState(Str(j, "state"));
    if (!state) return Bad("upgrade", "state '" + Str(j, "state") + "'");
    u.state = *state;
    u.version = Str(j, "version");
    u.schematic = Str(j, "schematic");
    u.node = Str(j, "node");
    u.node_since_ms = Int(j, "nodeSince");
    const std::string done = Str(j, "done");
    for (std::size_t at = 0; at < done.size();) {
      const auto nl = std::min(done.find('\n', at), done.size());
      if (nl > at) u.done.push_back(done.substr(at, nl - at));
      at = nl + 1;
    }
    u.reason = Str(j, "reason");
    u.changed_unix = Int(j, "changed");
    u.pinned_version = Str(j, "pinnedVersion");
    u.pinned_schematic = Str(j, "pinnedSchematic");
    return Status::Ok();
  });
}

std::string EncodeEvent(const EventRecord& e) {
  json j = {{"v", kFormat}, {"time", e.time_unix_ms}};
  PutText(j, "machine", e.machine);
  PutText(j, "kind", e.kind);
  PutText(j, "message", e.message);
  return j.dump();
}

Result<EventRecord> DecodeEvent(std::int64_t id, std::string_view value) {
  return Decode<EventRecord>("event", value, [id](const json& j, EventRecord& e) {
    e.id = id;
    e.time_unix_ms = Int(j, "time");
    e.machine = Str(j, "machine");
    e.kind = Str(j, "kind");
    e.message = Str(j, "message");
    return Status::Ok();
  });
}

std::string EncodeTimelineEntry(const TimelineEntry& e) {
  json j = {{"v", kFormat},
            {"time", e.time_unix_ms},
            {"source", std::string(TimelineSourceName(e.source))},
            {"repeats", e.repeats},
            {"last", e.last_unix_ms}};
  PutText(j, "summary", e.summary);
  PutText(j, "details", e.details);
  return j.dump();
}

Result<TimelineEntry> DecodeTimelineEntry(const MacAddress& mac, std::int64_t seq, std::string_view value) {
  return Decode<TimelineEntry>("timeline entry", value, [&](const json& j, TimelineEntry& e) {
    const auto source = ParseTimelineSource(Str(j, "source"));
    if (!source) return Bad("timeline entry", "unknown source");
    e.mac = mac;
    e.seq = seq;
    e.time_unix_ms = Int(j, "time");
    e.source = *source;
    e.summary = Str(j, "summary");
    e.details = Str(j, "details");
    const auto repeats = Int(j, "repeats");
    if (repeats < 0 || repeats > std::numeric_limits<std::uint32_t>::max())
      return Bad("timeline entry", "repeats out of range");
    e.repeats = static_cast<std::uint32_t>(repeats);
    e.last_unix_ms = Int(j, "last");
    return Status::Ok();
  });
}

std::string EncodeCounter(std::int64_t value) { return std::to_string(value); }

Result<std::int64_t> DecodeCounter(std::string_view value) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size() || v < 0)
    return Status(ErrorCode::kDataLoss, "etcd store: bad counter '" + std::string(value.substr(0, 40)) + "'");
  return v;
}

}  // namespace metalpxe::etcd
