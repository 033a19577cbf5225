#pragma once
// Finding and opening a served file under one of several roots (searched in
// order), confined to that root: see asset_path.h for the checks.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/unique_fd.h"

namespace metalpxe::http {

struct OpenedAsset {
  UniqueFd fd;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::string real_path;
};

// rel: decoded URL path after the route prefix. Errors:
//   kInvalidArgument  "." / ".." segments, NUL or backslash (-> 400)
//   kNotFound         in no root, or not a regular file (-> 404)
//   kPermissionDenied resolves out of its root, e.g. via a symlink (-> 404 too)
Result<OpenedAsset> OpenAsset(std::string_view rel, const std::vector<std::string>& roots);

}  // namespace metalpxe::http
