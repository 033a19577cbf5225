#pragma once
// secureBoot uki: a machine's firmware fetched its profile's signed UKI
// (over UEFI HTTP boot, PXE's TFTP or iPXE's `kernel`). Talos ignores any
// command line a boot loader gives a signed UKI, so no talos.config and no
// token reach it: the fetch itself is the sign that an installer is on its
// way, and the machine becomes a configDelivery apply target at the address
// it fetched from (the cluster driver applies its config over TLS once
// Talos's maintenance API answers there). This says whether a fetch is
// that sign; the provisioning service acts on it.
#include <optional>
#include <string>

#include "core/config.h"
#include "core/net_types.h"
#include "core/provisioning/boot_decision.h"

namespace metalpxe {

struct UkiFetchVerdict {
  bool apply = false;  // register the machine as an apply target at the fetching address
  std::string why;     // when not: safe to log
};

// `d`: the boot decision for the fetching machine now; `chain`: its signed
// path (SecureBootFor); `fetched_profile`: whose UKI it fetched; `holds`:
// the address the machine must fetch from (its lease in full DHCP mode;
// nullopt when it has none).
UkiFetchVerdict JudgeUkiFetch(const AppConfig& config, const BootDecision& d, SecureBootChain chain,
                              const std::string& fetched_profile, std::optional<Ipv4Address> holds,
                              Ipv4Address peer);

}  // namespace metalpxe
