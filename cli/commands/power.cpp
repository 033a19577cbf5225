// power on|off|cycle|status MACHINE
#include <iostream>

#include "cli/commands/commands.h"

namespace metalpxe::cli {

void AddPowerCommand(CLI::App& app, CommandContext& ctx) {
  auto* power = app.add_subcommand("power", "Power a machine on, off, cycle it, or show its power state");
  auto action = std::make_shared<std::string>();
  auto machine = std::make_shared<std::string>();
  power->add_option("ACTION", *action, "on | off | cycle | status")
      ->required()
      ->check(CLI::IsMember({"on", "off", "cycle", "status"}));
  power->add_option("MACHINE", *machine, "Inventory name or MAC")->required();
  OnRun(power, ctx, [action, machine](Session& s) {
    metalpxe::v1::PowerRequest req;
    req.set_machine(*machine);
    if (*action == "on") req.set_action(metalpxe::v1::PowerRequest::ON);
    else if (*action == "off") req.set_action(metalpxe::v1::PowerRequest::OFF);
    else if (*action == "cycle") req.set_action(metalpxe::v1::PowerRequest::CYCLE);
    else req.set_action(metalpxe::v1::PowerRequest::STATUS);
    metalpxe::v1::PowerResponse resp;
    // BMCs can be slow (IPMI retries, Redfish tasks): allow them time.
    auto status = s.stub->Power(s.UnaryContext(std::chrono::seconds(120)).get(), req, &resp);
    if (!status.ok()) return ReportRpcError(s, status, *machine);
    if (s.format != OutputFormat::kTable) {
      PrintDocument(std::cout, s.format, {{"machine", *machine}, {"powerState", resp.power_state()}});
    } else {
      Table t({"MACHINE", "POWER"});
      t.AddRow({*machine, resp.power_state()});
      t.Print(std::cout);
    }
    return kExitOk;
  });
}

}  // namespace metalpxe::cli
