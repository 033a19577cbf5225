#include "core/provisioning/uki_fetch.h"

#include "core/config_clusters.h"

namespace metalpxe {

UkiFetchVerdict JudgeUkiFetch(const AppConfig& config, const BootDecision& d, SecureBootChain chain,
                              const std::string& fetched_profile, std::optional<Ipv4Address> holds,
                              Ipv4Address peer) {
  if (d.action != BootAction::kInstall || !d.profile) return {false, "not installing (" + d.why + ")"};
  if (chain != SecureBootChain::kUki)
    return {false, "the machine boots with secureBoot " + std::string(SecureBootChainName(chain)) + ", not uki"};
  if (d.profile->name != fetched_profile)
    return {false, "the UKI is profile " + fetched_profile + "'s, the machine installs with " + d.profile->name};
  const ConfigDelivery delivery = d.machine ? ConfigDeliveryFor(config, *d.machine)
                                            : d.profile->config_delivery.value_or(ConfigDelivery::kUrl);
  if (delivery != ConfigDelivery::kApply)  // refused at load; kept for a config built in code
    return {false, "configDelivery url cannot reach a UKI (it ignores the command line)"};
  // In full DHCP mode the config goes only to the address leased to that MAC
  // (as /ipxe's installer does): a fetch from elsewhere is not the machine.
  if (!holds) return {false, "no lease for that MAC"};
  if (*holds != peer) return {false, "fetched from " + peer.ToString() + ", that MAC holds " + holds->ToString()};
  return {true, ""};
}

}  // namespace metalpxe
