#include "images/asset_names.h"

namespace metalpxe {

bool IsSafePathComponent(std::string_view s) {
  if (s.empty() || s.size() > 128 || s == "." || s == "..") return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-' || c == '+';
    if (!ok) return false;
  }
  return true;
}

bool IsSha256Hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) return false;
  }
  return true;
}

std::string FactoryKernelName(std::string_view arch) { return "kernel-" + std::string(arch); }

std::string FactoryInitramfsName(std::string_view arch) { return "initramfs-" + std::string(arch) + ".xz"; }

std::string FactoryMetalImageName(std::string_view arch) { return "metal-" + std::string(arch) + ".raw.zst"; }

std::string FactorySecureBootUkiName(std::string_view arch) {
  return "metal-" + std::string(arch) + "-secureboot-uki.efi";
}

std::string FactoryAssetUrl(std::string_view base, std::string_view schematic, std::string_view version,
                            std::string_view file) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  std::string url(base);
  url += "/image/";
  url += schematic;
  url += '/';
  url += version;
  url += '/';
  url += file;
  return url;
}

Status CheckPathComponent(std::string_view what, std::string_view value) {
  if (IsSafePathComponent(value)) return Status::Ok();
  return Status(ErrorCode::kInvalidArgument,
                std::string(what) + " '" + std::string(value.substr(0, 64)) +
                    "' is not usable as a path component (letters, digits, '.', '_', '-', '+' only)");
}

}  // namespace metalpxe
