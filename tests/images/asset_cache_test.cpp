// AssetCache against real HTTP servers in a private network namespace:
// busybox httpd for the well-behaved cases (good digest, bad digest, 404,
// resuming a partial file left by an earlier run), and a tiny in-test server
// for transfers that break (truncated, resumed after a cut, stalled).
#include "images/asset_cache.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <sstream>

#include <gtest/gtest.h>

#include "images/asset_names.h"
#include "images/sha256.h"
#include "tests/images/tiny_http_server.h"
#include "tests/support/netns.h"
#include "tests/support/subprocess.h"

namespace metalpxe {
namespace {

namespace fs = std::filesystem;
using testing::NetNs;
using testing::ScopedNetNsEnter;
using testing::Subprocess;
using testing::TinyHttpServer;

constexpr const char* kVersion = "v1.9.5";
const std::string kSchematic = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba";
constexpr int kHttpPort = 8080;  // the namespace is ours alone

std::string RandomBytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

std::string Sha256Of(const std::string& data) {
  Sha256 h;
  h.Update(std::as_bytes(std::span(data.data(), data.size())));
  return h.FinalHex();
}

void WriteFile(const std::string& path, const std::string& data) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << data;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every regular file under `dir` (the cache must hold none after a failure).
std::vector<std::string> FilesUnder(const std::string& dir) {
  std::vector<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(e.path().string());
  }
  return out;
}

bool CanConnect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

class AssetCacheTest : public ::testing::Test {
 protected:
  AssetCacheTest() : ns_("img"), enter_(ns_.name()) {
    char tmpl[] = "/tmp/mpx-images-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
    root_ = tmpl;
    www_ = root_ + "/www";
    state_ = root_ + "/state";
    kernel_ = RandomBytes(3 << 20, 1);
    initramfs_ = RandomBytes((5 << 20) + 123, 2);
    const std::string served = www_ + "/image/" + kSchematic + "/" + kVersion + "/";
    WriteFile(served + "kernel-amd64", kernel_);
    WriteFile(served + "initramfs-amd64.xz", initramfs_);
  }
  ~AssetCacheTest() override {
    if (httpd_) httpd_->Kill();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  void StartHttpd() {
    httpd_.emplace(Subprocess::Start(
        {"busybox", "httpd", "-f", "-p", "127.0.0.1:" + std::to_string(kHttpPort), "-h", www_}, ns_.name()));
    ASSERT_TRUE(testing::WaitFor([] { return CanConnect(kHttpPort); }, std::chrono::seconds(10)))
        << httpd_->Describe();
  }
  void StopHttpd() {
    httpd_->Kill();
    httpd_->Wait(std::chrono::seconds(5));
    httpd_.reset();
  }

  ProfileConfig Profile(const std::string& base = "http://127.0.0.1:" + std::to_string(kHttpPort)) const {
    ProfileConfig p;
    p.name = "default";
    p.talos_version = kVersion;
    p.schematic = kSchematic;
    p.image_factory = base;
    p.kernel_sha256 = Sha256Of(kernel_);
    p.initramfs_sha256 = Sha256Of(initramfs_);
    return p;
  }
  std::string CacheRoot() const { return state_ + "/cache/images"; }
  std::string CachedKernel() const { return CacheRoot() + "/" + kSchematic + "/" + kVersion + "/kernel-amd64"; }

  static AssetCacheOptions QuickOptions() {
    AssetCacheOptions o;
    o.download.limits.connect_timeout = std::chrono::seconds(5);
    o.download.limits.low_speed_time = std::chrono::seconds(10);
    return o;
  }

  NetNs ns_;
  ScopedNetNsEnter enter_;  // this thread (and threads it starts) talk inside the namespace
  std::string root_, www_, state_;
  std::string kernel_, initramfs_;
  std::optional<Subprocess> httpd_;
};

TEST_F(AssetCacheTest, images_GoodDigestIsCachedAndNotDownloadedAgain) {
  StartHttpd();
  std::vector<AssetProgress> seen;
  {
    AssetCache cache(state_, QuickOptions());
    auto paths = cache.Resolve(Profile(), [&](const AssetProgress& p) { seen.push_back(p); });
    ASSERT_TRUE(paths.ok()) << paths.status().ToString();
    EXPECT_EQ(paths->kernel, CachedKernel());
    EXPECT_EQ(ReadFile(paths->kernel), kernel_);
    EXPECT_EQ(ReadFile(paths->initramfs), initramfs_);
    EXPECT_EQ(FilesUnder(CacheRoot()).size(), 2u);  // no .partial left over
  }
  // Progress: monotonic per file, ends at the full size, total known.
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front().file, "kernel-amd64");
  EXPECT_EQ(seen.back().file, "initramfs-amd64.xz");
  EXPECT_EQ(seen.back().bytes_done, initramfs_.size());
  EXPECT_EQ(seen.back().bytes_total, initramfs_.size());
  EXPECT_EQ(seen.back().profile, "default");

