#include "tests/e2e/installer/disk_marker.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace metalpxe::standin {

std::string MarkerLine(const ConfigIdentity& id) {
  std::string line = kMarkerPrefix;
  line += " hostname=" + (id.hostname.empty() ? std::string("-") : id.hostname);
  line += " role=" + id.role;
  if (!id.marker.empty()) line += " fixture=" + id.marker;
  line += "\n";
  return line;
}

Status WriteMarker(const std::string& device, const ConfigIdentity& id) {
  std::string sector = MarkerLine(id);
  if (sector.size() > kMarkerBytes) sector.resize(kMarkerBytes);
  sector.resize(kMarkerBytes, '\0');
  const int fd = open(device.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status(ErrorCode::kUnavailable, "open " + device + ": " + std::strerror(errno));
  const ssize_t n = pwrite(fd, sector.data(), sector.size(), 0);
  const int write_errno = errno;
  const bool synced = n == static_cast<ssize_t>(sector.size()) && fsync(fd) == 0;
  close(fd);
  if (n != static_cast<ssize_t>(sector.size())) {
    return Status(ErrorCode::kDataLoss, "write " + device + ": " + std::strerror(write_errno));
  }
  if (!synced) return Status(ErrorCode::kDataLoss, "fsync " + device + " failed");
  return Status::Ok();
}

namespace {
constexpr char kConfigHeader[] = "METALPXE-STANDIN-CONFIG ";
}  // namespace

Status WriteInstalledConfig(const std::string& device, const std::string& config) {
  if (config.size() > kMaxInstalledConfig) return Status(ErrorCode::kInvalidArgument, "config too large");
  const std::string record = kConfigHeader + std::to_string(config.size()) + "\n" + config;
  const int fd = open(device.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status(ErrorCode::kUnavailable, "open " + device + ": " + std::strerror(errno));
  const ssize_t n = pwrite(fd, record.data(), record.size(), kConfigOffset);
  const bool ok = n == static_cast<ssize_t>(record.size()) && fsync(fd) == 0;
  close(fd);
  if (!ok) return Status(ErrorCode::kDataLoss, "write config to " + device + " failed");
  return Status::Ok();
}

Result<std::string> ReadInstalledConfig(const std::string& device) {
  const int fd = open(device.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status(ErrorCode::kUnavailable, "open " + device + ": " + std::strerror(errno));
  char header[64] = {};
  const ssize_t n = pread(fd, header, sizeof header - 1, kConfigOffset);
  const std::string_view h(header, n > 0 ? static_cast<std::size_t>(n) : 0);
  const std::size_t eol = h.find('\n');
  std::size_t length = 0;
  if (!h.starts_with(kConfigHeader) || eol == std::string_view::npos) {
    close(fd);
    return Status(ErrorCode::kNotFound, device + " holds no installed config");
  }
  const std::size_t start = sizeof kConfigHeader - 1;
  length = std::strtoul(std::string(h.substr(start, eol - start)).c_str(), nullptr, 10);
  if (length == 0 || length > kMaxInstalledConfig) {
    close(fd);
    return Status(ErrorCode::kDataLoss, device + ": bad installed config length");
  }
  std::string config(length, '\0');
  const ssize_t got = pread(fd, config.data(), length, kConfigOffset + static_cast<long>(eol) + 1);
  close(fd);
  if (got != static_cast<ssize_t>(length)) return Status(ErrorCode::kDataLoss, device + ": short installed config");
  return config;
}

}  // namespace metalpxe::standin
