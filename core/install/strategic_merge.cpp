#include "core/install/strategic_merge.h"

#include <algorithm>
#include <charconv>
#include <string>
#include <vector>

namespace metalpxe {
namespace {

// Paths are dotted keys; "[]" stands for "any item of this list".
constexpr std::string_view kReplacePaths[] = {
    "cluster.network.podSubnets",
    "cluster.network.serviceSubnets",
    "cluster.apiServer.auditPolicy",
};

enum class ListKey { kNone, kNetworkDevice, kVlanId, kName };

ListKey KeyedListAt(std::string_view path) {
  if (path == "machine.network.interfaces") return ListKey::kNetworkDevice;
  if (path == "machine.network.interfaces[].vlans") return ListKey::kVlanId;
  if (path == "cluster.apiServer.admissionControl") return ListKey::kName;
  return ListKey::kNone;
}

std::string Child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string ShownPath(const std::string& path) { return path.empty() ? "the document root" : path; }

struct DeleteOp {
  std::vector<std::string> path;  // keys from the root
  bool list_item = false;         // path names a list; remove the item matching key/value
  std::string match_key;
  std::string match_value;
};

std::string JoinPath(const std::vector<std::string>& path) {
  std::string out;
  for (const auto& p : path) out = Child(out, p);
  return out;
}

bool IsDeleteMarker(const YamlValue& map, std::string_view patch_name, Status* error) {
  const YamlValue* marker = map.Find("$patch");
  if (marker == nullptr) return false;
  if (marker->is_scalar() && marker->text() == "delete") return true;
  *error = Status(ErrorCode::kInvalidArgument,
                  std::string(patch_name) + ": only `$patch: delete` is supported");
  return false;
}

// Finds `$patch: delete` markers, records them and removes them from the
// patch (with maps and lists they leave empty), as Talos's decoder does.
class DeleteExtractor {
 public:
  DeleteExtractor(std::string_view patch_name, std::vector<DeleteOp>* ops) : patch_name_(patch_name), ops_(ops) {}

  // Returns true when `node` should be removed from its parent.
  bool Walk(YamlValue& node, std::vector<std::string>& path, bool parent_is_list, bool inside_list_item) {
    if (!error_.ok()) return false;
    if (node.is_map()) {
      if (IsDeleteMarker(node, patch_name_, &error_)) {
        if (parent_is_list) return RecordListDelete(node, path);
        if (path.empty()) {
          Fail("`$patch: delete` cannot delete the whole document here");
        } else if (inside_list_item) {
          Fail("`$patch: delete` inside a list item (" + JoinPath(path) + ") is not supported");
        } else {
          ops_->push_back(DeleteOp{path, false, {}, {}});
        }
        return true;
      }
      if (!error_.ok()) return false;
      bool removed_any = false;
      auto& entries = node.entries();
      for (std::size_t i = 0; i < entries.size();) {
        path.push_back(entries[i].first);
        const bool remove = Walk(entries[i].second, path, false, inside_list_item);
        path.pop_back();
        if (remove) {
          entries.erase(entries.begin() + static_cast<std::ptrdiff_t>(i));
          removed_any = true;
        } else {
          ++i;
        }
      }
      return removed_any && entries.empty();
    }
    if (node.is_seq()) {
      bool removed_any = false;
      auto& items = node.items();
      for (std::size_t i = 0; i < items.size();) {
        if (Walk(items[i], path, true, true)) {
          items.erase(items.begin() + static_cast<std::ptrdiff_t>(i));
          removed_any = true;
        } else {
          ++i;
        }
      }
      return removed_any && items.empty();
    }
    return false;
  }

  const Status& error() const { return error_; }

