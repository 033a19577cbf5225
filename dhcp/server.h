#pragma once
// The DHCP server the daemon runs: full mode (addresses + PXE) or proxy mode
// (PXE/HTTP-boot answers next to another DHCP server), on Boost.Asio.
//
// Every DHCPACK that grants a lease leaves only after Store::PutLease has made
// the lease durable (the store's group commit batches many leases per fsync);
// the store's callback posts the ACK back to the io_context. Sockets are read
// with recvmmsg and written with sendmmsg in batches.
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "core/config_source.h"
#include "core/dhcp_leadership.h"
#include "core/latency_histogram.h"
#include "core/result.h"
#include "core/store.h"
#include "dhcp/boot_policy.h"
#include "dhcp/observation.h"

namespace metalpxe::dhcp {

class DhcpServer {
 public:
  // `io`, `config` and `store` must outlive the server; `observer` runs on
  // the io_context thread for every request heard and every lease granted
  // (after its ACK left), inside the packet path: it must not block (post
  // slow work elsewhere). A config snapshot change (inventory reload) takes
  // effect with the next packet; subnet changes need a restart.
  // `policy` names each boot client's boot file (the daemon passes the
  // provisioning service's); empty: StandaloneBootPolicy over `config`.
  DhcpServer(boost::asio::io_context& io, const ConfigSource& config, Store& store, DhcpObserver observer,
             BootPolicy policy = {});
  ~DhcpServer();
  DhcpServer(const DhcpServer&) = delete;
  DhcpServer& operator=(const DhcpServer&) = delete;

  // Loads leases from the store and opens the sockets (67 and 4011, bound to
  // server.interface when set). Sockets are created in the calling thread's
  // network namespace.
  Status Start();
  // Closes the sockets; ACKs still waiting for the store are not sent.
  void Stop();

  // Who answers (core/dhcp_leadership.h): requests on port 67 are answered
  // only while ShouldAnswerDhcp says so for their subnet. The default
  // (not elected) answers every subnet. Any thread; the next packet sees it.
  void SetLeadership(DhcpLeadership leadership);
  DhcpLeadership Leadership() const;  // any thread

  // Reads the stored leases again (on a thread of its own: the store's load
  // may block) and rebuilds the lease table from them on the io_context;
  // then `done` runs there with the outcome. Used by a new leader (the table
  // of the previous one) and after the store refused a grant because
  // another appliance holds the address. Requests made while a read runs
  // are served by one more read after it, so `done` always sees a table read
  // after it was asked. Any thread.
  void ReloadLeases(std::function<void(const Status&)> done);

  DhcpStats Stats() const;               // any thread
  std::vector<LeaseRecord> Leases() const;  // any thread
  // Time from a request's arrival in the server to its reply leaving, by
  // reply type (offer, ack, nak); for ACKs of a new lease this includes the
  // durable store write. Any thread.
  std::vector<std::pair<MessageType, LatencyHistogram::Snapshot>> ReplyLatencies() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace metalpxe::dhcp
