#include "api/management/client_certificates.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "api/management/client_config.h"
#include "core/log.h"

namespace metalpxe {
namespace {

constexpr int kMaxValidDays = 3650;

// mtime in ns and size of `path`; {-1,-1} when it does not exist.
std::pair<std::int64_t, std::int64_t> DenyListStamp(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return {-1, -1};
  return {static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
          static_cast<std::int64_t>(st.st_size)};
}

// kAlreadyExists when `name` has a valid config in `ledger` at `now`.
Status ClientNameTaken(const std::vector<IssuedClientConfig>& ledger, const std::string& name, std::int64_t now) {
  for (const auto& e : ledger) {
    if (e.name == name && e.revoked_unix == 0 && e.expires_unix > now) {
      return Status(ErrorCode::kAlreadyExists, "a valid client config named " + name + " exists (serial " + e.serial +
                                                   "); revoke it first or choose another name");
    }
  }
  return Status::Ok();
}

// The entry `client` names: a name (its valid config) or a serial (any
// entry). Errors as Revoke documents them.
Result<IssuedClientConfig*> RevocableClientEntry(std::vector<IssuedClientConfig>& ledger, const std::string& client,
                                                 const std::string& caller_serial) {
  const auto serial = NormalizeSerial(client);
  IssuedClientConfig* found = nullptr;
  for (auto& e : ledger) {
    if (e.name == client && e.revoked_unix == 0) found = &e;
  }
  if (!found && serial) {
    for (auto& e : ledger)
      if (e.serial == *serial) found = &e;
  }
  if (!found) {
    return Status(ErrorCode::kNotFound, "no client config named or with serial " + client +
                                            " (`metalpxectl config list` shows them)");
  }
  if (found->revoked_unix != 0) {
    return Status(ErrorCode::kFailedPrecondition, "client config " + found->name + " (serial " + found->serial +
                                                      ") is already revoked");
  }
  if (found->serial == caller_serial) {
    return Status(ErrorCode::kFailedPrecondition, "client config " + found->name +
                                                      " is the one this request was made with; revoke it with "
                                                      "another admin's client config");
  }
  return found;
}

}  // namespace

ClientCertificates::ClientCertificates(const ApiPki& pki, Clock clock)
    : dir_(pki.dir), ca_{pki.ca_cert_pem, pki.ca_key_pem}, admin_cert_pem_(pki.admin_cert_pem),
      clock_(std::move(clock)), shared_(pki.shared) {}

std::int64_t ClientCertificates::NowUnix() const {
  if (clock_) return clock_();
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Status ClientCertificates::Load() {
  std::lock_guard lock(mu_);
  std::vector<IssuedClientConfig> local;
  auto text = ReadSmallFile(ledger_path(), 16 << 20);
  if (text.ok()) {
    auto parsed = ParseClientLedger(*text);
    if (!parsed.ok()) return Status(parsed.status().code(), ledger_path() + ": " + parsed.status().message());
    local = std::move(parsed).value();
  } else if (text.status().code() != ErrorCode::kNotFound) {
    return text.status();
  }
  // The admin certificate metalpxed made on its first start is a client
  // config like the others: listed, and revocable.
  std::optional<IssuedClientConfig> admin_entry;
  if (!admin_cert_pem_.empty()) {
    auto admin = ReadCertificateIdentity(admin_cert_pem_);
    if (!admin.ok()) return admin.status();
    IssuedClientConfig e;
    e.name = admin->common_name;
    e.role = ApiRole::kAdmin;
    e.serial = admin->serial;
    e.issued_unix = NowUnix();
    e.expires_unix = admin->not_after_unix;
    e.issued_by = "metalpxed (first start)";
    admin_entry = e;
  }
  const auto add_unknown = [](std::vector<IssuedClientConfig>& ledger, const IssuedClientConfig& e) {
    const bool known = std::any_of(ledger.begin(), ledger.end(),
                                   [&](const IssuedClientConfig& x) { return x.serial == e.serial; });
    if (!known) ledger.push_back(e);
    return !known;
  };
  if (shared_) {
    // What this appliance recorded alone before (its configs count when its
    // CA became the shared one), merged in once; the files are kept as they
    // were, and no longer written.
    std::set<std::string> local_revoked;
    if (auto deny = ReadSmallFile(deny_list_path(), 16 << 20); deny.ok()) {
      auto parsed = ParseRevokedSerials(*deny);
      if (!parsed.ok()) return Status(ErrorCode::kUnavailable, deny_list_path() + ": " + parsed.status().message());
      local_revoked = std::move(parsed).value();
    } else if (deny.status().code() != ErrorCode::kNotFound) {
      return deny.status();
    }
    return UpdateSharedLocked([&](std::vector<IssuedClientConfig>& ledger, std::set<std::string>& revoked) {
      for (const auto& e : local) add_unknown(ledger, e);
      revoked.insert(local_revoked.begin(), local_revoked.end());
      if (admin_entry) add_unknown(ledger, *admin_entry);
      return Status::Ok();
    });
  }
  ledger_ = std::move(local);
  deny_list_mtime_ns_ = -2;  // force a read
  if (auto s = ReloadDenyListLocked(); !s.ok()) return s;
  if (admin_entry && add_unknown(ledger_, *admin_entry)) {
    if (auto s = SaveLocked(); !s.ok()) return s;
  }
  return Status::Ok();
}

Status ClientCertificates::ReadSharedLocked() {
  auto deny = shared_->Read(kSharedRevokedName);
  if (!deny.ok()) return deny.status();
  auto ledger = shared_->Read(kSharedClientLedgerName);
  if (!ledger.ok()) return ledger.status();
  pulled_ = true;
  last_pull_ = std::chrono::steady_clock::now();
  auto revoked = ParseRevokedSerials(deny->value);
  auto entries = ParseClientLedger(ledger->value);
  if (!revoked.ok() || !entries.ok()) {
    // A damaged deny list must not let a revoked certificate in: every call
    // is refused until it is fixed, as with the file.
    const std::string name = !revoked.ok() ? kSharedRevokedName : kSharedClientLedgerName;
    const Status& why = !revoked.ok() ? revoked.status() : entries.status();
    deny_list_status_ = Status(ErrorCode::kUnavailable, "shared value " + name + ": " + why.message());
    spdlog::error("management API: {}; every call is refused until it is fixed", deny_list_status_.message());
    return deny_list_status_;
  }
  revoked_ = std::move(revoked).value();
  ledger_ = std::move(entries).value();
  deny_revision_ = deny->revision;
  ledger_revision_ = ledger->revision;
  deny_list_status_ = Status::Ok();
  return deny_list_status_;
}

Status ClientCertificates::PullSharedLocked() {
  if (pulled_ && std::chrono::steady_clock::now() - last_pull_ < kSharedReadInterval) return deny_list_status_;
  const Status st = ReadSharedLocked();
  if (st.ok() || !deny_list_status_.ok()) {
    if (st.ok() && shared_failing_) spdlog::info("management API: the shared client config deny list is readable again");
    shared_failing_ = false;
    return deny_list_status_;
  }
  // The store cannot be read: the deny list last read stays in force (no
  // revocation can be written meanwhile either); tried again after the interval.
  last_pull_ = std::chrono::steady_clock::now();
  if (!shared_failing_)
    spdlog::warn("management API: cannot read the shared client config deny list ({}); the last one read applies",
                 st.message());
  shared_failing_ = true;
  return deny_list_status_;
}

Status ClientCertificates::UpdateSharedLocked(const SharedChange& change) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    if (auto st = ReadSharedLocked(); !st.ok()) return st;
    auto ledger = ledger_;
    auto revoked = revoked_;
    if (auto st = change(ledger, revoked); !st.ok()) return st;
    // Deny list first: losing the race on the ledger after it leaves a
    // revoked certificate refused with the ledger behind (as with the files).
    if (revoked != revoked_) {
      auto written = shared_->Replace(kSharedRevokedName, deny_revision_, RenderRevokedSerials(revoked));
      if (!written.ok()) return written.status();
      if (!*written) continue;
    }
    const std::string rendered = RenderClientLedger(ledger);
    if (rendered != RenderClientLedger(ledger_)) {
      auto written = shared_->Replace(kSharedClientLedgerName, ledger_revision_, rendered);
      if (!written.ok()) return written.status();
      if (!*written) continue;
    }
    ledger_ = std::move(ledger);
    revoked_ = std::move(revoked);
    last_pull_ = {};  // the next check reads the values again (their revisions moved)
    return Status::Ok();
  }
  return Status(ErrorCode::kUnavailable, "the shared client config ledger kept changing under this change; try again");
}

