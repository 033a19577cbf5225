#pragma once
// The appliance's /metrics: every module's counters in Prometheus text.
#include <optional>
#include <string>

#include "api/event_sink_server.h"
#include "api/kmsg_log_receiver.h"
#include "core/machine_registry.h"
#include "dhcp/observation.h"
#include "core/provisioning/provisioning_service.h"
#include "http/http_server.h"
#include "pxe/tftp/tftp_options.h"

namespace metalpxe {

struct ApplianceMetricsInput {
  const MachineRegistry* registry = nullptr;
  std::optional<dhcp::DhcpStats> dhcp;
  std::optional<tftp::TftpStats> tftp;
  std::optional<http::HttpStats> http;
  const ProvisioningCounters* boot = nullptr;
  std::optional<EventSinkCounters> events;
  std::optional<KmsgReceiverCounters> kmsg;
  std::optional<std::pair<std::uint64_t, std::uint64_t>> power_actions;  // ok, failed
};

std::string RenderApplianceMetrics(const ApplianceMetricsInput& in);

}  // namespace metalpxe
