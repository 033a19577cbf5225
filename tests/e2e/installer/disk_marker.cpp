#include "tests/e2e/installer/disk_marker.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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
  if (sector.size() > 512) sector.resize(512);
  sector.resize(512, '\0');
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

}  // namespace metalpxe::standin
