#pragma once
// Mapping a decoded URL path onto a file under a served root, pure parts.
// Defence in depth against traversal: (1) the decoded path is refused if any
// segment is "." or ".." or holds a NUL or backslash (MHD has already turned
// %2e%2e into ".."), (2) after realpath() the file must still lie under the
// root's own realpath, which also catches symlinks pointing out of the root.
#include <optional>
#include <string>
#include <string_view>

namespace metalpxe::http {

// rel: the part of the decoded URL path after the route prefix, e.g.
// "talos/vmlinuz" for "/assets/talos/vmlinuz". Returns the normalised
// relative path (no leading '/', empty segments collapsed) or nullopt when
// the path must be refused. An empty result means "the root itself".
std::optional<std::string> SanitizeRelativePath(std::string_view rel);

// True when real_path is real_root or lies below it (both from realpath()).
bool IsWithinRoot(std::string_view real_root, std::string_view real_path);

// Content-Type by extension: .efi/.kpxe/.pxe and unknown -> octet-stream,
// .ipxe -> text/plain, and a few text formats operators may put there.
std::string_view ContentTypeForPath(std::string_view path);

}  // namespace metalpxe::http
