// Reading Talos's kubeconfig archive: a tar.gz with one file `kubeconfig`,
// made here with libarchive as Go's archive/tar + compress/gzip make it.
#include "talos/kubeconfig_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <vector>

namespace metalpxe::talos {
namespace {

struct Entry {
  std::string name;
  std::string data;
  unsigned type = AE_IFREG;
};

std::string TarGz(const std::vector<Entry>& entries, bool gzip = true) {
  archive* a = archive_write_new();
  if (gzip) archive_write_add_filter_gzip(a);
  archive_write_set_format_ustar(a);
  std::string out(1 << 22, '\0');
  size_t used = 0;
  archive_write_open_memory(a, out.data(), out.size(), &used);
  for (const auto& e : entries) {
    archive_entry* ent = archive_entry_new();
    archive_entry_set_pathname(ent, e.name.c_str());
    archive_entry_set_filetype(ent, e.type);
    archive_entry_set_perm(ent, 0600);
    archive_entry_set_size(ent, e.type == AE_IFREG ? static_cast<la_int64_t>(e.data.size()) : 0);
    archive_write_header(a, ent);
    if (e.type == AE_IFREG) archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(ent);
  }
  archive_write_close(a);
  archive_write_free(a);
  out.resize(used);
  return out;
}

TEST(KubeconfigArchive, ReadsTheKubeconfigEntry) {
  auto k = ExtractKubeconfig(TarGz({{"kubeconfig", "apiVersion: v1\nkind: Config\n"}}));
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  EXPECT_EQ(k->Reveal(), "apiVersion: v1\nkind: Config\n");
  EXPECT_TRUE(ExtractKubeconfig(TarGz({{"README", "x"}, {"./kubeconfig", "k"}})).ok());
}

TEST(KubeconfigArchive, RefusesWhatIsNotTalossArchive) {
  EXPECT_EQ(ExtractKubeconfig("").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(ExtractKubeconfig("apiVersion: v1\n").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(ExtractKubeconfig(TarGz({{"kubeconfig", "x"}}, /*gzip=*/false)).ok()) << "tar without gzip";
  EXPECT_EQ(ExtractKubeconfig(TarGz({{"talosconfig", "x"}})).status().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(ExtractKubeconfig(TarGz({{"kubeconfig", "", AE_IFDIR}})).ok());
  const std::string big(kMaxKubeconfigBytes + 1, 'k');
  EXPECT_EQ(ExtractKubeconfig(TarGz({{"kubeconfig", big}})).status().code(), ErrorCode::kResourceExhausted);
  std::string truncated = TarGz({{"kubeconfig", std::string(5000, 'k')}});
  truncated.resize(truncated.size() / 2);
  EXPECT_FALSE(ExtractKubeconfig(truncated).ok());
}

}  // namespace
}  // namespace metalpxe::talos
