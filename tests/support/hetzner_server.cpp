#include "tests/support/hetzner_server.h"

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "tests/support/subprocess.h"

namespace metalpxe::testing {
namespace {

std::string ReadHetznerRigFile(const std::string& path, std::size_t limit) {
  std::ifstream in(path, std::ios::binary);
  std::string out(limit, '\0');
  in.read(out.data(), std::streamsize(limit));
  out.resize(std::size_t(in.gcount()));
  return out;
}

}  // namespace

HetznerServer::HetznerServer(HetznerServerOptions options) : options_(std::move(options)) {
  std::filesystem::create_directories(options_.dir);
  // The profile's metal image: half random, half compressible, zstd like Image Factory's.
  std::mt19937 rng(16);
  raw_.assign(options_.image_bytes, '\0');
  for (std::size_t i = 0; i < raw_.size(); ++i) raw_[i] = char(i % 4096 < 2048 ? rng() & 0xff : i & 0x0f);
  std::ofstream(options_.dir + "/metal-amd64.raw", std::ios::binary) << raw_;
  auto zst = RunCommand({"zstd", "-q", "-f", options_.dir + "/metal-amd64.raw", "-o", metal_image_zst()});
  if (zst.exit_code != 0) throw std::runtime_error("zstd: " + zst.output);
  // The server's disk: a loop device over a file of 0xee bytes, larger than the image.
  std::ofstream(options_.dir + "/disk.img", std::ios::binary) << std::string(options_.image_bytes * 4, '\xee');
  auto loop = RunCommand({"losetup", "-f", "--show", options_.dir + "/disk.img"});
  if (loop.exit_code != 0) throw std::runtime_error("losetup: " + loop.output);
  loop_ = loop.output.substr(0, loop.output.find('\n'));

  rescue_ = std::make_unique<RescueSshd>(options_.netns, options_.ssh_port);
  RobotFixtureOptions o;
  o.server_number = options_.server_number;
  o.user = options_.robot_user;
  o.password = options_.robot_password;
  o.server_ip = kAddress;
  o.rescue_host_keys = {rescue_->HostPublicKey()};
  o.on_reset = [this](const std::string&, bool rescue_active, const std::string&) {
    if (rescue_active) {
      rescue_->Start();
    } else {
      disk_booted_ = true;  // Talos from the disk: maintenance mode (the test starts it)
    }
  };
  robot_ = std::make_unique<RobotFixture>(o, options_.dir);
}

HetznerServer::~HetznerServer() {
  robot_.reset();
  rescue_.reset();
  if (!loop_.empty()) RunCommand({"losetup", "-d", loop_});
}

std::string HetznerServer::MetalImageZstBytes() const {
  return ReadHetznerRigFile(metal_image_zst(), std::size_t(1) << 30);
}

bool HetznerServer::DiskHoldsImage() const {
  return ReadHetznerRigFile(options_.dir + "/disk.img", raw_.size()) == raw_;
}

}  // namespace metalpxe::testing