 private:
  bool RecordListDelete(const YamlValue& item, const std::vector<std::string>& path) {
    for (const auto& [key, value] : item.entries()) {
      if (key == "$patch") continue;
      if (!value.is_scalar()) {
        Fail("`$patch: delete` in " + JoinPath(path) + " must select the item by a scalar field");
        return true;
      }
      ops_->push_back(DeleteOp{path, true, key, value.text()});
      return true;
    }
    Fail("`$patch: delete` in " + JoinPath(path) + " names no field to select the item by");
    return true;
  }

  void Fail(std::string message) {
    if (error_.ok()) error_ = Status(ErrorCode::kInvalidArgument, std::string(patch_name_) + ": " + message);
  }

  std::string_view patch_name_;
  std::vector<DeleteOp>* ops_;
  Status error_;
};

Status ApplyDelete(YamlValue& document, const DeleteOp& op, std::string_view patch_name) {
  const std::string shown = JoinPath(op.path);
  auto missing = [&] {
    return Status(ErrorCode::kInvalidArgument,
                  std::string(patch_name) + ": `$patch: delete` of " + shown +
                      (op.list_item ? " (item with " + op.match_key + " matching)" : "") + ": nothing there to delete");
  };
  YamlValue* node = &document;
  const std::size_t walk = op.list_item ? op.path.size() : op.path.size() - 1;
  for (std::size_t i = 0; i < walk; ++i) {
    if (!node->is_map()) return missing();
    node = node->Find(op.path[i]);
    if (node == nullptr) return missing();
  }
  if (!op.list_item) {
    if (!node->is_map() || !node->Erase(op.path.back())) return missing();
    return Status::Ok();
  }
  if (!node->is_seq()) return missing();
  auto& items = node->items();
  auto it = std::find_if(items.begin(), items.end(), [&](const YamlValue& item) {
    const YamlValue* field = item.is_map() ? item.Find(op.match_key) : nullptr;
    return field != nullptr && field->is_scalar() && field->text() == op.match_value;
  });
  if (it == items.end()) return missing();
  items.erase(it);
  return Status::Ok();
}

bool SameNumberOrText(const YamlValue& a, const YamlValue& b) {
  if (!a.is_scalar() || !b.is_scalar()) return false;
  if (a.text() == b.text()) return true;
  auto parse = [](const std::string& s, unsigned long long* out) {
    const char* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(s.data(), end, *out);
    return ec == std::errc() && p == end;
  };
  unsigned long long x = 0, y = 0;
  return parse(a.text(), &x) && parse(b.text(), &y) && x == y;
}

class Merger {
 public:
  Merger(std::string_view patch_name, MergeRules rules) : patch_name_(patch_name), rules_(rules) {}

  Status Merge(YamlValue& base, YamlValue&& patch, const std::string& path) {
    if (patch.is_null()) return Status::Ok();
    if (base.is_null()) {
      base = std::move(patch);
      return Status::Ok();
    }
    if (rules_ == MergeRules::kV1Alpha1 &&
        std::find(std::begin(kReplacePaths), std::end(kReplacePaths), path) != std::end(kReplacePaths)) {
      base = std::move(patch);
      return Status::Ok();
    }
    if (base.is_scalar() && patch.is_scalar()) {
      base = std::move(patch);
      return Status::Ok();
    }
    if (base.kind() != patch.kind()) {
      return Status(ErrorCode::kInvalidArgument, std::string(patch_name_) + ": " + ShownPath(path) + " is " +
                                                     std::string(base.KindName()) + " in the config but " +
                                                     std::string(patch.KindName()) + " in the patch");
    }
    if (base.is_map()) {
      for (auto& [key, value] : patch.entries()) {
        YamlValue* existing = base.Find(key);
        if (existing == nullptr) {
          if (!value.is_null()) base.entries().emplace_back(key, std::move(value));
          continue;
        }
        if (Status s = Merge(*existing, std::move(value), Child(path, key)); !s.ok()) return s;
      }
      return Status::Ok();
    }
    const ListKey list_key = rules_ == MergeRules::kV1Alpha1 ? KeyedListAt(path) : ListKey::kNone;
    if (list_key == ListKey::kNone) {
      for (auto& item : patch.items()) base.items().push_back(std::move(item));
      return Status::Ok();
    }
    for (auto& item : patch.items()) {
      if (Status s = MergeKeyedItem(base, std::move(item), path, list_key); !s.ok()) return s;
    }
    return Status::Ok();
  }

