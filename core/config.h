#pragma once
// The appliance config and inventory, as docs/config.md names them, after
// validation: every field here is already checked and in canonical form.
// Loading and validation live in config_loader.h.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/net_types.h"
#include "core/secret.h"
#include "core/talosconfig.h"
#include "core/store_config.h"

namespace metalpxe {

enum class DhcpMode { kFull, kProxy, kOff };
enum class UnknownMachinePolicy { kIgnore, kDiscover, kAutoInstall };
enum class BootFromDisk { kExit, kSanboot, kHttp404 };
enum class Role { kControlPlane, kWorker };
enum class BmcType { kIpmi, kRedfish, kHetznerRobot, kWol, kManual };
// How a machine gets its Talos config: `url` (talos.config= with a one-time
// token) or `apply` (no talos.config: Talos waits in maintenance mode and
// metalpxe calls ApplyConfiguration over TLS).
enum class ConfigDelivery { kUrl, kApply };
// `auto`: metalpxe calls Bootstrap once on the cluster's first running
// control plane; `manual`: the operator runs `talosctl bootstrap`.
enum class BootstrapMode { kManual, kAuto };
// The signed path a Secure Boot machine is booted through (secureBoot:
// docs/secureboot.md): none (the unsigned iPXE), `shim` (`true`: Debian's
// Microsoft-signed shim, then its signed GRUB netboot image and a signed
// kernel), or `uki` (the profile's Talos UKI, signed by its schematic's key,
// started by the firmware itself; its command line is inside the signature,
// so its config comes by apply).
enum class SecureBootChain { kNone, kShim, kUki };
// How a Hetzner Robot machine gets Talos from its rescue system: `image`
// writes the Talos metal disk image to the install disk (dd), `kexec` boots
// the installer kernel + initramfs (fails under Secure Boot lockdown).
enum class InstallMethod { kImage, kKexec };

std::string_view DhcpModeName(DhcpMode m);
std::string_view UnknownMachinePolicyName(UnknownMachinePolicy p);
std::string_view BootFromDiskName(BootFromDisk b);
std::string_view RoleName(Role r);  // "controlplane" | "worker"
std::string_view BmcTypeName(BmcType t);
std::string_view ConfigDeliveryName(ConfigDelivery d);  // "url" | "apply"
std::string_view SecureBootChainName(SecureBootChain c);  // "none" | "shim" | "uki"
std::string_view BootstrapModeName(BootstrapMode b);    // "manual" | "auto"
std::string_view InstallMethodName(InstallMethod m);    // "image" | "kexec"

// Kernel args end up on an iPXE command line, where whitespace splits and
// `${...}` expands: a safe arg has neither (nor quotes or '#').
bool IsSafeKernelArg(std::string_view arg);

struct ServerConfig {
  std::string interface;             // where DHCP/TFTP listen; empty = all
  Ipv4Address address;               // how machines reach metalpxe
  // How machines reach metalpxe over IPv6 (DHCPv6 answers, IPv6-literal
  // boot URLs); unset: IPv4 only.
  std::optional<Ipv6Address> address6;
  std::string state_dir = "/var/lib/metalpxe";
  std::uint16_t http_port = 8080;
  std::uint16_t tftp_port = 69;
  std::string tftp_root = "/usr/lib/ipxe";
  std::string api_listen = "0.0.0.0:50100";
  // The web status page (ui/): loopback by default, off the boot network;
  // "off" serves no page.
  std::string ui_listen = "127.0.0.1:50180";
  std::uint16_t event_sink_port = 50101;
  std::uint16_t kmsg_log_port = 50102;
  std::string log_level = "info";
};

struct SubnetConfig {
  Ipv4Cidr subnet;
  Ipv4Range pool;
  std::optional<Ipv4Address> router;
  std::vector<Ipv4Address> dns;
  std::chrono::seconds lease_time{3600};
  std::string domain;  // option 15, optional
};

// DHCPv6 (dhcp6:). Router advertisements stay with the network's router:
// clients learn their default route and on-link prefix from it, never from
// DHCPv6 (RFC 8415 §18.2.10.1: there is no router option).
struct Subnet6Config {
  Ipv6Cidr subnet;
  Ipv6Range pool;
  std::vector<Ipv6Address> dns;
  std::chrono::seconds lease_time{3600};
};

struct Dhcp6Config {
  // full: addresses from `subnets` plus boot options; proxy: boot options
  // only (Advertise/Reply without IA_NA addresses: another server or SLAAC
  // addresses the machine); off (default).
  DhcpMode mode = DhcpMode::kOff;
  std::vector<Subnet6Config> subnets;
};

struct DhcpConfig {
  DhcpMode mode = DhcpMode::kFull;
  std::vector<SubnetConfig> subnets;
  bool proxy_port67 = true;  // proxy mode: also answer on 67 (off: 4011 only)
};

struct BootConfig {
  UnknownMachinePolicy unknown_machines = UnknownMachinePolicy::kDiscover;
  Role default_role = Role::kWorker;
  std::string default_profile = "default";
  BootFromDisk boot_from_disk = BootFromDisk::kExit;
  std::chrono::seconds config_token_ttl{1800};
  int config_token_max_fetches = 5;
};

struct ProfileConfig {
  std::string name;
  std::string kernel;     // absolute path of a local file, or empty with talos_version
  std::string initramfs;
  std::string talos_version;  // Image Factory download when set
  std::string schematic;       // the Image Factory schematic ID (given, or computed from schematic_file)
  std::string schematic_file;  // absolute path of the talos-image.yaml it came from; empty when given as an ID
  std::string image_factory = "https://factory.talos.dev";
  std::string kernel_sha256;     // optional: empty = pin the first download (trust on first use)
  std::string initramfs_sha256;
  std::string arch = "amd64";
  std::vector<std::string> kernel_args;
  std::map<Role, std::string> configs;  // absolute paths of talosctl gen config output (may be empty with clusters)
  std::vector<YAML::Node> patches;
  std::optional<ConfigDelivery> config_delivery;  // for the profile's machines; unset = url
  // secureBoot: its machines boot through Debian's signed shim and GRUB
  // (shimx64.efi over TFTP, `true`) or the profile's signed Talos UKI (`uki`)
  // instead of the unsigned iPXE (docs/secureboot.md).
  SecureBootChain secure_boot = SecureBootChain::kNone;
  // secureBoot uki: a local UKI file (absolute), else Image Factory's
  // metal-<arch>-secureboot-uki.efi of talosVersion + schematic; its digest
  // (optional: empty pins the first download, as the kernel's).
  std::string uki;
  std::string uki_sha256;
};

struct BmcConfig {
  BmcType type = BmcType::kManual;
  std::string address;   // host[:port] or URL (redfish), server number (hetzner-robot)
  std::string username;
  Secret password;       // read from passwordFile / passwordEnv at load time
  std::string password_source;  // "file /etc/..." or "env NAME": safe to show
  int cipher_suite = 3;          // ipmi
  std::uint32_t workaround_flags = 0;  // ipmi (FreeIPMI workaround bits)
  bool insecure_tls = false;     // redfish: skip certificate verification
  // hetzner-robot: the private key the rescue system lets in (absolute path),
  // and its public half's MD5 fingerprint, derived at load (Robot's
  // `authorized_key` names a key registered in Robot by that fingerprint).
  std::string ssh_key_file;
  std::string ssh_key_fingerprint;
  InstallMethod install_method = InstallMethod::kImage;
};

struct MachineConfig {
  std::string name;
  std::vector<MacAddress> macs;
  Role role = Role::kWorker;
  std::string profile;
  std::string install_disk;
  std::optional<Ipv4Address> ip;
  std::optional<BootFromDisk> boot_from_disk;
  std::vector<std::string> kernel_args;
  std::vector<YAML::Node> patches;
  std::optional<BmcConfig> bmc;
  std::string cluster;                            // a clusters: name; "" = the profile's configs
  std::optional<ConfigDelivery> config_delivery;  // overrides the profile's
  // Overrides the profile's: false opts out; true takes the profile's signed
  // path when it has one (uki), else shim + GRUB.
  std::optional<bool> secure_boot;
};

// A machine's signed path: its own secureBoot (false opts out; true takes
// the profile's uki, else shim) over its profile's.
inline SecureBootChain MachineSecureBoot(SecureBootChain profile, std::optional<bool> machine) {
  if (!machine) return profile;
  if (!*machine) return SecureBootChain::kNone;
  return profile == SecureBootChain::kUki ? SecureBootChain::kUki : SecureBootChain::kShim;
}

struct Inventory {
  std::vector<MachineConfig> machines;
  std::string source;  // file it came from ("" when inline)

