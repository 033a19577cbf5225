// version; health.
#include <iostream>
#include <string>

#include "cli/commands/commands.h"

namespace metalpxe::cli {

void AddInfoCommands(CLI::App& app, CommandContext& ctx) {
  OnRun(app.add_subcommand("version", "Show client and server versions"), ctx, [](Session& s) {
    metalpxe::v1::VersionResponse resp;
    auto status = s.stub->Version(s.UnaryContext().get(), {}, &resp);
    if (!status.ok()) return ReportRpcError(s, status);
    if (s.format != OutputFormat::kTable) {
      PrintDocument(std::cout, s.format, {{"client", METALPXE_VERSION}, {"server", resp.version()}});
    } else {
      std::cout << "Client: " << METALPXE_VERSION << "\nServer: " << resp.version() << "\n";
    }
    return kExitOk;
  });

  OnRun(app.add_subcommand("health", "Show whether metalpxed serves, and what is wrong if not"), ctx, [](Session& s) {
    metalpxe::v1::HealthResponse resp;
    auto status = s.stub->Health(s.UnaryContext().get(), {}, &resp);
    if (!status.ok()) return ReportRpcError(s, status);
    if (s.format != OutputFormat::kTable) {
      PrintDocument(std::cout, s.format, ToJson(resp));
    } else {
      Table t({"SERVING", "PROBLEMS"});
      t.AddRow({resp.serving() ? "yes" : "no", resp.problems().empty()
                                                   ? "-"
                                                   : Join({resp.problems().begin(), resp.problems().end()}, "; ")});
      t.Print(std::cout);
      if (!resp.store().empty()) std::cout << "\nStore: " << resp.store() << "\n";
      // Who answers DHCP for each subnet: with several appliances on etcd,
      // one leader per subnet and the others standing by.
      if (!resp.dhcp_subnets().empty()) {
        std::cout << "\n";
        Table d({"SUBNET", "DHCP ROLE", "LEADER", "TERM"});
        for (const auto& r : resp.dhcp_subnets())
          d.AddRow({r.subnet(), r.role(), r.leader().empty() ? "-" : r.leader(),
                    r.term() == 0 ? "-" : std::to_string(r.term())});
        d.Print(std::cout);
      }
    }
    // Scripts can gate on health: not serving is a failure.
    return resp.serving() ? kExitOk : kExitServerError;
  });
}

}  // namespace metalpxe::cli
