// bootstorm: N machines network-booting at once, simulated from one
// single-threaded epoll process, through the whole path a Talos machine
// takes (bench/bootstorm/run.sh runs it against metalpxed and against
// dnsmasq + nginx):
//   1. dhcp-pxe   DORA as UEFI PXE firmware: its own MAC, option 60
//                 PXEClient:Arch:00007, option 93 = 7, broadcast flag;
//                 retransmits after 4, 8, 16, 32 s (PXE spec), then fails;
//   2. tftp       the boot file the ACK names (blksize, windowsize, tsize),
//                 retransmitting with backoff; a TFTP ERROR fails the boot;
//   3. dhcp-ipxe  DORA again as iPXE (option 77 "iPXE"; 1, 2, 4, 8 s);
//   4. script     GET the boot file URL (/boot.ipxe), then the URL its
//                 `chain` line names with iPXE's settings expanded
//                 (/ipxe?mac=...);
//   5. kernel, initramfs  the URLs of the install script, in HTTP Range
//                 requests of --range-chunk bytes (0: one GET each);
//   6. config     the talos.config= URL of the kernel line.
// After the first ACK the machine's address is put on the interface and its
// TFTP and HTTP traffic comes from it. Bounded: --deadline for the storm.
//
//   bootstorm --interface IF --count N [--deadline S] [--range-chunk BYTES]
//             [--http-timeout S] [--mac-base N] [--dump-scripts DIR]
// Prints "stage NAME COUNT P50_MS P99_MS FAILURES" per stage, "total SECONDS
// BOOTED FAILED" and "failure COUNT STAGE: REASON" lines (storm_report.h).
// Exit status 0 when every machine booted, 1 when some failed, 2 on misuse.
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "bench/bootstorm/http_fetch.h"
#include "bench/bootstorm/interface_address.h"
#include "bench/bootstorm/ipxe_script_reader.h"
#include "bench/bootstorm/storm_report.h"
#include "dhcp/message.h"
#include "pxe/tftp/tools/swarm_tftp_transfer.h"

namespace metalpxe::bench {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using namespace std::chrono_literals;
namespace opt = dhcp::opt;

struct Options {
  std::string interface;
  int count = 0;
  std::chrono::seconds deadline{300};
  std::uint64_t range_chunk = 4 << 20;
  milliseconds http_timeout{60000};
  int mac_base = 0;
  std::string dump_scripts;
};

enum class Stage { kDhcpPxe, kTftp, kDhcpIpxe, kScript, kKernel, kInitramfs, kConfig, kBooted, kFailed };

const char* StageName(Stage s) {
  switch (s) {
    case Stage::kDhcpPxe: return "dhcp-pxe";
    case Stage::kTftp: return "tftp";
    case Stage::kDhcpIpxe: return "dhcp-ipxe";
    case Stage::kScript: return "script";
    case Stage::kKernel: return "kernel";
    case Stage::kInitramfs: return "initramfs";
    case Stage::kConfig: return "config";
    case Stage::kBooted: return "boot";
    case Stage::kFailed: return "failed";
  }
  return "?";
}

// A DHCP exchange's retransmission schedule: first timeout, doubling, this
// many transmissions of one message before the boot fails.
struct DhcpSchedule {
  milliseconds first;
  int sends;
};
constexpr DhcpSchedule kPxeFirmware{4000ms, 4};  // PXE 2.1: 4, 8, 16, 32 s
constexpr DhcpSchedule kIpxe{1000ms, 4};         // iPXE: 1 s doubling, gives up past 10 s

// Names from the network, shown in failure reasons: one printable line.
std::string Printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 80)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

constexpr std::uint64_t kTagDhcp = ~0ull;
constexpr std::uint64_t kKindTftp = 1, kKindHttp = 2;

struct Machine {
  int index = 0;
  MacAddress mac;
  IpxeSettings settings;
  Stage stage = Stage::kDhcpPxe;
  Clock::time_point boot_start, stage_start;
  // DHCP
  std::uint32_t xid = 0;
  bool requesting = false;
  Ipv4Address offered, server_id;
  int sends = 0;
  milliseconds timeout{0};
  Clock::time_point sent_at;
  Ipv4Address address;  // ours after the first ACK
  std::string boot_file;
  Ipv4Address next_server;
  // TFTP, HTTP
  std::unique_ptr<tftp::swarm::SwarmTftpTransfer> tftp;
  std::unique_ptr<HttpFetch> http;
  int script_step = 0;  // 0: the boot file URL, 1: the chained script
  InstallScript install;
  std::optional<HttpUrl> current_url;
  std::uint64_t offset = 0, total = 0;
};

