#include "ipmi/ipmi_driver.h"

#include <freeipmi/freeipmi.h>

#include <memory>
#include <spdlog/spdlog.h>

namespace metalpxe {
namespace {

// RAII over a FreeIPMI context: closes the session and frees the context.
struct CtxDeleter {
  void operator()(ipmi_ctx* ctx) const {
    ipmi_ctx_close(ctx);
    ipmi_ctx_destroy(ctx);
  }
};
using CtxPtr = std::unique_ptr<ipmi_ctx, CtxDeleter>;

struct FiidDeleter {
  void operator()(fiid_obj_t obj) const { fiid_obj_destroy(obj); }
};
using FiidPtr = std::unique_ptr<std::remove_pointer_t<fiid_obj_t>, FiidDeleter>;

ErrorCode Classify(int errnum) {
  switch (errnum) {
    case IPMI_ERR_USERNAME_INVALID:
    case IPMI_ERR_PASSWORD_INVALID:
    case IPMI_ERR_K_G_INVALID:
    case IPMI_ERR_PERMISSION:
    case IPMI_ERR_PRIVILEGE_LEVEL_INSUFFICIENT:
    case IPMI_ERR_PRIVILEGE_LEVEL_CANNOT_BE_OBTAINED:
    case IPMI_ERR_PASSWORD_VERIFICATION_TIMEOUT:
      return ErrorCode::kPermissionDenied;
    case IPMI_ERR_AUTHENTICATION_TYPE_UNAVAILABLE:
    case IPMI_ERR_CIPHER_SUITE_ID_UNAVAILABLE:
    case IPMI_ERR_IPMI_2_0_UNAVAILABLE:
    case IPMI_ERR_COMMAND_INVALID_OR_UNSUPPORTED:
    case IPMI_ERR_COMMAND_INVALID_FOR_SELECTED_INTERFACE:
      return ErrorCode::kUnsupported;
    case IPMI_ERR_CONNECTION_TIMEOUT:
    case IPMI_ERR_SESSION_TIMEOUT:
    case IPMI_ERR_MESSAGE_TIMEOUT:
    case IPMI_ERR_BMC_BUSY:
    case IPMI_ERR_HOSTNAME_INVALID:
    case IPMI_ERR_SYSTEM_ERROR:
      return ErrorCode::kUnavailable;
    default:
      return ErrorCode::kInternal;
  }
}

class Session {
 public:
  static Result<Session> Open(const IpmiTarget& t, const PowerContext& c) {
    CtxPtr ctx(ipmi_ctx_create());
    if (!ctx) return Status{ErrorCode::kInternal, "cannot create a FreeIPMI context"};
    const auto timeout = static_cast<unsigned>(std::max<long long>(c.request_timeout.count(), 100));
    const unsigned retransmit = std::min(1000u, std::max(timeout / 4, 50u));
    if (ipmi_ctx_open_outofband_2_0(ctx.get(), t.host.c_str(), t.username.c_str(), t.password.Reveal().c_str(),
                                    nullptr, 0, IPMI_PRIVILEGE_LEVEL_ADMIN, std::uint8_t(t.cipher_suite), timeout,
                                    retransmit, t.workaround_flags, IPMI_FLAGS_DEFAULT) < 0) {
      const int errnum = ipmi_ctx_errnum(ctx.get());
      std::string msg = "IPMI session to " + t.host + " (cipher suite " + std::to_string(t.cipher_suite) +
                        "): " + ipmi_ctx_errormsg(ctx.get());
      if (errnum == IPMI_ERR_PRIVILEGE_LEVEL_CANNOT_BE_OBTAINED && !(t.workaround_flags & 0x10))
        msg += " (some BMCs need workaround flag 0x10, opensesspriv)";
      if (errnum == IPMI_ERR_CIPHER_SUITE_ID_UNAVAILABLE) msg += " (choose another cipherSuite)";
      // Closing a half-open context is fine; the deleter does it.
      return Status{Classify(errnum), msg};
    }
    return Session(std::move(ctx), t.host);
  }

  Status Fail(const char* command) const {
    const int errnum = ipmi_ctx_errnum(ctx_.get());
    return {Classify(errnum), "IPMI " + std::string(command) + " on " + host_ + ": " + ipmi_ctx_errormsg(ctx_.get())};
  }

  Result<PowerState> ChassisPower() {
    FiidPtr rs(fiid_obj_create(tmpl_cmd_get_chassis_status_rs));
    if (!rs) return Status{ErrorCode::kInternal, "out of memory"};
    if (ipmi_cmd_get_chassis_status(ctx_.get(), rs.get()) < 0) return Fail("get chassis status");
    std::uint64_t on = 0;
    if (FIID_OBJ_GET(rs.get(), "current_power_state.power_is_on", &on) < 0)
      return Status{ErrorCode::kInternal, "IPMI chassis status from " + host_ + " lacks the power state"};
    return on ? PowerState::kOn : PowerState::kOff;
  }

  Status Control(std::uint8_t command, const char* name) {
    FiidPtr rs(fiid_obj_create(tmpl_cmd_chassis_control_rs));
    if (!rs) return {ErrorCode::kInternal, "out of memory"};
    if (ipmi_cmd_chassis_control(ctx_.get(), command, rs.get()) < 0) return Fail(name);
    return Status::Ok();
  }

