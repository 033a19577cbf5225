#include "core/provisioning/boot_urls.h"

#include <filesystem>

namespace metalpxe {

std::string ServerHost(const ServerConfig& server, IpFamily family) {
  if (family == IpFamily::kIpv6 && server.address6) return UrlHost(*server.address6);
  return server.address.ToString();
}

std::string HttpBaseUrl(const ServerConfig& server, IpFamily family) {
  return "http://" + ServerHost(server, family) + ":" + std::to_string(server.http_port);
}

std::string ChainScriptUrl(const ServerConfig& server, IpFamily family) {
  return HttpBaseUrl(server, family) + std::string(kChainScriptPath);
}

std::string MachineScriptUrl(const ServerConfig& server, IpFamily family) {
  return HttpBaseUrl(server, family) + std::string(kMachineScriptPath);
}

std::string LoaderUrl(const ServerConfig& server, std::string_view file, IpFamily family) {
  return HttpBaseUrl(server, family) + std::string(kAssetsPrefix) + "/" + std::string(file);
}

std::string ConfigUrl(const ServerConfig& server, std::string_view token, IpFamily family) {
  return HttpBaseUrl(server, family) + std::string(kConfigPathPrefix) + std::string(token);
}

std::string TftpUrl(const ServerConfig& server, std::string_view file) {
  std::string url = "tftp://" + ServerHost(server, IpFamily::kIpv6);
  if (server.tftp_port != 69) url += ":" + std::to_string(server.tftp_port);
  return url + "/" + std::string(file);
}

ProfileAssetUrls ProfileAssetUrlsFor(const ServerConfig& server, std::string_view profile, IpFamily family) {
  const std::string dir =
      HttpBaseUrl(server, family) + std::string(kProfileAssetsPrefix) + "/" + std::string(profile) + "/";
  return {dir + std::string(kKernelFileName), dir + std::string(kInitramfsFileName), dir + std::string(kUkiFileName)};
}

std::optional<std::string> UkiProfileOf(std::string_view path) {
  if (path.starts_with(kProfileAssetsPrefix)) {
    path.remove_prefix(kProfileAssetsPrefix.size());
  } else {
    if (path.starts_with('/')) path.remove_prefix(1);
    if (!path.starts_with(kProfileTftpPrefix)) return std::nullopt;
    path.remove_prefix(kProfileTftpPrefix.size() - 1);  // keep the '/' before the profile
  }
  if (!path.starts_with('/')) return std::nullopt;
  path.remove_prefix(1);
  const auto slash = path.find('/');
  if (slash == 0 || slash == std::string_view::npos || path.substr(slash + 1) != kUkiFileName) return std::nullopt;
  return std::string(path.substr(0, slash));
}

std::string GrubMachineConfigPath(const MacAddress& mac) {
  return std::string(kGrubMachineConfigPrefix) + mac.ToHyphenString();
}

std::string ProfileTftpPath(std::string_view profile, std::string_view file) {
  return std::string(kProfileTftpPrefix) + std::string(profile) + "/" + std::string(file);
}

std::string ProfileAssetsDir(const ServerConfig& server) {
  return (std::filesystem::path(server.state_dir) / "assets" / "profiles").string();
}

}  // namespace metalpxe
