#include "http/file_plan.h"

#include "http/file_validators.h"
#include "http/http_date.h"
#include "http/range_header.h"

namespace metalpxe::http {

FilePlan PlanFileResponse(const FileRequestHeaders& request, std::uint64_t size, std::int64_t mtime_ns,
                          std::string_view content_type) {
  const std::int64_t mtime_s = mtime_ns >= 0 ? mtime_ns / 1'000'000'000 : -((-mtime_ns + 999'999'999) / 1'000'000'000);
  const std::string etag = MakeETag(size, mtime_ns);
  FilePlan plan;
  plan.headers = {{"ETag", etag}, {"Last-Modified", FormatHttpDate(mtime_s)}};

  const bool not_modified = !request.if_none_match.empty()
                                ? IfNoneMatchMatches(request.if_none_match, etag)
                                : (!request.if_modified_since.empty() && NotModifiedSince(request.if_modified_since, mtime_s));
  if (not_modified) {
    plan.status = 304;
    return plan;
  }

  plan.headers.emplace_back("Accept-Ranges", "bytes");
  plan.headers.emplace_back("Content-Type", std::string(content_type));
  plan.status = 200;
  plan.offset = 0;
  plan.length = size;

  const bool use_range =
      !request.range.empty() && (request.if_range.empty() || IfRangeAllowsRange(request.if_range, etag, mtime_s));
  if (!use_range) return plan;

  const RangeDecision range = EvaluateRange(request.range, size);
  switch (range.outcome) {
    case RangeOutcome::kFull:
      break;
    case RangeOutcome::kPartial:
      plan.status = 206;
      plan.offset = range.first;
      plan.length = range.length;
      plan.headers.emplace_back("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                                     std::to_string(range.first + range.length - 1) + "/" +
                                                     std::to_string(size));
      break;
    case RangeOutcome::kUnsatisfiable:
      plan.status = 416;
      plan.offset = plan.length = 0;
      plan.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
      break;
  }
  return plan;
}

}  // namespace metalpxe::http
