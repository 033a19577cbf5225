#include "daemon/appliance_metrics.h"

#include <algorithm>
#include <map>

#include "daemon/metrics.h"

namespace metalpxe {

std::string RenderApplianceMetrics(const ApplianceMetricsInput& in) {
  PrometheusWriter w;
  if (in.registry) {
    std::map<MachineState, int> per_state;
    for (int s = 0; s <= static_cast<int>(MachineState::kFailed); ++s) per_state[static_cast<MachineState>(s)] = 0;
    for (const auto& m : in.registry->List()) ++per_state[m.state];
    w.Family("metalpxe_machines", "gauge", "Machines by lifecycle state.");
    for (const auto& [state, n] : per_state)
      w.Sample("metalpxe_machines", n, {{"state", std::string(MachineStateName(state))}});
  }
  if (in.dhcp) {
    const auto& d = *in.dhcp;
    w.Family("metalpxe_dhcp_received_total", "counter", "DHCP messages received, by type.");
    for (int t = 1; t <= 8; ++t)
      w.Sample("metalpxe_dhcp_received_total", static_cast<double>(d.received[t]),
               {{"type", std::string(dhcp::MessageTypeName(static_cast<dhcp::MessageType>(t)))}});
    w.Family("metalpxe_dhcp_sent_total", "counter", "DHCP messages sent, by type.");
    for (int t = 1; t <= 8; ++t)
      w.Sample("metalpxe_dhcp_sent_total", static_cast<double>(d.sent[t]),
               {{"type", std::string(dhcp::MessageTypeName(static_cast<dhcp::MessageType>(t)))}});
    w.Family("metalpxe_dhcp_dropped_total", "counter", "DHCP messages dropped, by reason.");
    w.Sample("metalpxe_dhcp_dropped_total", static_cast<double>(d.dropped_malformed), {{"reason", "malformed"}});
    w.Sample("metalpxe_dhcp_dropped_total", static_cast<double>(d.dropped_ignored), {{"reason", "ignored"}});
    w.Sample("metalpxe_dhcp_dropped_total", static_cast<double>(d.dropped_no_pool), {{"reason", "no-pool"}});
    w.Sample("metalpxe_dhcp_dropped_total", static_cast<double>(d.dropped_probe_conflicts),
             {{"reason", "every-probed-address-in-use"}});
    w.Sample("metalpxe_dhcp_dropped_total", static_cast<double>(d.dropped_store_lost), {{"reason", "store-lost"}});
    w.Sample("metalpxe_dhcp_dropped_total", static_cast<double>(d.dropped_standby), {{"reason", "standby"}});
    w.Sample("metalpxe_dhcp_dropped_total", static_cast<double>(d.dropped_taking_over), {{"reason", "taking-over"}});
    w.Family("metalpxe_dhcp_lease_reloads_total", "counter",
             "Lease tables read again from the store (taking over a subnet, or a grant the store refused).");
    w.Sample("metalpxe_dhcp_lease_reloads_total", static_cast<double>(d.lease_reloads));
    w.Family("metalpxe_dhcp_store_failures_total", "counter", "Leases that could not be made durable (no ACK).");
    w.Sample("metalpxe_dhcp_store_failures_total", static_cast<double>(d.store_failures));
    w.Family("metalpxe_dhcp_ping_checks_total", "counter",
             "Addresses probed (ARP or ICMP echo) before an offer, by outcome; skipped: offered unprobed, probe budget spent.");
    w.Sample("metalpxe_dhcp_ping_checks_total", static_cast<double>(d.probes_sent - std::min(d.probes_sent, d.probes_in_use)),
             {{"outcome", "free"}});
    w.Sample("metalpxe_dhcp_ping_checks_total", static_cast<double>(d.probes_in_use), {{"outcome", "in-use"}});
    w.Sample("metalpxe_dhcp_ping_checks_total", static_cast<double>(d.probes_skipped), {{"outcome", "skipped"}});
    w.Family("metalpxe_dhcp_store_writable", "gauge",
             "1 while lease writes succeed; 0 while they fail (no new leases are handed out).");
    w.Sample("metalpxe_dhcp_store_writable", d.store_writable ? 1 : 0);
    w.Family("metalpxe_dhcp_renewals_unstored_total", "counter",
             "Renewals ACKed without a write while the store was lost (for the time the store holds).");
    w.Sample("metalpxe_dhcp_renewals_unstored_total", static_cast<double>(d.renewals_unstored));
    w.Family("metalpxe_dhcp_leases", "gauge", "Entries in the lease table.");
    w.Sample("metalpxe_dhcp_leases", static_cast<double>(d.leases));
  }
  if (in.dhcp_leadership && in.dhcp_leadership->elected) {
    const auto& l = *in.dhcp_leadership;
    w.Family("metalpxe_dhcp_subnet_leader", "gauge",
             "1 while this appliance leads the subnet's election and answers its DHCP; 0 while it stands by.");
    for (const auto& r : l.subnets)
      w.Sample("metalpxe_dhcp_subnet_leader", ShouldAnswerDhcp(l, r.subnet) == DhcpAnswer::kAnswer ? 1 : 0,
               {{"subnet", r.subnet.ToString()}});
  }
  if (in.store_health && in.store_health->etcd) {
    w.Family("metalpxe_store_quorum", "gauge",
             "1 while the last etcd call succeeded; 0 while etcd fails (no quorum or unreachable): no new leases.");
    w.Sample("metalpxe_store_quorum", in.store_health->ok ? 1 : 0);
  }
  if (!in.dhcp_reply_latency.empty()) {
    w.Family("metalpxe_dhcp_reply_latency_seconds", "histogram",
             "Time from a DHCP request's arrival to its reply leaving, by reply type (ACKs include the lease write).");
    for (const auto& [type, h] : in.dhcp_reply_latency)
      w.Histogram("metalpxe_dhcp_reply_latency_seconds", h, {{"type", std::string(dhcp::MessageTypeName(type))}});
  }
  if (in.dhcp6) {
    const auto& d = *in.dhcp6;
    using dhcp6::MsgType;
    auto name = [](MsgType t) { return std::string(dhcp6::MsgTypeName(t)); };
    w.Family("metalpxe_dhcp6_received_total", "counter", "DHCPv6 messages received from clients, by type.");
    for (MsgType t : {MsgType::kSolicit, MsgType::kRequest, MsgType::kConfirm, MsgType::kRenew, MsgType::kRebind,
                      MsgType::kRelease, MsgType::kDecline, MsgType::kInformationRequest})
      w.Sample("metalpxe_dhcp6_received_total", static_cast<double>(d.received_by_type[std::size_t(t)]),
               {{"type", name(t)}});
    w.Family("metalpxe_dhcp6_sent_total", "counter", "DHCPv6 messages sent, by type.");
    for (MsgType t : {MsgType::kAdvertise, MsgType::kReply})
      w.Sample("metalpxe_dhcp6_sent_total", static_cast<double>(d.sent_by_type[std::size_t(t)]), {{"type", name(t)}});
    w.Family("metalpxe_dhcp6_dropped_total", "counter", "DHCPv6 messages dropped, by reason.");
    w.Sample("metalpxe_dhcp6_dropped_total", static_cast<double>(d.malformed), {{"reason", "malformed"}});
    w.Sample("metalpxe_dhcp6_dropped_total", static_cast<double>(d.not_link_local), {{"reason", "not-link-local"}});
    w.Sample("metalpxe_dhcp6_dropped_total", static_cast<double>(d.unanswered), {{"reason", "ignored"}});
    w.Sample("metalpxe_dhcp6_dropped_total", static_cast<double>(d.send_failed), {{"reason", "send-failed"}});
    w.Family("metalpxe_dhcp6_bindings", "gauge", "DHCPv6 bindings held in memory (declined addresses included).");
    w.Sample("metalpxe_dhcp6_bindings", static_cast<double>(d.bindings));
  }
  if (in.tftp) {
    const auto& t = *in.tftp;
    w.Family("metalpxe_tftp_transfers_total", "counter", "TFTP transfers, by outcome.");
    w.Sample("metalpxe_tftp_transfers_total", static_cast<double>(t.transfers_completed), {{"outcome", "completed"}});
    w.Sample("metalpxe_tftp_transfers_total", static_cast<double>(t.transfers_failed), {{"outcome", "failed"}});
    w.Sample("metalpxe_tftp_transfers_total", static_cast<double>(t.requests_refused), {{"outcome", "refused"}});
    w.Family("metalpxe_tftp_requests_waited_total", "counter",
             "TFTP read requests that waited for a transfer slot (too many transfers running).");
    w.Sample("metalpxe_tftp_requests_waited_total", static_cast<double>(t.requests_waited));
    w.Family("metalpxe_tftp_requests_dropped_total", "counter",
             "TFTP read requests dropped unanswered (wait queue full or stale); the client retransmits.");
    w.Sample("metalpxe_tftp_requests_dropped_total", static_cast<double>(t.requests_dropped));
    w.Family("metalpxe_tftp_bytes_sent_total", "counter", "TFTP DATA payload bytes sent.");
    w.Sample("metalpxe_tftp_bytes_sent_total", static_cast<double>(t.bytes_sent));
    w.Family("metalpxe_tftp_active_transfers", "gauge", "TFTP transfers in progress.");
    w.Sample("metalpxe_tftp_active_transfers", static_cast<double>(t.active_transfers));
    w.Family("metalpxe_tftp_retransmits_total", "counter", "TFTP windows or OACKs sent again after a timeout.");
    w.Sample("metalpxe_tftp_retransmits_total", static_cast<double>(t.retransmits));
    w.Family("metalpxe_tftp_transfer_duration_seconds", "histogram",
             "Duration of completed TFTP transfers, request to last acknowledgement.");
    w.Histogram("metalpxe_tftp_transfer_duration_seconds", t.durations);
  }
  if (in.http) {
    const auto& h = *in.http;
    w.Family("metalpxe_http_responses_total", "counter", "HTTP responses, by status class.");
    for (int c = 0; c < 5; ++c)
      w.Sample("metalpxe_http_responses_total", static_cast<double>(h.responses_by_class[c]),
               {{"code", std::to_string(c + 1) + "xx"}});
    w.Family("metalpxe_http_bytes_sent_total", "counter", "HTTP body bytes sent.");
    w.Sample("metalpxe_http_bytes_sent_total", static_cast<double>(h.bytes_sent));
    w.Family("metalpxe_http_active_connections", "gauge", "Open HTTP connections.");
    w.Sample("metalpxe_http_active_connections", static_cast<double>(h.active_connections));
    w.Family("metalpxe_http_connections_refused_total", "counter",
             "HTTP connections closed at once because a connection limit was reached.");
    w.Sample("metalpxe_http_connections_refused_total", static_cast<double>(h.connections_refused));
    if (!h.durations.empty()) {
      w.Family("metalpxe_http_request_duration_seconds", "histogram",
               "HTTP request duration, request line read to response sent, by route (registered path or prefix; "
               "other: no route).");
      for (const auto& [route, hist] : h.durations)
        w.Histogram("metalpxe_http_request_duration_seconds", hist, {{"route", route}});
    }
  }
  if (in.boot) {
    const auto& b = *in.boot;
    w.Family("metalpxe_ipxe_scripts_total", "counter", "Per-machine iPXE scripts served.");
    w.Sample("metalpxe_ipxe_scripts_total", static_cast<double>(b.scripts.load()));
    w.Family("metalpxe_config_tokens_issued_total", "counter",
             "Config tokens issued (a machine asking again gets its outstanding token).");
    w.Sample("metalpxe_config_tokens_issued_total", static_cast<double>(b.tokens_issued.load()));
    w.Family("metalpxe_configs_total", "counter", "Machine config fetches, by outcome.");
    w.Sample("metalpxe_configs_total", static_cast<double>(b.configs_served.load()), {{"outcome", "served"}});
    w.Sample("metalpxe_configs_total", static_cast<double>(b.configs_refused.load()), {{"outcome", "refused"}});
    w.Sample("metalpxe_configs_total", static_cast<double>(b.configs_failed.load()), {{"outcome", "failed"}});
    w.Sample("metalpxe_configs_total", static_cast<double>(b.configs_applied.load()), {{"outcome", "applied"}});
  }
  if (in.registry) {
    w.Family("metalpxe_unknown_machines_dropped_total", "counter",
             "Boot requests from unknown MACs not recorded because the bound of unknown machines was reached.");
    w.Sample("metalpxe_unknown_machines_dropped_total", static_cast<double>(in.registry->unknown_machines_dropped()));
  }
  if (in.events) {
    const auto& e = *in.events;
    w.Family("metalpxe_talos_events_total", "counter", "Talos events received on the event sink, by outcome.");
    w.Sample("metalpxe_talos_events_total", static_cast<double>(e.delivered), {{"outcome", "delivered"}});
    w.Sample("metalpxe_talos_events_total", static_cast<double>(e.unknown_type), {{"outcome", "unknown-type"}});
    w.Sample("metalpxe_talos_events_total", static_cast<double>(e.malformed), {{"outcome", "malformed"}});
  }
  if (in.kmsg) {
    const auto& k = *in.kmsg;
    w.Family("metalpxe_kernel_log_lines_total", "counter", "Talos kernel log lines received, by outcome.");
    w.Sample("metalpxe_kernel_log_lines_total", static_cast<double>(k.lines), {{"outcome", "stored"}});
    w.Sample("metalpxe_kernel_log_lines_total", static_cast<double>(k.malformed), {{"outcome", "malformed"}});
    w.Sample("metalpxe_kernel_log_lines_total", static_cast<double>(k.overlong), {{"outcome", "overlong"}});
  }
  if (in.power_actions) {
    w.Family("metalpxe_power_actions_total", "counter", "BMC power actions (reinstall sequences and single actions).");
    w.Sample("metalpxe_power_actions_total", static_cast<double>(in.power_actions->first), {{"outcome", "ok"}});
    w.Sample("metalpxe_power_actions_total", static_cast<double>(in.power_actions->second), {{"outcome", "failed"}});
  }
  return w.text();
}

}  // namespace metalpxe
