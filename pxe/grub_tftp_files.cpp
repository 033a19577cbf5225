#include "pxe/grub_tftp_files.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/provisioning/boot_urls.h"
#include "pxe/grub_config.h"

namespace metalpxe {

Result<tftp::OpenedFile> TftpMemoryFile(std::string_view text) {
  UniqueFd fd(::memfd_create("metalpxe-tftp", MFD_CLOEXEC));
  if (!fd.valid()) return Status(ErrorCode::kInternal, std::string("memfd_create: ") + std::strerror(errno));
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status(ErrorCode::kInternal, std::string("memfd write: ") + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
  return tftp::OpenedFile{std::move(fd), text.size()};
}

Result<tftp::OpenedFile> OpenPackagedFile(std::string_view path) {
  UniqueFd fd(::open(std::string(path).c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    return Status(ErrorCode::kNotFound, std::string(path) + " is not installed");
  return tftp::OpenedFile{std::move(fd), static_cast<std::uint64_t>(st.st_size)};
}

std::optional<Result<tftp::OpenedFile>> GrubTftpFiles::Open(std::string_view name, Ipv4Address peer) const {
  while (name.starts_with('/')) name.remove_prefix(1);  // as the root does (tftp_root.h)
  if (name == kGrubConfigPath) return TftpMemoryFile(RenderGrubBootstrap());
  if (const auto debian = DebianSignedFile(name)) {
    std::error_code ec;
    const auto copy = std::filesystem::path(config_.Current()->server.tftp_root) / std::string(name);
    if (std::filesystem::exists(copy, ec)) return std::nullopt;  // tftpRoot's own copy
    return OpenPackagedFile(*debian);
  }
  if (name.starts_with(kGrubMachineConfigPrefix)) {
    const auto mac = MacAddress::Parse(name.substr(kGrubMachineConfigPrefix.size()));
    if (!mac) return Result<tftp::OpenedFile>(ErrorCode::kNotFound, "not a MAC");
    const IpxeAnswer a = service_.OnGrubConfig(*mac, peer);
    return TftpMemoryFile(RenderGrubMachineConfig(config_.Current()->server, *mac, a));
  }
  if (name.starts_with(kProfileTftpPrefix)) {
    // Confined like tftpRoot (no "..", no symlink out), to the published profiles.
    auto root = tftp::TftpRoot::Open(ProfileAssetsDir(config_.Current()->server));
    if (!root.ok()) return Result<tftp::OpenedFile>(ErrorCode::kNotFound, "no published profiles");
    return root->OpenForRead(name.substr(kProfileTftpPrefix.size()));
  }
  return std::nullopt;
}

}  // namespace metalpxe