  // With the server gone, a new cache (nothing remembered in memory) still
  // resolves: the files are re-verified from disk, not downloaded.
  StopHttpd();
  AssetCache again(state_, QuickOptions());
  int progress_calls = 0;
  auto paths = again.Resolve(Profile(), [&](const AssetProgress&) { ++progress_calls; });
  ASSERT_TRUE(paths.ok()) << paths.status().ToString();
  EXPECT_EQ(progress_calls, 0);
  auto twice = again.Resolve(Profile());
  ASSERT_TRUE(twice.ok()) << twice.status().ToString();
}

TEST_F(AssetCacheTest, images_WithoutADigestTheFirstDownloadIsPinned) {
  StartHttpd();
  auto profile = Profile();
  profile.kernel_sha256.clear();
  profile.initramfs_sha256.clear();
  {
    AssetCache cache(state_, QuickOptions());
    auto paths = cache.Resolve(profile);
    ASSERT_TRUE(paths.ok()) << paths.status().ToString();
    EXPECT_EQ(ReadFile(paths->kernel), kernel_);
  }
  EXPECT_EQ(ReadFile(CachedKernel() + ".sha256"), Sha256Of(kernel_) + "\n");
  // The server now hands out something else, and the cached copy is lost:
  // the pin refuses the new bytes.
  std::ofstream(www_ + "/image/" + kSchematic + "/" + kVersion + "/kernel-amd64", std::ios::trunc) << "tampered";
  fs::remove(CachedKernel());
  AssetCache again(state_, QuickOptions());
  auto paths = again.Resolve(profile);
  ASSERT_FALSE(paths.ok());
  EXPECT_EQ(paths.status().code(), ErrorCode::kDataLoss);
  EXPECT_NE(paths.status().message().find("expected " + Sha256Of(kernel_)), std::string::npos)
      << paths.status().ToString();
}

TEST_F(AssetCacheTest, images_BadDigestIsRejectedAndLeavesNothing) {
  StartHttpd();
  auto profile = Profile();
  profile.kernel_sha256 = std::string(64, 'a');
  AssetCache cache(state_, QuickOptions());
  auto paths = cache.Resolve(profile);
  ASSERT_FALSE(paths.ok());
  EXPECT_EQ(paths.status().code(), ErrorCode::kDataLoss);
  const std::string msg = paths.status().message();
  EXPECT_NE(msg.find("sha256 mismatch"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected " + std::string(64, 'a')), std::string::npos) << msg;
  EXPECT_NE(msg.find("got " + Sha256Of(kernel_)), std::string::npos) << msg;
  EXPECT_NE(msg.find("kernel-amd64"), std::string::npos) << msg;
  EXPECT_TRUE(FilesUnder(CacheRoot()).empty());
}

TEST_F(AssetCacheTest, images_NotFoundSaysSo) {
  StartHttpd();
  auto profile = Profile();
  profile.talos_version = "v9.9.9";
  AssetCache cache(state_, QuickOptions());
  auto paths = cache.Resolve(profile);
  ASSERT_FALSE(paths.ok());
  EXPECT_EQ(paths.status().code(), ErrorCode::kNotFound);
  const std::string msg = paths.status().message();
  EXPECT_NE(msg.find("404"), std::string::npos) << msg;
  EXPECT_NE(msg.find("/image/" + kSchematic + "/v9.9.9/kernel-amd64"), std::string::npos) << msg;
  EXPECT_TRUE(FilesUnder(CacheRoot()).empty());
  EXPECT_FALSE(fs::exists(CacheRoot() + "/" + kSchematic + "/v9.9.9"));
}

TEST_F(AssetCacheTest, images_PartialLeftByAnEarlierRunIsResumed) {
  StartHttpd();
  // As if the daemon died 1 MiB into the kernel download.
  WriteFile(CachedKernel() + ".partial", kernel_.substr(0, 1 << 20));
  AssetCache cache(state_, QuickOptions());
  std::vector<std::uint64_t> kernel_progress;
  auto paths = cache.Resolve(Profile(), [&](const AssetProgress& p) {
    if (p.file == "kernel-amd64") kernel_progress.push_back(p.bytes_done);
  });
  ASSERT_TRUE(paths.ok()) << paths.status().ToString();
  EXPECT_EQ(ReadFile(paths->kernel), kernel_);
  EXPECT_FALSE(fs::exists(CachedKernel() + ".partial"));
  // Counting resumed bytes, progress starts past the first MiB.
  ASSERT_FALSE(kernel_progress.empty());
  EXPECT_GE(kernel_progress.front(), std::uint64_t(2) << 20);
  EXPECT_EQ(kernel_progress.back(), kernel_.size());
}

TEST_F(AssetCacheTest, images_CorruptPartialIsCaughtByTheDigest) {
  StartHttpd();
  WriteFile(CachedKernel() + ".partial", std::string(1 << 20, 'x'));  // not the real first MiB
  AssetCache cache(state_, QuickOptions());
  auto paths = cache.Resolve(Profile());
  ASSERT_FALSE(paths.ok());
  EXPECT_EQ(paths.status().code(), ErrorCode::kDataLoss) << paths.status().ToString();
  EXPECT_TRUE(FilesUnder(CacheRoot()).empty());
  // The next try starts clean and succeeds.
  auto retry = cache.Resolve(Profile());
  ASSERT_TRUE(retry.ok()) << retry.status().ToString();
}

TEST_F(AssetCacheTest, images_CorruptedCachedFileIsDownloadedAgain) {
  StartHttpd();
  {
    AssetCache cache(state_, QuickOptions());
    ASSERT_TRUE(cache.Resolve(Profile()).ok());
  }
  std::string damaged = kernel_;
  damaged[12345] ^= 0x40;
  WriteFile(CachedKernel(), damaged);
  AssetCache cache(state_, QuickOptions());
  auto paths = cache.Resolve(Profile());
  ASSERT_TRUE(paths.ok()) << paths.status().ToString();
  EXPECT_EQ(ReadFile(paths->kernel), kernel_);
}

TEST_F(AssetCacheTest, images_TruncatedTransferIsRejectedAndLeavesNothing) {
  TinyHttpServer server(kernel_, TinyHttpServer::Mode::kTruncateAlways, 100000);
  AssetCache cache(state_, QuickOptions());
  auto paths = cache.Resolve(Profile(server.base_url()));
  ASSERT_FALSE(paths.ok());
  const std::string msg = paths.status().message();
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("got 100000 of " + std::to_string(kernel_.size()) + " bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3 attempts"), std::string::npos) << msg;
  EXPECT_TRUE(FilesUnder(CacheRoot()).empty());
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].range, "");
  EXPECT_EQ(reqs[1].range, "bytes=100000-");  // tried to resume; the server ignored it
}

