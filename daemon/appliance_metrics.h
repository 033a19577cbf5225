#pragma once
// The appliance's /metrics: every module's counters in Prometheus text
// (exposition format 0.0.4), every family with # HELP and # TYPE, and the
// latency histograms metalpxe_http_request_duration_seconds{route},
// metalpxe_tftp_transfer_duration_seconds and
// metalpxe_dhcp_reply_latency_seconds{type}; DHCPv6 as metalpxe_dhcp6_*. With several appliances on
// etcd: metalpxe_dhcp_subnet_leader{subnet} and metalpxe_store_quorum. deploy/grafana/metalpxe.json
// is built on these names: rename one and the dashboard breaks.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/event_sink_server.h"
#include "api/kmsg_log_receiver.h"
#include "core/dhcp_leadership.h"
#include "core/machine_registry.h"
#include "daemon/dhcp_elections.h"
#include "dhcp/observation.h"
#include "dhcp/v6/server6.h"
#include "core/provisioning/provisioning_service.h"
#include "http/http_server.h"
#include "pxe/tftp/tftp_options.h"

namespace metalpxe {

struct ApplianceMetricsInput {
  const MachineRegistry* registry = nullptr;
  std::optional<dhcp::DhcpStats> dhcp;
  std::optional<dhcp6::Dhcp6Server::Stats> dhcp6;  // dhcp6.mode full|proxy
  std::vector<std::pair<dhcp::MessageType, LatencyHistogram::Snapshot>> dhcp_reply_latency;
  std::optional<tftp::TftpStats> tftp;
  std::optional<http::HttpStats> http;
  const ProvisioningCounters* boot = nullptr;
  std::optional<EventSinkCounters> events;
  std::optional<KmsgReceiverCounters> kmsg;
  std::optional<std::pair<std::uint64_t, std::uint64_t>> power_actions;  // ok, failed
  std::optional<DhcpLeadership> dhcp_leadership;  // with an election per subnet (etcd store)
  std::optional<StoreHealthView> store_health;    // etcd store only
};

std::string RenderApplianceMetrics(const ApplianceMetricsInput& in);

}  // namespace metalpxe
