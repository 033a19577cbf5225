#pragma once
// Names of Talos boot assets: Image Factory URLs and cache paths, and the
// checks that keep profile values (which become directory names) from
// escaping the cache. Pure functions, no I/O.
#include <string>
#include <string_view>

#include "core/result.h"

namespace metalpxe {

// A single path component: [A-Za-z0-9._+-]+, not "." or "..", at most 128
// characters. Schematic IDs, Talos versions and arches all fit.
bool IsSafePathComponent(std::string_view s);

// 64 hex digits, either case.
bool IsSha256Hex(std::string_view s);

// "kernel-amd64", "initramfs-amd64.xz": the names Image Factory serves and
// the names the files get in the cache.
std::string FactoryKernelName(std::string_view arch);
std::string FactoryInitramfsName(std::string_view arch);
// The metal disk image Hetzner rescue installs write with dd: "metal-amd64.raw.zst".
std::string FactoryMetalImageName(std::string_view arch);
// The signed UKI of secureBoot uki profiles: "metal-amd64-secureboot-uki.efi"
// (Image Factory's <platform>-<arch>-secureboot-uki.efi, signed with the
// Secure Boot key Image Factory signs its schematics with).
std::string FactorySecureBootUkiName(std::string_view arch);

// <base>/image/<schematic>/<version>/<file>; a trailing '/' on base is dropped.
std::string FactoryAssetUrl(std::string_view base, std::string_view schematic, std::string_view version,
                            std::string_view file);

// Checks that a schematic / version / arch can be used in a URL and a path;
// `what` names the field in the error ("schematic").
Status CheckPathComponent(std::string_view what, std::string_view value);

}  // namespace metalpxe