TEST_F(AssetCacheTest, images_DroppedConnectionIsResumedWithRange) {
  // Serves the same bytes for both files (digests set to match), cutting
  // the first response short and honouring Range after that.
  TinyHttpServer server(kernel_, TinyHttpServer::Mode::kTruncateOnceThenRange, 777777);
  auto profile = Profile(server.base_url());
  profile.initramfs_sha256 = profile.kernel_sha256;
  AssetCache cache(state_, QuickOptions());
  auto paths = cache.Resolve(profile);
  ASSERT_TRUE(paths.ok()) << paths.status().ToString();
  EXPECT_EQ(ReadFile(paths->kernel), kernel_);
  auto reqs = server.requests();
  ASSERT_GE(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].request_line, "GET /image/" + kSchematic + "/" + kVersion + "/kernel-amd64 HTTP/1.1");
  EXPECT_EQ(reqs[0].range, "");
  EXPECT_EQ(reqs[1].range, "bytes=777777-");
}

TEST_F(AssetCacheTest, images_AsyncResolveCallsBackFromTheWorker) {
  StartHttpd();
  AssetCache cache(state_, QuickOptions());
  std::promise<Result<BootAssetPaths>> done;
  std::atomic<int> progress_calls{0};
  std::thread::id callback_thread;
  cache.ResolveAsync(
      Profile(), [&](const AssetProgress&) { ++progress_calls; },
      [&](Result<BootAssetPaths> r) {
        callback_thread = std::this_thread::get_id();
        done.set_value(std::move(r));
      });
  auto future = done.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  auto paths = future.get();
  ASSERT_TRUE(paths.ok()) << paths.status().ToString();
  EXPECT_EQ(ReadFile(paths->initramfs), initramfs_);
  EXPECT_GT(progress_calls.load(), 0);
  EXPECT_NE(callback_thread, std::this_thread::get_id());
}

