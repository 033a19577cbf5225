#pragma once
// Shared by the Talos client's integration tests: one network namespace for
// the whole test binary, entered by the main thread before gRPC starts any
// thread (so every gRPC thread and socket lives in it, and none is left in a
// namespace of an earlier test), the `talosctl gen config`-shaped fixtures
// (tests/support/talos-gen-config.sh), and stand-in apid processes.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/talosconfig.h"
#include "tests/support/netns.h"
#include "tests/support/subprocess.h"

namespace metalpxe::testing {

class TalosLab {
 public:
  static TalosLab& Get();  // set up by the binary's global test environment
  const std::string& netns() const { return ns_->name(); }
  const std::string& dir() const { return dir_; }  // fixtures: cluster-a/, cluster-b/ (shared, read only)
  const std::string& tmp() const { return tmp_; }  // this process's scratch directory

  // A talosconfig of cluster-a or cluster-b: "talosconfig", "talosconfig-reader", ...
  TalosCredentials Credentials(const std::string& cluster, const std::string& file = "talosconfig") const;

  // Starts metalpxe_standin_apid in the namespace with `args`, waits until it
  // prints that it listens (bounded).
  Subprocess StartApid(const std::vector<std::string>& args) const;

  void SetUp();
  void TearDown();

 private:
  std::unique_ptr<NetNs> ns_;
  std::unique_ptr<ScopedNetNsEnter> enter_;
  std::string dir_, tmp_;
};

}  // namespace metalpxe::testing
