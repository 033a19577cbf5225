#include "core/install/json_patch.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>

namespace metalpxe {
namespace {

std::string Describe(const JsonPatchOp& op) {
  std::string out(JsonPatchOpName(op.kind));
  if (op.kind == JsonPatchOpKind::kMove || op.kind == JsonPatchOpKind::kCopy) {
    out += " from '" + FormatJsonPointer(op.from) + "'";
  }
  out += " '" + FormatJsonPointer(op.path) + "'";
  return out;
}

// A YAML number as a value: integers of YAML 1.2 and 1.1 forms (0x, 0o, 0b,
// leading-zero octal, sexagesimal, '_' separators) and floats.
std::optional<long double> NumberOf(const YamlValue& v, YamlScalarType type) {
  std::string text;
  for (char c : v.text()) {
    if (c != '_') text += c;
  }
  if (type == YamlScalarType::kFloat) {
    std::string_view t = text;
    const bool negative = !t.empty() && t.front() == '-';
    if (!t.empty() && (t.front() == '-' || t.front() == '+')) t.remove_prefix(1);
    if (t == ".inf" || t == ".Inf" || t == ".INF") return negative ? -HUGE_VALL : HUGE_VALL;
    if (t == ".nan" || t == ".NaN" || t == ".NAN") return std::nullopt;
    char* end = nullptr;
    const long double d = std::strtold(text.c_str(), &end);
    return end == text.c_str() + text.size() ? std::optional<long double>(d) : std::nullopt;
  }
  std::string_view t = text;
  const bool negative = !t.empty() && t.front() == '-';
  if (!t.empty() && (t.front() == '-' || t.front() == '+')) t.remove_prefix(1);
  long double value = 0;
  auto digits = [&](std::string_view s, int base) -> bool {
    for (char c : s) {
      int d = 99;
      if (c >= '0' && c <= '9') d = c - '0';
      if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      if (d >= base) return false;
      value = value * base + d;
    }
    return !s.empty();
  };
  bool ok = false;
  if (t.starts_with("0x")) {
    ok = digits(t.substr(2), 16);
  } else if (t.starts_with("0o")) {
    ok = digits(t.substr(2), 8);
  } else if (t.starts_with("0b")) {
    ok = digits(t.substr(2), 2);
  } else if (t.find(':') != std::string_view::npos) {
    // Sexagesimal (YAML 1.1): 1:30 is 90.
    ok = true;
    std::size_t start = 0;
    while (ok && start <= t.size()) {
      const std::size_t colon = std::min(t.find(':', start), t.size());
      const long double before = value;
      value = 0;
      ok = digits(t.substr(start, colon - start), 10);
      value += before * 60;
      start = colon + 1;
    }
  } else if (t.size() > 1 && t.front() == '0') {
    ok = digits(t.substr(1), 8);
  } else {
    ok = digits(t, 10);
  }
  if (!ok) return std::nullopt;
  return negative ? -value : value;
}

bool Truthy(const std::string& t) {
  static constexpr std::string_view kTrue[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"};
  return std::find(std::begin(kTrue), std::end(kTrue), t) != std::end(kTrue);
}

bool ScalarsEqual(const YamlValue& a, const YamlValue& b) {
  const YamlScalarType ta = ResolveScalar(a);
  const YamlScalarType tb = ResolveScalar(b);
  const auto numeric = [](YamlScalarType t) { return t == YamlScalarType::kInt || t == YamlScalarType::kFloat; };
  if (numeric(ta) && numeric(tb)) {
    const auto x = NumberOf(a, ta);
    const auto y = NumberOf(b, tb);
    return x && y ? *x == *y : a.text() == b.text();
  }
  if (ta != tb) return false;
  switch (ta) {
    case YamlScalarType::kNull: return true;
    case YamlScalarType::kBool: return Truthy(a.text()) == Truthy(b.text());
    default: return a.text() == b.text();
  }
}

class Applier {
 public:
  Applier(YamlValue& doc, std::string_view name) : doc_(doc), name_(name) {}

  Status Apply(const JsonPatchOp& op, std::size_t index) {
    prefix_ = std::string(name_) + ": operation " + std::to_string(index + 1) + " (" + Describe(op) + ")";
    switch (op.kind) {
      case JsonPatchOpKind::kAdd:
        return Add(op.path, op.value);
      case JsonPatchOpKind::kRemove: {
        YamlValue removed;
        return Remove(op.path, &removed);
      }
      case JsonPatchOpKind::kReplace: {
        YamlValue* target = ResolveJsonPointer(doc_, op.path);
        if (target == nullptr) return Fail("nothing at '" + FormatJsonPointer(op.path) + "' to replace");
        *target = op.value;
        return Status::Ok();
      }
      case JsonPatchOpKind::kMove: {
        if (op.from == op.path) {
          return ResolveJsonPointer(doc_, op.from) ? Status::Ok() : Fail("nothing at 'from'");
        }
        if (op.from.size() < op.path.size() && std::equal(op.from.begin(), op.from.end(), op.path.begin())) {
          return Fail("'from' is a proper prefix of 'path': a value cannot move into itself");
        }
        YamlValue moved;
        if (Status s = Remove(op.from, &moved); !s.ok()) return s;
        return Add(op.path, std::move(moved));
      }
      case JsonPatchOpKind::kCopy: {
        const YamlValue* source = ResolveJsonPointer(doc_, op.from);
        if (source == nullptr) return Fail("nothing at 'from' to copy");
        YamlValue copy = *source;
        return Add(op.path, std::move(copy));
      }
      case JsonPatchOpKind::kTest: {
        const YamlValue* target = ResolveJsonPointer(doc_, op.path);
        if (target == nullptr) return Fail("nothing at '" + FormatJsonPointer(op.path) + "' to test");
        return JsonEqual(*target, op.value) ? Status::Ok() : Fail("test failed: the value differs");
      }
    }
    return Fail("unknown operation");
  }

 private:
  Status Fail(const std::string& why) const {
    return Status(ErrorCode::kFailedPrecondition, prefix_ + ": " + why);
  }

  // The container that holds the last token of `path`.
  Result<YamlValue*> Parent(const JsonPointer& path) {
    const JsonPointer parent_path(path.begin(), path.end() - 1);
    YamlValue* parent = ResolveJsonPointer(doc_, parent_path);
    if (parent == nullptr) return Fail("nothing at '" + FormatJsonPointer(parent_path) + "'");
    if (!parent->is_map() && !parent->is_seq()) {
      return Fail("'" + FormatJsonPointer(parent_path) + "' is " + std::string(parent->KindName()) +
                  ", not a map or a list");
    }
    return parent;
  }

  Status Add(const JsonPointer& path, YamlValue value) {
    if (path.empty()) {
      doc_ = std::move(value);
      return Status::Ok();
    }
    auto parent = Parent(path);
    if (!parent.ok()) return parent.status();
    YamlValue& p = **parent;
    if (p.is_map()) {
      p.Set(path.back(), std::move(value));
      return Status::Ok();
    }
    const auto index = ArrayIndex(path.back(), p.items().size(), true);
    if (!index) {
      return Fail("'" + path.back() + "' is not an index of that list (0.." + std::to_string(p.items().size()) +
                  " or -)");
    }
    p.items().insert(p.items().begin() + static_cast<std::ptrdiff_t>(*index), std::move(value));
    return Status::Ok();
  }

  Status Remove(const JsonPointer& path, YamlValue* removed) {
    if (path.empty()) return Fail("the whole document cannot be removed");
    auto parent = Parent(path);
    if (!parent.ok()) return parent.status();
    YamlValue& p = **parent;
    if (p.is_map()) {
      YamlValue* target = p.Find(path.back());
      if (target == nullptr) return Fail("nothing at '" + FormatJsonPointer(path) + "'");
      *removed = std::move(*target);
      p.Erase(path.back());
      return Status::Ok();
    }
    const auto index = ArrayIndex(path.back(), p.items().size(), false);
    if (!index) return Fail("nothing at '" + FormatJsonPointer(path) + "'");
    *removed = std::move(p.items()[*index]);
    p.items().erase(p.items().begin() + static_cast<std::ptrdiff_t>(*index));
    return Status::Ok();
  }

  YamlValue& doc_;
  std::string_view name_;
  std::string prefix_;
};

Result<JsonPointer> PointerMember(const YamlValue& op, std::string_view member, const std::string& where) {
  const YamlValue* v = op.Find(member);
  if (v == nullptr) return Status(ErrorCode::kInvalidArgument, where + ": '" + std::string(member) + "' is missing");
  // A pointer is a string: "/a" reads as one, 42 or a bare `path:` (null) do not.
  if (!v->is_scalar() || ResolveScalar(*v) != YamlScalarType::kString) {
    return Status(ErrorCode::kInvalidArgument,
                  where + ": '" + std::string(member) + "' must be a string (a JSON pointer)");
  }
  auto pointer = ParseJsonPointer(v->text());
  if (!pointer.ok()) return Status(ErrorCode::kInvalidArgument, where + ": " + pointer.status().message());
  return pointer;
}

}  // namespace

std::string_view JsonPatchOpName(JsonPatchOpKind kind) {
  switch (kind) {
    case JsonPatchOpKind::kAdd: return "add";
    case JsonPatchOpKind::kRemove: return "remove";
    case JsonPatchOpKind::kReplace: return "replace";
    case JsonPatchOpKind::kMove: return "move";
    case JsonPatchOpKind::kCopy: return "copy";
    case JsonPatchOpKind::kTest: return "test";
  }
  return "?";
}

Result<std::vector<JsonPatchOp>> ParseJsonPatch(const YamlValue& list, std::string_view name, std::size_t* failed_op) {
  if (failed_op != nullptr) *failed_op = 0;
  if (!list.is_seq()) {
    return Status(ErrorCode::kInvalidArgument,
                  std::string(name) + ": a JSON6902 patch is a list of operations, not " +
                      std::string(list.KindName()));
  }
  std::vector<JsonPatchOp> ops;
  for (std::size_t i = 0; i < list.items().size(); ++i) {
    if (failed_op != nullptr) *failed_op = i;
    const YamlValue& item = list.items()[i];
    const std::string where = std::string(name) + ": operation " + std::to_string(i + 1);
    if (!item.is_map()) {
      return Status(ErrorCode::kInvalidArgument,
                    where + " must be a map with op and path, not " + std::string(item.KindName()));
    }
    const YamlValue* op_name = item.Find("op");
    if (op_name == nullptr || !op_name->is_scalar()) {
      return Status(ErrorCode::kInvalidArgument, where + ": 'op' is missing (add, remove, replace, move, copy, test)");
    }
    JsonPatchOp op;
    static constexpr JsonPatchOpKind kKinds[] = {JsonPatchOpKind::kAdd,  JsonPatchOpKind::kRemove,
                                                 JsonPatchOpKind::kReplace, JsonPatchOpKind::kMove,
                                                 JsonPatchOpKind::kCopy, JsonPatchOpKind::kTest};
    const auto kind = std::find_if(std::begin(kKinds), std::end(kKinds),
                                   [&](JsonPatchOpKind k) { return JsonPatchOpName(k) == op_name->text(); });
    if (kind == std::end(kKinds)) {
      return Status(ErrorCode::kInvalidArgument, where + ": 'op' is not one of add, remove, replace, move, copy, test");
    }
    op.kind = *kind;
    auto path = PointerMember(item, "path", where);
    if (!path.ok()) return path.status();
    op.path = std::move(path).value();
    if (op.kind == JsonPatchOpKind::kMove || op.kind == JsonPatchOpKind::kCopy) {
      auto from = PointerMember(item, "from", where);
      if (!from.ok()) return from.status();
      op.from = std::move(from).value();
    }
    if (op.kind == JsonPatchOpKind::kAdd || op.kind == JsonPatchOpKind::kReplace ||
        op.kind == JsonPatchOpKind::kTest) {
      const YamlValue* value = item.Find("value");
      if (value == nullptr) return Status(ErrorCode::kInvalidArgument, where + ": 'value' is missing");
      op.value = *value;
    }
    ops.push_back(std::move(op));
  }
  return ops;
}

Status ApplyJsonPatch(YamlValue& document, const std::vector<JsonPatchOp>& ops, std::string_view name,
                      std::size_t* failed_op) {
  YamlValue work = document;
  Applier applier(work, name);
  for (std::size_t i = 0; i < ops.size(); ++i) {
    if (Status s = applier.Apply(ops[i], i); !s.ok()) {
      if (failed_op != nullptr) *failed_op = i;
      return s;
    }
  }
  document = std::move(work);
  return Status::Ok();
}

bool JsonEqual(const YamlValue& a, const YamlValue& b) {
  const bool a_scalar = a.is_scalar() || a.is_null();
  const bool b_scalar = b.is_scalar() || b.is_null();
  if (a_scalar && b_scalar) return ScalarsEqual(a, b);
  if (a.kind() != b.kind()) return false;
  if (a.is_seq()) {
    return std::equal(a.items().begin(), a.items().end(), b.items().begin(), b.items().end(), JsonEqual);
  }
  if (a.entries().size() != b.entries().size()) return false;
  return std::all_of(a.entries().begin(), a.entries().end(), [&](const YamlValue::Entry& e) {
    const YamlValue* other = b.Find(e.first);
    return other != nullptr && JsonEqual(e.second, *other);
  });
}

}  // namespace metalpxe
