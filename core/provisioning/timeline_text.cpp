#include "core/provisioning/timeline_text.h"

#include <array>
#include <cstdio>

#include "core/provisioning/boot_urls.h"

namespace metalpxe {
namespace {

// Who sent a DHCP request, in the words of someone debugging a boot.
std::string_view DhcpClientWho(BootStage s) {
  switch (s) {
    case BootStage::kFirmware: return "firmware";
    case BootStage::kIpxe: return "iPXE";
    case BootStage::kOs: return "installer/OS";
  }
  return "unknown";
}

std::string TimelineSeconds(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

// bytes per second as "12.3 MiB/s", "" when the time is too short to say.
std::string TimelineRate(std::uint64_t bytes, std::chrono::milliseconds d) {
  if (d.count() <= 0) return "";
  const auto per_s = static_cast<std::uint64_t>(static_cast<double>(bytes) * 1000.0 / static_cast<double>(d.count()));
  return HumanBytes(per_s) + "/s";
}

struct MilestoneRule {
  std::string_view needle;
  std::string_view summary;  // "" = the message itself from the needle on
};

// Kernel and Talos messages that mark a step of a boot. The first match wins.
constexpr std::array<MilestoneRule, 12> kMilestones{{
    {"Linux version ", "kernel started"},
    // Linux's "secureboot:" line (x86 setup_arch, from the firmware's
    // SecureBoot variable as the EFI stub read it): Talos's kernel and the
    // stand-in's print it alike, early in the log every Talos node streams
    // (talos.logging.kernel). Checked in the kernel binary the lab boots.
    {"secureboot: Secure boot enabled", "Secure Boot: on"},
    {"secureboot: Secure boot disabled", "Secure Boot: off"},
    {"Run /init as init process", "init started"},
    {"Kernel panic", ""},
    {"[talos] phase ", ""},
    {"[talos] task install", ""},
    {"[talos] installation", ""},
    {"[talos] rebooting", "Talos rebooting"},
    {"reboot: Restarting system", "kernel: restarting system"},
    {"reboot: Power down", "kernel: power down"},
    {"[talos] boot sequence: done", "Talos boot sequence done"},
}};

}  // namespace

std::string HumanBytes(std::uint64_t bytes) {
  static constexpr std::array<const char*, 5> kUnits = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  std::size_t u = 0;
  while (v >= 1024.0 && u + 1 < kUnits.size()) v /= 1024.0, ++u;
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[u]);
  }
  return buf;
}

TimelineText DhcpTimelineText(const DhcpExchange& x) {
  TimelineText t;
  const std::string arch = BootClientName(x.client);
  t.summary = "DHCP " + x.received + " from " + std::string(DhcpClientWho(x.client.stage));
  if (!arch.empty() && x.client.stage != BootStage::kOs) t.summary += " (" + arch + ")";
  if (x.replied.empty()) {
    t.summary += ": no reply";
  } else {
    t.summary += " -> " + x.replied;
    if (x.offered && !x.offered->IsUnspecified()) t.summary += " " + x.offered->ToString();
    if (!x.boot_file.empty()) t.summary += ", boot file " + x.boot_file;
  }
  t.summary += x.proxy ? " (proxy)" : " (full)";
  t.details = "client=" + std::string(BootStageName(x.client.stage));
  if (!arch.empty()) t.details += " arch=" + arch;
  if (!x.vendor_class.empty()) t.details += " vendor_class=" + x.vendor_class;
  t.details += std::string(" mode=") + (x.proxy ? "proxy" : "full");
  if (x.offered && !x.offered->IsUnspecified()) t.details += " address=" + x.offered->ToString();
  if (!x.boot_file.empty()) t.details += " boot_file=" + x.boot_file;
  if (!x.boot_why.empty()) t.details += " why=" + x.boot_why;
  return t;
}

TimelineText TftpTimelineText(const TftpFetch& f) {
  TimelineText t;
  if (f.ok) {
    t.summary = "TFTP " + f.file + " sent, " + HumanBytes(f.size) + " in " + TimelineSeconds(f.duration);
    if (f.retransmits > 0) t.summary += ", " + std::to_string(f.retransmits) + " retries";
  } else if (f.size == 0 && f.duration.count() == 0) {
    t.summary = "TFTP " + f.file + " refused: " + f.error;
  } else {
    t.summary = "TFTP " + f.file + " failed after " + TimelineSeconds(f.duration) + ": " + f.error;
  }
  t.details = "file=" + f.file + " size=" + std::to_string(f.size) + " ms=" + std::to_string(f.duration.count()) +
              " retries=" + std::to_string(f.retransmits);
  if (f.block_size) t.details += " blksize=" + std::to_string(f.block_size);
  if (f.window_size) t.details += " windowsize=" + std::to_string(f.window_size);
  if (f.ok) {
    const auto rate = TimelineRate(f.size, f.duration);
    if (!rate.empty()) t.details += " rate=" + rate;
  } else {
    t.details += " error=" + f.error;
  }
  return t;
}

std::string_view BootAssetKind(std::string_view path) {
  const auto slash = path.rfind('/');
  const std::string_view file = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (file == kUkiFileName) return "UKI";  // kernel, initramfs and command line in one signed file
  if (file.find("initramfs") != std::string_view::npos || file.find("initrd") != std::string_view::npos)
    return "initramfs";
  if (file.find("vmlinuz") != std::string_view::npos || file.find("kernel") != std::string_view::npos)
    return "kernel";
  return "";
}

TimelineText HttpFileTimelineText(const HttpFileFetch& f) {
  TimelineText t;
  const std::string_view kind = BootAssetKind(f.path);
  const std::string what = kind.empty() ? f.path : std::string(kind) + " " + f.path;
  if (f.status >= 400) {
    t.summary = "HTTP GET " + what + ": " + std::to_string(f.status);
  } else if (!f.completed) {
    t.summary = "HTTP GET " + what + " interrupted after " + TimelineSeconds(f.duration);
  } else {
    t.summary = "HTTP GET " + what + ", " + HumanBytes(f.bytes) + " in " + TimelineSeconds(f.duration);
  }
  t.details = "path=" + f.path + " status=" + std::to_string(f.status) + " bytes=" + std::to_string(f.bytes) +
              " ms=" + std::to_string(f.duration.count());
  if (f.completed && f.status < 400) {
    const auto rate = TimelineRate(f.bytes, f.duration);
    if (!rate.empty()) t.details += " rate=" + rate;
  }
  return t;
}

std::optional<std::string> KernelLogMilestone(std::string_view msg) {
  for (const auto& rule : kMilestones) {
    const auto at = msg.find(rule.needle);
    if (at == std::string_view::npos) continue;
    if (!rule.summary.empty()) return std::string(rule.summary);
    return std::string(msg.substr(at));
  }
  return std::nullopt;
}

std::string TalosTimelineSummary(const TalosEvent& ev) {
  std::string type = ev.type;
  if (type.rfind("machine.", 0) == 0) type = type.substr(8);
  if (type.size() > 5 && type.compare(type.size() - 5, 5, "Event") == 0) type.resize(type.size() - 5);
  std::string s = "Talos " + type;
  if (!ev.name.empty()) s += " " + ev.name;
  if (!ev.action.empty()) s += " " + ev.action;
  if (!ev.stage.empty()) s += " stage " + ev.stage;
  if (!ev.message.empty()) s += ": " + ev.message;
  if (!ev.error.empty()) s += ": " + ev.error;
  return s;
}

}  // namespace metalpxe
