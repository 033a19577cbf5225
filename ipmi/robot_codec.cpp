#include "ipmi/robot_codec.h"

#include <nlohmann/json.hpp>

#include "core/ssh_key_file.h"
#include "ipmi/json_fields.h"

namespace metalpxe {
namespace {

using nlohmann::json;

const json* Object(const json& doc, const char* key) {
  if (!doc.is_object()) return nullptr;
  auto it = doc.find(key);
  return it != doc.end() && it->is_object() ? &*it : nullptr;
}

using json_fields::String;

long Integer(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer()) return 0;
  const auto v = it->get<long long>();
  return v < 0 || v > 1'000'000'000 ? 0 : long(v);
}

// "aa:bb:...:ff": 16 hex pairs, as Robot spells key fingerprints.
bool IsMd5Fingerprint(const std::string& s) {
  if (s.size() != 47) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (i % 3 == 2 ? c != ':' : !hex) return false;
  }
  return true;
}

Result<json> Envelope(std::string_view text, const char* key) {
  json doc = json::parse(text.begin(), text.end(), nullptr, false);
  const json* inner = doc.is_discarded() ? nullptr : Object(doc, key);
  if (!inner) return Status{ErrorCode::kInternal, std::string("malformed Robot response: no \"") + key + "\" object"};
  return *inner;
}

}  // namespace

std::optional<RobotError> ParseRobotError(std::string_view text) {
  json doc = json::parse(text.begin(), text.end(), nullptr, false);
  const json* e = doc.is_discarded() ? nullptr : Object(doc, "error");
  if (!e) return std::nullopt;
  RobotError err;
  err.status = int(Integer(*e, "status"));
  err.code = String(*e, "code");
  err.message = String(*e, "message");
  err.max_request = int(Integer(*e, "max_request"));
  err.interval = int(Integer(*e, "interval"));
  return err;
}

Result<RobotServer> ParseRobotServer(std::string_view text) {
  auto s = Envelope(text, "server");
  if (!s.ok()) return s.status();
  RobotServer out;
  out.server_ip = String(*s, "server_ip");
  out.server_number = Integer(*s, "server_number");
  out.server_name = String(*s, "server_name");
  out.status = String(*s, "status");
  if (out.server_ip.empty()) return Status{ErrorCode::kInternal, "Robot server without server_ip"};
  return out;
}

Result<RobotRescue> ParseRobotRescue(std::string_view text) {
  auto r = Envelope(text, "rescue");
  if (!r.ok()) return r.status();
  RobotRescue out;
  auto active = r->find("active");
  out.active = active != r->end() && active->is_boolean() && active->get<bool>();
  out.os = String(*r, "os");
  // Entries as authorized_key's ({"key": {"fingerprint": ...}}); a bare
  // string is taken as a fingerprint, or as an OpenSSH public key line.
  auto keys = r->find("host_key");
  if (keys != r->end() && keys->is_array())
    for (const auto& k : *keys) {
      if (k.is_string()) {
        const std::string text = k.get<std::string>();
        if (auto md5 = SshPublicKeyLineMd5(text); md5.ok()) out.host_key_fingerprints.push_back(*md5);
        else if (IsMd5Fingerprint(text)) out.host_key_fingerprints.push_back(text);
        continue;
      }
      const json* key = Object(k, "key");
      const json& src = key ? *key : k;
      if (src.is_object() && IsMd5Fingerprint(String(src, "fingerprint")))
        out.host_key_fingerprints.push_back(String(src, "fingerprint"));
    }
  return out;
}

