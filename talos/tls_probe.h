#pragma once
// Why a TLS connection to a node failed, in words. gRPC reports a refused
// handshake vaguely: a node that rejects our client certificate under TLS
// 1.3 looks like "Socket closed" (the refusal is an alert sent after the
// handshake), and a node whose certificate is not from our CA shows as an
// OpenSSL error code. When a call fails that way, the client repeats the
// handshake once with OpenSSL directly, the same credentials and a short
// deadline, and reads what happened: our verification result, or the alert
// the node sent. Only on the failure path; blocking (worker threads).
#include <chrono>
#include <cstdint>
#include <string>

#include "core/talosconfig.h"

namespace metalpxe::talos {

struct TlsProbe {
  enum class Outcome {
    kAccepted,          // handshake done and the node talks to us (TLS is not the problem)
    kServerUntrusted,   // the node's certificate failed our verification
    kClientRefused,     // the node sent an alert: it refused our certificate (or its absence)
    kNoConnection,      // no TCP connection within the deadline
    kOther,
  };
  Outcome outcome = Outcome::kOther;
  std::string detail;  // OpenSSL's words: "certificate signature failure", "tlsv13 alert certificate required"
};

// creds == nullptr: no client certificate and no verification (maintenance).
TlsProbe ProbeTls(const std::string& host, std::uint16_t port, const TalosCredentials* creds,
                  std::chrono::milliseconds timeout);

}  // namespace metalpxe::talos
