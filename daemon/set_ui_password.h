#pragma once
// metalpxed --config FILE --set-ui-password: sets the status page's password
// (ui/ui_password.h) in the config's stateDir. The password comes from
// standard input: typed twice without echo on a terminal, or one line from
// a pipe (for provisioning scripts).
#include <iosfwd>
#include <string>

namespace metalpxe {

int RunSetUiPassword(const std::string& config_path, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace metalpxe
