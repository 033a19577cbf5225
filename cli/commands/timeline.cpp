// timeline MACHINE [-w] [--limit N]: one machine's boot as one story (every
// DHCP exchange, TFTP transfer, HTTP fetch, Talos event, kernel-log
// milestone, state change and power action), oldest first. With -w it keeps
// following; an entry that happens again is printed again with its count.
#include <iostream>

#include <fmt/format.h>

#include "cli/commands/commands.h"

namespace metalpxe::cli {
namespace {

std::string TimelineWhat(const metalpxe::v1::TimelineEntry& e) {
  std::string what = e.summary();
  if (e.repeats() > 0)
    what += fmt::format(" (x{}, last {})", e.repeats() + 1, FormatUnixMillis(e.last_unix_ms()));
  return what;
}

void PrintTimelineRow(const metalpxe::v1::TimelineEntry& e) {
  std::cout << fmt::format("{:<24}   {:<6}   {}\n", FormatUnixMillis(e.time_unix_ms()), e.source(), TimelineWhat(e));
  std::cout.flush();
}

void PrintTimelineHeader() {
  std::cout << fmt::format("{:<24}   {:<6}   {}\n", "TIME", "SOURCE", "WHAT");
  std::cout.flush();
}

}  // namespace

void AddTimelineCommand(CLI::App& app, CommandContext& ctx) {
  auto* cmd = app.add_subcommand("timeline", "Show a machine's boot timeline (DHCP, TFTP, HTTP, Talos, kernel, state)");
  auto req = std::make_shared<metalpxe::v1::TimelineRequest>();
  auto watch = std::make_shared<bool>(false);
  cmd->add_option_function<std::string>("MACHINE", [req](const std::string& v) { req->set_machine(v); },
                                        "Inventory name or MAC")->required();
  cmd->add_flag("-w,--watch", *watch, "Keep printing new entries");
  cmd->add_option_function<std::uint32_t>("--limit", [req](const std::uint32_t& n) { req->set_limit(n); },
                                          "Only the newest N entries of history (default: all kept)");
  OnRun(cmd, ctx, [req, watch](Session& s) {
    if (!*watch) {
      grpc::ClientContext context;
      metalpxe::v1::TimelineResponse resp;
      auto status = s.stub->Timeline(&context, *req, &resp);
      if (!status.ok()) return ReportRpcError(s, status, req->machine());
      if (s.format != OutputFormat::kTable) {
        PrintDocument(std::cout, s.format, ToJson(resp));
        return kExitOk;
      }
      PrintTimelineHeader();
      for (const auto& e : resp.entries()) PrintTimelineRow(e);
      return kExitOk;
    }
    grpc::ClientContext context;
    auto reader = s.stub->WatchTimeline(&context, *req);
    if (s.format == OutputFormat::kTable) PrintTimelineHeader();
    metalpxe::v1::TimelineEntry e;
    while (reader->Read(&e)) {
      if (s.format == OutputFormat::kTable) PrintTimelineRow(e);
      else PrintStreamItem(std::cout, s.format, ToJson(e));
    }
    auto status = reader->Finish();
    if (!status.ok()) return ReportRpcError(s, status, req->machine());
    return kExitOk;
  });
}

}  // namespace metalpxe::cli