Result<std::vector<std::string>> ParseRobotResetTypes(std::string_view text) {
  auto r = Envelope(text, "reset");
  if (!r.ok()) return r.status();
  std::vector<std::string> out;
  auto t = r->find("type");
  if (t != r->end() && t->is_array())
    for (const auto& v : *t)
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

std::string ShellQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

std::string BuildKexecScript(std::string_view kernel_url, std::string_view initramfs_url,
                             std::string_view command_line) {
  std::string s;
  s += "set -e\n";
  s += "d=$(mktemp -d /tmp/metalpxe.XXXXXX)\n";
  s += "fetch() { if command -v curl >/dev/null 2>&1; then curl -fsS --retry 3 -o \"$2\" \"$1\"; "
       "else wget -q -O \"$2\" \"$1\"; fi; }\n";
  s += "fetch " + ShellQuote(kernel_url) + " \"$d/kernel\"\n";
  s += "fetch " + ShellQuote(initramfs_url) + " \"$d/initramfs\"\n";
  s += "kexec -l \"$d/kernel\" --initrd=\"$d/initramfs\" --append=" + ShellQuote(command_line) + "\n";
  s += "echo '" + std::string(kKexecLoadedMarker) + "'\n";
  s += "kexec -e\n";
  return s;
}

std::string BuildImageInstallScript(std::string_view disk, std::string_view sha256, std::string_view compression) {
  const std::string dec = compression == "xz" ? "xz -dc" : "zstd -dcq";
  const std::string tool = compression == "xz" ? "xz" : "zstd";
  std::string s;
  s += "set -eu\n";
  s += "fail() { echo \"metalpxe: $2\" >&2; exit \"$1\"; }\n";
  s += "command -v " + tool + " >/dev/null 2>&1 || fail 6 'no " + tool + " in the rescue system'\n";
  s += "want=" + ShellQuote(disk) + "\n";
  // A stable name: by-id/by-path as given; a kernel name resolved to its
  // by-id alias here (NVMe numbering differs between rescue and Talos).
  s += "if [ -z \"$want\" ]; then\n"
       "  set -- $(lsblk -dn -o NAME,TYPE | awk '$2==\"disk\"{print \"/dev/\"$1}')\n"
       "  [ $# -eq 1 ] || fail 3 \"$# disks here ($*): name one in installDisk\"\n"
       "  want=$1\n"
       "fi\n";
  s += "disk=$want\n";
  s += "case \"$want\" in /dev/disk/by-*) ;; *)\n"
       "  real=$(readlink -f \"$want\" 2>/dev/null || true)\n"
       "  for l in /dev/disk/by-id/*; do\n"
       "    [ -e \"$l\" ] || continue\n"
       "    case \"$l\" in *-part[0-9]*) continue;; esac\n"
       "    if [ -n \"$real\" ] && [ \"$(readlink -f \"$l\")\" = \"$real\" ]; then disk=$l; break; fi\n"
       "  done;;\n"
       "esac\n";
  s += "[ -b \"$disk\" ] || fail 3 \"install disk $want is not a block device here\"\n";
  s += "img=$(mktemp /tmp/metalpxe-image.XXXXXX)\n";
  s += "trap 'rm -f \"$img\"' EXIT\n";
  s += "cat > \"$img\"\n";
  s += "got=$(sha256sum \"$img\" | cut -d' ' -f1)\n";
  s += "[ \"$got\" = " + ShellQuote(sha256) + " ] || fail 4 \"image arrived with sha256 $got, not " +
       std::string(sha256) + "; disk untouched\"\n";
  s += dec + " \"$img\" | dd of=\"$disk\" bs=4M conv=fsync 2>/dev/null\n";
  s += "sync\n";
  s += "n=$(" + dec + " \"$img\" | wc -c)\n";
  s += "a=$(" + dec + " \"$img\" | sha256sum | cut -d' ' -f1)\n";
  s += "b=$(head -c \"$n\" \"$disk\" | sha256sum | cut -d' ' -f1)\n";
  s += "[ \"$a\" = \"$b\" ] || fail 5 \"read back from $disk: sha256 $b, written $a\"\n";
  s += "echo \"" + std::string(kImageWrittenMarker) + "$disk ($n bytes, sha256 $a)\"\n";
  return s;
}

}  // namespace metalpxe
