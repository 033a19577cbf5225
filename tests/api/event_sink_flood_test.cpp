// The Talos event sink under a bad neighbour, in namespaces: one host opens
// thousands of idle TCP connections while another host publishes an event
// with a real gRPC client (metalpxe-talos-event-publish, run inside that
// host's namespace). Asserts on what the peers saw: the publish answered,
// the flooder's sockets closed by the sink, its own publish refused.
#include <gtest/gtest.h>

#include <mutex>

#include "api/event_sink_server.h"
#include "core/fd_limit.h"
#include "tests/support/flood_lab.h"
#include "tests/support/paths.h"
#include "tests/support/subprocess.h"

namespace metalpxe {
namespace {

using metalpxe::testing::FloodLab;
using metalpxe::testing::RunCommand;
using metalpxe::testing::ScopedNetNsEnter;
using metalpxe::testing::TcpFlood;
using metalpxe::testing::WaitFor;
using namespace std::chrono_literals;

constexpr std::uint16_t kPort = 50101;

class SinkFlood : public ::testing::Test {
 protected:
  void SetUp() override { RaiseOpenFileLimit(); }

  void StartSink(EventSinkOptions options) {
    sink_ = std::make_unique<EventSinkServer>(
        "0.0.0.0", kPort,
        [this](const TalosEvent& e) {
          std::lock_guard lock(mu_);
          events_.push_back(e);
        },
        options);
    ScopedNetNsEnter enter(lab_.server().name());
    const Status s = sink_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // A real gRPC client publishing one event from host i (10 s deadline).
  metalpxe::testing::CommandResult PublishFrom(int host) {
    return RunCommand({metalpxe::testing::BinaryDir() + "/tests/daemon/metalpxe-talos-event-publish",
                       FloodLab::ServerAddressFor(host) + ":" + std::to_string(kPort), "install-start"},
                      30s, lab_.host(host).name());
  }

  std::vector<TalosEvent> Events() {
    std::lock_guard lock(mu_);
    return events_;
  }

  FloodLab lab_{"efl", 2};
  std::mutex mu_;
  std::vector<TalosEvent> events_;
  std::unique_ptr<EventSinkServer> sink_;
};

TEST_F(SinkFlood, AMachinePublishesWhileAnotherHostHoldsThousandsOfConnections) {
  EventSinkOptions options;
  options.handshake_timeout = 300s;  // hold the flood for the whole test: only the limits are under test here
  StartSink(options);
  const std::size_t per_client = EventSinkOptions{}.per_client_connections;

  TcpFlood flood(lab_.host(1).name(), FloodLab::ServerAddressFor(1), kPort);
  ASSERT_EQ(flood.Open(2000, 60s), 2000u);
  ASSERT_TRUE(WaitFor([&] { return flood.OpenNow() == per_client; }, 60s)) << flood.OpenNow();

  const auto r = PublishFrom(2);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto got = Events();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].peer, *Ipv4Address::Parse(FloodLab::HostAddress(2)));
  EXPECT_EQ(got[0].type, "machine.PhaseEvent");

  EXPECT_EQ(flood.OpenNow(), per_client);  // held all along
  const auto own = PublishFrom(1);           // the flooder's own call finds no room
  EXPECT_NE(own.exit_code, 0) << own.output;
  EXPECT_EQ(Events().size(), 1u);
  EXPECT_GE(sink_->counters().refused_connections, 2000u - per_client);
}

// Connections that never speak HTTP/2 are closed by gRPC's handshake
// timeout, and the admission count sees it: the same host gets its share
// back, and loses it again the same way.
TEST_F(SinkFlood, SilentConnectionsAreClosedAndTheirSlotsComeBack) {
  EventSinkOptions options;
  options.handshake_timeout = 3s;
  StartSink(options);
  const std::size_t per_client = options.per_client_connections;
  for (int round = 0; round < 2; ++round) {
    TcpFlood flood(lab_.host(1).name(), FloodLab::ServerAddressFor(1), kPort);
    ASSERT_EQ(flood.Open(200, 30s), 200u);
    ASSERT_TRUE(WaitFor([&] { return flood.OpenNow() == per_client; }, 30s)) << round << ": " << flood.OpenNow();
    ASSERT_TRUE(WaitFor([&] { return flood.OpenNow() == 0; }, 60s)) << round << ": " << flood.OpenNow();
  }
  EXPECT_EQ(sink_->counters().connections, 2 * per_client);
  const auto r = PublishFrom(1);  // the host behaves now: it is served
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

// With server.address6 the sink listens dual-stack on "::": a real gRPC
// client publishes over IPv6 to [fd00:66::1] (the event names the sender's
// IPv6 address) and over IPv4 to the same listener (an IPv4-mapped peer is
// the IPv4 machine), from a host namespace on a veth link.
TEST(SinkIpv6, OneDualStackListenerTakesEventsOverIpv6AndIpv4) {
  metalpxe::testing::VethPair net("es6", "10.78.0.1/24", "10.78.0.2/24");
  net.server.Ip({"addr", "add", "fd00:66::1/64", "dev", "veth-s", "nodad"});
  net.client.Ip({"addr", "add", "fd00:66::2/64", "dev", "veth-c", "nodad"});
  std::mutex mu;
  std::vector<TalosEvent> events;
  EventSinkServer sink("::", kPort, [&](const TalosEvent& e) {
    std::lock_guard lock(mu);
    events.push_back(e);
  });
  {
    ScopedNetNsEnter enter(net.server.name());
    const Status s = sink.Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  const std::string tool = metalpxe::testing::BinaryDir() + "/tests/daemon/metalpxe-talos-event-publish";
  const auto v6 = RunCommand({tool, "[fd00:66::1]:" + std::to_string(kPort), "install-done"}, 30s, net.client.name());
  ASSERT_EQ(v6.exit_code, 0) << v6.output;
  const auto v4 = RunCommand({tool, "10.78.0.1:" + std::to_string(kPort), "install-start"}, 30s, net.client.name());
  ASSERT_EQ(v4.exit_code, 0) << v4.output;
  std::lock_guard lock(mu);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].peer6, *Ipv6Address::Parse("fd00:66::2"));
  EXPECT_TRUE(events[0].peer.IsUnspecified());
  EXPECT_EQ(events[0].type, "machine.SequenceEvent");
  EXPECT_EQ(events[0].action, "STOP");
  EXPECT_FALSE(events[1].peer6);
  EXPECT_EQ(events[1].peer, *Ipv4Address::Parse("10.78.0.2"));
  EXPECT_EQ(sink.counters().connections, 2u);
}

}  // namespace
}  // namespace metalpxe
