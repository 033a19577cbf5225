#include "tests/etcd/etcd_cluster.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "etcd/etcd_kv.h"

namespace metalpxe::testing {
namespace {

std::unique_ptr<NetNs> g_netns;
int g_original_netns = -1;
std::atomic<int> g_clusters{0};

void Run(const std::vector<std::string>& argv) {
  auto r = RunCommand(argv, std::chrono::seconds(60));
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += a + " ";
    throw std::runtime_error("command failed: " + cmd + "\n" + r.output);
  }
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A key and a certificate signed by ca (self-signed when ca is empty).
void MakeCert(const std::string& dir, const std::string& name, const std::string& cn, const std::string& ext,
              const std::string& ca_name) {
  const std::string key = dir + "/" + name + ".key", crt = dir + "/" + name + ".crt";
  Run({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key});
  const std::string ext_file = dir + "/" + name + ".ext";
  WriteFile(ext_file, ext);
  if (ca_name.empty()) {
    Run({"openssl", "req", "-x509", "-new", "-key", key, "-out", crt, "-days", "2", "-subj", "/CN=" + cn,
         "-extensions", "v3_ca", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
         "keyUsage=critical,keyCertSign,cRLSign"});
    return;
  }
  const std::string csr = dir + "/" + name + ".csr";
  Run({"openssl", "req", "-new", "-key", key, "-out", csr, "-subj", "/CN=" + cn});
  Run({"openssl", "x509", "-req", "-in", csr, "-CA", dir + "/" + ca_name + ".crt", "-CAkey",
       dir + "/" + ca_name + ".key", "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext_file});
}

}  // namespace

void EnterTestNetNs(const std::string& tag) {
  if (g_netns) return;
  g_netns = std::make_unique<NetNs>(tag);
  g_original_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  const int fd = open(("/run/netns/" + g_netns->name()).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || g_original_netns < 0) throw std::runtime_error("cannot open the network namespace files");
  // Still single-threaded here (gtest environments run before any test), so
  // this moves the whole process; threads and children made later follow.
  if (setns(fd, CLONE_NEWNET) != 0) throw std::runtime_error("setns into " + g_netns->name() + " failed");
  close(fd);
}

void LeaveTestNetNs() {
  if (!g_netns) return;
  // Out first: deleting the namespace kills every process still in it.
  if (g_original_netns >= 0) {
    (void)setns(g_original_netns, CLONE_NEWNET);
    close(g_original_netns);
    g_original_netns = -1;
  }
  g_netns.reset();
}

EtcdCluster::EtcdCluster(EtcdClusterOptions options) : options_(std::move(options)) {
  const int n = g_clusters++;
  std::string root = options_.data_root.empty() ? "/var/tmp" : options_.data_root;
  std::string tmpl = root + "/mpx-etcd-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp under " + root + " failed");
  dir_ = tmpl;
  token_ = "mpx-" + std::to_string(getpid()) + "-" + std::to_string(n);
  if (options_.tls) MakeCertificates();
  // Ports are private to the test's namespace; each cluster of the run gets its own.
  const int base = 21000 + (n % 40) * 100;
  for (int i = 0; i < options_.members; ++i) {
    Member m;
    m.name = "m" + std::to_string(i);
    m.client_port = base + i * 10;
    m.peer_port = base + i * 10 + 1;
    m.data_dir = dir_ + "/" + m.name;
    members_.push_back(std::move(m));
    initial_cluster_ += (i ? "," : "") + members_.back().name + "=http://127.0.0.1:" +
                        std::to_string(members_.back().peer_port);
  }
  for (int i = 0; i < size(); ++i) StartMember(i, true);
  if (!WaitWritable(std::chrono::seconds(60)))
    throw std::runtime_error("etcd cluster did not take a write within 60 s\n" + AllLogs());
}

EtcdCluster::~EtcdCluster() {
  for (auto& m : members_) m.process.reset();  // SIGKILL and reap
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void EtcdCluster::MakeCertificates() {
  MakeCert(dir_, "ca", "metalpxe-test-etcd-ca", "", "");
  MakeCert(dir_, "server", "etcd",
           "subjectAltName=IP:" + options_.client_host + "\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature\n", "ca");
  MakeCert(dir_, "client", "metalpxe", "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n", "ca");
  MakeCert(dir_, "otherca", "some-other-ca", "", "");
  ca_file_ = dir_ + "/ca.crt";
  server_cert_ = dir_ + "/server.crt";
  server_key_ = dir_ + "/server.key";
  client_cert_ = dir_ + "/client.crt";
  client_key_ = dir_ + "/client.key";
  other_ca_ = dir_ + "/otherca.crt";
}

void EtcdCluster::StartMember(int i, bool fresh) {
  auto& m = members_[i];
  const std::string scheme = options_.tls ? "https" : "http";
  const std::string client_url = scheme + "://" + options_.client_host + ":" + std::to_string(m.client_port);
  const std::string peer_url = "http://127.0.0.1:" + std::to_string(m.peer_port);
  // setpriv --pdeathsig: a member dies with the test process even when that
  // crashes, instead of running on in the namespace.
  std::vector<std::string> argv = {"setpriv", "--pdeathsig", "KILL", "--", "etcd",
                                   "--name", m.name,
                                   "--data-dir", m.data_dir,
                                   "--listen-client-urls", client_url,
                                   "--advertise-client-urls", client_url,
                                   "--listen-peer-urls", peer_url,
                                   "--initial-advertise-peer-urls", peer_url,
                                   "--initial-cluster", initial_cluster_,
                                   "--initial-cluster-token", token_,
                                   "--initial-cluster-state", fresh ? "new" : "existing",
                                   "--logger", "zap",
                                   "--log-level", "warn"};
  if (options_.tls) {
    for (const auto& a : std::vector<std::string>{"--cert-file", server_cert_, "--key-file", server_key_,
                                                  "--trusted-ca-file", ca_file_, "--client-cert-auth"})
      argv.push_back(a);
  }
  m.process.emplace(Subprocess::Start(argv));
}

std::vector<EtcdEndpoint> EtcdCluster::endpoints() const {
  std::vector<EtcdEndpoint> out;
  for (int i = 0; i < size(); ++i) out.push_back(endpoint(i));
  return out;
}

EtcdEndpoint EtcdCluster::endpoint(int member) const {
  const std::string url =
      std::string(options_.tls ? "https" : "http") + "://" + options_.client_host + ":" +
      std::to_string(members_[member].client_port);
  auto ep = ParseEtcdEndpoint(url);
  if (!ep.ok()) throw std::runtime_error(ep.status().ToString());
  return *ep;
}

etcd::EtcdClientOptions EtcdCluster::ClientOptions() const {
  std::vector<int> all;
  for (int i = 0; i < size(); ++i) all.push_back(i);
  return ClientOptionsFor(all);
}

etcd::EtcdClientOptions EtcdCluster::ClientOptionsFor(const std::vector<int>& members) const {
  etcd::EtcdClientOptions o;
  for (int i : members) o.endpoints.push_back(endpoint(i));
  if (options_.tls) {
    o.ca_pem = ReadFile(ca_file_);
    o.cert_pem = ReadFile(client_cert_);
    o.key_pem = ReadFile(client_key_);
  }
  return o;
}

StoreConfig EtcdCluster::StoreConfigFor(const std::string& prefix) const {
  StoreConfig c;
  c.type = StoreType::kEtcd;
  c.endpoints = endpoints();
  c.prefix = prefix;
  c.ca_file = ca_file_;
  c.cert_file = client_cert_;
  c.key_file = client_key_;
  return c;
}

void EtcdCluster::Kill(int member) {
  auto& m = members_[member];
  if (!m.process) return;
  m.process->Kill(SIGKILL);
  m.process->Wait(std::chrono::seconds(10));
  m.old_logs += m.process->Stderr();
  m.process.reset();
}

void EtcdCluster::Restart(int member) {
  Kill(member);
  StartMember(member, false);
}

namespace {

// True once every thread of `pid` is in group stop. kill(SIGSTOP) returns
// before the target's threads have stopped: on a loaded machine a thread
// already running can still answer one request after the call returns.
bool AllThreadsStopped(pid_t pid) {
  std::error_code ec;
  const auto tasks = std::filesystem::path("/proc") / std::to_string(pid) / "task";
  bool any = false;
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream stat(task.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;  // thread gone
    const auto paren = line.rfind(')');       // comm may hold spaces
    if (paren == std::string::npos || paren + 2 >= line.size()) return false;
    const char state = line[paren + 2];
    if (state != 'T' && state != 't') return false;
    any = true;
  }
  return any && !ec;
}

}  // namespace

void EtcdCluster::Signal(int member, int sig) {
  auto& process = members_[member].process;
  if (!process) return;
  process->Kill(sig);
  if (sig != SIGSTOP) return;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!AllThreadsStopped(process->pid())) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("etcd member " + std::to_string(member) + " did not stop on SIGSTOP");
    ::usleep(2000);
  }
}

bool EtcdCluster::Running(int member) {
  auto& m = members_[member];
  return m.process && m.process->Running();
}

bool EtcdCluster::WaitWritable(std::chrono::milliseconds timeout, const std::vector<int>& members) {
  auto options = members.empty() ? ClientOptions() : ClientOptionsFor(members);
  options.call_timeout = std::chrono::milliseconds(1000);
  options.attempt_timeout = std::chrono::milliseconds(500);
  auto client = etcd::EtcdClient::Create(options);
  if (!client.ok()) return false;
  etcd::pb::PutRequest put;
  put.set_key("/mpx-test/ready");
  put.set_value("1");
  return WaitFor([&] { return (*client)->PutSync(put).ok(); }, timeout);
}

std::string EtcdCluster::Logs(int member) const {
  const auto& m = members_[member];
  return m.old_logs + (m.process ? m.process->Stderr() : "");
}

std::string EtcdCluster::AllLogs() const {
  std::string out;
  for (int i = 0; i < size(); ++i) out += "--- " + members_[i].name + " ---\n" + Logs(i);
  return out;
}

}  // namespace metalpxe::testing
