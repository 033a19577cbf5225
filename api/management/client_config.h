#pragma once
// The file metalpxectl reads to reach metalpxed: where the API listens and
// the PEMs for mutual TLS. metalpxed writes one for the admin on first start
// (<stateDir>/pki/admin.metalpxeconfig, mode 0600). YAML, camelCase keys like
// the rest of the configuration:
//   endpoint: 10.66.0.1:50100
//   ca: |  (PEM of the API CA)
//   crt: | (PEM of the client certificate)
//   key: | (PEM of the client's private key)
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/secret.h"

namespace metalpxe {

struct ClientConfig {
  std::string endpoint;  // host:port
  std::string ca_pem;
  std::string cert_pem;
  Secret key_pem;
};

std::string RenderClientConfig(const ClientConfig& config);
// Every key is required; unknown keys are an error (typos should not pass).
Result<ClientConfig> ParseClientConfig(std::string_view yaml_text);
Result<ClientConfig> LoadClientConfig(const std::string& path);

// Writes `content` to `path` atomically (temp file + fsync + rename), mode 0600.
Status WritePrivateFile(const std::string& path, std::string_view content);
Result<std::string> ReadSmallFile(const std::string& path, std::size_t max_bytes = 1 << 20);

}  // namespace metalpxe
