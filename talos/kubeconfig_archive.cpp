#include "talos/kubeconfig_archive.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <string>

namespace metalpxe::talos {
namespace {

// libarchive may have no words for a failure (NULL): found by fuzz_talos_kubeconfig_archive.
std::string ArchiveError(archive* a) {
  const char* text = archive_error_string(a);
  return text ? text : "unreadable archive";
}

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};

// Reads the current entry's data, at most `limit` bytes (one more tells "too large").
Result<std::string> ReadEntry(archive* a, std::size_t limit) {
  std::string out;
  char buf[16384];
  while (true) {
    const la_ssize_t n = archive_read_data(a, buf, sizeof buf);
    if (n < 0) return Status(ErrorCode::kInvalidArgument, "archive: " + ArchiveError(a));
    if (n == 0) return out;
    if (out.size() + static_cast<std::size_t>(n) > limit) {
      std::fill(out.begin(), out.end(), '\0');
      return Status(ErrorCode::kResourceExhausted,
                    "archive: kubeconfig is larger than " + std::to_string(limit) + " bytes");
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace

Result<Secret> ExtractKubeconfig(std::string_view targz) {
  std::unique_ptr<archive, ArchiveFree> a(archive_read_new());
  if (!a) return Status(ErrorCode::kInternal, "archive_read_new failed");
  // Exactly what Talos writes: gzip around tar. Nothing else is accepted.
  archive_read_support_filter_gzip(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_memory(a.get(), targz.data(), targz.size()) != ARCHIVE_OK)
    return Status(ErrorCode::kInvalidArgument, "not a tar.gz: " + ArchiveError(a.get()));
  archive_entry* entry = nullptr;
  // Talos's archive has one entry; skipping others still inflates them, so
  // their number and declared sizes are bounded too.
  for (int entries = 0;; ++entries) {
    if (entries == 16) return Status(ErrorCode::kInvalidArgument, "archive: too many entries before kubeconfig");
    const int rc = archive_read_next_header(a.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
      return Status(ErrorCode::kInvalidArgument, "not a tar.gz: " + ArchiveError(a.get()));
    // libarchive also reads a bare tar through its pass-through filter.
    if (archive_filter_code(a.get(), 0) != ARCHIVE_FILTER_GZIP)
      return Status(ErrorCode::kInvalidArgument, "not a tar.gz: the archive is not gzip-compressed");
    if (archive_entry_size(entry) > static_cast<la_int64_t>(kMaxKubeconfigBytes))
      return Status(ErrorCode::kResourceExhausted,
                    "archive: an entry is larger than " + std::to_string(kMaxKubeconfigBytes) + " bytes");
    const char* raw = archive_entry_pathname(entry);
    std::string_view name = raw ? raw : "";
    if (name.starts_with("./")) name.remove_prefix(2);
    if (name != "kubeconfig") {
      archive_read_data_skip(a.get());
      continue;
    }
    if (archive_entry_filetype(entry) != AE_IFREG)
      return Status(ErrorCode::kInvalidArgument, "archive: kubeconfig is not a regular file");
    auto data = ReadEntry(a.get(), kMaxKubeconfigBytes);
    if (!data) return data.status();
    return Secret(std::move(*data));
  }
  return Status(ErrorCode::kNotFound, "archive holds no file named kubeconfig");
}

}  // namespace metalpxe::talos