Status ClientCertificates::ReloadDenyListLocked() {
  if (shared_) return PullSharedLocked();
  const auto [mtime, size] = DenyListStamp(deny_list_path());
  if (mtime == deny_list_mtime_ns_ && size == deny_list_size_) return deny_list_status_;
  deny_list_mtime_ns_ = mtime;
  deny_list_size_ = size;
  if (mtime < 0) {
    revoked_.clear();
    deny_list_status_ = Status::Ok();
    return deny_list_status_;
  }
  auto text = ReadSmallFile(deny_list_path(), 16 << 20);
  if (!text.ok()) {
    deny_list_status_ = Status(ErrorCode::kUnavailable, text.status().message());
  } else if (auto parsed = ParseRevokedSerials(*text); !parsed.ok()) {
    deny_list_status_ = Status(ErrorCode::kUnavailable, deny_list_path() + ": " + parsed.status().message());
  } else {
    revoked_ = std::move(parsed).value();
    deny_list_status_ = Status::Ok();
  }
  if (!deny_list_status_.ok()) spdlog::error("management API: {}; every call is refused until it is fixed",
                                             deny_list_status_.message());
  return deny_list_status_;
}

Status ClientCertificates::CheckNotRevoked(const std::string& serial) {
  std::lock_guard lock(mu_);
  if (auto s = ReloadDenyListLocked(); !s.ok()) {
    return Status(ErrorCode::kUnavailable, "the deny list of client certificates is unreadable: " + s.message());
  }
  if (revoked_.count(serial)) {
    return Status(ErrorCode::kPermissionDenied,
                  "this client certificate (serial " + serial + ") was revoked; ask an admin for a new client config");
  }
  return Status::Ok();
}