  const MachineConfig* FindByMac(const MacAddress& mac) const;
  const MachineConfig* FindByName(std::string_view name) const;
};

// Remote reinstalls through a BMC (config section `power`): pacing of power
// actions, and how long a power-cycled machine has to reach the installer.
struct HetznerRobotConfig {
  std::string url = "https://robot-ws.your-server.de";  // HTTPS only: Basic auth on every request
  std::string ca_file;  // absolute; empty = the system's trust store
};

struct PowerConfig {
  HetznerRobotConfig hetzner_robot;       // power.hetznerRobot
  std::chrono::seconds min_interval{30};  // at most one power action per machine per interval
  std::chrono::seconds pxe_timeout{600};  // power action → installer script served
  int attempts = 3;                       // power cycles before the reinstall fails
};

// One Talos cluster (config section `clusters`): what `talosctl gen config`
// wrote for it, validated together (same CA), and how metalpxe bootstraps it.
// config_clusters.h has the lookups (a machine's cluster, base config,
// config delivery).
struct ClusterConfig {
  std::string name;
  std::string endpoint;                 // Kubernetes API, https://HOST:PORT (base config's when not given)
  std::string talosconfig_file;         // absolute
  TalosCredentials talos;               // the talosconfig's context: CA, os:admin client cert, key (Secret)
  std::map<Role, std::string> configs;  // absolute paths: controlplane.yaml, worker.yaml
  BootstrapMode bootstrap = BootstrapMode::kManual;
};

struct AppConfig {
  std::string file;  // absolute path of the appliance config
  ServerConfig server;
  DhcpConfig dhcp;
  Dhcp6Config dhcp6;
  BootConfig boot;
  PowerConfig power;
  StoreConfig store;  // store: sqlite (default) or a shared etcd cluster
  std::map<std::string, ProfileConfig> profiles;
  std::map<std::string, ClusterConfig> clusters;
  std::string inventory_file;  // absolute; empty when machines are inline
  std::shared_ptr<const Inventory> inventory;
};

}  // namespace metalpxe
