#include "tests/e2e/installer/admin_kubeconfig.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include <ctime>
#include <memory>

#include "tests/e2e/installer/standin_pki.h"

namespace metalpxe::standin {
namespace {

std::string Base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

}  // namespace

Result<std::string> AdminKubeconfig(const MachineConfigFacts& f) {
  if (f.cluster_ca_crt.empty() || f.cluster_ca_key.empty())
    return Status(ErrorCode::kFailedPrecondition, "k8s API server CA config is not set");
  auto admin = IssueKubernetesAdmin(f.cluster_ca_crt, f.cluster_ca_key);
  if (!admin) return admin.status();
  const std::string name = f.cluster_name.empty() ? "talos" : f.cluster_name;
  return "apiVersion: v1\nkind: Config\nclusters:\n  - name: " + name + "\n    cluster:\n      server: " + f.endpoint +
         "\n      certificate-authority-data: " + Base64(f.cluster_ca_crt) + "\nusers:\n  - name: admin@" + name +
         "\n    user:\n      client-certificate-data: " + Base64(admin->cert_pem) +
         "\n      client-key-data: " + Base64(admin->key_pem) + "\ncontexts:\n  - context:\n      cluster: " + name +
         "\n      namespace: default\n      user: admin@" + name + "\n    name: admin@" + name +
         "\ncurrent-context: admin@" + name + "\n";
}

std::string Sha256Hex(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &n, EVP_sha256(), nullptr) != 1) return "";
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

Result<std::string> SingleFileTarGz(const std::string& name, const std::string& contents) {
  struct Free {
    void operator()(archive* a) const { archive_write_free(a); }
  };
  std::unique_ptr<archive, Free> a(archive_write_new());
  std::string out(contents.size() + 64 * 1024, '\0');
  size_t used = 0;
  if (!a || archive_write_add_filter_gzip(a.get()) != ARCHIVE_OK || archive_write_set_format_ustar(a.get()) != ARCHIVE_OK ||
      archive_write_open_memory(a.get(), out.data(), out.size(), &used) != ARCHIVE_OK)
    return Status(ErrorCode::kInternal, "archive: cannot open for writing");
  std::unique_ptr<archive_entry, decltype(&archive_entry_free)> entry(archive_entry_new(), archive_entry_free);
  archive_entry_set_pathname(entry.get(), name.c_str());
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_perm(entry.get(), 0600);
  archive_entry_set_size(entry.get(), static_cast<la_int64_t>(contents.size()));
  archive_entry_set_mtime(entry.get(), std::time(nullptr), 0);
  if (archive_write_header(a.get(), entry.get()) != ARCHIVE_OK ||
      archive_write_data(a.get(), contents.data(), contents.size()) != static_cast<la_ssize_t>(contents.size()) ||
      archive_write_close(a.get()) != ARCHIVE_OK)
    {
    const char* why = archive_error_string(a.get());
    return Status(ErrorCode::kInternal, std::string("archive: ") + (why ? why : "write failed"));
  }
  out.resize(used);
  return out;
}

}  // namespace metalpxe::standin
