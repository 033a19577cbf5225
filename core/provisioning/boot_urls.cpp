#include "core/provisioning/boot_urls.h"

#include <filesystem>

namespace metalpxe {

std::string HttpBaseUrl(const ServerConfig& server) {
  return "http://" + server.address.ToString() + ":" + std::to_string(server.http_port);
}

std::string ChainScriptUrl(const ServerConfig& server) { return HttpBaseUrl(server) + std::string(kChainScriptPath); }

std::string MachineScriptUrl(const ServerConfig& server) {
  return HttpBaseUrl(server) + std::string(kMachineScriptPath);
}

std::string LoaderUrl(const ServerConfig& server, std::string_view file) {
  return HttpBaseUrl(server) + std::string(kAssetsPrefix) + "/" + std::string(file);
}

std::string ConfigUrl(const ServerConfig& server, std::string_view token) {
  return HttpBaseUrl(server) + std::string(kConfigPathPrefix) + std::string(token);
}

ProfileAssetUrls ProfileAssetUrlsFor(const ServerConfig& server, std::string_view profile) {
  const std::string dir = HttpBaseUrl(server) + std::string(kProfileAssetsPrefix) + "/" + std::string(profile) + "/";
  return {dir + std::string(kKernelFileName), dir + std::string(kInitramfsFileName)};
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
