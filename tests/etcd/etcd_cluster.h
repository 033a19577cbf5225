#pragma once
// A real etcd cluster for tests and benchmarks: Debian's etcd-server (3.4)
// members started as subprocesses inside a network namespace, each with its
// own data directory, optionally serving clients over TLS with client
// certificates (a CA, server and client certificates made with the openssl
// command for the run). Members can be killed (-9) and started again on
// their data to test failover and quorum loss.
//
// gRPC opens its sockets on its own threads, so a test cannot enter the
// namespace for one call the way the UDP tests do: EnterTestNetNs() moves
// the whole process into a fresh namespace before any thread exists (a gtest
// environment does it before the first test), and every thread and child
// started later lives there too. Nothing listens or sends outside it.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/store_config.h"
#include "etcd/etcd_client.h"

#include "tests/support/netns.h"
#include "tests/support/subprocess.h"

namespace metalpxe::testing {

// Creates the namespace and moves the process into it (first call only);
// LeaveTestNetNs() moves back and deletes it (with everything still in it).
void EnterTestNetNs(const std::string& tag);
void LeaveTestNetNs();

struct EtcdClusterOptions {
  int members = 3;
  bool tls = false;  // clients over https with client-certificate auth
  // Where data directories go; "" = a temp dir under /var/tmp (a real disk:
  // etcd fsyncs its WAL on every commit, and tmpfs would hide that cost).
  std::string data_root;
  // Where members listen for clients: loopback by default; an address of
  // the test's namespace (a bridge) lets appliances in other namespaces in.
  std::string client_host = "127.0.0.1";
};

class EtcdCluster {
 public:
  // Starts every member and waits (bounded) until the cluster takes a write.
  // Throws std::runtime_error with the members' logs when it does not.
  explicit EtcdCluster(EtcdClusterOptions options = {});
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  int size() const { return static_cast<int>(members_.size()); }
  std::vector<EtcdEndpoint> endpoints() const;
  EtcdEndpoint endpoint(int member) const;
  // Client options for all members (TLS material included), or one member.
  etcd::EtcdClientOptions ClientOptions() const;
  etcd::EtcdClientOptions ClientOptionsFor(const std::vector<int>& members) const;
  // A `store:` config for this cluster (cert files on disk).
  StoreConfig StoreConfigFor(const std::string& prefix) const;

  void Kill(int member);     // SIGKILL, and wait for it to be gone
  void Restart(int member);  // on its existing data directory
  bool Running(int member);
  void Signal(int member, int sig);  // e.g. SIGSTOP/SIGCONT: a member that stops answering
  // Waits until a write through `members` succeeds (bounded); false on timeout.
  bool WaitWritable(std::chrono::milliseconds timeout, const std::vector<int>& members = {});
  std::string Logs(int member) const;
  std::string AllLogs() const;

  // TLS material (empty paths without TLS).
  const std::string& ca_file() const { return ca_file_; }
  const std::string& client_cert_file() const { return client_cert_; }
  const std::string& client_key_file() const { return client_key_; }
  // Certificates made by another CA, for "wrong CA" tests.
  const std::string& other_ca_file() const { return other_ca_; }
  const std::string& dir() const { return dir_; }

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    std::string data_dir;
    std::optional<Subprocess> process;
    std::string old_logs;  // from earlier runs of the member
  };
  void MakeCertificates();
  void StartMember(int i, bool fresh);

  EtcdClusterOptions options_;
  std::string dir_;
  std::string token_;
  std::string initial_cluster_;
  std::vector<Member> members_;
  std::string ca_file_, server_cert_, server_key_, client_cert_, client_key_, other_ca_;
};

}  // namespace metalpxe::testing