  Status SetBootPxe(bool efi) {
    FiidPtr rs(fiid_obj_create(tmpl_cmd_set_system_boot_options_rs));
    if (!rs) return {ErrorCode::kInternal, "out of memory"};
    if (ipmi_cmd_set_system_boot_options_boot_flags(
            ctx_.get(), IPMI_SYSTEM_BOOT_OPTIONS_PARAMETER_VALID_UNLOCKED,
            efi ? IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_TYPE_EFI : IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_TYPE_PC_COMPATIBLE,
            IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_VALID_FOR_NEXT_BOOT, IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_VALID,
            IPMI_SYSTEM_BOOT_OPTION_DISABLE,  // lock out reset button
            IPMI_SYSTEM_BOOT_OPTION_DISABLE,  // screen blank
            IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_DEVICE_FORCE_PXE,
            IPMI_SYSTEM_BOOT_OPTION_DISABLE,  // lock keyboard
            IPMI_SYSTEM_BOOT_OPTION_DISABLE,  // cmos clear
            IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_CONSOLE_REDIRECTION_DEFAULT,
            IPMI_SYSTEM_BOOT_OPTION_DISABLE,  // lock out sleep button
            IPMI_SYSTEM_BOOT_OPTION_DISABLE,  // user password bypass
            IPMI_SYSTEM_BOOT_OPTION_DISABLE,  // force progress event traps
            IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_FIRMWARE_BIOS_VERBOSITY_DEFAULT,
            IPMI_SYSTEM_BOOT_OPTION_DISABLE,  // lock out via power button
            IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAGS_SET_MUX_TO_RECOMENDED_AT_END_OF_POST,
            IPMI_SYSTEM_BOOT_OPTION_DISABLE,  // shared mode override
            0,                                // device instance selector
            rs.get()) < 0)
      return Fail("set boot flags (PXE)");
    return Status::Ok();
  }

  // Boot device of the pending boot flags (4-bit code), read back after a write.
  Result<std::uint64_t> BootDevice() {
    FiidPtr rs(fiid_obj_create(tmpl_cmd_get_system_boot_options_boot_flags_rs));
    if (!rs) return Status{ErrorCode::kInternal, "out of memory"};
    if (ipmi_cmd_get_system_boot_options_boot_flags(ctx_.get(), IPMI_SYSTEM_BOOT_OPTIONS_NO_SET_SELECTOR,
                                                    IPMI_SYSTEM_BOOT_OPTIONS_NO_BLOCK_SELECTOR, rs.get()) < 0)
      return Fail("get boot flags");
    std::uint64_t device = 0;
    if (FIID_OBJ_GET(rs.get(), "boot_device", &device) < 0)
      return Status{ErrorCode::kInternal, "IPMI boot flags from " + host_ + " lack the boot device"};
    return device;
  }

 private:
  Session(CtxPtr ctx, std::string host) : ctx_(std::move(ctx)), host_(std::move(host)) {}
  CtxPtr ctx_;
  std::string host_;
};

}  // namespace

IpmiPowerDriver::IpmiPowerDriver(IpmiTarget target, PowerContext context)
    : target_(std::move(target)), context_(std::move(context)) {}

PowerCapabilities IpmiPowerDriver::Capabilities() const {
  return {.power_state = true, .power_on = true, .power_off = true, .power_cycle = true, .network_boot = true,
          .kexec_reinstall = false};
}

Result<PowerState> IpmiPowerDriver::GetPowerState() {
  return WithRetries(context_.retry, [&]() -> Result<PowerState> {
    auto session = Session::Open(target_, context_);
    if (!session.ok()) return session.status();
    return session->ChassisPower();
  });
}

Status IpmiPowerDriver::PowerOn() {
  return WithRetries(context_.retry, [&]() -> Status {
    auto session = Session::Open(target_, context_);
    if (!session.ok()) return session.status();
    spdlog::info("ipmi {}: power on", target_.host);
    return session->Control(IPMI_CHASSIS_CONTROL_POWER_UP, "power on");
  });
}

Status IpmiPowerDriver::PowerOff() {
  return WithRetries(context_.retry, [&]() -> Status {
    auto session = Session::Open(target_, context_);
    if (!session.ok()) return session.status();
    spdlog::info("ipmi {}: power off", target_.host);
    return session->Control(IPMI_CHASSIS_CONTROL_POWER_DOWN, "power off");
  });
}

Status IpmiPowerDriver::PowerCycle() {
  return WithRetries(context_.retry, [&]() -> Status {
    auto session = Session::Open(target_, context_);
    if (!session.ok()) return session.status();
    // A real BMC may refuse "cycle" on a machine that is off: look first.
    auto state = session->ChassisPower();
    if (!state.ok()) return state.status();
    if (*state == PowerState::kOff) {
      spdlog::info("ipmi {}: power cycle of a machine that is off: power on", target_.host);
      return session->Control(IPMI_CHASSIS_CONTROL_POWER_UP, "power on");
    }
    spdlog::info("ipmi {}: power cycle", target_.host);
    return session->Control(IPMI_CHASSIS_CONTROL_POWER_CYCLE, "power cycle");
  });
}

Status IpmiPowerDriver::SetNextBootNetwork(bool efi) {
  return WithRetries(context_.retry, [&]() -> Status {
    auto session = Session::Open(target_, context_);
    if (!session.ok()) return session.status();
    spdlog::info("ipmi {}: next boot from network ({})", target_.host, efi ? "UEFI" : "legacy");
    if (Status s = session->SetBootPxe(efi); !s.ok()) return s;
    // Read back: some BMCs accept the command and ignore it. Only the device
    // is compared; the EFI and persistence bits are not kept by every BMC.
    auto device = session->BootDevice();
    if (!device.ok()) return device.status();
    if (*device != IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_DEVICE_FORCE_PXE)
      return {ErrorCode::kInternal, "IPMI " + target_.host + " accepted PXE as next boot device but reads back device " +
                                        std::to_string(*device)};
    return Status::Ok();
  });
}

}  // namespace metalpxe
