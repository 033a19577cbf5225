#pragma once
// GRUB configs for the Secure Boot chain (shim -> Debian's signed GRUB
// netboot image -> the machine's own config over TFTP): pure text, like
// ipxe_script.h. What a machine boots is decided in core/provisioning (the
// same IpxeAnswer as /ipxe); this file only writes it as GRUB script.
#include <string>

#include "core/config.h"
#include "core/provisioning/provisioning_service.h"

namespace metalpxe {

// grub/grub.cfg, which the signed image sources from its prefix: turns
// GRUB's ${net_default_mac} into the machine's own file name and sources it.
std::string RenderGrubBootstrap();

// grub/grub.cfg-01-<mac>: the answer as GRUB script. The kernel arguments
// are the ones /ipxe renders (TalosKernelArgs, carried by the answer) minus
// iPXE's initrd=<name>, which GRUB does not need (it hands the initramfs
// over itself). Carries the config token: a secret, never logged.
std::string RenderGrubMachineConfig(const ServerConfig& server, const MacAddress& mac, const IpxeAnswer& answer);

// A word GRUB's parser takes literally: single-quoted, ' as '\''.
std::string GrubQuote(std::string_view word);

}  // namespace metalpxe
