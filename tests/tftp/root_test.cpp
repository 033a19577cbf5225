// Root confinement: every way out of the TFTP root is refused, every way in works.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "pxe/tftp/tftp_root.h"

namespace metalpxe::tftp {
namespace {

namespace fs = std::filesystem;

class tftp_root : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tftp-root-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    root_ = base_ / "root";
    fs::create_directories(root_ / "sub");
    std::ofstream(root_ / "file") << "inside";
    std::ofstream(root_ / "sub" / "nested") << "nested!";
    std::ofstream(base_ / "secret") << "outside";
    fs::create_symlink("/etc/passwd", root_ / "abs-out");
    fs::create_symlink("../secret", root_ / "rel-out");
    fs::create_symlink("sub/nested", root_ / "rel-in");
    fs::create_symlink(base_, root_ / "dir-out");
    ASSERT_EQ(::mkfifo((root_ / "fifo").c_str(), 0600), 0);
    auto r = TftpRoot::Open(root_.string());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    root_obj_.emplace(std::move(r).value());
  }
  void TearDown() override { fs::remove_all(base_); }

  ErrorCode Code(std::string_view name) {
    auto f = root_obj_->OpenForRead(name);
    return f.ok() ? ErrorCode::kOk : f.status().code();
  }

  fs::path base_, root_;
  std::optional<TftpRoot> root_obj_;
};

TEST_F(tftp_root, ServesFilesInsideIncludingLeadingSlash) {
  auto f = root_obj_->OpenForRead("file");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->size, 6u);
  EXPECT_EQ(Code("/file"), ErrorCode::kOk);
  EXPECT_EQ(Code("//sub//nested"), ErrorCode::kOk);
  EXPECT_EQ(Code("sub/./nested"), ErrorCode::kOk);
  EXPECT_EQ(Code("rel-in"), ErrorCode::kOk);  // a symlink that stays inside is fine
}

TEST_F(tftp_root, RefusesDotDotAnywhere) {
  EXPECT_EQ(Code("../secret"), ErrorCode::kPermissionDenied);
  EXPECT_EQ(Code("sub/../../secret"), ErrorCode::kPermissionDenied);
  EXPECT_EQ(Code("sub/../file"), ErrorCode::kPermissionDenied);
  EXPECT_EQ(Code("/../etc/passwd"), ErrorCode::kPermissionDenied);
  EXPECT_EQ(Code(".."), ErrorCode::kPermissionDenied);
}

TEST_F(tftp_root, AbsolutePathsStayInsideTheRoot) {
  // "/etc/passwd" means <root>/etc/passwd, which does not exist.
  EXPECT_EQ(Code("/etc/passwd"), ErrorCode::kNotFound);
  EXPECT_EQ(Code(base_.string() + "/secret"), ErrorCode::kNotFound);
}

TEST_F(tftp_root, RefusesSymlinksLeadingOut) {
  EXPECT_EQ(Code("abs-out"), ErrorCode::kPermissionDenied);
  EXPECT_EQ(Code("rel-out"), ErrorCode::kPermissionDenied);
  EXPECT_EQ(Code("dir-out/secret"), ErrorCode::kPermissionDenied);
}

TEST_F(tftp_root, RefusesWhatIsNotARegularFile) {
  EXPECT_EQ(Code("sub"), ErrorCode::kPermissionDenied);
  EXPECT_EQ(Code("fifo"), ErrorCode::kPermissionDenied);  // and does not block on open
  EXPECT_EQ(Code(""), ErrorCode::kNotFound);
  EXPECT_EQ(Code("/"), ErrorCode::kNotFound);
  EXPECT_EQ(Code("missing"), ErrorCode::kNotFound);
}

TEST(tftp_root_open, MissingRootIsAnError) {
  EXPECT_FALSE(TftpRoot::Open("/nonexistent/tftp/root").ok());
}

}  // namespace
}  // namespace metalpxe::tftp
