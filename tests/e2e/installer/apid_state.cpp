// The stand-in apid's persisted state: one 512-byte text record at an
// offset of a file or block device ("key=value" lines after a header), so
// the same code keeps it in a test's temp file and on the VM's disk.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "core/unique_fd.h"
#include "tests/e2e/installer/standin_apid.h"

namespace metalpxe::standin {
namespace {
constexpr char kHeader[] = "METALPXE-STANDIN-APID-STATE v1\n";
constexpr std::size_t kRecord = 512;
}  // namespace

Result<ApidState> LoadApidState(const std::string& path, long offset) {
  ApidState state;
  if (path.empty()) return state;
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return state;
    return Status(ErrorCode::kUnavailable, "open " + path + ": " + std::strerror(errno));
  }
  std::string record(kRecord, '\0');
  const ssize_t n = pread(fd.get(), record.data(), record.size(), offset);
  if (n < 0) return Status(ErrorCode::kUnavailable, "read " + path + ": " + std::strerror(errno));
  record.resize(static_cast<std::size_t>(n));
  if (!record.starts_with(kHeader)) return state;  // never written: a fresh node
  std::istringstream in(record.substr(sizeof kHeader - 1, record.find('\0') - (sizeof kHeader - 1)));
  for (std::string line; std::getline(in, line);) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "bootstrapped") state.bootstrapped = value == "1";
    if (key == "version") state.version = value;
    if (key == "upgradeImage") state.upgrade_image = value;
  }
  return state;
}

Status SaveApidState(const std::string& path, long offset, const ApidState& state) {
  if (path.empty()) return Status::Ok();
  std::string record = std::string(kHeader) + "bootstrapped=" + (state.bootstrapped ? "1" : "0") +
                       "\nversion=" + state.version + "\nupgradeImage=" + state.upgrade_image + "\n";
  if (record.size() > kRecord) return Status(ErrorCode::kInvalidArgument, "state record too large");
  record.resize(kRecord, '\0');
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return Status(ErrorCode::kUnavailable, "open " + path + ": " + std::strerror(errno));
  if (pwrite(fd.get(), record.data(), record.size(), offset) != static_cast<ssize_t>(record.size()) ||
      fsync(fd.get()) != 0)
    return Status(ErrorCode::kDataLoss, "write " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace metalpxe::standin
