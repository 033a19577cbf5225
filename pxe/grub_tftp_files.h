#pragma once
// The TFTP files of the Secure Boot chain that are not in tftpRoot
// (boot_urls.h names them): grub/grub.cfg and each machine's
// grub/grub.cfg-01-<mac>, rendered per request by the provisioning service,
// and profiles/<profile>/{vmlinuz,initramfs.xz,secureboot-uki.efi (secureBoot
// uki: the firmware's PXE fetches the UKI here)}, read from where profiles
// are published (the same files HTTP serves under /assets/profiles), and
// shimx64.efi / grubx64.efi from Debian's packages when tftpRoot holds no
// copy (boot_files.h). Plugged
// into the TFTP server as TftpOptions::virtual_files.
#include <optional>
#include <string>
#include <string_view>

#include "core/config_source.h"
#include "core/provisioning/provisioning_service.h"
#include "pxe/tftp/tftp_root.h"

namespace metalpxe {

class GrubTftpFiles {
 public:
  GrubTftpFiles(const ConfigSource& config, ProvisioningService& service) : config_(config), service_(service) {}

  // nullopt: not one of these names (tftpRoot answers).
  std::optional<Result<tftp::OpenedFile>> Open(std::string_view filename, Ipv4Address peer) const;

 private:
  const ConfigSource& config_;
  ProvisioningService& service_;
};

// A file a Debian package installed (the signed chain), for a TFTP transfer.
Result<tftp::OpenedFile> OpenPackagedFile(std::string_view path);

// A read-only in-memory file (memfd) holding `text`, for a TFTP transfer.
Result<tftp::OpenedFile> TftpMemoryFile(std::string_view text);

}  // namespace metalpxe
