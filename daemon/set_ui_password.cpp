#include "daemon/set_ui_password.h"

#include <termios.h>
#include <unistd.h>

#include <iostream>

#include "core/config_loader.h"
#include "ui/ui_password.h"

namespace metalpxe {
namespace {

// One line from `in`, without echo when stdin is a terminal.
bool ReadSecretLine(std::istream& in, std::ostream& out, const char* prompt, std::string& line) {
  const bool tty = &in == &std::cin && ::isatty(STDIN_FILENO);
  termios saved{};
  if (tty) {
    out << prompt << std::flush;
    ::tcgetattr(STDIN_FILENO, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  const bool ok = static_cast<bool>(std::getline(in, line));
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    out << "\n";
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return ok;
}

}  // namespace

int RunSetUiPassword(const std::string& config_path, std::istream& in, std::ostream& out, std::ostream& err) {
  const LoadedConfig loaded = LoadAppConfig(config_path);
  if (!loaded.ok()) {
    for (const auto& p : loaded.problems) err << p.ToString() << "\n";
    return 1;
  }
  const std::string& state_dir = loaded.config->server.state_dir;
  std::string password, again;
  if (!ReadSecretLine(in, out, "New status page password: ", password)) {
    err << "metalpxed: no password on standard input\n";
    return 1;
  }
  if (&in == &std::cin && ::isatty(STDIN_FILENO)) {
    if (!ReadSecretLine(in, out, "Again: ", again) || again != password) {
      err << "metalpxed: the two passwords differ; nothing changed\n";
      return 1;
    }
  }
  if (auto st = ui::WriteUiPasswordFile(state_dir, password); !st.ok()) {
    err << "metalpxed: " << st.message() << "\n";
    return 1;
  }
  out << "status page password set (" << state_dir << "/" << ui::kUiPasswordFile
      << "); a running metalpxed uses it from the next login\n";
  return 0;
}

}  // namespace metalpxe
