// leases; images list; images pull PROFILE.
#include <iostream>
#include <unistd.h>

#include <fmt/format.h>

#include "cli/commands/commands.h"

namespace metalpxe::cli {
namespace {

std::string Mib(std::uint64_t bytes) { return fmt::format("{:.1f}", static_cast<double>(bytes) / (1024.0 * 1024.0)); }

// Draws "\r<file> [#####.....]  45%  12.3/27.0 MiB" in place on a terminal.
void DrawBar(const metalpxe::v1::PullProgress& p) {
  constexpr int kWidth = 30;
  double frac = p.bytes_total() ? static_cast<double>(p.bytes_done()) / static_cast<double>(p.bytes_total()) : 0.0;
  frac = std::min(frac, 1.0);
  int filled = static_cast<int>(frac * kWidth);
  std::cout << fmt::format("\r{:<16} [{}{}] {:3d}%  {}/{} MiB\x1b[K", p.file(), std::string(filled, '#'),
                           std::string(kWidth - filled, '.'), static_cast<int>(frac * 100), Mib(p.bytes_done()),
                           p.bytes_total() ? Mib(p.bytes_total()) : "?");
  std::cout.flush();
}

}  // namespace

void AddAssetCommands(CLI::App& app, CommandContext& ctx) {
  OnRun(app.add_subcommand("leases", "List DHCP leases"), ctx, [](Session& s) {
    metalpxe::v1::ListLeasesResponse resp;
    auto status = s.stub->ListLeases(s.UnaryContext().get(), {}, &resp);
    if (!status.ok()) return ReportRpcError(s, status);
    if (s.format != OutputFormat::kTable) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& l : resp.leases()) arr.push_back(ToJson(l));
      PrintDocument(std::cout, s.format, arr);
      return kExitOk;
    }
    Table t({"IP", "MAC", "HOSTNAME", "KIND", "EXPIRES"});
    for (const auto& l : resp.leases()) {
      t.AddRow({l.ip(), l.mac(), OrDash(l.hostname()), l.kind(), FormatUnixSeconds(l.expires_unix())});
    }
    t.Print(std::cout);
    return kExitOk;
  });

  auto* images = app.add_subcommand("images", "Boot assets (Talos kernel and initramfs per profile)");
  images->require_subcommand(1);
  OnRun(images->add_subcommand("list", "List boot assets per profile"), ctx, [](Session& s) {
    metalpxe::v1::ListImagesResponse resp;
    auto status = s.stub->ListImages(s.UnaryContext().get(), {}, &resp);
    if (!status.ok()) return ReportRpcError(s, status);
    if (s.format != OutputFormat::kTable) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& i : resp.images()) arr.push_back(ToJson(i));
      PrintDocument(std::cout, s.format, arr);
      return kExitOk;
    }
    Table t({"PROFILE", "SOURCE", "READY", "ERROR"});
    for (const auto& i : resp.images()) t.AddRow({i.profile(), i.source(), i.ready() ? "yes" : "no", i.error()});
    t.Print(std::cout);
    return kExitOk;
  });

  auto* pull = images->add_subcommand("pull", "Download (or verify) a profile's boot assets");
  auto profile = std::make_shared<std::string>();
  pull->add_option("PROFILE", *profile, "Boot profile name")->required();
  OnRun(pull, ctx, [profile](Session& s) {
    metalpxe::v1::PullImageRequest req;
    req.set_profile(*profile);
    grpc::ClientContext context;
    auto reader = s.stub->PullImage(&context, req);
    const bool tty = s.format == OutputFormat::kTable && ::isatty(STDOUT_FILENO);
    metalpxe::v1::PullProgress p;
    std::string last_file;
    int last_decile = -1;
    bool bar_open = false;
    while (reader->Read(&p)) {
      if (s.format != OutputFormat::kTable) {
        PrintStreamItem(std::cout, s.format, ToJson(p));
        continue;
      }
      if (p.done()) break;
      if (tty) {
        if (bar_open && p.file() != last_file) std::cout << "\n";
        DrawBar(p);
        bar_open = true;
      } else {
        // Not a terminal (a log, a CI job): a line per file and per 10%.
        int decile = p.bytes_total() ? static_cast<int>(p.bytes_done() * 10 / p.bytes_total()) : 0;
        if (p.file() != last_file || decile != last_decile) {
          std::cout << p.file() << " " << p.bytes_done() << "/" << p.bytes_total() << " bytes\n";
          std::cout.flush();
        }
        last_decile = decile;
      }
      last_file = p.file();
    }
    if (bar_open) std::cout << "\n";
    auto status = reader->Finish();
    if (!status.ok()) {
      if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
        std::cerr << "error: profile " << *profile << " not found: `metalpxectl images list` lists them\n";
        return kExitServerError;
      }
      return ReportRpcError(s, status);
    }
    if (s.format == OutputFormat::kTable) std::cout << "profile " << *profile << ": boot assets ready\n";
    return kExitOk;
  });
}

}  // namespace metalpxe::cli
