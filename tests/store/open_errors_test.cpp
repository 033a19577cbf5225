// Opening where the store cannot live fails with a message that names the
// path and the reason, never a crash or a silently read-only store.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "core/store/sqlite_store.h"
#include "tests/store/store_test_util.h"

namespace metalpxe {
namespace {

using testing::TempDir;

struct OpenOutcome {
  ErrorCode code = ErrorCode::kOk;
  std::string message;
};

// Root ignores file permissions, so as root the attempt runs in a forked
// child that first drops to nobody; the outcome comes back over a pipe.
OpenOutcome OpenAsUnprivileged(const std::string& dir) {
  if (geteuid() != 0) {
    auto r = SqliteStore::Open(dir);
    return {r.status().code(), r.status().message()};
  }
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe");
  const pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
    auto r = SqliteStore::Open(dir);
    const int code = static_cast<int>(r.status().code());
    const std::string msg = r.status().message();
    if (write(fds[1], &code, sizeof code) != sizeof code) _exit(3);
    if (write(fds[1], msg.data(), msg.size()) < 0) _exit(3);
    _exit(0);
  }
  close(fds[1]);
  OpenOutcome out;
  int code = -1;
  std::string text;
  char buf[1024];
  ssize_t n = read(fds[0], &code, sizeof code);
  while ((n = read(fds[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  int wstatus = 0;
  waitpid(child, &wstatus, 0);
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) throw std::runtime_error("child failed");
  out.code = static_cast<ErrorCode>(code);
  out.message = text;
  return out;
}

TEST(store_open_errors, StateDirUnderARegularFile) {
  TempDir dir;
  std::ofstream(dir.Sub("file")) << "x";
  auto store = SqliteStore::Open(dir.Sub("file/state"));
  ASSERT_FALSE(store.ok());
  const std::string msg = store.status().message();
  EXPECT_NE(msg.find("cannot create state directory " + dir.Sub("file/state")), std::string::npos) << msg;
  EXPECT_NE(msg.find("Not a directory"), std::string::npos) << msg;
}

TEST(store_open_errors, EmptyStateDir) {
  auto store = SqliteStore::Open("");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), ErrorCode::kInvalidArgument);
}

TEST(store_open_errors, UnwritableDirectory) {
  TempDir dir;
  const std::string state = dir.Sub("state");
  std::filesystem::create_directories(state);
  chmod(dir.path().c_str(), 0755);
  chmod(state.c_str(), 0555);
  const auto out = OpenAsUnprivileged(state);
  EXPECT_EQ(out.code, ErrorCode::kPermissionDenied) << out.message;
  EXPECT_NE(out.message.find(state), std::string::npos) << out.message;
  EXPECT_NE(out.message.find("Permission denied"), std::string::npos) << out.message;
  EXPECT_FALSE(std::filesystem::exists(state + "/" + SqliteStore::kFileName));
}

TEST(store_open_errors, ReadOnlyDatabaseIsNotOpenedSilentlyReadOnly) {
  TempDir dir;
  const std::string state = dir.Sub("state");
  { ASSERT_TRUE(SqliteStore::Open(state).ok()); }
  // The directory is writable, only the file is not: SQLite would open it
  // read-only without complaint, and every write would fail later.
  chmod(dir.path().c_str(), 0755);
  chmod(state.c_str(), 0777);
  chmod((state + "/" + SqliteStore::kFileName).c_str(), 0444);
  const auto out = OpenAsUnprivileged(state);
  EXPECT_EQ(out.code, ErrorCode::kPermissionDenied) << out.message;
  EXPECT_NE(out.message.find(state + "/" + SqliteStore::kFileName + " is read-only"), std::string::npos)
      << out.message;
}


// A used state directory whose database is gone (deleted, or truncated to 0
// bytes with no WAL) must not start as a first start: every lease would be
// forgotten and handed out again.
TEST(store_open_errors, UsedStateDirectoryWithLostDatabaseIsRefusedUnlessAskedToStartEmpty) {
  TempDir dir;
  {
    auto s = SqliteStore::Open(dir.path());
    ASSERT_TRUE(s.ok()) << "a first start (nothing in the directory) opens";
  }
  std::filesystem::create_directories(dir.Sub("pki"));
  std::ofstream(dir.Sub("token.key")) << std::string(32, 'k');
  // Truncated to 0 bytes, WAL gone: refused, naming the file and the way out.
  std::filesystem::remove(dir.Sub("metalpxe.db-wal"));
  std::filesystem::remove(dir.Sub("metalpxe.db-shm"));
  std::filesystem::resize_file(dir.Sub("metalpxe.db"), 0);
  auto empty = SqliteStore::Open(dir.path());
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), ErrorCode::kDataLoss);
  EXPECT_NE(empty.status().message().find(dir.Sub("metalpxe.db") + " is empty"), std::string::npos)
      << empty.status().message();
  EXPECT_NE(empty.status().message().find("pki, token.key"), std::string::npos) << empty.status().message();
  EXPECT_NE(empty.status().message().find(dir.Sub("metalpxe.db.start-empty")), std::string::npos);
  EXPECT_EQ(std::filesystem::file_size(dir.Sub("metalpxe.db")), 0u) << "the refusal changed nothing";
  // Deleted: refused too.
  std::filesystem::remove(dir.Sub("metalpxe.db"));
  auto missing = SqliteStore::Open(dir.path());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("is missing"), std::string::npos) << missing.status().message();
  // The operator asks for an empty start: it opens once, and the marker is used up.
  std::ofstream(dir.Sub("metalpxe.db.start-empty")) << "";
  {
    auto s = SqliteStore::Open(dir.path());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
  }
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("metalpxe.db.start-empty")));
  // From then on it is an ordinary database and opens again.
  auto again = SqliteStore::Open(dir.path());
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

}  // namespace
}  // namespace metalpxe
