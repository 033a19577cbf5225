// logs MACHINE [-f] [--tail N]; events [-w] [--since DURATION] [--machine M].
// Both print as the server streams, flushing each item, so a follower sees
// new lines immediately; tables use fixed column widths for the same reason.
#include <chrono>
#include <iostream>

#include <fmt/format.h>

#include "cli/commands/commands.h"
#include "core/duration.h"

namespace metalpxe::cli {
namespace {

void PrintEventRow(const metalpxe::v1::Event& e) {
  std::cout << fmt::format("{:<24}   {:<20}   {:<18}   {}\n", FormatUnixMillis(e.time_unix_ms()), OrDash(e.machine()),
                           e.kind(), e.message());
  std::cout.flush();
}

}  // namespace

void AddStreamCommands(CLI::App& app, CommandContext& ctx) {
  auto* logs = app.add_subcommand("logs", "Show a machine's kernel log (sent by Talos)");
  auto log_req = std::make_shared<metalpxe::v1::KernelLogsRequest>();
  logs->add_option_function<std::string>("MACHINE", [log_req](const std::string& v) { log_req->set_machine(v); },
                                         "Inventory name or MAC")->required();
  logs->add_flag_function("-f,--follow", [log_req](std::int64_t n) { log_req->set_follow(n > 0); },
                          "Keep printing new lines");
  logs->add_option_function<std::uint32_t>("--tail", [log_req](const std::uint32_t& n) { log_req->set_tail(n); },
                                           "Lines of history (default 100)");
  OnRun(logs, ctx, [log_req](Session& s) {
    grpc::ClientContext context;
    auto reader = s.stub->KernelLogs(&context, *log_req);
    metalpxe::v1::LogLine line;
    while (reader->Read(&line)) {
      if (s.format != OutputFormat::kTable) {
        PrintStreamItem(std::cout, s.format, ToJson(line));
      } else {
        std::cout << FormatUnixMillis(line.time_unix_ms()) << " " << line.facility() << "." << line.priority() << " "
                  << line.message() << "\n";
        std::cout.flush();
      }
    }
    auto status = reader->Finish();
    if (!status.ok()) return ReportRpcError(s, status, log_req->machine());
    return kExitOk;
  });

  auto* events = app.add_subcommand("events", "Show machine events (history, then new ones with -w)");
  auto ev_req = std::make_shared<metalpxe::v1::WatchEventsRequest>();
  auto since = std::make_shared<std::string>();
  events->add_flag_function("-w,--watch", [ev_req](std::int64_t n) { ev_req->set_follow(n > 0); },
                            "Keep printing new events");
  events->add_option("--since", *since, "Only events newer than this, e.g. 10m, 2h, 1h30m (default: all kept)");
  events->add_option_function<std::string>("--machine", [ev_req](const std::string& v) { ev_req->set_machine(v); },
                                           "Only this machine's events");
  OnRun(events, ctx, [ev_req, since](Session& s) {
    if (!since->empty()) {
      auto d = ParseDuration(*since);
      if (!d) {
        std::cerr << "error: --since " << *since << ": not a duration (try 10m, 2h, 1h30m)\n";
        return kExitUsage;
      }
      auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch());
      ev_req->set_since_unix_ms((now - std::chrono::duration_cast<std::chrono::milliseconds>(*d)).count());
    }
    grpc::ClientContext context;
    auto reader = s.stub->WatchEvents(&context, *ev_req);
    if (s.format == OutputFormat::kTable) {
      std::cout << fmt::format("{:<24}   {:<20}   {:<18}   {}\n", "TIME", "MACHINE", "KIND", "MESSAGE");
      std::cout.flush();
    }
    metalpxe::v1::Event e;
    while (reader->Read(&e)) {
      if (s.format == OutputFormat::kTable) PrintEventRow(e);
      else PrintStreamItem(std::cout, s.format, ToJson(e));
    }
    auto status = reader->Finish();
    if (!status.ok()) return ReportRpcError(s, status, ev_req->machine());
    return kExitOk;
  });
}

}  // namespace metalpxe::cli
