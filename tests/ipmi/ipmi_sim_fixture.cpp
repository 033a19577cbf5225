#include "tests/ipmi/ipmi_sim_fixture.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace metalpxe::testing {
namespace {

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

IpmiSim::IpmiSim(const std::string& netns, std::uint16_t port, const std::string& password)
    : netns_(netns), password_(password), port_(port) {
  char tmpl[] = "/tmp/mpx-ipmisim-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
  dir_ = tmpl;
  std::filesystem::create_directory(dir_ + "/state");
  WriteFile(dir_ + "/power", "0\n");
  WriteFile(dir_ + "/boot", "default\n");
  // chassis_control "<script> 0x20" is run as: script 0x20 get power boot | set power 1 | set boot pxe ...
  WriteFile(dir_ + "/chassis.sh",
            "#!/bin/sh\n"
            "D=" + dir_ + "\n"
            "shift\n"
            "case \"$1\" in\n"
            "get) shift; for w in \"$@\"; do case $w in\n"
            "  power) echo \"power:$(cat $D/power)\";;\n"
            "  boot) echo \"boot:$(cat $D/boot)\";;\n"
            "  esac; done;;\n"
            "set) echo \"$2 $3\" >> $D/set.log\n"
            "  case $2 in power) echo $3 > $D/power;; boot) echo $3 > $D/boot;; esac;;\n"
            "esac\n");
  std::filesystem::permissions(dir_ + "/chassis.sh", std::filesystem::perms::owner_all);
  WriteFile(dir_ + "/lan.conf",
            "name \"bmc1\"\n"
            "set_working_mc 0x20\n"
            "  startlan 1\n"
            "    addr 127.0.0.1 " + std::to_string(port) + "\n"
            "    priv_limit admin\n"
            "    allowed_auths_callback none md2 md5 straight\n"
            "    allowed_auths_user none md2 md5 straight\n"
            "    allowed_auths_operator none md2 md5 straight\n"
            "    allowed_auths_admin none md2 md5 straight\n"
            "    guid a123456789abcdefa123456789abcdef\n"
            "  endlan\n"
            "  chassis_control \"" + dir_ + "/chassis.sh 0x20\"\n"
            "  user 2 true \"admin\" \"" + password + "\" admin 10 none md2 md5 straight\n");
  WriteFile(dir_ + "/sim.emu",
            "mc_setbmc 0x20\n"
            "mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\n"
            "mc_enable 0x20\n");
  sim_ = std::make_unique<Subprocess>(Subprocess::Start(
      {"ipmi_sim", "-c", dir_ + "/lan.conf", "-f", dir_ + "/sim.emu", "-n", "-s", dir_ + "/state"}, netns_));
  const bool up = WaitFor([&] { return Ipmitool("chassis power status").exit_code == 0; }, std::chrono::seconds(15));
  if (!up) throw std::runtime_error("ipmi_sim did not come up:\n" + sim_->Describe());
}

IpmiSim::~IpmiSim() {
  sim_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string IpmiSim::SetLog() const { return ReadFile(dir_ + "/set.log"); }
std::string IpmiSim::PowerFile() const {
  auto s = ReadFile(dir_ + "/power");
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}
void IpmiSim::SetPower(bool on) const { WriteFile(dir_ + "/power", on ? "1\n" : "0\n"); }

CommandResult IpmiSim::Ipmitool(const std::string& args) const {
  return RunCommand({"sh", "-c",
                     "ipmitool -I lanplus -H 127.0.0.1 -p " + std::to_string(port_) + " -U admin -P '" + password_ +
                         "' -C 3 " + args},
                    std::chrono::seconds(30), netns_);
}

}  // namespace metalpxe::testing