 private:
  Status MergeKeyedItem(YamlValue& list, YamlValue&& item, const std::string& path, ListKey list_key) {
    if (!item.is_map()) {
      return Status(ErrorCode::kInvalidArgument,
                    std::string(patch_name_) + ": items of " + path + " must be maps, the patch gives " +
                        std::string(item.KindName()));
    }
    YamlValue* existing = nullptr;
    auto find = [&](auto&& same) {
      for (auto& candidate : list.items()) {
        if (candidate.is_map() && same(candidate)) return &candidate;
      }
      return static_cast<YamlValue*>(nullptr);
    };
    switch (list_key) {
      case ListKey::kNetworkDevice: {
        // NetworkDeviceList.Merge: by interface name when the patch names one,
        // else by an equal deviceSelector.
        const YamlValue* name = item.Find("interface");
        const YamlValue* selector = item.Find("deviceSelector");
        if (name != nullptr && name->is_scalar() && !name->text().empty()) {
          existing = find([&](const YamlValue& c) {
            const YamlValue* n = c.Find("interface");
            return n != nullptr && n->is_scalar() && n->text() == name->text();
          });
        } else if (selector != nullptr && !selector->is_null()) {
          existing = find([&](const YamlValue& c) {
            const YamlValue* s = c.Find("deviceSelector");
            return s != nullptr && SemanticallyEqual(*s, *selector);
          });
        }
        break;
      }
      case ListKey::kVlanId: {
        const YamlValue* id = item.Find("vlanId");
        if (id != nullptr) {
          existing = find([&](const YamlValue& c) {
            const YamlValue* v = c.Find("vlanId");
            return v != nullptr && SameNumberOrText(*v, *id);
          });
        } else {
          existing = find([&](const YamlValue& c) { return c.Find("vlanId") == nullptr; });
        }
        break;
      }
      case ListKey::kName: {
        const YamlValue* name = item.Find("name");
        existing = find([&](const YamlValue& c) {
          const YamlValue* n = c.Find("name");
          if (name == nullptr || name->is_null()) return n == nullptr || n->is_null();
          return n != nullptr && n->is_scalar() && name->is_scalar() && n->text() == name->text();
        });
        break;
      }
      case ListKey::kNone:
        break;
    }
    if (existing == nullptr) {
      list.items().push_back(std::move(item));
      return Status::Ok();
    }
    return Merge(*existing, std::move(item), path + "[]");
  }

  std::string_view patch_name_;
  MergeRules rules_;
};

}  // namespace

Status ApplyStrategicPatch(YamlValue& document, YamlValue patch, std::string_view patch_name, MergeRules rules) {
  if (!patch.is_map()) {
    return Status(ErrorCode::kInvalidArgument,
                  std::string(patch_name) + ": a patch must be a map, not " + std::string(patch.KindName()));
  }
  if (!document.is_map()) {
    return Status(ErrorCode::kInvalidArgument, std::string(patch_name) + ": the patched document is not a map");
  }
  std::vector<DeleteOp> deletes;
  DeleteExtractor extractor(patch_name, &deletes);
  std::vector<std::string> path;
  extractor.Walk(patch, path, false, false);
  if (!extractor.error().ok()) return extractor.error();
  for (const auto& op : deletes) {
    if (Status s = ApplyDelete(document, op, patch_name); !s.ok()) return s;
  }
  Merger merger(patch_name, rules);
  return merger.Merge(document, std::move(patch), "");
}

}  // namespace metalpxe
