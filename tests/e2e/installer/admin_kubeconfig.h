#pragma once
// The admin kubeconfig the stand-in's Kubeconfig call serves, made as Talos
// makes it (kubeconfig.GenerateAdmin): the cluster endpoint and the
// Kubernetes CA from the machine config, a fresh admin client certificate
// from that CA, wrapped as Talos wraps it: a tar.gz (gzip around ustar)
// holding one regular file `kubeconfig`, mode 0600.
#include <string>

#include "core/result.h"
#include "tests/e2e/installer/machine_config_facts.h"

namespace metalpxe::standin {

Result<std::string> AdminKubeconfig(const MachineConfigFacts& facts);

// Lowercase hex SHA-256 of `bytes`: what the stand-in logs of a kubeconfig it
// served, so a test can check that a client got exactly that one (every call
// issues a fresh client certificate) without the secret itself in a log.
std::string Sha256Hex(const std::string& bytes);

// tar.gz with one entry `name` holding `contents` (libarchive).
Result<std::string> SingleFileTarGz(const std::string& name, const std::string& contents);

}  // namespace metalpxe::standin
