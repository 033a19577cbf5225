// libFuzzer target: EtcdStore's record decoders (etcd/etcd_store_codec.h) on
// arbitrary values, as another appliance, an operator with etcdctl, or a
// damaged cluster may leave them. Whatever decodes must encode and decode
// again to the same record (nothing lost or changed on the way through).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "etcd/etcd_store_codec.h"

using namespace metalpxe;
using namespace metalpxe::etcd;

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view value(reinterpret_cast<const char*>(data), size);
  if (auto l = DecodeLease(value); l.ok()) {
    auto again = DecodeLease(EncodeLease(*l));
    Check(again.ok() && again->ip == l->ip && again->mac == l->mac && again->client_id == l->client_id &&
          again->hostname == l->hostname && again->expires_unix == l->expires_unix && again->kind == l->kind);
  }
  if (auto m = DecodeMachine(value); m.ok()) {
    auto again = DecodeMachine(EncodeMachine(*m));
    Check(again.ok() && again->mac == m->mac && again->name == m->name && again->state == m->state &&
          again->reason == m->reason && again->uuid == m->uuid && again->vendor_class == m->vendor_class &&
          again->serial == m->serial && again->last_ip == m->last_ip && again->last_seen_unix == m->last_seen_unix);
  }
  if (auto c = DecodeCluster(value); c.ok()) {
    auto again = DecodeCluster(EncodeCluster(*c));
    Check(again.ok() && again->name == c->name && again->bootstrap == c->bootstrap && again->node == c->node &&
          again->reason == c->reason && again->attempts == c->attempts && again->changed_unix == c->changed_unix);
  }
  if (auto u = DecodeUpgrade(value); u.ok()) {
    auto again = DecodeUpgrade(EncodeUpgrade(*u));
    // A done list keeps its names (empty lines are not names).
    Check(again.ok() && again->cluster == u->cluster && again->version == u->version && again->state == u->state &&
          again->node == u->node && again->done == u->done && again->reason == u->reason &&
          again->node_since_ms == u->node_since_ms && again->pinned_version == u->pinned_version &&
          again->pinned_schematic == u->pinned_schematic);
  }
  if (auto a = DecodeApplyTarget(value); a.ok()) {
    auto again = DecodeApplyTarget(EncodeApplyTarget(*a));
    Check(again.ok() && again->mac == a->mac && again->machine == a->machine && again->address == a->address &&
          again->since_unix == a->since_unix);
  }
  if (auto t = DecodeToken(value); t.ok()) {
    auto again = DecodeToken(EncodeToken(*t));
    Check(again.ok() && again->token_hash == t->token_hash && again->bound_ip == t->bound_ip &&
          again->fetches == t->fetches && again->expires_unix == t->expires_unix);
  }
  if (auto e = DecodeEvent(7, value); e.ok()) {
    auto again = DecodeEvent(7, EncodeEvent(*e));
    Check(again.ok() && again->message == e->message && again->machine == e->machine && again->kind == e->kind &&
          again->time_unix_ms == e->time_unix_ms);
  }
  static const MacAddress mac = *MacAddress::Parse("52:54:00:00:00:01");
  if (auto t = DecodeTimelineEntry(mac, 9, value); t.ok()) {
    auto again = DecodeTimelineEntry(mac, 9, EncodeTimelineEntry(*t));
    Check(again.ok() && again->summary == t->summary && again->details == t->details && again->source == t->source &&
          again->repeats == t->repeats && again->time_unix_ms == t->time_unix_ms &&
          again->last_unix_ms == t->last_unix_ms && again->seq == 9 && again->mac == mac);
  }
  (void)StoreKeys("/metalpxe/").TimelineSeq(mac, value);
  if (auto c = DecodeCounter(value); c.ok()) Check(*DecodeCounter(EncodeCounter(*c)) == *c);
  (void)StoreKeys("/metalpxe/").EventId(value);
  return 0;
}
