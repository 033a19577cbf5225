// metalpxed --check-config's summary line: what the config serves, DHCPv6
// included when it is on (and the line unchanged when it is off).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon/check_config.h"
#include "tests/support/paths.h"

namespace metalpxe {
namespace {

namespace fs = std::filesystem;

std::string Summary(const std::string& dhcp6) {
  const fs::path dir = fs::temp_directory_path() / ("mpx-check-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string examples = testing::SourceDir() + "/deploy/examples";
  std::ofstream(dir / "metalpxe.yaml") << "server:\n  address: 10.66.0.1\n  address6: fd00:66::1\n"
                                          "dhcp:\n  mode: proxy\n" << dhcp6 << "profiles:\n  default:\n"
                                          "    talosVersion: v1.9.5\n    schematic: "
                                          "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba\n"
                                          "    configs: {worker: " << examples << "/talos/worker.yaml}\n"
                                          "machines: []\n";
  std::ostringstream out, err;
  const int rc = RunCheckConfig((dir / "metalpxe.yaml").string(), out, err);
  fs::remove_all(dir);
  EXPECT_EQ(rc, 0) << err.str();
  return out.str();
}

TEST(CheckConfig, SummaryNamesDhcpv6WhenItIsOn) {
  const std::string on = Summary("dhcp6:\n  mode: full\n  subnets:\n    - subnet: fd00:66::/64\n"
                                 "      pool: fd00:66::100-fd00:66::1ff\n");
  EXPECT_NE(on.find(": valid: dhcp proxy, 0 subnets, dhcp6 full, 1 IPv6 subnet, 1 profile"), std::string::npos) << on;
  const std::string off = Summary("");
  EXPECT_NE(off.find(": valid: dhcp proxy, 0 subnets, 1 profile"), std::string::npos) << off;
}

}  // namespace
}  // namespace metalpxe
