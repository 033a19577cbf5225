// clusters; cluster status CLUSTER; kubeconfig CLUSTER [PATH]; talosconfig CLUSTER;
// upgrade CLUSTER --to vX.Y.Z [--schematic ID].
// The two credentials are written as they are (YAML), whatever -o says: they
// are meant for kubectl and talosctl; -o only shapes listings.
#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <map>

#include "cli/commands/commands.h"

namespace metalpxe::cli {
namespace {

// Status and credentials call the cluster's nodes (each call bounded by
// Talos client deadlines of up to 30 s): a longer deadline than listings.
constexpr std::chrono::seconds kClusterCallTimeout{60};

std::string NodesByState(const metalpxe::v1::Cluster& c) {
  std::map<std::string, int> by_state;
  for (const auto& n : c.nodes()) ++by_state[n.state()];
  std::vector<std::string> parts;
  for (const auto& [state, n] : by_state) parts.push_back(std::to_string(n) + " " + state);
  return parts.empty() ? "-" : Join(parts, ", ");
}

// Writes a credential to PATH with mode 0600 (created or replaced), or to
// stdout without one.
int WriteCredential(const std::string& data, const std::string& path, const std::string& what) {
  if (path.empty() || path == "-") {
    std::cout << data;
    if (!data.empty() && data.back() != '\n') std::cout << "\n";
    return kExitOk;
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::cerr << "error: cannot write " << what << " to " << path << ": " << std::strerror(errno) << "\n";
    return kExitUsage;
  }
  ::fchmod(fd, 0600);  // an existing file keeps its mode otherwise
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::cerr << "error: writing " << path << ": " << std::strerror(errno) << "\n";
      ::close(fd);
      return kExitUsage;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) {
    std::cerr << "error: writing " << path << ": " << std::strerror(errno) << "\n";
    return kExitUsage;
  }
  std::cerr << what << " of the cluster written to " << path << "\n";
  return kExitOk;
}

void PrintClusterStatus(Session& s, const metalpxe::v1::ClusterStatus& st) {
  if (s.format != OutputFormat::kTable) {
    PrintDocument(std::cout, s.format, ToJson(st));
    return;
  }
  const auto& c = st.cluster();
  std::cout << "Cluster:     " << c.name() << "\n"
            << "Endpoint:    " << OrDash(c.endpoint()) << "\n"
            << "Bootstrap:   " << c.bootstrap() << " (" << c.bootstrap_mode() << ")";
  if (!c.bootstrap_node().empty()) std::cout << " on " << c.bootstrap_node();
  if (c.bootstrap_attempts() > 0) std::cout << ", " << c.bootstrap_attempts() << " call(s)";
  std::cout << "\n";
  if (!c.bootstrap_reason().empty()) std::cout << "             " << c.bootstrap_reason() << "\n";
  if (!c.upgrade().empty()) {
    std::cout << "Upgrade:     " << c.upgrade() << " (to " << c.upgrade_version() << ")";
    if (!c.pinned_version().empty()) std::cout << "; profiles boot " << c.pinned_version();
    std::cout << "\n";
    if (!c.upgrade_reason().empty()) std::cout << "             " << c.upgrade_reason() << "\n";
  }
  std::cout << "Kubernetes:  " << (st.kubernetes_ready() ? "ready" : "not ready") << " ("
            << OrDash(st.kubernetes_detail()) << ")\n";
  std::cout << "Nodes:       " << NodesByState(c) << "\n\n";
  Table nodes({"NODE", "ROLE", "STATE", "IP", "TALOS"});
  for (const auto& n : c.nodes())
    nodes.AddRow({n.name(), n.role(), n.state(), OrDash(n.ip()), OrDash(n.talos_version())});
  nodes.Print(std::cout);
  std::cout << "\n";
  if (!st.etcd_error().empty()) {
    std::cout << "etcd:        " << st.etcd_error() << "\n";
    return;
  }
  Table etcd({"ETCD MEMBER", "HOSTNAME", "PEER URLS", "CLIENT URLS", "LEARNER"});
  for (const auto& m : st.etcd_members()) {
    char id[17];
    std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(m.id()));
    etcd.AddRow({id, OrDash(m.hostname()), Join({m.peer_urls().begin(), m.peer_urls().end()}, ","),
                 Join({m.client_urls().begin(), m.client_urls().end()}, ","), m.is_learner() ? "yes" : "no"});
  }
  etcd.Print(std::cout);
}

// One progress line of `upgrade`, "<phase>[ <node>]: <message>" (stable:
// scripts and the e2e scenario read them; docs/operations.md lists them).
void PrintUpgradeLine(const metalpxe::v1::UpgradeProgress& p) {
  std::cout << p.phase();
  if (!p.node().empty()) std::cout << " " << p.node();
  std::cout << ": " << p.message() << "\n";
  std::cout.flush();
}

}  // namespace

