// iPXE scripts as text, byte for byte where it matters.
#include "pxe/ipxe_script.h"

#include <gtest/gtest.h>

namespace metalpxe {
namespace {

struct Fixture {
  AppConfig cfg;
  MachineConfig cp;
  Fixture() {
    cfg.server.address = *Ipv4Address::Parse("10.66.0.1");
    cfg.server.http_port = 8080;
    ProfileConfig p;
    p.name = "default";
    p.kernel_args = {"console=ttyS0"};
    cfg.profiles["default"] = p;
    cp.name = "cp-1";
    cp.role = Role::kControlPlane;
    cp.profile = "default";
    cp.kernel_args = {"talos.dashboard.disabled=1"};
  }
};

TEST(IpxeScript, InstallScript) {
  EXPECT_EQ(RenderInstallScript("cp-1", "controlplane", "http://a/k", "http://a/i", {"initrd=initramfs.xz", "x=1"}),
            "#!ipxe\n# metalpxe: install cp-1 (controlplane)\n"
            "echo metalpxe: installing Talos on cp-1 (controlplane)\n"
            "kernel http://a/k initrd=initramfs.xz x=1\n"
            "initrd --name initramfs.xz http://a/i\n"
            "boot\n");
}

// secureBoot uki: as Image Factory's PXE script, the UKI and nothing else.
TEST(IpxeScript, UkiScriptHandsTheUkiWithoutArguments) {
  EXPECT_EQ(RenderUkiScript("cp-1", "controlplane", "http://a/assets/profiles/p/secureboot-uki.efi"),
            "#!ipxe\n# metalpxe: cp-1 (controlplane): the signed Talos UKI\n"
            "echo metalpxe: installing cp-1 as controlplane from the signed UKI\n"
            "kernel http://a/assets/profiles/p/secureboot-uki.efi\n"
            "boot\n");
}

TEST(IpxeScript, BootFromDisk) {
  EXPECT_NE(RenderBootFromDiskScript("cp-1", BootFromDisk::kExit).find("\nexit 1\n"), std::string::npos);
  EXPECT_NE(RenderBootFromDiskScript("cp-1", BootFromDisk::kSanboot).find("\nsanboot --no-describe --drive 0x80\n"),
            std::string::npos);
}

// Not ours: the firmware must go on to its next boot option, which UEFI
// boot managers only do when iPXE exits with an error.
TEST(IpxeScript, NotOursExitsWithAFailureStatus) {
  const std::string s = RenderIgnoreScript();
  EXPECT_EQ(s.rfind("#!ipxe\n", 0), 0u);
  EXPECT_NE(s.find("\nexit 1\n"), std::string::npos) << s;
  EXPECT_EQ(s.find("\nexit\n"), std::string::npos) << s;
}

TEST(IpxeScript, ChainScriptTriesEveryInterface) {
  Fixture f;
  const std::string s = RenderChainScript(f.cfg.server);
  EXPECT_EQ(s.rfind("#!ipxe\n", 0), 0u);
  EXPECT_NE(s.find("isset ${net${idx}/ip} || dhcp net${idx} || goto try_next"), std::string::npos);
  // --replace: when the machine script runs `exit` (boot from disk), iPXE must
  // leave, not come back here and count it as a failure.
  EXPECT_NE(s.find("chain --replace --autofree http://10.66.0.1:8080/ipxe?mac=${net${idx}/mac:hexhyp}&uuid=${uuid:uristring}"),
            std::string::npos);
  EXPECT_NE(s.find("inc idx"), std::string::npos);
}

TEST(IpxeScript, DiscoverChainsAgainWithTheSameIdentity) {
  Fixture f;
  const std::string s = RenderDiscoverScript(f.cfg.server, {"52-54-00-00-00-99", "a b", "", "x86_64", "efi"}, 15);
  EXPECT_NE(s.find("sleep 15\n"), std::string::npos);
  EXPECT_NE(s.find("chain --replace --autofree http://10.66.0.1:8080/ipxe?mac=52-54-00-00-00-99&uuid=a%20b&serial=&"
                   "arch=x86_64&platform=efi\n"),
            std::string::npos);
}

}  // namespace
}  // namespace metalpxe
