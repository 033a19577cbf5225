#include "tests/e2e/installer/node_network.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <unistd.h>

#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <memory>

namespace metalpxe::standin {
namespace {

bool SafeToken(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdefABCDEF.:/-_") == std::string::npos;
}

}  // namespace

Result<Nic> FirstNic() {
  struct CloseDir {
    void operator()(DIR* d) const { closedir(d); }
  };
  std::unique_ptr<DIR, CloseDir> dir(opendir("/sys/class/net"));
  if (!dir) return Status(ErrorCode::kUnavailable, "no /sys/class/net");
  std::string best;
  while (dirent* e = readdir(dir.get())) {
    const std::string name = e->d_name;
    if (name == "." || name == ".." || name == "lo") continue;
    if (best.empty() || name < best) best = name;
  }
  if (best.empty()) return Status(ErrorCode::kNotFound, "no network interface");
  std::ifstream in("/sys/class/net/" + best + "/address");
  std::string mac;
  in >> mac;
  return Nic{best, mac};
}

Result<std::string> ApplyNodeNetwork(const MachineConfigFacts& facts, const Nic& nic) {
  std::string done;
  if (!facts.hostname.empty()) {
    if (sethostname(facts.hostname.data(), facts.hostname.size()) != 0)
      return Status(ErrorCode::kUnavailable, "sethostname failed");
    done += "hostname=" + facts.hostname;
  }
  if (facts.address) {
    if (!SafeToken(facts.address->cidr) || (!facts.address->gateway.empty() && !SafeToken(facts.address->gateway)))
      return Status(ErrorCode::kInvalidArgument, "static address or gateway is not an address");
    const std::string add = "ip addr add " + facts.address->cidr + " dev " + nic.name + " 2>/dev/null";
    if (std::system(add.c_str()) != 0) {
      // Already there (a second run) is fine; anything else shows in `ip addr`.
    }
    done += std::string(done.empty() ? "" : " ") + "address=" + facts.address->cidr;
    if (!facts.address->gateway.empty()) {
      const std::string route = "ip route replace default via " + facts.address->gateway + " dev " + nic.name;
      if (std::system(route.c_str()) != 0)
        return Status(ErrorCode::kUnavailable, "cannot route via " + facts.address->gateway);
      done += " gateway=" + facts.address->gateway;
    }
  }
  return done.empty() ? std::string("nothing to apply") : done;
}

std::vector<std::string> NicAddresses(const Nic& nic) {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || nic.name != a->ifa_name) continue;
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof text);
    out.push_back(text);
  }
  freeifaddrs(list);
  return out;
}

}  // namespace metalpxe::standin
