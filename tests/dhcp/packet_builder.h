#pragma once
// Hand-assembled DHCP packets for tests: bytes laid out by the test itself,
// so the codec is checked against the RFC layout rather than against itself.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>
#include <vector>

namespace metalpxe::dhcp::testing {

class RawPacket {
 public:
  RawPacket() : b_(240, 0) {
    b_[0] = 1;  // BOOTREQUEST
    b_[1] = 1;
    b_[2] = 6;
    b_[4] = 0x12, b_[5] = 0x34, b_[6] = 0x56, b_[7] = 0x78;
    const std::uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    for (int i = 0; i < 6; ++i) b_[28 + i] = mac[i];
    b_[236] = 99, b_[237] = 130, b_[238] = 83, b_[239] = 99;
  }
  RawPacket& Opt(std::uint8_t code, std::initializer_list<std::uint8_t> data) {
    b_.push_back(code);
    b_.push_back(static_cast<std::uint8_t>(data.size()));
    b_.insert(b_.end(), data);
    return *this;
  }
  RawPacket& OptText(std::uint8_t code, std::string_view s) {
    b_.push_back(code);
    b_.push_back(static_cast<std::uint8_t>(s.size()));
    b_.insert(b_.end(), s.begin(), s.end());
    return *this;
  }
  RawPacket& Raw(std::initializer_list<std::uint8_t> data) {
    b_.insert(b_.end(), data);
    return *this;
  }
  RawPacket& End() { return Raw({255}); }
  // Writes into the fixed header (e.g. file at 108, sname at 44).
  RawPacket& At(std::size_t offset, std::initializer_list<std::uint8_t> data) {
    std::size_t i = offset;
    for (auto v : data) b_[i++] = v;
    return *this;
  }
  std::vector<std::uint8_t>& bytes() { return b_; }
  std::span<const std::byte> span() const { return std::as_bytes(std::span(b_)); }

 private:
  std::vector<std::uint8_t> b_;
};

}  // namespace metalpxe::dhcp::testing
