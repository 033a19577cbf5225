#pragma once
// metalpxectl's subcommands, grouped by what they act on. Each Add* function
// registers its subcommands on the app; their callbacks open a session and
// store the exit code in the context.
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/connection.h"

namespace metalpxe::cli {

struct CommandContext {
  GlobalOptions options;
  int exit_code = kExitOk;
};

// Runs `run` with an open session when `sub` was given on the command line.
void OnRun(CLI::App* sub, CommandContext& ctx, std::function<int(Session&)> run);

void AddMachineCommands(CLI::App& app, CommandContext& ctx);  // machines [list|export], get, accept, reinstall
void AddPowerCommand(CLI::App& app, CommandContext& ctx);     // power on|off|cycle|status
void AddStreamCommands(CLI::App& app, CommandContext& ctx);   // logs, events
void AddAssetCommands(CLI::App& app, CommandContext& ctx);    // leases, images list|pull
void AddInfoCommands(CLI::App& app, CommandContext& ctx);     // version, health
void AddClusterCommands(CLI::App& app, CommandContext& ctx);  // clusters, cluster status, kubeconfig, talosconfig
void AddClientConfigCommands(CLI::App& app, CommandContext& ctx);  // config new|list|revoke
void AddTimelineCommand(CLI::App& app, CommandContext& ctx);  // timeline MACHINE [-w]

// Shared by the machine commands: the machines table.
void PrintMachines(Session& session, const std::vector<metalpxe::v1::Machine>& machines);

}  // namespace metalpxe::cli
