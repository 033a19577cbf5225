#pragma once
// A Hetzner dedicated server for tests, without a VM (issue 16): what a
// reinstall through the Robot web service meets, in the test's network
// namespace, shared by the in-process test (tests/talos/hetzner_apply_it_test)
// and the one through the real metalpxed (tests/daemon/hetzner_appliance_it_test):
//   - the strict Robot fixture over HTTPS (tests/ipmi/robot_fixture.h), its
//     rescue activation listing the rescue system's host key;
//   - a reset with rescue active starts the rescue system: a real OpenSSH
//     sshd at the server's address (127.0.0.1 in the namespace) on
//     `ssh_port` (tests/ipmi/rescue_sshd.h);
//   - a reset without rescue "boots the disk": disk_booted() turns true and
//     the test starts Talos (the stand-in apid) in maintenance mode;
//   - the server's disk, a loop device over a file of 0xee bytes;
//   - the metal image the disk must receive (raw bytes and Image Factory's
//     zstd file).
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "tests/ipmi/rescue_sshd.h"
#include "tests/ipmi/robot_fixture.h"

namespace metalpxe::testing {

struct HetznerServerOptions {
  std::string netns;             // the test's namespace (sshd runs there)
  std::string dir;               // scratch: certificates, disk file, images
  std::uint16_t ssh_port = 22;   // where the rescue sshd listens
  std::string server_number = "321";
  std::string robot_user = "#ws+robotuser";
  std::string robot_password = "robot-pass";
  std::size_t image_bytes = 1 << 20;
};

class HetznerServer {
 public:
  static constexpr const char* kAddress = "127.0.0.1";  // Robot's server_ip, where rescue and Talos answer

  explicit HetznerServer(HetznerServerOptions options);
  ~HetznerServer();  // detaches the loop device
  HetznerServer(const HetznerServer&) = delete;
  HetznerServer& operator=(const HetznerServer&) = delete;

  RobotFixture& robot() { return *robot_; }
  RescueSshd& rescue() { return *rescue_; }
  const std::string& disk() const { return loop_; }        // /dev/loopN
  const std::string& raw_image() const { return raw_; }    // what the disk must start with
  std::string metal_image_zst() const { return options_.dir + "/metal-amd64.raw.zst"; }
  std::string MetalImageZstBytes() const;
  bool disk_booted() const { return disk_booted_.load(); }
  // The disk starts with the image, byte for byte.
  bool DiskHoldsImage() const;

 private:
  HetznerServerOptions options_;
  std::string raw_, loop_;
  std::atomic<bool> disk_booted_{false};
  std::unique_ptr<RescueSshd> rescue_;
  std::unique_ptr<RobotFixture> robot_;  // last: its reset hook uses the above
};

}  // namespace metalpxe::testing
