#include "api/management/pki.h"

#include <cerrno>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

#include "api/management/client_config.h"
#include "api/management/x509_issuer.h"
#include "core/log.h"

namespace metalpxe {
namespace {

Status MakePrivateDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status(ErrorCode::kUnavailable, "create " + path + ": " + std::strerror(errno));
  }
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status(ErrorCode::kFailedPrecondition, path + " is not a directory");
  }
  if ((st.st_mode & 077) != 0 && ::chmod(path.c_str(), 0700) != 0) {
    return Status(ErrorCode::kUnavailable, "chmod " + path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

// Both files, or neither (kNotFound): a half-written pair is treated as absent.
Result<PemKeyPair> LoadPair(const std::string& cert_path, const std::string& key_path) {
  auto cert = ReadSmallFile(cert_path);
  auto key = ReadSmallFile(key_path);
  if (!cert.ok() && cert.status().code() != ErrorCode::kNotFound) return cert.status();
  if (!key.ok() && key.status().code() != ErrorCode::kNotFound) return key.status();
  if (!cert.ok() || !key.ok()) return Status(ErrorCode::kNotFound, cert_path + " or " + key_path + " missing");
  return PemKeyPair{std::move(cert).value(), Secret(std::move(key).value())};
}

Status SavePair(const PemKeyPair& pair, const std::string& cert_path, const std::string& key_path) {
  // Key first: a crash in between leaves a key without certificate, which
  // LoadPair treats as missing and regenerates.
  if (auto s = WritePrivateFile(key_path, pair.key_pem.Reveal()); !s.ok()) return s;
  return WritePrivateFile(cert_path, pair.cert_pem);
}

// The installation's CA from the shared store (see pki.h); `new_ca` tells
// whether it differs from the pki/ca.crt this appliance had (its
// certificates are then reissued).
Result<PemKeyPair> SharedApiCa(SharedValues& shared, const std::string& ca_crt, const std::string& ca_key,
                               bool& new_ca) {
  auto own = LoadPair(ca_crt, ca_key);
  if (!own.ok() && own.status().code() != ErrorCode::kNotFound) return own.status();
  Result<PemKeyPair> candidate = own.ok() ? std::move(own) : IssueCa("metalpxe management CA");
  if (!candidate.ok()) return candidate.status();
  auto stored = shared.CreateOnce(kSharedApiCaName, EncodeCaBundle(*candidate));
  if (!stored.ok()) return Status(stored.status().code(), "shared API CA: " + stored.status().message());
  auto ca = DecodeCaBundle(stored->Reveal());
  if (!ca.ok()) return ca.status();
  const bool adopted = candidate->cert_pem == ca->cert_pem;
  auto local_cert = ReadSmallFile(ca_crt);
  new_ca = !local_cert.ok() || *local_cert != ca->cert_pem;
  if (new_ca) {
    if (auto s = WritePrivateFile(ca_crt, ca->cert_pem); !s.ok()) return s;
    spdlog::info("management API: {} the shared CA (store value {}); {} holds its certificate",
                 adopted ? "created" : "using", kSharedApiCaName, ca_crt);
  }
  // Its key stays in etcd only: a copy in every stateDir would be one more
  // place to take it from (and an older CA's key signs nothing any more).
  if (::unlink(ca_key.c_str()) == 0)
    spdlog::info("management API: removed {}: the CA key is the shared one now", ca_key);
  return ca;
}

std::string LocalHostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

}  // namespace

Result<ApiPki> EnsureApiPki(const std::string& state_dir, Ipv4Address server_address, std::string host_name,
                            std::uint16_t api_port, SharedValues* shared) {
  if (host_name.empty()) host_name = LocalHostName();
  ApiPki pki;
  pki.dir = state_dir + "/pki";
  pki.shared = shared;
  if (auto s = MakePrivateDir(pki.dir); !s.ok()) return s;
  const std::string ca_crt = pki.dir + "/ca.crt", ca_key = pki.dir + "/ca.key";
  const std::string srv_crt = pki.dir + "/server.crt", srv_key = pki.dir + "/server.key";
  const std::string adm_crt = pki.dir + "/admin.crt", adm_key = pki.dir + "/admin.key";
  pki.client_config_path = pki.dir + "/admin.metalpxeconfig";

  bool new_ca = false;
  auto ca = shared ? SharedApiCa(*shared, ca_crt, ca_key, new_ca) : LoadPair(ca_crt, ca_key);
  if (shared && !ca.ok()) return ca.status();  // never a CA of this appliance's own beside the shared one
  if (!ca.ok()) {
    if (ca.status().code() != ErrorCode::kNotFound) return ca.status();
    ca = IssueCa("metalpxe management CA");
    if (!ca.ok()) return ca.status();
    if (auto s = SavePair(*ca, ca_crt, ca_key); !s.ok()) return s;
    new_ca = true;
    spdlog::info("management API: created CA {}", ca_crt);
  }
  pki.ca_cert_pem = ca->cert_pem;
  pki.ca_key_pem = ca->key_pem;

  const std::vector<std::string> ips = {server_address.ToString(), "127.0.0.1"};
  const std::vector<std::string> names = {host_name, "localhost"};
  auto server = LoadPair(srv_crt, srv_key);
  if (!server.ok() && server.status().code() != ErrorCode::kNotFound) return server.status();
  if (new_ca || !server.ok() || !CertificateCovers(server->cert_pem, ca->cert_pem, ips, names)) {
    LeafSpec spec;
    spec.common_name = host_name;
    spec.organization = "metalpxe";
    spec.server = true;
    spec.ip_addresses = ips;
    spec.dns_names = names;
    server = IssueLeaf(*ca, spec);
    if (!server.ok()) return server.status();
    if (auto s = SavePair(*server, srv_crt, srv_key); !s.ok()) return s;
    spdlog::info("management API: issued server certificate {} for {}, {}", srv_crt, ips.front(), host_name);
  }
  pki.server_cert_pem = server->cert_pem;
  pki.server_key_pem = server->key_pem;

  auto admin = LoadPair(adm_crt, adm_key);
  if (!admin.ok() && admin.status().code() != ErrorCode::kNotFound) return admin.status();
  if (new_ca || !admin.ok() || !CertificateCovers(admin->cert_pem, ca->cert_pem, {}, {})) {
    LeafSpec spec;
    spec.common_name = "admin";
    spec.organization = "metalpxe:admin";
    admin = IssueLeaf(*ca, spec);
    if (!admin.ok()) return admin.status();
    if (auto s = SavePair(*admin, adm_crt, adm_key); !s.ok()) return s;
    spdlog::info("management API: issued admin client certificate {}", adm_crt);
  }
  pki.admin_cert_pem = admin->cert_pem;

  ClientConfig client{server_address.ToString() + ":" + std::to_string(api_port), ca->cert_pem, admin->cert_pem,
                      admin->key_pem};
  const std::string rendered = RenderClientConfig(client);
  auto existing = ReadSmallFile(pki.client_config_path);
  if (!existing.ok() || *existing != rendered) {
    if (auto s = WritePrivateFile(pki.client_config_path, rendered); !s.ok()) return s;
    spdlog::info("management API: client config for metalpxectl written to {}", pki.client_config_path);
  }
  return pki;
}

}  // namespace metalpxe
