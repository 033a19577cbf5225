#pragma once
// Talos's Kubeconfig call streams a tar.gz holding one regular file,
// `kubeconfig` (the same framing as its Copy call). This reads that file out
// of the archive bytes with libarchive. Pure function (memory in, memory
// out); bounded: the archive is read in memory and the file may be at most
// kMaxKubeconfigBytes, so a hostile node cannot make us inflate without end.
#include <cstddef>
#include <string_view>

#include "core/result.h"
#include "core/secret.h"

namespace metalpxe::talos {

inline constexpr std::size_t kMaxKubeconfigBytes = 1 << 20;

// The contents of the entry named "kubeconfig" (a leading "./" is accepted).
// Errors: not gzip/tar, no such entry, not a regular file, too large.
Result<Secret> ExtractKubeconfig(std::string_view targz);

}  // namespace metalpxe::talos
