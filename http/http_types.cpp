#include "http/http_types.h"

#include <algorithm>

namespace metalpxe::http {
namespace {
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }
}  // namespace

bool CaseInsensitiveLess::operator()(std::string_view a, std::string_view b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      [](char x, char y) { return Lower(x) < Lower(y); });
}

std::string_view HttpRequest::Header(std::string_view name) const {
  const auto it = headers.find(name);
  return it == headers.end() ? std::string_view{} : std::string_view{it->second};
}

std::string_view HttpRequest::Query(std::string_view key) const {
  const auto it = query.find(std::string(key));
  return it == query.end() ? std::string_view{} : std::string_view{it->second};
}

}  // namespace metalpxe::http
