// libFuzzer target: the status page's login-form and Cookie-header parsers
// (ui/ui_form.h) on arbitrary bytes. The input is split at its first NUL:
// before it the text, after it the name asked for.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ui/ui_form.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto nul = input.find('\0');
  const std::string_view text = input.substr(0, nul);
  const std::string_view name = nul == std::string_view::npos ? std::string_view("password") : input.substr(nul + 1);
  if (auto v = metalpxe::ui::FormField(text, name)) {
    // A decoded value is never longer than what it came from.
    if (v->size() > text.size()) __builtin_trap();
  }
  if (auto c = metalpxe::ui::CookieValue(text, name)) {
    if (c->size() > text.size()) __builtin_trap();
  }
  (void)metalpxe::ui::FormField(text, "password");
  (void)metalpxe::ui::CookieValue(text, "metalpxe_session");
  return 0;
}
