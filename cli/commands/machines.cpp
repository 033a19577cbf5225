// machines [list], machines export, get, accept, reinstall.
#include <iostream>

#include "cli/commands/commands.h"

namespace metalpxe::cli {

void OnRun(CLI::App* sub, CommandContext& ctx, std::function<int(Session&)> run) {
  sub->callback([sub, &ctx, run = std::move(run)] {
    // A parent whose child subcommand was given leaves the work to the child.
    for (auto* child : sub->get_subcommands()) {
      if (child->parsed()) return;
    }
    auto session = OpenSession(ctx.options);
    ctx.exit_code = session ? run(*session) : kExitUsage;
  });
}

void PrintMachines(Session& session, const std::vector<metalpxe::v1::Machine>& machines) {
  if (session.format != OutputFormat::kTable) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& m : machines) arr.push_back(ToJson(m));
    PrintDocument(std::cout, session.format, arr);
    return;
  }
  Table table({"NAME", "MAC", "STATE", "ROLE", "PROFILE", "IP", "BMC", "LAST SEEN", "REASON"});
  for (const auto& m : machines) {
    table.AddRow({OrDash(m.name()), OrDash(Join({m.macs().begin(), m.macs().end()}, ",")), OrDash(m.state()),
                  OrDash(m.role()), OrDash(m.profile()), OrDash(m.ip()), OrDash(m.bmc_type()),
                  FormatAge(m.last_seen_unix()), m.reason()});
  }
  table.Print(std::cout);
}

namespace {

void PrintOneMachine(Session& session, const metalpxe::v1::Machine& m) {
  if (session.format != OutputFormat::kTable) {
    PrintDocument(std::cout, session.format, ToJson(m));
    return;
  }
  PrintMachines(session, {m});
}

}  // namespace

void AddMachineCommands(CLI::App& app, CommandContext& ctx) {
  auto* machines = app.add_subcommand("machines", "List machines (discovered and inventory)");
  auto list_run = [](Session& s) {
    metalpxe::v1::ListMachinesResponse resp;
    auto status = s.stub->ListMachines(s.UnaryContext().get(), {}, &resp);
    if (!status.ok()) return ReportRpcError(s, status);
    PrintMachines(s, {resp.machines().begin(), resp.machines().end()});
    return kExitOk;
  };
  OnRun(machines, ctx, list_run);
  OnRun(machines->add_subcommand("list", "List machines"), ctx, list_run);
  OnRun(machines->add_subcommand("export", "Print the machines accepted through the API as inventory YAML"), ctx,
        [](Session& s) {
          metalpxe::v1::ExportMachinesResponse resp;
          auto status = s.stub->ExportMachines(s.UnaryContext().get(), {}, &resp);
          if (!status.ok()) return ReportRpcError(s, status);
          // Always the inventory YAML itself: it is meant to be committed as is.
          std::cout << resp.yaml();
          if (!resp.yaml().empty() && resp.yaml().back() != '\n') std::cout << "\n";
          return kExitOk;
        });

  auto* get = app.add_subcommand("get", "Show one machine");
  auto get_machine = std::make_shared<std::string>();
  get->add_option("MACHINE", *get_machine, "Inventory name or MAC")->required();
  OnRun(get, ctx, [get_machine](Session& s) {
    metalpxe::v1::GetMachineRequest req;
    req.set_machine(*get_machine);
    metalpxe::v1::Machine m;
    auto status = s.stub->GetMachine(s.UnaryContext().get(), req, &m);
    if (!status.ok()) return ReportRpcError(s, status, *get_machine);
    PrintOneMachine(s, m);
    return kExitOk;
  });

  auto* accept = app.add_subcommand("accept", "Accept a discovered machine into the inventory");
  auto accept_req = std::make_shared<metalpxe::v1::AcceptMachineRequest>();
  accept->add_option_function<std::string>("MAC", [accept_req](const std::string& v) { accept_req->set_mac(v); },
                                           "MAC address of the discovered machine")->required();
  accept->add_option_function<std::string>("--name", [accept_req](const std::string& v) { accept_req->set_name(v); },
                                           "Inventory name (host name)")->required();
  accept->add_option_function<std::string>("--role", [accept_req](const std::string& v) { accept_req->set_role(v); },
                                           "controlplane | worker")
      ->required()
      ->check(CLI::IsMember({"controlplane", "worker"}));
  accept->add_option_function<std::string>("--profile",
                                           [accept_req](const std::string& v) { accept_req->set_profile(v); },
                                           "Boot profile (default: boot.defaultProfile)");
  accept->add_option_function<std::string>("--install-disk",
                                           [accept_req](const std::string& v) { accept_req->set_install_disk(v); },
                                           "Disk Talos installs to, e.g. /dev/sda");
  OnRun(accept, ctx, [accept_req](Session& s) {
    metalpxe::v1::Machine m;
    auto status = s.stub->AcceptMachine(s.UnaryContext().get(), *accept_req, &m);
    if (!status.ok()) return ReportRpcError(s, status, accept_req->mac());
    PrintOneMachine(s, m);
    return kExitOk;
  });

  auto* reinstall = app.add_subcommand("reinstall", "Power-cycle a machine into the installer");
  auto re_req = std::make_shared<metalpxe::v1::ReinstallRequest>();
  reinstall->add_option_function<std::string>("MACHINE", [re_req](const std::string& v) { re_req->set_machine(v); },
                                              "Inventory name or MAC")->required();
  reinstall->add_flag_function("--wipe", [re_req](std::int64_t n) { re_req->set_wipe(n > 0); },
                               "Wipe the system disk first (talos.experimental.wipe=system)");
  OnRun(reinstall, ctx, [re_req](Session& s) {
    metalpxe::v1::Machine m;
    auto status = s.stub->Reinstall(s.UnaryContext().get(), *re_req, &m);
    if (!status.ok()) return ReportRpcError(s, status, re_req->machine());
    PrintOneMachine(s, m);
    return kExitOk;
  });
}

}  // namespace metalpxe::cli
