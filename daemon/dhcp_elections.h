#pragma once
// Who answers DHCP when several appliances share one etcd store: one leader
// election (etcd/etcd_election.h) per served subnet, on the store's own
// client. The DHCP server answers a subnet only while this appliance leads
// it and has read the stored leases of its term (the decision is
// core/dhcp_leadership.h's; this class only feeds it). TFTP, HTTP, the
// event sink and the API do not depend on it: every appliance serves them.
//
// It also watches the store's health (etcd's quorum) once a second and logs
// when it changes: without quorum no lease can be granted (the writes fail,
// and the leader steps down once it cannot prove its election lease), so
// the appliances stop answering rather than diverge, and start again when
// the cluster is whole.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "core/dhcp_leadership.h"
#include "core/net_types.h"
#include "dhcp/server.h"
#include "etcd/etcd_client.h"

namespace metalpxe {

struct DhcpElectionOptions {
  std::string prefix;     // the store's key prefix; keys are <prefix>leaders/dhcp/<subnet>
  std::string candidate;  // this appliance, as the others see it leading
  std::int64_t ttl_seconds = 3;  // a dead leader blocks its subnet at most this long
};

// The store as the appliance sees it, for health, logs and metrics.
struct StoreHealthView {
  bool etcd = false;       // false: SQLite, always "ok"
  bool ok = true;          // the last etcd call succeeded
  bool no_quorum = false;  // the last failure was "no quorum"
  std::string last_error;
};

class DhcpElections {
 public:
  // Campaigns for every subnet at once; `dhcp` answers nothing until it
  // leads (SetLeadership with elected=true is the first thing done).
  // `io`, `dhcp` must outlive this object.
  DhcpElections(boost::asio::io_context& io, std::shared_ptr<etcd::EtcdClient> client, dhcp::DhcpServer& dhcp,
                std::vector<Ipv4Cidr> subnets, DhcpElectionOptions options);
  // Resigns every election (a standby takes over at once, not after the
  // TTL) and stops answering; bounded by the client's call timeout.
  ~DhcpElections();
  DhcpElections(const DhcpElections&) = delete;
  DhcpElections& operator=(const DhcpElections&) = delete;

  StoreHealthView StoreHealth() const;  // any thread

  struct State;

 private:
  std::shared_ptr<State> state_;
};

// A candidate name that differs between appliances sharing one host name
// (containers, namespaces): "<hostname>/<address>".
std::string DhcpCandidateName(const Ipv4Address& address);

}  // namespace metalpxe
