#!/usr/bin/env bash
# What `talosctl gen config CLUSTER ENDPOINT` writes, made with the openssl
# CLI for tests (talosctl is not packaged for Debian): controlplane.yaml,
# worker.yaml and talosconfig in OUTDIR, with the key material shaped the way
# Talos shapes it (siderolabs/talos pkg/machinery/config/generate/secrets):
#   - the OS CA (machine.ca, talosconfig ca): Ed25519, O=talos, self-signed;
#   - the admin client certificate (talosconfig crt/key): Ed25519, O=os:admin,
#     clientAuth, signed by the OS CA;
#   - Ed25519 private keys under the PEM label "ED25519 PRIVATE KEY" (PKCS#8
#     DER inside, as Go's crypto library writes it), which OpenSSL 3 does not
#     read as is: the very thing metalpxe's client must cope with;
#   - the Kubernetes CA (cluster.ca): ECDSA P-256, O=kubernetes, "EC PRIVATE KEY";
#   - every PEM base64-encoded in the YAML; the worker's machine.ca has no key.
# Also writes talosconfig-operator and talosconfig-reader (the same CA,
# O=os:operator / O=os:reader), for role tests.
#
# usage: talos-gen-config.sh OUTDIR CLUSTER ENDPOINT [INSTALL_DISK]
#   FIXTURE_LABELS=1 adds machine.nodeLabels.metalpxe-fixture (the e2e lab's
#   marker: controlplane-base / worker-base).
set -euo pipefail

out="$1" cluster="$2" endpoint="$3" disk="${4:-/dev/sda}"
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

b64() { base64 -w0 <"$1"; }
ed25519_key() {  # FILE: a Go-labelled Ed25519 key; FILE.pkcs8 the standard one
  openssl genpkey -algorithm ed25519 -out "$1.pkcs8" 2>/dev/null
  sed 's/-----\(BEGIN\|END\) PRIVATE KEY-----/-----\1 ED25519 PRIVATE KEY-----/' "$1.pkcs8" >"$1"
}
issue_client() {  # NAME ROLE: a client certificate for ROLE from the OS CA
  ed25519_key "$1.key"
  openssl req -new -key "$1.key.pkcs8" -subj "/O=$2" -out "$1.csr" 2>/dev/null
  printf 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA os-ca.crt -CAkey os-ca.key.pkcs8 -CAcreateserial -days 365 \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
}
talosconfig() {  # NAME FILE
  cat >"$2" <<EOF
context: $cluster
contexts:
    $cluster:
        endpoints:
            - ${endpoint_host}
        ca: $(b64 os-ca.crt)
        crt: $(b64 "$1.crt")
        key: $(b64 "$1.key")
EOF
}

ed25519_key os-ca.key
openssl req -x509 -new -key os-ca.key.pkcs8 -subj "/O=talos" -days 3650 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,digitalSignature,keyCertSign" \
  -out os-ca.crt 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out k8s-ca.key 2>/dev/null
openssl req -x509 -new -key k8s-ca.key -subj "/O=kubernetes" -days 3650 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,digitalSignature,keyCertSign" \
  -out k8s-ca.crt 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out etcd-ca.key 2>/dev/null
openssl req -x509 -new -key etcd-ca.key -subj "/O=etcd" -days 3650 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,digitalSignature,keyCertSign" \
  -out etcd-ca.crt 2>/dev/null

issue_client admin os:admin
issue_client operator os:operator
issue_client reader os:reader

endpoint_host="${endpoint#https://}"
endpoint_host="${endpoint_host%%:*}"
rand() { openssl rand -hex "$1"; }
machine_token="$(rand 3).$(rand 8)"
cluster_token="$(rand 3).$(rand 8)"

config() {  # ROLE CA_KEY_B64
  local labels=""
  if [[ -n "${FIXTURE_LABELS:-}" ]]; then
    labels=$'\n  nodeLabels:\n    metalpxe-fixture: '"$1-base"
  fi
  cat <<EOF
version: v1alpha1
debug: false
persist: true
machine:
  type: $1
  token: $machine_token
  ca:
    crt: $(b64 os-ca.crt)
    key: "$2"
  certSANs: []${labels}
  kubelet:
    image: ghcr.io/siderolabs/kubelet:v1.32.3
  network: {}
  install:
    disk: $disk
    image: ghcr.io/siderolabs/installer:v1.9.5
    wipe: false
  features:
    rbac: true
    stableHostname: true
    apidCheckExtKeyUsage: true
cluster:
  id: $(openssl rand -base64 32)
  secret: $(openssl rand -base64 32)
  controlPlane:
    endpoint: $endpoint
  clusterName: $cluster
  network:
    dnsDomain: cluster.local
    podSubnets: [10.244.0.0/16]
    serviceSubnets: [10.96.0.0/12]
  token: $cluster_token
EOF
}

{
  config controlplane "$(b64 os-ca.key)"
  cat <<EOF
  secretboxEncryptionSecret: $(openssl rand -base64 32)
  ca:
    crt: $(b64 k8s-ca.crt)
    key: $(b64 k8s-ca.key)
  etcd:
    ca:
      crt: $(b64 etcd-ca.crt)
      key: $(b64 etcd-ca.key)
EOF
} >"$out/controlplane.yaml"
{
  config worker ""
  cat <<EOF
  ca:
    crt: $(b64 k8s-ca.crt)
    key: ""
EOF
} >"$out/worker.yaml"
talosconfig admin "$out/talosconfig"
talosconfig operator "$out/talosconfig-operator"
talosconfig reader "$out/talosconfig-reader"
chmod 0600 "$out"/controlplane.yaml "$out"/worker.yaml "$out"/talosconfig*