class Storm {
 public:
  explicit Storm(Options o) : o_(std::move(o)), addresses_(o_.interface) {}

  int Run();

 private:
  bool OpenDhcpSocket();
  void StartDhcp(Machine& m, Stage stage);
  void SendDhcp(Machine& m);
  void OnDhcpReadable();
  void OnDhcpReply(Machine& m, const dhcp::DhcpMessage& reply);
  void StartTftp(Machine& m);
  void Fetch(Machine& m, const std::string& url, bool keep_body, bool ranged);
  void OnHttpDone(Machine& m);
  void NextStage(Machine& m, Stage next);
  void Fail(Machine& m, const std::string& why);
  void Tick(Clock::time_point now);
  void DumpScript(const std::string& name, const std::string& body);
  dhcp::DhcpMessage Request(const Machine& m, dhcp::MessageType type) const;

  Options o_;
  InterfaceAddresses addresses_;
  int ep_ = -1, dhcp_fd_ = -1;
  std::vector<Machine> machines_;
  StormReport report_;
  int finished_ = 0, booted_ = 0;
  std::mt19937 rng_{std::random_device{}()};
  bool dumped_boot_ = false, dumped_machine_ = false;
};

bool Storm::OpenDhcpSocket() {
  dhcp_fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int on = 1, buf = 8 << 20;
  ::setsockopt(dhcp_fd_, SOL_SOCKET, SO_BROADCAST, &on, sizeof on);
  ::setsockopt(dhcp_fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  ::setsockopt(dhcp_fd_, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  if (::setsockopt(dhcp_fd_, SOL_SOCKET, SO_BINDTODEVICE, o_.interface.data(),
                   static_cast<socklen_t>(o_.interface.size())) != 0) {
    std::perror("SO_BINDTODEVICE");
    return false;
  }
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_port = htons(68);
  if (::bind(dhcp_fd_, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
    std::perror("bind :68");
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kTagDhcp;
  return ::epoll_ctl(ep_, EPOLL_CTL_ADD, dhcp_fd_, &ev) == 0;
}

dhcp::DhcpMessage Storm::Request(const Machine& m, dhcp::MessageType type) const {
  dhcp::DhcpMessage msg;
  msg.xid = m.xid;
  msg.flags = dhcp::kBroadcastFlag;
  msg.secs = static_cast<std::uint16_t>(
      std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - m.stage_start).count());
  msg.SetMac(m.mac);
  msg.SetU8(opt::kMessageType, static_cast<std::uint8_t>(type));
  msg.SetU16(opt::kMaxMessageSize, 1472);
  msg.Set(opt::kParameterRequestList, {1, 3, 6, 12, 15, 28, 43, 60, 66, 67, 175});
  msg.SetU16(opt::kClientArch, 7);  // x86-64 UEFI
  msg.Set(opt::kClientNdi, {1, 3, 16});
  std::vector<std::uint8_t> uuid(17, 0);
  uuid[16] = static_cast<std::uint8_t>(m.index), uuid[15] = static_cast<std::uint8_t>(m.index >> 8);
  msg.Set(opt::kClientMachineId, uuid);
  if (m.stage == Stage::kDhcpIpxe) {
    msg.SetString(opt::kVendorClass, "PXEClient:Arch:00007:UNDI:003010");
    msg.SetString(opt::kUserClass, "iPXE");
  } else {
    msg.SetString(opt::kVendorClass, "PXEClient:Arch:00007:UNDI:003016");
  }
  if (type == dhcp::MessageType::kRequest) {
    msg.SetIpv4(opt::kRequestedIp, m.offered);
    msg.SetIpv4(opt::kServerId, m.server_id);
  }
  return msg;
}

void Storm::StartDhcp(Machine& m, Stage stage) {
  NextStage(m, stage);
  m.xid = rng_();
  m.requesting = false;
  const DhcpSchedule s = stage == Stage::kDhcpPxe ? kPxeFirmware : kIpxe;
  m.sends = 0;
  m.timeout = s.first;
  SendDhcp(m);
}

void Storm::SendDhcp(Machine& m) {
  auto bytes = dhcp::SerializeDhcpMessage(
      Request(m, m.requesting ? dhcp::MessageType::kRequest : dhcp::MessageType::kDiscover), 1472);
  if (!bytes.ok()) return Fail(m, "encoding the DHCP message: " + bytes.status().message());
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(67);
  to.sin_addr.s_addr = INADDR_BROADCAST;
  ::sendto(dhcp_fd_, bytes->data(), bytes->size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  ++m.sends;
  m.sent_at = Clock::now();
}

void Storm::OnDhcpReadable() {
  std::vector<std::byte> buf(4096);
  for (;;) {
    const ssize_t n = ::recv(dhcp_fd_, buf.data(), buf.size(), 0);
    if (n < 0) return;
    auto msg = dhcp::ParseDhcpMessage(std::span<const std::byte>(buf.data(), static_cast<std::size_t>(n)));
    if (!msg.ok() || msg->op != 2) continue;
    // Our MACs carry the machine's index in their last three bytes.
    const MacAddress mac = msg->Mac();
    const int index = (mac.bytes[3] << 16 | mac.bytes[4] << 8 | mac.bytes[5]) - o_.mac_base;
    if (index < 0 || index >= static_cast<int>(machines_.size())) continue;
    Machine& m = machines_[static_cast<std::size_t>(index)];
    if (m.mac != mac || msg->xid != m.xid) continue;
    if (m.stage != Stage::kDhcpPxe && m.stage != Stage::kDhcpIpxe) continue;
    OnDhcpReply(m, *msg);
  }
}

void Storm::OnDhcpReply(Machine& m, const dhcp::DhcpMessage& reply) {
  const auto type = reply.Type();
  if (!type) return;
  if (!m.requesting && *type == dhcp::MessageType::kOffer) {
    const auto sid = reply.GetIpv4(opt::kServerId);
    if (!sid) return;
    m.offered = reply.yiaddr;
    m.server_id = *sid;
    m.requesting = true;
    m.sends = 0;
    m.timeout = m.stage == Stage::kDhcpPxe ? kPxeFirmware.first : kIpxe.first;
    SendDhcp(m);
    return;
  }
  if (!m.requesting) return;
  if (*type == dhcp::MessageType::kNak) return Fail(m, "DHCPNAK");
  if (*type != dhcp::MessageType::kAck) return;
  std::string file = reply.file;
  if (auto f = reply.GetString(opt::kBootfileName)) file = std::string(*f);
  file.resize(std::strlen(file.c_str()));  // dnsmasq counts the C string's NUL in option 67
  if (file.empty()) return Fail(m, "ACK names no boot file");
  m.boot_file = file;
  m.next_server = reply.siaddr.value != 0 ? reply.siaddr : m.server_id;
  if (m.address != reply.yiaddr) {
    m.address = reply.yiaddr;
    if (auto err = addresses_.Add(htonl(m.address.value)); !err.empty()) return Fail(m, err);
  }
  if (m.stage == Stage::kDhcpPxe) return StartTftp(m);
  // iPXE: the boot file is the chain script's URL.
  m.script_step = 0;
  NextStage(m, Stage::kScript);
  Fetch(m, m.boot_file, true, false);
}

void Storm::StartTftp(Machine& m) {
  NextStage(m, Stage::kTftp);
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(69);
  server.sin_addr.s_addr = htonl(m.next_server.value);
  // EDK2's PXE: blksize up to the MTU, windowsize 4; timeouts with backoff.
  const tftp::swarm::RetryPolicy policy{2000ms, 8000ms, 5};
  m.tftp = std::make_unique<tftp::swarm::SwarmTftpTransfer>(server, m.boot_file, 1468, 4, policy,
                                                            htonl(m.address.value));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = static_cast<std::uint64_t>(m.index) << 2 | kKindTftp;
  ::epoll_ctl(ep_, EPOLL_CTL_ADD, m.tftp->fd(), &ev);
  m.tftp->Start();
}

void Storm::Fetch(Machine& m, const std::string& url, bool keep_body, bool ranged) {
  m.current_url = ParseHttpUrl(url);
  if (!m.current_url) return Fail(m, "not an http:// URL: " + url.substr(0, 80));
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(static_cast<std::uint16_t>(m.current_url->port));
  if (inet_pton(AF_INET, m.current_url->host.c_str(), &server.sin_addr) != 1)
    return Fail(m, "URL host is not an IPv4 address: " + m.current_url->host);
  if (!m.http) m.http = std::make_unique<HttpFetch>(ep_, static_cast<std::uint64_t>(m.index) << 2 | kKindHttp,
                                                    htonl(m.address.value));
  const std::string host = m.current_url->host + ":" + std::to_string(m.current_url->port);
  std::optional<std::pair<std::uint64_t, std::uint64_t>> range;
  if (ranged && o_.range_chunk > 0) range = {{m.offset, m.offset + o_.range_chunk - 1}};
  m.http->Get(server, host, m.current_url->path, keep_body, range);
  if (m.http->state() == HttpFetch::State::kFailed) Fail(m, m.http->error());
}

void Storm::OnHttpDone(Machine& m) {
  HttpFetch& h = *m.http;
  if (h.state() == HttpFetch::State::kFailed) return Fail(m, h.error());
  const int status = h.head().status;
  const bool ranged_stage = m.stage == Stage::kKernel || m.stage == Stage::kInitramfs;
  if (status != 200 && !(ranged_stage && status == 206))
    return Fail(m, "HTTP " + std::to_string(status) + " for " + m.current_url->path.substr(0, 40));
  switch (m.stage) {
    case Stage::kScript:
      if (m.script_step == 0) {
        if (!dumped_boot_) DumpScript("boot.ipxe", h.body()), dumped_boot_ = true;
        auto url = ChainUrl(h.body(), m.settings);
        if (!url) return Fail(m, "the boot script has no chain line");
        m.script_step = 1;
        return Fetch(m, *url, true, false);
      } else {
        if (!dumped_machine_) DumpScript("ipxe", h.body()), dumped_machine_ = true;
        auto install = ReadInstallScript(h.body(), m.settings);
        if (!install) return Fail(m, "not an install script (no kernel/initrd line)");
        if (install->config_url.empty()) return Fail(m, "no talos.config= on the kernel line");
        m.install = *install;
        NextStage(m, Stage::kKernel);
        m.offset = 0, m.total = 0;
        return Fetch(m, m.install.kernel_url, false, true);
      }
    case Stage::kKernel:
    case Stage::kInitramfs: {
      m.offset += h.body_bytes();
      if (status == 206 && h.head().range_total) m.total = *h.head().range_total;
      else m.total = m.offset;  // a whole-file answer
      if (m.offset < m.total) return Fetch(m, m.stage == Stage::kKernel ? m.install.kernel_url : m.install.initrd_url,
                                           false, true);
      if (m.total == 0) return Fail(m, "empty file");
      m.offset = 0, m.total = 0;
      if (m.stage == Stage::kKernel) {
        NextStage(m, Stage::kInitramfs);
        return Fetch(m, m.install.initrd_url, false, true);
      }
      NextStage(m, Stage::kConfig);
      return Fetch(m, m.install.config_url, true, false);
    }
    case Stage::kConfig:
      if (h.body().empty()) return Fail(m, "empty machine config");
      NextStage(m, Stage::kBooted);
      return;
    default:
      return;
  }
}

void Storm::NextStage(Machine& m, Stage next) {
  const auto now = Clock::now();
  if (m.stage != Stage::kFailed && m.stage != Stage::kBooted && now != m.stage_start && m.stage != next)
    report_.Latency(StageName(m.stage), std::chrono::duration<double, std::milli>(now - m.stage_start).count());
  m.stage = next;
  m.stage_start = now;
  if (next == Stage::kBooted) {
    report_.Latency("boot", std::chrono::duration<double, std::milli>(now - m.boot_start).count());
    ++booted_, ++finished_;
    m.http.reset();
  }
}

void Storm::Fail(Machine& m, const std::string& why) {
  if (m.stage == Stage::kFailed || m.stage == Stage::kBooted) return;
  report_.Failure(StageName(m.stage), why);
  m.stage = Stage::kFailed;
  ++finished_;
  m.tftp.reset();
  m.http.reset();
}

void Storm::Tick(Clock::time_point now) {
  for (Machine& m : machines_) {
    switch (m.stage) {
      case Stage::kDhcpPxe:
      case Stage::kDhcpIpxe:
        if (now - m.sent_at < m.timeout) break;
        if (m.sends >= (m.stage == Stage::kDhcpPxe ? kPxeFirmware.sends : kIpxe.sends)) {
          Fail(m, m.requesting ? "no DHCPACK" : "no DHCPOFFER");
          break;
        }
        m.timeout *= 2;
        SendDhcp(m);
        break;
      case Stage::kTftp:
        m.tftp->OnTick(now);
        if (m.tftp->failed()) Fail(m, m.tftp->error() + " (" + Printable(m.boot_file) + ")");
        break;
      case Stage::kScript:
      case Stage::kKernel:
      case Stage::kInitramfs:
      case Stage::kConfig:
        m.http->OnTick(now, o_.http_timeout);
        if (m.http->state() == HttpFetch::State::kFailed) Fail(m, m.http->error());
        break;
      default:
        break;
    }
  }
}

void Storm::DumpScript(const std::string& name, const std::string& body) {
  if (o_.dump_scripts.empty()) return;
  std::ofstream(o_.dump_scripts + "/" + name, std::ios::binary) << body;
}

int Storm::Run() {
  if (!addresses_.ok()) {
    std::fprintf(stderr, "bootstorm: no interface %s (or no netlink)\n", o_.interface.c_str());
    return 2;
  }
  ep_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (!OpenDhcpSocket()) return 2;
  machines_.resize(static_cast<std::size_t>(o_.count));
  const auto start = Clock::now();
  for (int i = 0; i < o_.count; ++i) {
    Machine& m = machines_[static_cast<std::size_t>(i)];
    m.index = i;
    const int id = o_.mac_base + i;
    m.mac = MacAddress{{0x02, 0xb5, 0x70, static_cast<std::uint8_t>(id >> 16), static_cast<std::uint8_t>(id >> 8),
                        static_cast<std::uint8_t>(id)}};
    m.settings.mac = m.mac.ToString();
    char uuid[40];
    std::snprintf(uuid, sizeof uuid, "00000000-0000-4000-8000-%012x", id);
    m.settings.values = {{"idx", "0"}, {"uuid", uuid}, {"buildarch", "x86_64"}, {"platform", "efi"}};
    m.boot_start = m.stage_start = start;
    StartDhcp(m, Stage::kDhcpPxe);
  }
  const auto deadline = start + o_.deadline;
  auto last_tick = start;
  while (finished_ < o_.count && Clock::now() < deadline) {
    epoll_event events[256];
    const int n = ::epoll_wait(ep_, events, 256, 50);
    for (int e = 0; e < n; ++e) {
      const std::uint64_t tag = events[e].data.u64;
      if (tag == kTagDhcp) {
        OnDhcpReadable();
        continue;
      }
      Machine& m = machines_[tag >> 2];
      if ((tag & 3) == kKindTftp && m.stage == Stage::kTftp) {
        m.tftp->OnReadable();
        if (m.tftp->failed()) {
          Fail(m, m.tftp->error() + " (" + Printable(m.boot_file) + ")");
        } else if (m.tftp->done()) {
          m.tftp.reset();
          StartDhcp(m, Stage::kDhcpIpxe);
        }
      } else if ((tag & 3) == kKindHttp && m.http) {
        m.http->OnEvents(events[e].events);
        if (m.http->state() == HttpFetch::State::kDone || m.http->state() == HttpFetch::State::kFailed)
          OnHttpDone(m);
      }
    }
    const auto now = Clock::now();
    if (now - last_tick >= 50ms) Tick(now), last_tick = now;
  }
  for (Machine& m : machines_)
    if (m.stage != Stage::kBooted && m.stage != Stage::kFailed) Fail(m, "still there at the storm's deadline");
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  report_.Print(stdout, seconds, booted_, o_.count - booted_);
  ::close(dhcp_fd_);
  ::close(ep_);
  return booted_ == o_.count ? 0 : 1;
}

int Usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s --interface IF --count N [--deadline S] [--range-chunk BYTES] [--http-timeout S]\n"
               "          [--mac-base N] [--dump-scripts DIR]\n",
               argv0);
  return 2;
}

}  // namespace
}  // namespace metalpxe::bench

int main(int argc, char** argv) {
  using namespace metalpxe::bench;
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return Usage(argv[0]);
    const char* v = argv[++i];
    if (a == "--interface") o.interface = v;
    else if (a == "--count") o.count = std::atoi(v);
    else if (a == "--deadline") o.deadline = std::chrono::seconds(std::atoi(v));
    else if (a == "--range-chunk") o.range_chunk = std::strtoull(v, nullptr, 10);
    else if (a == "--http-timeout") o.http_timeout = std::chrono::seconds(std::atoi(v));
    else if (a == "--mac-base") o.mac_base = std::atoi(v);
    else if (a == "--dump-scripts") o.dump_scripts = v;
    else return Usage(argv[0]);
  }
  if (o.interface.empty() || o.count < 1 || o.count > 100000 || o.deadline.count() < 1 || o.deadline.count() > 3600 ||
      o.mac_base < 0 || o.mac_base + o.count > 0xffffff)
    return Usage(argv[0]);
  Storm storm(std::move(o));
  return storm.Run();
}