TEST_F(AssetCacheTest, images_ShutdownCancelsAStalledDownload) {
  TinyHttpServer server(kernel_, TinyHttpServer::Mode::kStall, 200000);
  std::promise<Status> done;
  {
    AssetCache cache(state_, QuickOptions());
    cache.ResolveAsync(Profile(server.base_url()), nullptr,
                       [&](Result<BootAssetPaths> r) { done.set_value(r.status()); });
    // Wait until the transfer is under way, then destroy the cache.
    ASSERT_TRUE(testing::WaitFor([&] { return fs::exists(CachedKernel() + ".partial") && fs::file_size(CachedKernel() + ".partial") > 0; },
                                 std::chrono::seconds(20)));
  }
  auto st = done.get_future().get();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cancelled"), std::string::npos) << st.ToString();
  EXPECT_TRUE(FilesUnder(CacheRoot()).empty());
}

}  // namespace
}  // namespace metalpxe

// --- the metal disk image for Hetzner rescue installs (installMethod image) ---

namespace metalpxe {
namespace {

// secureBoot uki: Image Factory's metal-amd64-secureboot-uki.efi is
// downloaded beside the kernel and pinned like it; a profile's own UKI file
// wins over it; without secureBoot uki none is fetched.
TEST_F(AssetCacheTest, images_UkiProfilesGetTheSchematicsSignedUki) {
  const std::string uki = RandomBytes((1 << 20) + 11, 4);
  WriteFile(www_ + "/image/" + kSchematic + "/" + kVersion + "/metal-amd64-secureboot-uki.efi", uki);
  StartHttpd();
  const std::string cached = CacheRoot() + "/" + kSchematic + "/" + kVersion + "/metal-amd64-secureboot-uki.efi";
  AssetCache cache(state_, QuickOptions());
  auto plain = cache.Resolve(Profile());
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_TRUE(plain->uki.empty());
  EXPECT_FALSE(fs::exists(cached));

  ProfileConfig sb = Profile();
  sb.secure_boot = SecureBootChain::kUki;
  auto paths = cache.Resolve(sb);
  ASSERT_TRUE(paths.ok()) << paths.status().ToString();
  EXPECT_EQ(paths->uki, cached);
  EXPECT_EQ(ReadFile(paths->uki), uki);
  EXPECT_EQ(ReadFile(cached + ".sha256"), Sha256Of(uki) + "\n");  // pinned: no ukiSha256 given
  sb.uki_sha256 = Sha256Of("something else");
  fs::remove(cached);
  EXPECT_EQ(cache.Resolve(sb).status().code(), ErrorCode::kDataLoss);

  sb.uki_sha256.clear();
  sb.uki = root_ + "/own-uki.efi";
  WriteFile(sb.uki, "my own signed UKI");
  auto own = cache.Resolve(sb);
  ASSERT_TRUE(own.ok()) << own.status().ToString();
  EXPECT_EQ(own->uki, sb.uki);
}

TEST_F(AssetCacheTest, images_MetalImageIsDownloadedOncePinnedAndReVerified) {
  const std::string metal = RandomBytes((2 << 20) + 7, 3);
  WriteFile(www_ + "/image/" + kSchematic + "/" + kVersion + "/metal-amd64.raw.zst", metal);
  StartHttpd();
  const std::string cached = CacheRoot() + "/" + kSchematic + "/" + kVersion + "/metal-amd64.raw.zst";
  {
    AssetCache cache(state_, QuickOptions());
    auto image = cache.ResolveDiskImage(Profile());
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    EXPECT_EQ(image->path, cached);
    EXPECT_EQ(image->sha256, Sha256Of(metal));
    EXPECT_EQ(image->compression, "zstd");
    EXPECT_EQ(ReadFile(image->path), metal);
  }
  StopHttpd();
  // From the cache, verified again; a damaged copy is never handed out.
  AssetCache again(state_, QuickOptions());
  ASSERT_TRUE(again.ResolveDiskImage(Profile()).ok());
  std::ofstream(cached, std::ios::trunc) << "damaged";
  AssetCache third(state_, QuickOptions());
  auto damaged = third.ResolveDiskImage(Profile());
  EXPECT_FALSE(damaged.ok());  // re-download refused: the server is gone
  // A profile of local kernel/initramfs files has no metal image to offer.
  ProfileConfig local;
  local.name = "local";
  local.kernel = "/k";
  local.initramfs = "/i";
  auto none = third.ResolveDiskImage(local);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("installMethod kexec"), std::string::npos) << none.status().message();
}

}  // namespace
}  // namespace metalpxe
