// TFTP codec and option negotiation: bytes as real clients send them.
#include <gtest/gtest.h>

#include <string>

#include "pxe/tftp/tftp_negotiation.h"
#include "pxe/tftp/tftp_packet.h"

namespace metalpxe::tftp {
namespace {

}  // namespace
void PrintTo(const TftpOption& o, std::ostream* os) { *os << o.name << "=" << o.value; }
namespace {

std::vector<std::byte> Bytes(std::string_view s) {
  std::vector<std::byte> out;
  for (char c : s) out.push_back(static_cast<std::byte>(c));
  return out;
}

TEST(tftp_codec, ParsesRrqWithOptionsCaseInsensitively) {
  const auto raw = Bytes(std::string("\x00\x01pxelinux.0\x00OcTeT\x00" "BLKSIZE\x00" "1468\x00tsize\x00" "0\x00", 41));
  auto p = ParsePacket(raw);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const auto& r = std::get<RequestPacket>(*p);
  EXPECT_EQ(r.opcode, Opcode::kRrq);
  EXPECT_EQ(r.filename, "pxelinux.0");
  EXPECT_EQ(r.mode, "octet");
  ASSERT_EQ(r.options.size(), 2u);
  EXPECT_EQ(r.options[0], (TftpOption{"blksize", "1468"}));
  EXPECT_EQ(r.options[1], (TftpOption{"tsize", "0"}));
}

TEST(tftp_codec, RequestRoundTrips) {
  RequestPacket r{Opcode::kWrq, "a/b.efi", "octet", {{"windowsize", "16"}}};
  auto p = ParsePacket(EncodeRequest(r));
  ASSERT_TRUE(p.ok());
  const auto& back = std::get<RequestPacket>(*p);
  EXPECT_EQ(back.opcode, Opcode::kWrq);
  EXPECT_EQ(back.filename, r.filename);
  EXPECT_EQ(back.options, r.options);
}

TEST(tftp_codec, RefusesTruncatedRequests) {
  EXPECT_FALSE(ParsePacket(Bytes(std::string("\x00\x01no-terminator", 15))).ok());
  EXPECT_FALSE(ParsePacket(Bytes(std::string("\x00\x01" "file\x00octet", 12))).ok());
  EXPECT_FALSE(ParsePacket(Bytes(std::string("\x00", 1))).ok());
  EXPECT_FALSE(ParsePacket({}).ok());
  EXPECT_FALSE(ParsePacket(Bytes(std::string("\x00\x09", 2))).ok());  // unknown opcode
  EXPECT_FALSE(ParsePacket(Bytes(std::string("\x00\x04\x01", 3))).ok());  // ACK without a full block number
}

TEST(tftp_codec, IgnoresAHalfOptionAtTheEnd) {
  auto p = ParsePacket(Bytes(std::string("\x00\x01" "f\x00octet\x00tsize\x00" "0\x00" "blksize\x00" "14", 27)));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(std::get<RequestPacket>(*p).options.size(), 1u);
}

TEST(tftp_codec, DataAckErrorOack) {
  const std::vector<std::byte> payload = Bytes("hello");
  auto data = EncodeData(0xfffe, payload);
  ASSERT_EQ(data.size(), 9u);
  EXPECT_EQ(data[2], std::byte{0xff});
  EXPECT_EQ(data[3], std::byte{0xfe});
  auto p = ParsePacket(data);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(std::get<DataPacket>(*p).block, 0xfffe);
  EXPECT_EQ(std::get<DataPacket>(*p).payload.size(), 5u);

  p = ParsePacket(EncodeAck(65535));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(std::get<AckPacket>(*p).block, 65535);

  auto err = EncodeError(TftpError::kFileNotFound, "File not found");
  EXPECT_EQ(err, Bytes(std::string("\x00\x05\x00\x01" "File not found\x00", 19)));
  p = ParsePacket(err);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(std::get<ErrorPacket>(*p).code, 1);
  EXPECT_EQ(std::get<ErrorPacket>(*p).message, "File not found");

  p = ParsePacket(EncodeOack({{"blksize", "1468"}, {"tsize", "42"}}));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(std::get<OackPacket>(*p).options.size(), 2u);
}

TEST(tftp_codec, ErrorWithoutTerminatorStillParses) {
  auto p = ParsePacket(Bytes(std::string("\x00\x05\x00\x02" "denied", 10)));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(std::get<ErrorPacket>(*p).message, "denied");
}

TEST(tftp_negotiation, ReadsKnownOptionsAndSkipsUnknown) {
  auto r = ReadRequestedOptions({{"blksize", "1468"}, {"multicast", ""}, {"tsize", "0"}, {"windowsize", "16"},
                                 {"timeout", "3"}, {"blksize", "9000"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->blksize, 1468u);  // first one counts
  EXPECT_EQ(r->tsize, 0u);
  EXPECT_EQ(r->windowsize, 16u);
  EXPECT_EQ(r->timeout, 3u);
}

TEST(tftp_negotiation, MalformedValuesAreNegotiationFailures) {
  EXPECT_FALSE(ReadRequestedOptions({{"blksize", "abc"}}).ok());
  EXPECT_FALSE(ReadRequestedOptions({{"blksize", "7"}}).ok());
  EXPECT_FALSE(ReadRequestedOptions({{"blksize", "-1"}}).ok());
  EXPECT_FALSE(ReadRequestedOptions({{"windowsize", "0"}}).ok());
  EXPECT_FALSE(ReadRequestedOptions({{"timeout", "0"}}).ok());
  EXPECT_FALSE(ReadRequestedOptions({{"tsize", ""}}).ok());
  EXPECT_FALSE(ReadRequestedOptions({{"tsize", "99999999999999999999999"}}).ok());
  EXPECT_TRUE(ReadRequestedOptions({{"blksize", "8"}}).ok());
}

TEST(tftp_negotiation, ClampsToLimitsAndAnswersTsize) {
  RequestedOptions req;
  req.blksize = 70000;
  req.windowsize = 1000;
  req.tsize = 0;
  req.timeout = 300;  // above 255: left out
  const auto n = Negotiate(req, NegotiationLimits{1468, 32}, 123456);
  EXPECT_EQ(n.block_size, 1468);
  EXPECT_EQ(n.window_size, 32);
  EXPECT_FALSE(n.timeout.has_value());
  EXPECT_EQ(n.oack, (std::vector<TftpOption>{{"blksize", "1468"}, {"tsize", "123456"}, {"windowsize", "32"}}));
}

TEST(tftp_negotiation, NoOptionsMeansNoOack) {
  const auto n = Negotiate(RequestedOptions{}, NegotiationLimits{}, 10);
  EXPECT_TRUE(n.oack.empty());
  EXPECT_EQ(n.block_size, 512);
  EXPECT_EQ(n.window_size, 1);
}

TEST(tftp_negotiation, BlksizeUpperBoundIsRfcMaximum) {
  RequestedOptions req;
  req.blksize = 65535;
  req.timeout = 5;
  const auto n = Negotiate(req, NegotiationLimits{}, 0);
  EXPECT_EQ(n.block_size, 65464);
  ASSERT_TRUE(n.timeout.has_value());
  EXPECT_EQ(n.timeout->count(), 5);
}

}  // namespace
}  // namespace metalpxe::tftp
