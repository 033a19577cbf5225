#include "tests/e2e/installer/kernel_cmdline.h"

#include <gtest/gtest.h>

namespace metalpxe::standin {
namespace {

TEST(StandinKernelCmdline, SplitsFlagsAndValues) {
  auto p = ParseKernelCmdline("console=ttyS0 quiet  initrd=initramfs.xz\n");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->at("console"), "ttyS0");
  EXPECT_EQ(p->at("quiet"), "");
  EXPECT_EQ(p->at("initrd"), "initramfs.xz");
}

TEST(StandinKernelCmdline, QuotesAndLastWins) {
  auto p = ParseKernelCmdline("a=1 msg=\"hello world\" a=2 \"b=x y\"");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->at("a"), "2");
  EXPECT_EQ(p->at("msg"), "hello world");
  EXPECT_EQ(p->at("b"), "x y");
}

TEST(StandinKernelCmdline, StopsAtDoubleDashAndRejectsBadInput) {
  auto p = ParseKernelCmdline("a=1 -- b=2");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->count("b"), 0u);
  EXPECT_FALSE(ParseKernelCmdline("a=\"open").ok());
  EXPECT_FALSE(ParseKernelCmdline("=value").ok());
  EXPECT_TRUE(ParseKernelCmdline("").ok());
}

TEST(StandinKernelCmdline, Endpoints) {
  auto a = ParseEndpoint("10.66.0.1:50101");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "10.66.0.1");
  EXPECT_EQ(a->port, 50101);
  auto b = ParseEndpoint("tcp://10.66.0.1:50102");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->port, 50102);
  EXPECT_FALSE(ParseEndpoint("udp://10.66.0.1:1").ok());
  EXPECT_FALSE(ParseEndpoint("10.66.0.1").ok());
  EXPECT_FALSE(ParseEndpoint("10.66.0.1:").ok());
  EXPECT_FALSE(ParseEndpoint("10.66.0.1:70000").ok());
  EXPECT_FALSE(ParseEndpoint("10.66.0.1:12x").ok());
  EXPECT_FALSE(ParseEndpoint(":80").ok());
  // IPv6 literals, as metalpxe names server.address6.
  auto c = ParseEndpoint("[fd00:66::1]:50101");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->host, "fd00:66::1");
  EXPECT_EQ(c->port, 50101);
  auto d = ParseEndpoint("tcp://[fd00:66::1]:50102");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->host, "fd00:66::1");
  EXPECT_FALSE(ParseEndpoint("fd00:66::1:50101").ok()) << "unbracketed";
  EXPECT_FALSE(ParseEndpoint("[]:50101").ok());
  EXPECT_FALSE(ParseEndpoint("[fd00:66::1:50101").ok());
}

TEST(StandinKernelCmdline, StandinArgsFromTalosLine) {
  auto a = StandinArgsFromCmdline(
      "initrd=initramfs console=ttyS0 talos.platform=metal "
      "talos.config=http://10.66.0.1:8080/config/abc talos.events.sink=10.66.0.1:50101 "
      "talos.logging.kernel=tcp://10.66.0.1:50102 standin.expect=cp-1/controlplane");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->config_url, "http://10.66.0.1:8080/config/abc");
  ASSERT_TRUE(a->events_sink.has_value());
  EXPECT_EQ(a->events_sink->port, 50101);
  ASSERT_TRUE(a->logging_kernel.has_value());
  EXPECT_EQ(a->logging_kernel->port, 50102);
  EXPECT_EQ(*a->expect_hostname, "cp-1");
  EXPECT_EQ(*a->expect_role, "controlplane");
  EXPECT_EQ(a->disk, "") << "the config's machine.install.disk decides";
}

TEST(StandinKernelCmdline, StandinArgsRejectsBadValues) {
  EXPECT_FALSE(StandinArgsFromCmdline("talos.config=").ok());
  EXPECT_FALSE(StandinArgsFromCmdline("standin.boot=usb").ok());
  // No talos.config: maintenance mode, not an error.
  auto maintenance = StandinArgsFromCmdline("console=ttyS0 talos.platform=metal");
  ASSERT_TRUE(maintenance.ok());
  EXPECT_EQ(maintenance->config_url, "");
  EXPECT_FALSE(maintenance->boot_from_disk);
  auto disk = StandinArgsFromCmdline("standin.boot=disk");
  ASSERT_TRUE(disk.ok());
  EXPECT_TRUE(disk->boot_from_disk);
  EXPECT_FALSE(StandinArgsFromCmdline("talos.config=x talos.events.sink=nope").ok());
  EXPECT_FALSE(StandinArgsFromCmdline("talos.config=x standin.expect=noslash").ok());
  auto a = StandinArgsFromCmdline("talos.config=http://x/c standin.disk=/dev/sda");
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->events_sink.has_value());
  EXPECT_EQ(a->disk, "/dev/sda");
}

}  // namespace
}  // namespace metalpxe::standin
