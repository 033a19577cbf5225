// /metrics as Prometheus reads it: every family of RenderApplianceMetrics,
// histograms included, through `promtool check metrics` (Prometheus's own
// parser and linter) and our checks of what promtool lets pass.
#include <fstream>
#include <regex>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/config_source.h"
#include "core/machine_registry.h"

#include "core/latency_histogram.h"
#include "daemon/appliance_metrics.h"
#include "daemon/metrics.h"
#include "tests/support/paths.h"
#include "tests/support/prometheus_check.h"

namespace metalpxe {
namespace {

using testing::CheckPrometheusText;
using testing::PrometheusSample;

TEST(LatencyHistogram, BucketsAreCumulativeAndInfIsTheCount) {
  LatencyHistogram h({0.01, 0.1, 1});
  for (double s : {0.005, 0.01, 0.05, 0.5, 3.0, -1.0}) h.Observe(s);
  auto snap = h.Read();
  EXPECT_EQ(snap.cumulative, (std::vector<std::uint64_t>{3, 4, 5}));  // -1 counts as 0; 0.01 is <= 0.01
  EXPECT_EQ(snap.count, 6u);
  EXPECT_NEAR(snap.sum_seconds, 3.565, 1e-6);
}

// Every family the appliance exposes, with some observations in each histogram.
std::string RenderEveryFamily() {
  static SwappableConfigSource config(std::make_shared<AppConfig>());
  static MachineRegistry registry(config, nullptr);
  ApplianceMetricsInput in;
  in.registry = &registry;
  dhcp::DhcpStats d;
  d.received[1] = 4;
  d.sent[2] = 3;
  in.dhcp = d;
  LatencyHistogram offer(DhcpLatencyBounds()), ack(DhcpLatencyBounds()), nak(DhcpLatencyBounds());
  offer.Observe(0.0002);
  offer.Observe(0.003);
  ack.Observe(0.02);
  in.dhcp_reply_latency = {{dhcp::MessageType::kOffer, offer.Read()},
                           {dhcp::MessageType::kAck, ack.Read()},
                           {dhcp::MessageType::kNak, nak.Read()}};
  tftp::TftpStats t;
  LatencyHistogram tftp_durations(TftpDurationBounds());
  tftp_durations.Observe(0.3);
  t.durations = tftp_durations.Read();
  t.transfers_completed = 1;
  in.tftp = t;
  http::HttpStats h;
  LatencyHistogram ipxe(HttpDurationBounds()), assets(HttpDurationBounds()), odd(HttpDurationBounds());
  ipxe.Observe(0.0004);
  assets.Observe(2.0);
  assets.Observe(200.0);
  h.durations = {{"/ipxe", ipxe.Read()}, {"/assets", assets.Read()}, {"other \"quoted\" \\ route\n", odd.Read()}};
  in.http = h;
  static ProvisioningCounters boot;
  in.boot = &boot;
  in.events = EventSinkCounters{};
  in.kmsg = KmsgReceiverCounters{};
  dhcp6::Dhcp6Server::Stats d6;
  d6.received_by_type[1] = 5;  // SOLICIT
  d6.sent_by_type[2] = 4;      // ADVERTISE
  d6.received_by_type[3] = 3;  // REQUEST
  d6.sent_by_type[7] = 3;      // REPLY
  d6.not_link_local = 2;
  d6.unanswered = 1;
  d6.bindings = 3;
  in.dhcp6 = d6;
  in.power_actions = std::make_pair(std::uint64_t{2}, std::uint64_t{1});
  // Several appliances on etcd: leading one subnet, standing by for another.
  DhcpLeadership l = StandbyLeadership({*Ipv4Cidr::Parse("10.66.0.0/24"), *Ipv4Cidr::Parse("10.67.0.0/24")});
  l.subnets[0].leader = true;
  l.subnets[0].term = 7;
  l.subnets[0].leases_loaded_term = 7;
  in.dhcp_leadership = l;
  StoreHealthView store;
  store.etcd = true;
  in.store_health = store;
  return RenderApplianceMetrics(in);
}

TEST(MetricsExposition, EveryFamilyPassesPromtool) {
  const std::string text = RenderEveryFamily();
  EXPECT_EQ(CheckPrometheusText(text), "") << text;
  EXPECT_EQ(PrometheusSample(text, "metalpxe_dhcp_reply_latency_seconds_bucket{type=\"DHCPOFFER\",le=\"0.00025\"}"), 1)
      << text;
  EXPECT_EQ(PrometheusSample(text, "metalpxe_dhcp_reply_latency_seconds_count{type=\"DHCPOFFER\"}"), 2);
  EXPECT_EQ(PrometheusSample(text, "metalpxe_dhcp_reply_latency_seconds_count{type=\"DHCPNAK\"}"), 0);
  EXPECT_EQ(PrometheusSample(text, "metalpxe_tftp_transfer_duration_seconds_bucket{le=\"0.5\"}"), 1);
  EXPECT_EQ(PrometheusSample(text, "metalpxe_tftp_transfer_duration_seconds_bucket{le=\"0.25\"}"), 0);
  EXPECT_EQ(PrometheusSample(text, "metalpxe_http_request_duration_seconds_bucket{route=\"/assets\",le=\"2.5\"}"), 1);
  EXPECT_EQ(PrometheusSample(text, "metalpxe_http_request_duration_seconds_bucket{route=\"/assets\",le=\"+Inf\"}"), 2);
  EXPECT_NEAR(PrometheusSample(text, "metalpxe_http_request_duration_seconds_sum{route=\"/assets\"}"), 202.0, 1e-6);
  EXPECT_NE(text.find("route=\"other \\\"quoted\\\" \\\\ route\\n\""), std::string::npos) << text;
  EXPECT_EQ(PrometheusSample(text, "metalpxe_dhcp_subnet_leader{subnet=\"10.66.0.0/24\"}"), 1);
  EXPECT_EQ(PrometheusSample(text, "metalpxe_dhcp_subnet_leader{subnet=\"10.67.0.0/24\"}"), 0);
  EXPECT_EQ(PrometheusSample(text, "metalpxe_store_quorum"), 1);
  // DHCPv6, as the DHCPv4 families: by message type and by drop reason.
  EXPECT_EQ(PrometheusSample(text, "metalpxe_dhcp6_received_total{type=\"SOLICIT\"}"), 5);
  EXPECT_EQ(PrometheusSample(text, "metalpxe_dhcp6_received_total{type=\"REQUEST\"}"), 3);
  EXPECT_EQ(PrometheusSample(text, "metalpxe_dhcp6_sent_total{type=\"ADVERTISE\"}"), 4);
  EXPECT_EQ(PrometheusSample(text, "metalpxe_dhcp6_sent_total{type=\"REPLY\"}"), 3);
  EXPECT_EQ(PrometheusSample(text, "metalpxe_dhcp6_dropped_total{reason=\"not-link-local\"}"), 2);
  EXPECT_EQ(PrometheusSample(text, "metalpxe_dhcp6_dropped_total{reason=\"ignored\"}"), 1);
  EXPECT_EQ(PrometheusSample(text, "metalpxe_dhcp6_dropped_total{reason=\"malformed\"}"), 0);
  EXPECT_EQ(PrometheusSample(text, "metalpxe_dhcp6_bindings"), 3);
}

// deploy/grafana/metalpxe.json: every query is valid PromQL (promtool
// checks it as a recording rule) and names only metrics /metrics has.
TEST(GrafanaDashboard, QueriesAreValidPromqlOverOurMetrics) {
  std::ifstream in(testing::SourceDir() + "/deploy/grafana/metalpxe.json");
  ASSERT_TRUE(in.good());
  const auto dashboard = nlohmann::json::parse(in);
  const std::string metrics = RenderEveryFamily();
  std::set<std::string> families;
  const std::regex type_line(R"(# TYPE (\S+) )");
  for (std::sregex_iterator it(metrics.begin(), metrics.end(), type_line), end; it != end; ++it)
    families.insert((*it)[1].str());

  std::string rules = "groups:\n  - name: dashboard\n    rules:\n";
  int exprs = 0;
  std::set<std::string> used;
  for (const auto& panel : dashboard.at("panels")) {
    if (!panel.contains("targets")) continue;
    for (const auto& target : panel.at("targets")) {
      std::string expr = target.at("expr").get<std::string>();
      // Grafana's variables, as Grafana would substitute them.
      expr = std::regex_replace(expr, std::regex(R"(\$__rate_interval)"), "1m");
      expr = std::regex_replace(expr, std::regex(R"(\$instance)"), ".*");
      const std::regex metric_name(R"(metalpxe_[a-z_]+)");
      for (std::sregex_iterator it(expr.begin(), expr.end(), metric_name), end; it != end; ++it) {
        std::string name = (*it)[0].str();
        for (const char* suffix : {"_bucket", "_count", "_sum"}) {
          const std::string sfx = suffix;
          if (name.size() > sfx.size() && name.compare(name.size() - sfx.size(), sfx.size(), sfx) == 0 &&
              families.count(name.substr(0, name.size() - sfx.size())))
            name = name.substr(0, name.size() - sfx.size());
        }
        EXPECT_TRUE(families.count(name)) << panel.at("title") << ": " << name << " is not on /metrics";
        used.insert(name);
      }
      rules += "      - record: dashboard:expr" + std::to_string(exprs++) + "\n        expr: " +
               nlohmann::json(expr).dump() + "\n";
    }
  }
  EXPECT_GE(exprs, 20);
  // The three latency histograms are what the dashboard is for.
  for (const char* h : {"metalpxe_http_request_duration_seconds", "metalpxe_tftp_transfer_duration_seconds",
                        "metalpxe_dhcp_reply_latency_seconds"}) {
    EXPECT_TRUE(used.count(h)) << h;
  }
  const std::string path = ::testing::TempDir() + "/dashboard-rules.yml";
  std::ofstream(path) << rules;
  auto r = testing::RunCommand({"promtool", "check", "rules", path}, std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 0) << r.output << rules;
}

TEST(MetricsExposition, TheCheckerRejectsWhatPrometheusWould) {
  // The check itself can fail: a family without HELP, a histogram whose
  // buckets decrease, a duplicate label.
  EXPECT_NE(CheckPrometheusText("# TYPE a_total counter\na_total 1\n"), "");
  EXPECT_NE(CheckPrometheusText("# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\n"
                                "h_sum 1\nh_count 2\n"),
            "");
  EXPECT_NE(CheckPrometheusText("# HELP c_total x\n# TYPE c_total counter\nc_total{a=\"1\",a=\"2\"} 1\n"), "");
}

}  // namespace
}  // namespace metalpxe
