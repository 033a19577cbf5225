// Pure parts of images/: URLs, path-component checks, SHA-256, and the
// profile checks AssetCache makes before touching the network.
#include "images/asset_names.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "images/asset_cache.h"
#include "images/sha256.h"

namespace metalpxe {
namespace {

TEST(images_names, FactoryUrls) {
  EXPECT_EQ(FactoryAssetUrl("https://factory.talos.dev", "abc", "v1.9.5", FactoryKernelName("amd64")),
            "https://factory.talos.dev/image/abc/v1.9.5/kernel-amd64");
  EXPECT_EQ(FactoryAssetUrl("http://10.0.0.1:8080/", "abc", "v1.9.5", FactoryInitramfsName("arm64")),
            "http://10.0.0.1:8080/image/abc/v1.9.5/initramfs-arm64.xz");
}

TEST(images_names, PathComponents) {
  EXPECT_TRUE(IsSafePathComponent("v1.9.5"));
  EXPECT_TRUE(IsSafePathComponent("376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"));
  EXPECT_TRUE(IsSafePathComponent("v1.10.0-alpha.1+build"));
  for (const char* bad : {"", ".", "..", "a/b", "../etc", "a b", "v1\n", "a%2f"}) {
    EXPECT_FALSE(IsSafePathComponent(bad)) << bad;
  }
  EXPECT_FALSE(IsSafePathComponent(std::string(129, 'a')));
}

TEST(images_names, Sha256Hex) {
  EXPECT_TRUE(IsSha256Hex(std::string(64, 'a')));
  EXPECT_TRUE(IsSha256Hex(std::string(64, 'F')));
  EXPECT_FALSE(IsSha256Hex(std::string(63, 'a')));
  EXPECT_FALSE(IsSha256Hex(std::string(64, 'g')));
}

TEST(images_sha256, KnownVectors) {
  Sha256 h;
  EXPECT_EQ(h.FinalHex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::string abc = "abc";
  h.Update(std::as_bytes(std::span(abc.data(), abc.size())));
  EXPECT_EQ(h.FinalHex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // Streaming in pieces gives the same digest.
  h.Update(std::as_bytes(std::span(abc.data(), 1)));
  h.Update(std::as_bytes(std::span(abc.data() + 1, 2)));
  EXPECT_EQ(h.FinalHex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

class LocalProfileTest : public ::testing::Test {
 protected:
  LocalProfileTest() {
    char tmpl[] = "/tmp/mpx-images-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
    dir_ = tmpl;
    std::ofstream(dir_ + "/vmlinuz") << "kernel";
    std::ofstream(dir_ + "/initramfs.xz") << "abc";
    profile_.name = "local";
    profile_.kernel = dir_ + "/vmlinuz";
    profile_.initramfs = dir_ + "/initramfs.xz";
  }
  ~LocalProfileTest() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
  ProfileConfig profile_;
};

TEST_F(LocalProfileTest, images_LocalFilesAreUsedAsTheyAre) {
  AssetCache cache(dir_ + "/state");
  auto paths = cache.Resolve(profile_);
  ASSERT_TRUE(paths.ok()) << paths.status().ToString();
  EXPECT_EQ(paths->kernel, profile_.kernel);
  EXPECT_EQ(paths->initramfs, profile_.initramfs);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/state"));  // nothing cached for local files
}

TEST_F(LocalProfileTest, images_MissingLocalFileIsNamed) {
  profile_.initramfs = dir_ + "/nope.xz";
  AssetCache cache(dir_ + "/state");
  auto paths = cache.Resolve(profile_);
  ASSERT_FALSE(paths.ok());
  EXPECT_EQ(paths.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(paths.status().message().find(dir_ + "/nope.xz"), std::string::npos) << paths.status().ToString();
}

TEST_F(LocalProfileTest, images_LocalDigestIsCheckedButTheFileKept) {
  profile_.initramfs_sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";  // "abc"
  AssetCache cache(dir_ + "/state");
  ASSERT_TRUE(cache.Resolve(profile_).ok());
  profile_.kernel_sha256 = std::string(64, '0');
  auto paths = cache.Resolve(profile_);
  ASSERT_FALSE(paths.ok());
  EXPECT_EQ(paths.status().code(), ErrorCode::kDataLoss);
  EXPECT_TRUE(std::filesystem::exists(profile_.kernel));
}

TEST(images_profile, DownloadProfilesAreCheckedBeforeAnyRequest) {
  AssetCache cache("/nonexistent-state-dir");
  ProfileConfig p;
  p.name = "bad";
  p.talos_version = "v1.9.5";
  p.schematic = "../../etc";
  p.kernel_sha256 = p.initramfs_sha256 = std::string(64, 'a');
  p.image_factory = "http://127.0.0.1:1";
  auto r = cache.Resolve(p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("schematic"), std::string::npos) << r.status().ToString();

  p.schematic = "abc";
  p.kernel_sha256 = "not-a-digest";  // empty would mean trust on first use
  r = cache.Resolve(p);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("kernelSha256"), std::string::npos) << r.status().ToString();

  ProfileConfig empty;
  empty.name = "empty";
  r = cache.Resolve(empty);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("neither"), std::string::npos) << r.status().ToString();
}

}  // namespace
}  // namespace metalpxe
