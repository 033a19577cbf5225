// libFuzzer target for the TFTP codec and option negotiation: any bytes must
// parse or be refused without UB; whatever parses must survive re-encoding,
// and negotiation must stay inside the RFC limits.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "pxe/tftp/tftp_negotiation.h"
#include "pxe/tftp/tftp_packet.h"

using namespace metalpxe::tftp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  auto packet = ParsePacket(bytes);
  if (!packet.ok()) return 0;
  if (const auto* req = std::get_if<RequestPacket>(&*packet)) {
    const auto again = ParsePacket(EncodeRequest(*req));
    if (!again.ok()) std::abort();
    const auto& r2 = std::get<RequestPacket>(*again);
    if (r2.filename != req->filename || r2.mode != req->mode || r2.options != req->options) std::abort();
    auto requested = ReadRequestedOptions(req->options);
    if (requested.ok()) {
      const auto n = Negotiate(*requested, NegotiationLimits{}, size);
      if (n.block_size < kMinBlockSize || n.block_size > kMaxBlockSize || n.window_size < 1) std::abort();
      if (!ParsePacket(EncodeOack(n.oack)).ok()) std::abort();
    }
  } else if (const auto* ack = std::get_if<AckPacket>(&*packet)) {
    const auto again = ParsePacket(EncodeAck(ack->block));
    if (!again.ok() || std::get<AckPacket>(*again).block != ack->block) std::abort();
  } else if (const auto* d = std::get_if<DataPacket>(&*packet)) {
    const auto encoded = EncodeData(d->block, d->payload);
    if (encoded.size() != size) std::abort();
  } else if (const auto* e = std::get_if<ErrorPacket>(&*packet)) {
    if (!ParsePacket(EncodeError(static_cast<TftpError>(e->code), e->message)).ok()) std::abort();
  }
  return 0;
}
