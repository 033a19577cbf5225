// metalpxectl: the operator's client for metalpxed's management API.
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/commands/commands.h"

int main(int argc, char** argv) {
  using namespace metalpxe::cli;
  CommandContext ctx;
  CLI::App app{"metalpxectl: manage a metalpxe appliance (machines, power, logs, events, boot assets)"};
  app.name("metalpxectl");
  app.require_subcommand(1);
  app.add_option("--config", ctx.options.config_path,
                 "Client config (default: $METALPXECONFIG or ~/.config/metalpxe/config)");
  app.add_option("--endpoint", ctx.options.endpoint, "host:port of apiListen, overrides the config's endpoint");
  app.add_option("-o,--output", ctx.options.output, "Output format: table | json | yaml")
      ->check(CLI::IsMember({"table", "json", "yaml"}));
  app.set_version_flag("--version", std::string("metalpxectl ") + METALPXE_VERSION);
  // The man page (help2man) is made from this text.
  app.footer(
      "Each command has its own --help (metalpxectl machines --help). The client config holds the endpoint, the "
      "appliance's CA and a client certificate: metalpxed writes an administrator's to "
      "<stateDir>/pki/admin.metalpxeconfig (/var/lib/metalpxe/pki/ with the package). Exit codes: 0 success, "
      "1 the call failed (the server said no, or could not be reached), 2 bad arguments or an unusable client "
      "config; health exits 1 when metalpxed does not serve.");
  // Global options may follow the subcommand: `metalpxectl machines -o json`.
  app.fallthrough();

  AddMachineCommands(app, ctx);
  AddPowerCommand(app, ctx);
  AddStreamCommands(app, ctx);
  AddAssetCommands(app, ctx);
  AddInfoCommands(app, ctx);
  AddClusterCommands(app, ctx);
  AddClientConfigCommands(app, ctx);
  AddTimelineCommand(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  return ctx.exit_code;
}
