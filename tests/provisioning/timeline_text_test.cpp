// The wording of boot-timeline entries (core/provisioning/timeline_text.h):
// what an operator reads when a machine does not come up.
#include "core/provisioning/timeline_text.h"

#include <gtest/gtest.h>

namespace metalpxe {
namespace {

TEST(timeline_text, DhcpSaysWhoAskedWhatItGotAndWhichMode) {
  DhcpExchange x;
  x.received = "DISCOVER";
  x.replied = "OFFER";
  x.client = BootClientFromDhcp(7, "PXEClient:Arch:00007:UNDI:003016", false);
  x.vendor_class = "PXEClient:Arch:00007:UNDI:003016";
  x.offered = *Ipv4Address::Parse("10.66.0.100");
  x.boot_file = "snponly.efi";
  x.boot_why = "uefi-x86_64 firmware gets iPXE";
  auto t = DhcpTimelineText(x);
  EXPECT_EQ(t.summary, "DHCP DISCOVER from firmware (uefi-x86_64) -> OFFER 10.66.0.100, boot file snponly.efi (full)");
  EXPECT_NE(t.details.find("mode=full"), std::string::npos);
  EXPECT_NE(t.details.find("why=uefi-x86_64 firmware gets iPXE"), std::string::npos);

  DhcpExchange p;
  p.received = "REQUEST";
  p.replied = "ACK";
  p.client = BootClientFromDhcp(7, "PXEClient", true);
  p.boot_file = "http://10.66.0.1:8080/boot.ipxe";
  p.proxy = true;
  EXPECT_EQ(DhcpTimelineText(p).summary,
            "DHCP REQUEST from iPXE (uefi-x86_64) -> ACK, boot file http://10.66.0.1:8080/boot.ipxe (proxy)");

  DhcpExchange os;
  os.received = "DISCOVER";
  EXPECT_EQ(DhcpTimelineText(os).summary, "DHCP DISCOVER from installer/OS: no reply (full)");
}

TEST(timeline_text, TftpSaysSizeTimeRetriesOrWhyNot) {
  TftpFetch ok{"snponly.efi", 1'048'576, std::chrono::milliseconds(500), 2, 1468, 16, true, ""};
  auto t = TftpTimelineText(ok);
  EXPECT_EQ(t.summary, "TFTP snponly.efi sent, 1.0 MiB in 0.50 s, 2 retries");
  EXPECT_NE(t.details.find("rate=2.0 MiB/s"), std::string::npos) << t.details;
  EXPECT_NE(t.details.find("blksize=1468"), std::string::npos);
  TftpFetch refused{"pxelinux.0", 0, {}, 0, 0, 0, false, "file not found"};
  EXPECT_EQ(TftpTimelineText(refused).summary, "TFTP pxelinux.0 refused: file not found");
  TftpFetch failed{"undionly.kpxe", 70'000, std::chrono::milliseconds(31'000), 5, 512, 1, false,
                   "timed out waiting for ACK"};
  EXPECT_EQ(TftpTimelineText(failed).summary, "TFTP undionly.kpxe failed after 31.00 s: timed out waiting for ACK");
}

TEST(timeline_text, HttpFilesNameKernelAndInitramfs) {
  HttpFileFetch k{"/assets/profiles/default/vmlinuz", 200, 75'000'000, std::chrono::milliseconds(2'000), true};
  EXPECT_EQ(HttpFileTimelineText(k).summary, "HTTP GET kernel /assets/profiles/default/vmlinuz, 71.5 MiB in 2.00 s");
  HttpFileFetch i{"/assets/profiles/default/initramfs.xz", 200, 0, std::chrono::milliseconds(900), false};
  EXPECT_EQ(HttpFileTimelineText(i).summary,
            "HTTP GET initramfs /assets/profiles/default/initramfs.xz interrupted after 0.90 s");
  HttpFileFetch missing{"/assets/snponly.efi", 404, 0, {}, true};
  EXPECT_EQ(HttpFileTimelineText(missing).summary, "HTTP GET /assets/snponly.efi: 404");
  EXPECT_EQ(BootAssetKind("/x/initrd.img"), "initramfs");
  EXPECT_EQ(BootAssetKind("/x/ipxe.efi"), "");
}

TEST(timeline_text, KernelMilestonesAndNothingElse) {
  EXPECT_EQ(KernelLogMilestone("Linux version 6.6.52-talos (@buildkitsandbox) #1 SMP"), "kernel started");
  EXPECT_EQ(KernelLogMilestone("Run /init as init process"), "init started");
  EXPECT_EQ(KernelLogMilestone("[talos] phase install (8/12): done, 3.2s"), "[talos] phase install (8/12): done, 3.2s");
  EXPECT_EQ(KernelLogMilestone("secureboot: Secure boot enabled"), "Secure Boot: on");
  EXPECT_EQ(KernelLogMilestone("secureboot: Secure boot disabled"), "Secure Boot: off");
  EXPECT_EQ(KernelLogMilestone("secureboot: Secure boot could not be determined (mode 0)"), std::nullopt);
  EXPECT_EQ(KernelLogMilestone("Kernel panic - not syncing: VFS"), "Kernel panic - not syncing: VFS");
  EXPECT_EQ(KernelLogMilestone("reboot: Restarting system"), "kernel: restarting system");
  EXPECT_FALSE(KernelLogMilestone("e1000: eth0 NIC Link is Up"));
  EXPECT_FALSE(KernelLogMilestone(""));
}

TEST(timeline_text, TalosEventsShortened) {
  TalosEvent ev;
  ev.type = kTalosSequenceEvent;
  ev.name = "install";
  ev.action = "START";
  EXPECT_EQ(TalosTimelineSummary(ev), "Talos Sequence install START");
  TalosEvent st;
  st.type = kTalosMachineStatusEvent;
  st.stage = "RUNNING";
  EXPECT_EQ(TalosTimelineSummary(st), "Talos MachineStatus stage RUNNING");
}

TEST(timeline_text, HumanBytes) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
}

}  // namespace
}  // namespace metalpxe
