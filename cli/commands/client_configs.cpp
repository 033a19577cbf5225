// config new | list | revoke: client configs for other people and tools
// (like `talosctl config new`). The appliance signs a certificate of the
// requested role; the private key exists only in the file written here.
#include <sys/stat.h>

#include <iostream>

#include "api/management/client_config.h"
#include "cli/commands/commands.h"

namespace metalpxe::cli {
namespace {

void PrintClientEntries(Session& s, const std::vector<metalpxe::v1::ClientConfigEntry>& entries) {
  if (s.format != OutputFormat::kTable) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& e : entries) arr.push_back(ToJson(e));
    PrintDocument(std::cout, s.format, arr);
    return;
  }
  Table t({"NAME", "ROLE", "SERIAL", "ISSUED", "EXPIRES", "ISSUED BY", "REVOKED"});
  for (const auto& e : entries) {
    t.AddRow({e.name(), e.role(), e.serial(), FormatUnixSeconds(e.issued_unix()), FormatUnixSeconds(e.expires_unix()),
              OrDash(e.issued_by()),
              e.revoked_unix() == 0 ? "-" : FormatUnixSeconds(e.revoked_unix()) + " by " + e.revoked_by()});
  }
  t.Print(std::cout);
}

bool ConfigPathExists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

struct ConfigNewOptions {
  std::string name;
  std::string role;
  std::string path;
  unsigned valid_days = 0;
  bool force = false;
};

int RunConfigNew(Session& s, const ConfigNewOptions& o) {
  const std::string path = o.path.empty() ? o.name + ".metalpxeconfig" : o.path;
  // Before asking: a certificate issued for a file we then cannot write
  // would only clutter the ledger.
  if (!o.force && ConfigPathExists(path)) {
    std::cerr << "error: " << path << " exists; choose another PATH or pass --force to replace it\n";
    return kExitUsage;
  }
  metalpxe::v1::IssueClientConfigRequest req;
  req.set_name(o.name);
  req.set_role(o.role);
  req.set_valid_days(o.valid_days);
  metalpxe::v1::IssueClientConfigResponse resp;
  auto status = s.stub->IssueClientConfig(s.UnaryContext().get(), req, &resp);
  if (!status.ok()) {
    if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
      std::cerr << "error: " << status.error_message() << "\n";
      return kExitServerError;
    }
    return ReportRpcError(s, status);
  }
  ClientConfig config{s.endpoint, resp.ca(), resp.crt(), Secret(resp.key())};
  if (auto w = WritePrivateFile(path, RenderClientConfig(config)); !w.ok()) {
    std::cerr << "error: the appliance issued client config " << o.name << " (serial " << resp.entry().serial()
              << ") but it cannot be written: " << w.ToString() << "; revoke it with `metalpxectl config revoke "
              << resp.entry().serial() << "`\n";
    return kExitServerError;
  }
  if (s.format != OutputFormat::kTable) {
    nlohmann::json j = ToJson(resp.entry());
    j["path"] = path;
    PrintDocument(std::cout, s.format, j);
  } else {
    std::cout << "wrote client config " << o.name << " (role " << resp.entry().role() << ", serial "
              << resp.entry().serial() << ", expires " << FormatUnixSeconds(resp.entry().expires_unix()) << ") to "
              << path << " (mode 0600)\n";
  }
  return kExitOk;
}

}  // namespace

void AddClientConfigCommands(CLI::App& app, CommandContext& ctx) {
  auto* config = app.add_subcommand("config", "Client configs for the management API (admin role)");
  config->require_subcommand(1);

  auto* create = config->add_subcommand("new", "Issue a client config of a role and write it to PATH");
  auto opts = std::make_shared<ConfigNewOptions>();
  create->add_option("NAME", opts->name, "Who it is for (the certificate's CN)")->required();
  create->add_option("PATH", opts->path, "Where to write it (default: NAME.metalpxeconfig)");
  create->add_option("--role", opts->role, "viewer (read only) | operator (power, reinstall, accept) | admin")
      ->required()
      ->check(CLI::IsMember({"viewer", "operator", "admin"}));
  create->add_option("--valid-days", opts->valid_days, "Certificate validity in days (default 365)")
      ->check(CLI::Range(1u, 3650u));
  create->add_flag("--force", opts->force, "Replace PATH if it exists");
  OnRun(create, ctx, [opts](Session& s) { return RunConfigNew(s, *opts); });

  OnRun(config->add_subcommand("list", "List the client configs issued, revoked ones included"), ctx,
        [](Session& s) {
          metalpxe::v1::ListClientConfigsResponse resp;
          auto status = s.stub->ListClientConfigs(s.UnaryContext().get(), {}, &resp);
          if (!status.ok()) return ReportRpcError(s, status);
          PrintClientEntries(s, {resp.clients().begin(), resp.clients().end()});
          return kExitOk;
        });

  auto* revoke = config->add_subcommand("revoke", "Revoke a client config: its certificate is refused from now on");
  auto client = std::make_shared<std::string>();
  revoke->add_option("CLIENT", *client, "Name or certificate serial")->required();
  OnRun(revoke, ctx, [client](Session& s) {
    metalpxe::v1::RevokeClientConfigRequest req;
    req.set_client(*client);
    metalpxe::v1::ClientConfigEntry entry;
    auto status = s.stub->RevokeClientConfig(s.UnaryContext().get(), req, &entry);
    if (!status.ok()) return ReportRpcError(s, status);
    if (s.format != OutputFormat::kTable) {
      PrintDocument(std::cout, s.format, ToJson(entry));
    } else {
      std::cout << "revoked client config " << entry.name() << " (serial " << entry.serial() << ")\n";
    }
    return kExitOk;
  });
}

}  // namespace metalpxe::cli
