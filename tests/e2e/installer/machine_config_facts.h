#pragma once
// What the stand-in acts on in a Talos machine config, beyond who it is
// (talos_config_identity.h): where to install (machine.install.disk), the
// static network (v1alpha1 machine.network.interfaces, or the 1.12+
// HostnameConfig / LinkConfig documents), and the PKI its apid needs
// (machine.ca for the apid certificate, cluster.ca and the endpoint for the
// kubeconfig). Pure function over the YAML text; base64 fields decoded.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace metalpxe::standin {

struct StaticAddress {
  std::string cidr;     // "10.66.0.11/24"
  std::string gateway;  // default route, or ""
};

struct MachineConfigFacts {
  std::string role;          // machine.type
  std::string hostname;      // machine.network.hostname or HostnameConfig.hostname
  std::string install_disk;  // machine.install.disk ("" when none)
  std::optional<StaticAddress> address;  // for this machine's NIC (by name or MAC)
  std::string machine_ca_crt, machine_ca_key;  // PEM; the key is "" on workers (gen config leaves it out)
  std::string machine_token;                   // machine.token: what trustd asks of a worker
  std::string cluster_ca_crt, cluster_ca_key;  // PEM (Kubernetes CA)
  std::string endpoint;                        // cluster.controlPlane.endpoint
  std::string cluster_name;
};

// `iface` and `mac` ("52:54:00:..", any case) select the interface entry
// that applies to this machine (interface name, deviceSelector.hardwareAddr,
// or a LinkConfig named after the interface).
Result<MachineConfigFacts> FactsFromTalosConfig(std::string_view yaml, std::string_view iface, std::string_view mac);

}  // namespace metalpxe::standin
