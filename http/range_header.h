#pragma once
// Range request header codec (RFC 9110 §14.1–14.2), pure: no I/O.
//
// Decision for multi-range requests (`bytes=0-9,20-29`): answered with the
// full representation (200), which RFC 9110 §14.2 allows ("a server MAY
// ignore the Range header"). Boot clients (iPXE, curl, the Talos installer)
// only ever ask for one range, and a multipart/byteranges body cannot be
// sent with sendfile in one piece.
// A syntactically invalid header or a unit other than `bytes` is ignored
// (200, full body), as the RFC asks; 416 is only for well-formed ranges none
// of which overlaps the file.
#include <cstdint>
#include <string_view>

namespace metalpxe::http {

enum class RangeOutcome {
  kFull,           // no usable Range: send the whole file with 200
  kPartial,        // exactly one satisfiable range: 206 with first/length
  kUnsatisfiable,  // well-formed, but no range overlaps the file: 416
};

struct RangeDecision {
  RangeOutcome outcome = RangeOutcome::kFull;
  std::uint64_t first = 0;   // valid for kPartial
  std::uint64_t length = 0;  // valid for kPartial; >= 1
};

// header_value: the Range field value, e.g. "bytes=100-". file_size: the
// size of the selected representation. Numbers saturate instead of
// overflowing, so any input is safe.
RangeDecision EvaluateRange(std::string_view header_value, std::uint64_t file_size);

}  // namespace metalpxe::http
