#include "core/config_paths.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace metalpxe {

std::string ResolvePath(std::string_view path, std::string_view base_dir) {
  if (path.empty() || path.front() == '/') return std::string(path);
  std::string out(base_dir);
  if (!out.empty() && out.back() != '/') out += '/';
  return out + std::string(path);
}

std::string DirName(std::string_view path) {
  const auto slash = path.rfind('/');
  if (slash == std::string_view::npos) {
    char buf[4096];
    return getcwd(buf, sizeof buf) ? std::string(buf) : std::string(".");
  }
  if (slash == 0) return "/";
  std::string dir(path.substr(0, slash));
  if (dir.front() != '/') return ResolvePath(dir, DirName("x"));
  return dir;
}

std::string WhyNotReadableFile(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return "does not exist";
    return std::strerror(errno);
  }
  if (!S_ISREG(st.st_mode)) return "is not a regular file";
  if (access(path.c_str(), R_OK) != 0) return "cannot be read (" + std::string(std::strerror(errno)) + ")";
  return "";
}

bool ReadWholeFile(const std::string& path, std::string* out, std::string* error) {
  if (auto why = WhyNotReadableFile(path); !why.empty()) {
    *error = why;
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot be opened";
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

}  // namespace metalpxe
