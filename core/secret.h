#pragma once
// A secret (BMC password, key material). It has no operator<< and its fmt
// formatter prints a fixed placeholder, so it cannot leak into a log line by
// accident; code that really needs the bytes calls Reveal().
#include <string>
#include <utility>

#include <fmt/format.h>

namespace metalpxe {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  ~Secret() { Wipe(); }
  Secret(const Secret&) = default;
  Secret& operator=(const Secret&) = default;
  Secret(Secret&&) noexcept = default;
  Secret& operator=(Secret&&) noexcept = default;

  const std::string& Reveal() const { return value_; }
  bool empty() const { return value_.empty(); }
  bool operator==(const Secret& o) const { return value_ == o.value_; }

 private:
  void Wipe() {
    volatile char* p = value_.data();
    for (std::size_t i = 0; i < value_.size(); ++i) p[i] = 0;
  }
  std::string value_;
};

}  // namespace metalpxe

template <>
struct fmt::formatter<metalpxe::Secret> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(const metalpxe::Secret&, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format("<redacted>", ctx);
  }
};
