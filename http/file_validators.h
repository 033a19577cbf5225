#pragma once
// Validators and preconditions for static files (RFC 9110 §8.8, §13), pure.
// The ETag is derived from size and modification time (as nginx does), so it
// costs no read of the file and changes whenever an asset is replaced.
#include <cstdint>
#include <string>
#include <string_view>

namespace metalpxe::http {

// "\"<size hex>-<mtime ns hex>\"", a strong validator.
std::string MakeETag(std::uint64_t size, std::int64_t mtime_ns);

// If-None-Match: "*" or a list of entity tags; weak comparison (W/ ignored).
bool IfNoneMatchMatches(std::string_view header_value, std::string_view etag);

// If-Modified-Since: true when the file was not modified after the date.
// An unparsable date is ignored (returns false), as RFC 9110 §13.1.3 asks.
bool NotModifiedSince(std::string_view header_value, std::int64_t mtime_seconds);

// If-Range: true when the Range header may be honoured. An entity tag must
// match strongly (a weak tag never does); a date must equal Last-Modified.
bool IfRangeAllowsRange(std::string_view header_value, std::string_view etag, std::int64_t mtime_seconds);

}  // namespace metalpxe::http