Status ClientCertificates::SaveLocked() {
  // Deny list first: a crash between the two leaves a revoked certificate
  // refused, with the ledger merely behind.
  if (auto s = WritePrivateFile(deny_list_path(), RenderRevokedSerials(revoked_)); !s.ok()) return s;
  const auto [mtime, size] = DenyListStamp(deny_list_path());
  deny_list_mtime_ns_ = mtime;
  deny_list_size_ = size;
  deny_list_status_ = Status::Ok();
  return WritePrivateFile(ledger_path(), RenderClientLedger(ledger_));
}

Result<IssuedClient> ClientCertificates::Issue(const std::string& name, ApiRole role, int valid_days,
                                               const std::string& issued_by) {
  if (!IsValidClientName(name)) {
    return Status(ErrorCode::kInvalidArgument,
                  "client name must be 1-64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit");
  }
  if (valid_days <= 0 || valid_days > kMaxValidDays) {
    return Status(ErrorCode::kInvalidArgument, "validity must be 1.." + std::to_string(kMaxValidDays) + " days");
  }
  std::lock_guard lock(mu_);
  const std::int64_t now = NowUnix();
  if (shared_) {
    if (auto st = ReadSharedLocked(); !st.ok()) return st;  // a name taken on another appliance counts
  }
  if (auto st = ClientNameTaken(ledger_, name, now); !st.ok()) return st;
  LeafSpec spec;
  spec.common_name = name;
  spec.organization = ApiRoleOrganization(role);
  spec.valid_days = valid_days;
  auto pair = IssueLeaf(ca_, spec);
  if (!pair.ok()) return pair.status();
  auto id = ReadCertificateIdentity(pair->cert_pem);
  if (!id.ok()) return id.status();
  IssuedClientConfig entry;
  entry.name = name;
  entry.role = role;
  entry.serial = id->serial;
  entry.issued_unix = now;
  entry.expires_unix = id->not_after_unix;
  entry.issued_by = issued_by;
  if (shared_) {
    auto st = UpdateSharedLocked([&](std::vector<IssuedClientConfig>& ledger, std::set<std::string>&) {
      if (auto taken = ClientNameTaken(ledger, name, now); !taken.ok()) return taken;  // by another appliance meanwhile
      ledger.push_back(entry);
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return IssuedClient{entry, std::move(pair).value()};
  }
  ledger_.push_back(entry);
  if (auto s = SaveLocked(); !s.ok()) {
    ledger_.pop_back();
    return s;
  }
  return IssuedClient{entry, std::move(pair).value()};
}

std::vector<IssuedClientConfig> ClientCertificates::List() {
  std::lock_guard lock(mu_);
  ReloadDenyListLocked();
  std::vector<IssuedClientConfig> out = ledger_;
  // A serial revoked by hand shows as revoked too (when is the file's time;
  // a shared value by hand has none: now).
  const std::int64_t by_hand_unix = shared_ ? NowUnix() : deny_list_mtime_ns_ / 1'000'000'000;
  for (auto& e : out)
    if (e.revoked_unix == 0 && revoked_.count(e.serial)) {
      e.revoked_unix = by_hand_unix;
      e.revoked_by = "deny list (by hand)";
    }
  return out;
}

Result<IssuedClientConfig> ClientCertificates::Revoke(const std::string& client, const std::string& revoked_by,
                                                      const std::string& caller_serial) {
  std::lock_guard lock(mu_);
  if (shared_) {
    IssuedClientConfig revoked_entry;
    auto st = UpdateSharedLocked([&](std::vector<IssuedClientConfig>& ledger, std::set<std::string>& revoked) {
      auto found = RevocableClientEntry(ledger, client, caller_serial);
      if (!found.ok()) return found.status();
      (*found)->revoked_unix = NowUnix();
      (*found)->revoked_by = revoked_by;
      revoked.insert((*found)->serial);
      revoked_entry = **found;
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return revoked_entry;
  }
  if (auto s = ReloadDenyListLocked(); !s.ok()) return s;
  auto entry = RevocableClientEntry(ledger_, client, caller_serial);
  if (!entry.ok()) return entry.status();
  IssuedClientConfig* found = *entry;
  const IssuedClientConfig before = *found;
  found->revoked_unix = NowUnix();
  found->revoked_by = revoked_by;
  revoked_.insert(found->serial);
  if (auto s = SaveLocked(); !s.ok()) {
    revoked_.erase(before.serial);
    *found = before;
    return s;
  }
  return *found;
}

}  // namespace metalpxe
