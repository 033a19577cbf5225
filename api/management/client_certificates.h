#pragma once
// The client configs the management API hands out, and the ones it no longer
// honours. Issue() signs a new client certificate of a role with the API CA
// and records it in <stateDir>/pki/issued.yaml (no private key); Revoke()
// puts its serial on the deny list <stateDir>/pki/revoked, which every call
// is checked against: revocation without rotating the CA. The deny list is
// re-read when its file changes, so a serial added by hand counts too.
//
// Several appliances sharing one API CA (pki.h, issue #20): a config made on
// one is accepted by all, so the ledger and the deny list are shared values
// too (kSharedClientLedgerName, kSharedRevokedName; core/shared_values.h),
// changed with a compare-and-swap (read, change, write if nobody wrote
// meanwhile, else again). A revocation made on any appliance is refused by
// every one within kSharedReadInterval (each reads the deny list again at
// most that often). When the store cannot be read, the deny list last read
// stays in force (a revocation cannot be written then either) and the API
// keeps serving. The files in pki/ are merged in once (an appliance that
// ran alone before) and no longer written.
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "api/management/pki.h"
#include "api/management/x509_issuer.h"
#include "core/client_ledger.h"
#include "core/result.h"

namespace metalpxe {

inline constexpr const char* kSharedClientLedgerName = "client-configs";
inline constexpr const char* kSharedRevokedName = "revoked-client-certs";
inline constexpr std::chrono::milliseconds kSharedReadInterval{1000};

struct IssuedClient {
  IssuedClientConfig entry;
  PemKeyPair pair;  // the certificate and its key: handed to the caller, never stored
};

class ClientCertificates {
 public:
  using Clock = std::function<std::int64_t()>;  // unix seconds
  // `pki`: dir, CA certificate and key, the bootstrap admin's certificate.
  explicit ClientCertificates(const ApiPki& pki, Clock clock = {});

  // Reads the ledger and the deny list; records the bootstrap admin
  // certificate in the ledger the first time. A malformed file is an error.
  Status Load();

  // kOk: not revoked. kPermissionDenied: on the deny list. kUnavailable: the
  // deny list changed and cannot be read (every call is refused until it is
  // fixed: a damaged deny list must not let a revoked certificate in).
  Status CheckNotRevoked(const std::string& serial);

  // kInvalidArgument: bad name; kAlreadyExists: a valid config of that name exists.
  Result<IssuedClient> Issue(const std::string& name, ApiRole role, int valid_days, const std::string& issued_by);
  std::vector<IssuedClientConfig> List();
  // `client`: a name (its valid config) or a serial. kNotFound when neither;
  // kFailedPrecondition when already revoked, or when it is `caller_serial`:
  // revoking the certificate the request came with would lock its holder out
  // mid-session; another admin's config must do it.
  Result<IssuedClientConfig> Revoke(const std::string& client, const std::string& revoked_by,
                                    const std::string& caller_serial);
  bool shared() const { return shared_ != nullptr; }

  std::string ledger_path() const { return dir_ + "/issued.yaml"; }
  std::string deny_list_path() const { return dir_ + "/revoked"; }

 private:
  Status ReloadDenyListLocked();  // when the file's mtime/size changed (shared: when last read long enough ago)
  Status SaveLocked();
  std::int64_t NowUnix() const;
  // Shared mode: reads both values when last read more than
  // kSharedReadInterval ago; the deny list's status (the last one read when
  // the store cannot be read now).
  Status PullSharedLocked();
  // Reads both values now: kOk; a read failure as is (nothing changed); a
  // value that does not parse: deny_list_status_ set to kUnavailable.
  Status ReadSharedLocked();
  // Shared mode: `change` on fresh copies of the ledger and deny list,
  // written back with compare-and-swap (redone on a lost race, bounded).
  using SharedChange = std::function<Status(std::vector<IssuedClientConfig>&, std::set<std::string>&)>;
  Status UpdateSharedLocked(const SharedChange& change);

  std::string dir_;
  PemKeyPair ca_;
  std::string admin_cert_pem_;
  Clock clock_;
  std::mutex mu_;
  std::vector<IssuedClientConfig> ledger_;
  std::set<std::string> revoked_;
  Status deny_list_status_;
  std::int64_t deny_list_mtime_ns_ = -1;
  std::int64_t deny_list_size_ = -1;
  SharedValues* shared_ = nullptr;
  bool pulled_ = false;
  std::chrono::steady_clock::time_point last_pull_{};
  std::int64_t ledger_revision_ = 0;
  std::int64_t deny_revision_ = 0;
  bool shared_failing_ = false;  // logged once per failure streak
};

}  // namespace metalpxe
