#include "api/management/client_certificates.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>

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

}  // namespace

ClientCertificates::ClientCertificates(const ApiPki& pki, Clock clock)
    : dir_(pki.dir), ca_{pki.ca_cert_pem, pki.ca_key_pem}, admin_cert_pem_(pki.admin_cert_pem),
      clock_(std::move(clock)) {}

std::int64_t ClientCertificates::NowUnix() const {
  if (clock_) return clock_();
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Status ClientCertificates::Load() {
  std::lock_guard lock(mu_);
  auto text = ReadSmallFile(ledger_path(), 16 << 20);
  if (text.ok()) {
    auto parsed = ParseClientLedger(*text);
    if (!parsed.ok()) return Status(parsed.status().code(), ledger_path() + ": " + parsed.status().message());
    ledger_ = std::move(parsed).value();
  } else if (text.status().code() != ErrorCode::kNotFound) {
    return text.status();
  }
  deny_list_mtime_ns_ = -2;  // force a read
  if (auto s = ReloadDenyListLocked(); !s.ok()) return s;
  // The admin certificate metalpxed made on its first start is a client
  // config like the others: listed, and revocable.
  if (!admin_cert_pem_.empty()) {
    auto admin = ReadCertificateIdentity(admin_cert_pem_);
    if (!admin.ok()) return admin.status();
    const bool known = std::any_of(ledger_.begin(), ledger_.end(),
                                   [&](const IssuedClientConfig& e) { return e.serial == admin->serial; });
    if (!known) {
      IssuedClientConfig e;
      e.name = admin->common_name;
      e.role = ApiRole::kAdmin;
      e.serial = admin->serial;
      e.issued_unix = NowUnix();
      e.expires_unix = admin->not_after_unix;
      e.issued_by = "metalpxed (first start)";
      ledger_.push_back(e);
      if (auto s = SaveLocked(); !s.ok()) return s;
    }
  }
  return Status::Ok();
}

Status ClientCertificates::ReloadDenyListLocked() {
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
  for (const auto& e : ledger_) {
    if (e.name == name && e.revoked_unix == 0 && e.expires_unix > now) {
      return Status(ErrorCode::kAlreadyExists, "a valid client config named " + name + " exists (serial " + e.serial +
                                                   "); revoke it first or choose another name");
    }
  }
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
  // A serial revoked by hand shows as revoked too.
  for (auto& e : out)
    if (e.revoked_unix == 0 && revoked_.count(e.serial)) {
      e.revoked_unix = deny_list_mtime_ns_ / 1'000'000'000;
      e.revoked_by = "deny list (by hand)";
    }
  return out;
}

Result<IssuedClientConfig> ClientCertificates::Revoke(const std::string& client, const std::string& revoked_by,
                                                      const std::string& caller_serial) {
  std::lock_guard lock(mu_);
  if (auto s = ReloadDenyListLocked(); !s.ok()) return s;
  const auto serial = NormalizeSerial(client);
  IssuedClientConfig* found = nullptr;
  // A name means its valid config; a serial any entry.
  for (auto& e : ledger_) {
    if (e.name == client && e.revoked_unix == 0) found = &e;
  }
  if (!found && serial) {
    for (auto& e : ledger_)
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
