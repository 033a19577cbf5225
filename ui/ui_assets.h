#pragma once
// The status page's files, compiled into metalpxed (no build toolchain or
// file at run time): plain HTML, CSS and JavaScript, readable as they are in
// ui_assets.cpp. The page builds everything with textContent (never
// innerHTML), so text from machines (hostnames, log lines) cannot run.
#include <string_view>

namespace metalpxe::ui {

struct UiAsset {
  std::string_view path;          // "/", "/app.js", ...
  std::string_view content_type;
  std::string_view body;
};

// nullptr for a path that is not one of the page's files.
const UiAsset* FindUiAsset(std::string_view path);
// The login form; `failed` adds the "wrong password" line.
std::string_view UiLoginPage(bool failed);

}  // namespace metalpxe::ui
