// The Secure Boot chain's GRUB side: configs as text, and the TFTP files a
// real provisioning service renders (the same decision, token and kernel
// arguments as /ipxe).
#include "pxe/grub_config.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "core/provisioning/talos_kernel_args.h"
#include "pxe/grub_tftp_files.h"

namespace metalpxe {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const tftp::OpenedFile& f) {
  std::string s(f.size, '\0');
  EXPECT_EQ(::pread(f.fd.get(), s.data(), s.size(), 0), static_cast<ssize_t>(s.size()));
  return s;
}

TEST(GrubConfig, QuotesWordsLiterally) {
  EXPECT_EQ(GrubQuote("a=b"), "'a=b'");
  EXPECT_EQ(GrubQuote("$x it's"), "'$x it'\\''s'");
  EXPECT_EQ(GrubQuote("a\nboot"), "'a boot'");
}

TEST(GrubConfig, BootstrapSourcesTheMachinesOwnFile) {
  const std::string s = RenderGrubBootstrap();
  EXPECT_NE(s.find("\"$net_default_mac\""), std::string::npos);
  EXPECT_NE(s.find("source \"$prefix/grub.cfg-01-$m1-$m2-$m3-$m4-$m5-$m6\""), std::string::npos);
  EXPECT_TRUE(s.ends_with("exit 1\n"));
}

TEST(GrubConfig, InstallUsesTheSharedKernelArgsWithoutIpxesInitrd) {
  ServerConfig server;
  server.address = *Ipv4Address::Parse("10.66.0.1");
  server.http_port = 8080;
  ProfileConfig p;
  p.name = "default";
  p.kernel_args = {"x=$y"};
  IpxeAnswer a;
  a.kind = IpxeAnswer::Kind::kInstall;
  a.machine_name = "cp-1";
  a.role = Role::kControlPlane;
  a.profile = "default";
  a.kernel_args = TalosKernelArgs(server, p, nullptr, "http://10.66.0.1:8080/config/TOKEN", false);
  const std::string s = RenderGrubMachineConfig(server, *MacAddress::Parse("52:54:00:12:34:56"), a);
  std::string want_linux = "linux (tftp,10.66.0.1)/profiles/default/vmlinuz";
  for (const auto& arg : a.kernel_args)
    if (arg.rfind("initrd=", 0) != 0) want_linux += " '" + arg + "'";
  EXPECT_NE(s.find(want_linux + "\n"), std::string::npos) << s;
  EXPECT_EQ(s.find("initrd="), std::string::npos) << s;
  EXPECT_NE(s.find("'talos.config=http://10.66.0.1:8080/config/TOKEN'"), std::string::npos);
  EXPECT_NE(s.find("\ninitrd (tftp,10.66.0.1)/profiles/default/initramfs.xz\nboot\n"), std::string::npos) << s;
}

TEST(GrubConfig, EveryOtherAnswerLeavesOrWaits) {
  ServerConfig server;
  server.address = *Ipv4Address::Parse("10.66.0.1");
  const MacAddress mac = *MacAddress::Parse("52:54:00:12:34:56");
  IpxeAnswer a;
  for (auto k : {IpxeAnswer::Kind::kBootFromDisk, IpxeAnswer::Kind::kIgnore, IpxeAnswer::Kind::kRefused}) {
    a.kind = k;
    EXPECT_TRUE(RenderGrubMachineConfig(server, mac, a).ends_with("exit 1\n"));
  }
  a.kind = IpxeAnswer::Kind::kDiscover;
  a.retry_seconds = 15;
  EXPECT_TRUE(RenderGrubMachineConfig(server, mac, a)
                  .ends_with("sleep 15\nconfigfile (tftp,10.66.0.1)/grub/grub.cfg-01-52-54-00-12-34-56\n"));
}

class GrubTftpFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("metalpxe-grub-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "state" / "assets" / "profiles" / "default");
    std::ofstream(dir_ / "state" / "assets" / "profiles" / "default" / "vmlinuz") << "KERNEL";
    std::ofstream(dir_ / "secret") << "SECRET";
    std::ofstream(dir_ / "cp.yaml") << "version: v1alpha1\nmachine:\n  type: controlplane\n";
    auto cfg = std::make_shared<AppConfig>();
    cfg->server.address = *Ipv4Address::Parse("10.66.0.1");
    cfg->server.http_port = 8080;
    cfg->server.state_dir = (dir_ / "state").string();
    fs::create_directories(dir_ / "tftp");
    cfg->server.tftp_root = (dir_ / "tftp").string();
    cfg->dhcp.mode = DhcpMode::kProxy;
    cfg->boot.unknown_machines = UnknownMachinePolicy::kIgnore;
    ProfileConfig p;
    p.name = "default";
    p.configs[Role::kControlPlane] = (dir_ / "cp.yaml").string();
    cfg->profiles["default"] = p;
    auto inv = std::make_shared<Inventory>();
    MachineConfig cp;
    cp.name = "cp-1";
    cp.macs = {*MacAddress::Parse("52:54:00:12:34:56")};
    cp.role = Role::kControlPlane;
    cp.profile = "default";
    cp.secure_boot = true;
    inv->machines.push_back(cp);
    cfg->inventory = inv;
    source_ = std::make_unique<SwappableConfigSource>(cfg);
    ProvisioningOptions o;
    o.token_key.fill(7);
    service_ = std::make_unique<ProvisioningService>(*source_, nullptr, o);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  std::unique_ptr<SwappableConfigSource> source_;
  std::unique_ptr<ProvisioningService> service_;
};

TEST_F(GrubTftpFilesTest, RendersAndMapsOnlyItsOwnNames) {
  GrubTftpFiles files(*source_, *service_);
  const Ipv4Address peer = *Ipv4Address::Parse("10.66.0.50");
  EXPECT_FALSE(files.Open("snponly.efi", peer).has_value());  // tftpRoot's
  auto boot = files.Open("/grub/grub.cfg", peer);
  ASSERT_TRUE(boot && boot->ok());
  EXPECT_EQ(ReadAll(**boot), RenderGrubBootstrap());

  auto mine = files.Open("grub/grub.cfg-01-52-54-00-12-34-56", peer);
  ASSERT_TRUE(mine && mine->ok());
  const std::string text = ReadAll(**mine);
  EXPECT_NE(text.find("linux (tftp,10.66.0.1)/profiles/default/vmlinuz"), std::string::npos) << text;
  EXPECT_NE(text.find("'talos.config=http://10.66.0.1:8080/config/"), std::string::npos);
  EXPECT_EQ(service_->registry().StateOf(*MacAddress::Parse("52:54:00:12:34:56")), MachineState::kPendingInstall);
  // An unknown MAC (policy ignore) is not ours to boot; a bad name is not found.
  auto other = files.Open("grub/grub.cfg-01-52-54-00-00-00-01", peer);
  ASSERT_TRUE(other && other->ok());
  EXPECT_TRUE(ReadAll(**other).ends_with("exit 1\n"));
  auto bad = files.Open("grub/grub.cfg-01-zz", peer);
  ASSERT_TRUE(bad.has_value());
  EXPECT_FALSE(bad->ok());

  auto kernel = files.Open("profiles/default/vmlinuz", peer);
  ASSERT_TRUE(kernel && kernel->ok());
  EXPECT_EQ(ReadAll(**kernel), "KERNEL");
  // Confined to the published profiles.
  auto escape = files.Open("profiles/../../secret", peer);
  ASSERT_TRUE(escape.has_value());
  EXPECT_FALSE(escape->ok());
}

// shimx64.efi and grubx64.efi: tftpRoot's copy when it has one (the root
// answers), else the files Debian's packages installed.
TEST_F(GrubTftpFilesTest, SignedChainFromTftpRootOrDebiansPackages) {
  GrubTftpFiles files(*source_, *service_);
  const Ipv4Address peer = *Ipv4Address::Parse("10.66.0.50");
  for (std::string_view name : {kShimFile, kSignedGrubFile}) {
    const std::string debian(*DebianSignedFile(name));
    auto got = files.Open(name, peer);
    ASSERT_TRUE(got.has_value());
    if (fs::exists(debian)) {
      ASSERT_TRUE(got->ok()) << got->status().ToString();
      EXPECT_EQ((*got)->size, fs::file_size(debian));
    } else {
      EXPECT_EQ(got->status().code(), ErrorCode::kNotFound);
    }
    std::ofstream(dir_ / "tftp" / std::string(name)) << "OWN COPY";
    EXPECT_FALSE(files.Open(name, peer).has_value());
  }
  EXPECT_TRUE(fs::exists(*DebianSignedFile(kShimFile))) << "deploy/install-deps.sh installs shim-signed";
}

}  // namespace
}  // namespace metalpxe