void AddClusterCommands(CLI::App& app, CommandContext& ctx) {
  OnRun(app.add_subcommand("clusters", "List the named clusters: bootstrap state and nodes by state"), ctx,
        [](Session& s) {
          metalpxe::v1::ListClustersResponse resp;
          auto status = s.stub->ListClusters(s.UnaryContext().get(), {}, &resp);
          if (!status.ok()) return ReportRpcError(s, status);
          if (s.format != OutputFormat::kTable) {
            nlohmann::json arr = nlohmann::json::array();
            for (const auto& c : resp.clusters()) arr.push_back(ToJson(c));
            PrintDocument(std::cout, s.format, arr);
            return kExitOk;
          }
          Table t({"NAME", "ENDPOINT", "BOOTSTRAP", "MODE", "NODES", "SINCE", "UPGRADE", "REASON"});
          for (const auto& c : resp.clusters()) {
            // The latest upgrade: "done v1.9.6", "failed v1.10.0"; its reason
            // goes with the bootstrap's (one REASON column, failures first).
            const std::string upgrade = c.upgrade().empty() ? "-" : c.upgrade() + " " + c.upgrade_version();
            const std::string reason = c.upgrade_reason().empty() ? c.bootstrap_reason() : c.upgrade_reason();
            t.AddRow({c.name(), OrDash(c.endpoint()), c.bootstrap(), c.bootstrap_mode(), NodesByState(c),
                      FormatAge(c.bootstrap_changed_unix()), upgrade, reason});
          }
          t.Print(std::cout);
          return kExitOk;
        });

  auto* cluster = app.add_subcommand("cluster", "One named cluster");
  cluster->require_subcommand(1);
  auto* status_cmd = cluster->add_subcommand(
      "status", "Nodes by state, etcd members, bootstrap state, whether Kubernetes answers /readyz");
  auto status_name = std::make_shared<std::string>();
  status_cmd->add_option("CLUSTER", *status_name, "Cluster name (config section clusters)")->required();
  OnRun(status_cmd, ctx, [status_name](Session& s) {
    metalpxe::v1::GetClusterStatusRequest req;
    req.set_cluster(*status_name);
    metalpxe::v1::ClusterStatus st;
    auto status = s.stub->GetClusterStatus(s.UnaryContext(kClusterCallTimeout).get(), req, &st);
    if (!status.ok()) return ReportRpcError(s, status);
    PrintClusterStatus(s, st);
    return kExitOk;
  });

  auto* kubeconfig = app.add_subcommand(
      "kubeconfig", "Fetch the cluster's admin kubeconfig from a running control plane (to PATH, or stdout)");
  auto kube_name = std::make_shared<std::string>();
  auto kube_path = std::make_shared<std::string>();
  kubeconfig->add_option("CLUSTER", *kube_name, "Cluster name")->required();
  kubeconfig->add_option("PATH", *kube_path, "File to write (mode 0600); stdout when omitted");
  OnRun(kubeconfig, ctx, [kube_name, kube_path](Session& s) {
    metalpxe::v1::GetKubeconfigRequest req;
    req.set_cluster(*kube_name);
    metalpxe::v1::Credential cred;
    auto status = s.stub->GetKubeconfig(s.UnaryContext(kClusterCallTimeout).get(), req, &cred);
    if (!status.ok()) return ReportRpcError(s, status);
    return WriteCredential(cred.data(), *kube_path, "kubeconfig");
  });

  auto* upgrade = app.add_subcommand(
      "upgrade",
      "Upgrade a cluster's Talos, one node at a time (workers, then control planes), printing progress as it goes");
  auto up_name = std::make_shared<std::string>();
  auto up_version = std::make_shared<std::string>();
  auto up_schematic = std::make_shared<std::string>();
  upgrade->add_option("CLUSTER", *up_name, "Cluster name")->required();
  upgrade->add_option("--to", *up_version, "Talos version, vX.Y.Z")->required();
  upgrade->add_option("--schematic", *up_schematic,
                      "Image Factory schematic ID for the installer (default: each machine's profile's)");
  OnRun(upgrade, ctx, [up_name, up_version, up_schematic](Session& s) {
    metalpxe::v1::UpgradeClusterRequest req;
    req.set_cluster(*up_name);
    req.set_version(*up_version);
    req.set_schematic(*up_schematic);
    grpc::ClientContext context;  // no deadline: each node is bounded on the appliance's side
    auto reader = s.stub->UpgradeCluster(&context, req);
    metalpxe::v1::UpgradeProgress p;
    while (reader->Read(&p)) {
      if (s.format != OutputFormat::kTable) PrintStreamItem(std::cout, s.format, ToJson(p));
      else PrintUpgradeLine(p);
    }
    auto status = reader->Finish();
    if (!status.ok()) return ReportRpcError(s, status);
    return kExitOk;
  });

  auto* talosconfig =
      app.add_subcommand("talosconfig", "Print the cluster's talosconfig (the client config for talosctl)");
  auto talos_name = std::make_shared<std::string>();
  auto talos_path = std::make_shared<std::string>();
  talosconfig->add_option("CLUSTER", *talos_name, "Cluster name")->required();
  talosconfig->add_option("PATH", *talos_path, "File to write (mode 0600); stdout when omitted");
  OnRun(talosconfig, ctx, [talos_name, talos_path](Session& s) {
    metalpxe::v1::GetTalosconfigRequest req;
    req.set_cluster(*talos_name);
    metalpxe::v1::Credential cred;
    auto status = s.stub->GetTalosconfig(s.UnaryContext().get(), req, &cred);
    if (!status.ok()) return ReportRpcError(s, status);
    return WriteCredential(cred.data(), *talos_path, "talosconfig");
  });
}

}  // namespace metalpxe::cli
