#pragma once
// File-system checks shared by the config and inventory loaders.
#include <string>
#include <string_view>

namespace metalpxe {

// `path` made absolute against `base_dir` when relative.
std::string ResolvePath(std::string_view path, std::string_view base_dir);
std::string DirName(std::string_view path);
// "" when `path` is a readable regular file, else why not ("does not exist", ...).
std::string WhyNotReadableFile(const std::string& path);
// Whole file, or nullopt-like empty + error text.
bool ReadWholeFile(const std::string& path, std::string* out, std::string* error);

}  // namespace metalpxe
