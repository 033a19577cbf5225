// metalpxed: the network-boot provisioning appliance. See README.md.
#include <csignal>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "daemon/appliance.h"
#include "daemon/check_config.h"
#include "daemon/set_ui_password.h"

int main(int argc, char** argv) {
  CLI::App app{"metalpxed: network-boot provisioning appliance for Talos Linux"};
  std::string config_path;
  std::string check_path;
  app.add_option("--config", config_path, "Run the appliance with this config until SIGTERM/SIGINT")
      ->check(CLI::ExistingFile);
  app.add_option("--check-config", check_path, "Validate a config (and its inventory) and exit");
  bool set_ui_password = false;
  app.add_flag("--set-ui-password", set_ui_password,
               "Set the web status page's password (read from standard input) in the config's stateDir, and exit");
  app.set_version_flag("--version", std::string("metalpxed ") + metalpxe::kVersion);
  // The man page (help2man) is made from this text.
  app.footer(
      "Signals: SIGTERM or SIGINT stops it (listeners close, the store flushes its pending writes); SIGHUP rereads "
      "the config and the inventory, as does a change to either file.\n\n"
      "Under systemd (metalpxed.service, Type=notify) it reports READY=1 once every listener is bound and the store "
      "is open, a one-line STATUS=, and WATCHDOG=1 keep-alives from its event loop when WatchdogSec is set.\n\n"
      "Files: /etc/metalpxe/metalpxe.yaml (the packaged config), /var/lib/metalpxe (stateDir: store, PKI, caches; "
      "the metalpxectl client config is stateDir/pki/admin.metalpxeconfig).\n\n"
      "Documentation: /usr/share/doc/metalpxe/ (config.md: every key; operations.md: install, upgrade, backup, "
      "PXE troubleshooting).");
  CLI11_PARSE(app, argc, argv);

  // A client that goes away mid-sendfile must not kill the daemon.
  std::signal(SIGPIPE, SIG_IGN);
  if (!check_path.empty()) return metalpxe::RunCheckConfig(check_path, std::cout, std::cerr);
  if (config_path.empty()) {
    std::cerr << "metalpxed: give --config FILE to run, or --check-config FILE to validate\n" << app.help();
    return 2;
  }
  if (set_ui_password) return metalpxe::RunSetUiPassword(config_path, std::cin, std::cout, std::cerr);
  return metalpxe::RunAppliance(config_path);
}
