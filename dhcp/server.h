#pragma once
// The DHCP server the daemon runs: full mode (addresses + PXE) or proxy mode
// (PXE/HTTP-boot answers next to another DHCP server), on Boost.Asio.
//
// Every DHCPACK that grants a lease leaves only after Store::PutLease has made
// the lease durable (the store's group commit batches many leases per fsync);
// the store's callback posts the ACK back to the io_context. Sockets are read
// with recvmmsg and written with sendmmsg in batches.
#include <memory>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "core/config_source.h"
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
