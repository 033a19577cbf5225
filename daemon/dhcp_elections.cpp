#include "daemon/dhcp_elections.h"

#include <unistd.h>

#include <mutex>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/log.h"
#include "etcd/etcd_election.h"

namespace metalpxe {

// Everything the elections' callbacks touch lives here, shared with them:
// a callback that runs after the owner is gone finds `closed` and returns.
// Only the appliance's io thread reads or writes the roles.
struct DhcpElections::State : std::enable_shared_from_this<DhcpElections::State> {
  State(boost::asio::io_context& i, std::shared_ptr<etcd::EtcdClient> c, dhcp::DhcpServer& d)
      : io(i), client(std::move(c)), dhcp(d), health_timer(i), reload_retry(i) {}

  boost::asio::io_context& io;
  std::shared_ptr<etcd::EtcdClient> client;
  dhcp::DhcpServer& dhcp;
  DhcpElectionOptions options;
  std::vector<std::unique_ptr<etcd::EtcdElection>> elections;
  boost::asio::steady_timer health_timer;
  boost::asio::steady_timer reload_retry;
  bool closed = false;  // io thread
  mutable std::mutex health_mu;
  StoreHealthView health;  // under health_mu

  void OnChange(std::size_t i, const etcd::ElectionStatus& st) {
    if (closed) return;
    DhcpLeadership l = dhcp.Leadership();
    if (i >= l.subnets.size()) return;
    DhcpSubnetRole& role = l.subnets[i];
    const bool was_leader = role.leader;
    role.leader = st.leader;
    role.term = st.leader ? st.term : 0;
    role.leader_name = st.leader_name;
    dhcp.SetLeadership(l);
    const std::string subnet = role.subnet.ToString();
    if (st.leader && !was_leader) {
      spdlog::info("dhcp {}: elected (term {}); reading the stored leases before answering", subnet, st.term);
    } else if (!st.leader && was_leader) {
      spdlog::warn("dhcp {}: no longer the leader; standing by (not answering DHCP for it)", subnet);
    } else if (!st.leader) {
      spdlog::info("dhcp {}: standby; {}", subnet,
                   st.leader_name.empty() ? "no leader known" : "leader is " + st.leader_name);
    }
    if (st.leader && role.leases_loaded_term != st.term) ReadLeasesFor(i, st.term);
  }

  // A new leader answers once the table is the store's, read in its term.
  void ReadLeasesFor(std::size_t i, std::int64_t term) {
    std::weak_ptr<State> weak = shared_from_this();
    const auto asked = std::chrono::steady_clock::now();
    dhcp.ReloadLeases([weak, i, term, asked](const Status& st) {
      auto self = weak.lock();
      if (!self || self->closed) return;
      DhcpLeadership l = self->dhcp.Leadership();
      if (i >= l.subnets.size()) return;
      DhcpSubnetRole& role = l.subnets[i];
      if (!role.leader || role.term != term) return;  // lost it meanwhile
      if (!st.ok()) {
        spdlog::error("dhcp {}: cannot read the stored leases ({}); not answering yet, trying again",
                      role.subnet.ToString(), st.message());
        self->reload_retry.expires_after(std::chrono::milliseconds(500));
        self->reload_retry.async_wait([weak, i, term](const boost::system::error_code& ec) {
          auto s = weak.lock();
          if (ec || !s || s->closed) return;
          s->ReadLeasesFor(i, term);
        });
        return;
      }
      role.leases_loaded_term = term;
      self->dhcp.SetLeadership(l);
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - asked);
      spdlog::info("dhcp {}: leader (term {}): answering DHCP ({} ms to read the stored leases)",
                   role.subnet.ToString(), term, ms.count());
    });
  }

  void WatchHealth() {
    health_timer.expires_after(std::chrono::seconds(1));
    std::weak_ptr<State> weak = shared_from_this();
    health_timer.async_wait([weak](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || self->closed) return;
      self->CheckHealth();
      self->WatchHealth();
    });
  }

  void CheckHealth() {
    const etcd::EtcdHealth h = client->Health();
    StoreHealthView next{true, h.ok, !h.ok && h.no_quorum, h.last_error};
    StoreHealthView prev;
    {
      std::lock_guard lock(health_mu);
      prev = health;
      health = next;
    }
    if (prev.ok && !next.ok) {
      spdlog::error("store: etcd fails ({}{}): no new DHCP leases are granted until it works again",
                    next.no_quorum ? "no quorum: " : "", next.last_error);
    } else if (!prev.ok && next.ok) {
      spdlog::warn("store: etcd works again; DHCP leases are granted again once each subnet has a leader");
    }
  }
};

DhcpElections::DhcpElections(boost::asio::io_context& io, std::shared_ptr<etcd::EtcdClient> client,
                             dhcp::DhcpServer& dhcp, std::vector<Ipv4Cidr> subnets, DhcpElectionOptions options)
    : state_(std::make_shared<State>(io, client, dhcp)) {
  state_->options = options;
  state_->health.etcd = true;
  dhcp.SetLeadership(StandbyLeadership(subnets));  // standby everywhere until an election says otherwise
  std::weak_ptr<State> weak = state_;
  for (std::size_t i = 0; i < subnets.size(); ++i) {
    etcd::ElectionOptions eo;
    eo.key = etcd::DhcpSubnetElectionKey(options.prefix, subnets[i].ToString());
    eo.candidate = options.candidate;
    eo.ttl_seconds = options.ttl_seconds;
    spdlog::info("dhcp {}: campaigning as {} ({}, lease TTL {} s)", subnets[i].ToString(), options.candidate,
                 eo.key, options.ttl_seconds);
    // on_change runs on the client's thread: the roles belong to the io thread.
    state_->elections.push_back(etcd::EtcdElection::Start(client, eo, [weak, i](const etcd::ElectionStatus& st) {
      auto self = weak.lock();
      if (!self) return;
      boost::asio::post(self->io, [weak, i, st] {
        if (auto s = weak.lock()) s->OnChange(i, st);
      });
    }));
  }
  state_->WatchHealth();
}

DhcpElections::~DhcpElections() {
  state_->closed = true;
  state_->health_timer.cancel();
  state_->reload_retry.cancel();
  // Silent first, then resign: never answering after the key is gone.
  DhcpLeadership l = state_->dhcp.Leadership();
  for (auto& r : l.subnets) r.leader = false;
  state_->dhcp.SetLeadership(l);
  state_->elections.clear();
}

StoreHealthView DhcpElections::StoreHealth() const {
  std::lock_guard lock(state_->health_mu);
  return state_->health;
}

std::string DhcpCandidateName(const Ipv4Address& address) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return address.ToString();
  return std::string(host) + "/" + address.ToString();
}

}  // namespace metalpxe
