#pragma once
// Does a cluster's Kubernetes API answer? GET <endpoint>/readyz (which
// kube-apiserver serves to anonymous callers), with the server certificate
// verified against the cluster's Kubernetes CA: `cluster.ca.crt` of its
// controlplane base config (what `talosctl gen config` wrote). The CA, a
// public certificate, is written to <stateDir>/clusters/<name>/kubernetes-ca.crt
// for libcurl. Blocking, bounded by `timeout`; for the management API's
// cluster status.
#include <chrono>
#include <string>

#include "core/config.h"
#include "core/result.h"

namespace metalpxe {

struct ReadyzAnswer {
  bool ready = false;   // HTTP 200
  std::string detail;   // "ok", "HTTP 500: ...", or why there was no answer
};

// The Kubernetes CA (PEM) in a controlplane config's cluster.ca.crt.
Result<std::string> KubernetesCaOf(const std::string& controlplane_yaml_path);

ReadyzAnswer ProbeKubernetesReadyz(const ClusterConfig& cluster, const std::string& state_dir,
                                   std::chrono::milliseconds timeout);

}  // namespace metalpxe
