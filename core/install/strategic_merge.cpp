#include "core/install/strategic_merge.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "core/install/talos_merge_rules.h"

namespace metalpxe {
namespace {

std::string Child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string ShownPath(const std::string& path) { return path.empty() ? "the document root" : path; }

std::string JoinPath(const std::vector<std::string>& path) {
  std::string out;
  for (const auto& p : path) out = Child(out, p);
  return out;
}

// The top-level keys of v1alpha1.Config (v1alpha1_types.go).
constexpr std::string_view kV1Alpha1Keys[] = {"version", "debug", "persist", "machine", "cluster"};

bool IsV1Alpha1Key(std::string_view key) {
  return std::find(std::begin(kV1Alpha1Keys), std::end(kV1Alpha1Keys), key) != std::end(kV1Alpha1Keys);
}

// Talos skips zero values of the patch ("" and 0; `false` is merged).
bool IsZeroScalar(const YamlValue& v) {
  if (!v.is_scalar()) return false;
  switch (ResolveScalar(v)) {
    case YamlScalarType::kString:
      return v.text().empty();
    case YamlScalarType::kInt:
      return std::all_of(v.text().begin(), v.text().end(), [](char c) {
        return c == '0' || c == '-' || c == '+' || c == '_' || c == 'x' || c == 'o' || c == 'b' || c == ':';
      });
    case YamlScalarType::kFloat: {
      char* end = nullptr;
      const double d = std::strtod(v.text().c_str(), &end);
      return end == v.text().c_str() + v.text().size() && d == 0.0;
    }
    default:
      return false;
  }
}

bool SameNumber(const YamlValue* a, const YamlValue* b) {
  auto value = [](const YamlValue* v) -> unsigned long long {
    if (v == nullptr || !v->is_scalar()) return 0;  // an absent vlanId is 0
    unsigned long long out = 0;
    const char* end = v->text().data() + v->text().size();
    auto [p, ec] = std::from_chars(v->text().data(), end, out);
    return ec == std::errc() && p == end ? out : ~0ULL;
  };
  if (a != nullptr && b != nullptr && a->is_scalar() && b->is_scalar() && a->text() == b->text()) return true;
  return value(a) == value(b) && value(a) != ~0ULL;
}

std::string KeyText(const YamlValue* v) { return v != nullptr && v->is_scalar() ? v->text() : std::string(); }

class Merger {
 public:
  Merger(const DocumentId& id, std::string_view patch_name) : id_(id), patch_name_(patch_name) {}

  Status Merge(YamlValue& base, YamlValue&& patch, const std::string& path) {
    if (patch.is_null()) return Status::Ok();
    if (base.is_null()) {
      base = std::move(patch);
      return Status::Ok();
    }
    const FieldRule rule = MergeRuleAt(id_.api_version, id_.kind, path);
    if (rule.merge == FieldMerge::kReplace) {
      base = std::move(patch);
      return Status::Ok();
    }
    if (base.is_scalar() && patch.is_scalar()) {
      if (!IsZeroScalar(patch)) base = std::move(patch);
      return Status::Ok();
    }
    if (base.kind() != patch.kind()) {
      return Status(ErrorCode::kInvalidArgument, std::string(patch_name_) + ": " + ShownPath(path) + " is " +
                                                     std::string(base.KindName()) + " in the config but " +
                                                     std::string(patch.KindName()) + " in the patch");
    }
    if (base.is_map()) return MergeMap(base, std::move(patch), path, rule.merge == FieldMerge::kArgs);
    if (rule.merge == FieldMerge::kDefault || rule.merge == FieldMerge::kArgs) {
      for (auto& item : patch.items()) base.items().push_back(std::move(item));
      return Status::Ok();
    }
    for (auto& item : patch.items()) {
      if (Status s = MergeKeyedItem(base, std::move(item), path, rule); !s.ok()) return s;
    }
    return Status::Ok();
  }

 private:
  Status MergeMap(YamlValue& base, YamlValue&& patch, const std::string& path, bool args) {
    for (auto& [key, value] : patch.entries()) {
      YamlValue* existing = base.Find(key);
      if (existing == nullptr) {
        if (!value.is_null()) base.entries().emplace_back(key, std::move(value));
      } else if (args) {
        // meta.Args.Merge is maps.Copy: the patch's value, list or string, wins whole.
        *existing = std::move(value);
      } else if (Status s = Merge(*existing, std::move(value), Child(path, key)); !s.ok()) {
        return s;
      }
    }
    return Status::Ok();
  }

  YamlValue* FindItem(YamlValue& list, const YamlValue& item, const FieldRule& rule) {
    auto find = [&](auto&& same) -> YamlValue* {
      for (auto& candidate : list.items()) {
        if (candidate.is_map() && same(candidate)) return &candidate;
      }
      return nullptr;
    };
    if (rule.merge != FieldMerge::kNetworkDevices) {
      const YamlValue* key = item.Find(rule.key);
      return find([&](const YamlValue& c) {
        return rule.numeric_key ? SameNumber(c.Find(rule.key), key) : KeyText(c.Find(rule.key)) == KeyText(key);
      });
    }
    // NetworkDeviceList.Merge: by interface name when the patch names one,
    // else by an equal deviceSelector; neither appends.
    const std::string name = KeyText(item.Find("interface"));
    const YamlValue* selector = item.Find("deviceSelector");
    if (!name.empty()) return find([&](const YamlValue& c) { return KeyText(c.Find("interface")) == name; });
    if (selector == nullptr || selector->is_null()) return nullptr;
    return find([&](const YamlValue& c) {
      const YamlValue* s = c.Find("deviceSelector");
      return s != nullptr && SemanticallyEqual(*s, *selector);
    });
  }

  Status MergeKeyedItem(YamlValue& list, YamlValue&& item, const std::string& path, const FieldRule& rule) {
    if (!item.is_map()) {
      return Status(ErrorCode::kInvalidArgument, std::string(patch_name_) + ": items of " + path +
                                                     " must be maps, the patch gives " +
                                                     std::string(item.KindName()));
    }
    YamlValue* existing = FindItem(list, item, rule);
    if (existing == nullptr) {
      list.items().push_back(std::move(item));
      return Status::Ok();
    }
    if (rule.merge == FieldMerge::kKeyedReplace) {
      *existing = std::move(item);
      return Status::Ok();
    }
    return Merge(*existing, std::move(item), path + "[]");
  }

  const DocumentId& id_;
  std::string_view patch_name_;
};

bool IsDeleteMarker(const YamlValue& map) {
  const YamlValue* marker = map.Find("$patch");
  return marker != nullptr && marker->is_scalar() && marker->text() == "delete";
}

// processNode of Talos's delete.go: records the delete markers of a patch
// document and removes them (and the maps and lists they leave empty).
class DeleteExtractor {
 public:
  DeleteExtractor(std::string_view patch_name, std::vector<DeleteSelector>* out) : patch_name_(patch_name), out_(out) {}

  // Returns true when `node` should be removed from its parent.
  bool Walk(YamlValue& node, std::vector<std::string>& path, bool parent_is_list, bool inside_list) {
    if (!error_.ok()) return false;
    if (node.is_map()) {
      if (const YamlValue* marker = node.Find("$patch"); marker != nullptr && !IsDeleteMarker(node)) {
        Fail("`$patch` at " + ShownPath(JoinPath(path)) + ": only `$patch: delete` is supported");
        return false;
      }
      if (IsDeleteMarker(node)) return Record(node, path, parent_is_list, inside_list);
      return WalkChildren(node.entries(), path, inside_list);
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
  bool WalkChildren(std::vector<YamlValue::Entry>& entries, std::vector<std::string>& path, bool inside_list) {
    bool removed_any = false;
    for (std::size_t i = 0; i < entries.size();) {
      path.push_back(entries[i].first);
      const bool remove = Walk(entries[i].second, path, false, inside_list);
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

  bool Record(const YamlValue& node, const std::vector<std::string>& path, bool parent_is_list, bool inside_list) {
    if (!parent_is_list) {
      if (inside_list) {
        Fail("cannot delete an inner key of a list item (" + JoinPath(path) + ")");
      } else {
        out_->push_back(DeleteSelector{path, false, {}, {}});
      }
      return true;
    }
    // Talos selects the item by the first key:value other than $patch.
    for (const auto& [key, value] : node.entries()) {
      if (key == "$patch") continue;
      if (!value.is_scalar()) {
        Fail("`$patch: delete` in " + JoinPath(path) + " must select the item by a scalar field");
      } else {
        out_->push_back(DeleteSelector{path, true, key, value.text()});
      }
      return true;
    }
    Fail("`$patch: delete` in " + JoinPath(path) + " names no field to select the item by");
    return true;
  }

  void Fail(std::string message) {
    if (error_.ok()) error_ = Status(ErrorCode::kInvalidArgument, std::string(patch_name_) + ": " + message);
  }

  std::string_view patch_name_;
  std::vector<DeleteSelector>* out_;
  Status error_;
};

}  // namespace

std::string DocumentId::ToString() const {
  std::string out = api_version + "/" + kind;
  if (!name.empty()) out += "/" + name;
  return out;
}

Result<DocumentId> IdentifyDocument(const YamlValue& doc, std::string_view what) {
  if (!doc.is_map()) {
    return Status(ErrorCode::kInvalidArgument, std::string(what) + ": a config document must be a map, not " +
                                                   std::string(doc.KindName()));
  }
  DocumentId id;
  id.kind = doc.ScalarAt("kind");
  id.api_version = doc.ScalarAt("apiVersion");
  if (!id.kind.empty()) {
    if (id.api_version.empty()) return Status(ErrorCode::kInvalidArgument, std::string(what) + ": missing apiVersion");
    id.name = doc.ScalarAt("name");
    return id;
  }
  const bool v1alpha1 = doc.ScalarAt("version") == "v1alpha1" ||
                        std::any_of(doc.entries().begin(), doc.entries().end(), [](const YamlValue::Entry& e) {
                          return e.first != "version" && IsV1Alpha1Key(e.first);
                        });
  if (!v1alpha1) {
    if (doc.Find("op") != nullptr && doc.Find("path") != nullptr) {
      return Status(ErrorCode::kInvalidArgument,
                    std::string(what) + ": this looks like a JSON6902 operation; a JSON6902 patch is a list of "
                                        "operations (- op: ..., path: ...)");
    }
    return Status(ErrorCode::kInvalidArgument,
                  std::string(what) + ": missing kind (a document needs apiVersion and kind, or is the v1alpha1 "
                                      "machine config with version/machine/cluster)");
  }
  for (const auto& [key, value] : doc.entries()) {
    if (!IsV1Alpha1Key(key) && key != "$patch") {
      return Status(ErrorCode::kInvalidArgument, std::string(what) + ": unknown key '" + key +
                                                     "' in the v1alpha1 document (it takes version, debug, "
                                                     "persist, machine, cluster)");
    }
  }
  id.kind = "v1alpha1";
  return id;
}

Status ExtractDeletes(YamlValue& patch, std::vector<DeleteSelector>* selectors, bool* whole_document,
                      bool* nothing_left, std::string_view patch_name) {
  *whole_document = false;
  *nothing_left = false;
  if (!patch.is_map()) {
    return Status(ErrorCode::kInvalidArgument,
                  std::string(patch_name) + ": a patch document must be a map, not " + std::string(patch.KindName()));
  }
  if (IsDeleteMarker(patch)) {
    // makeSelector: deleting a whole document needs its apiVersion and kind.
    if (patch.ScalarAt("apiVersion").empty() || patch.ScalarAt("kind").empty()) {
      return Status(ErrorCode::kInvalidArgument,
                    std::string(patch_name) + ": `$patch: delete` of a whole document needs its apiVersion and kind "
                                              "(the v1alpha1 document cannot be deleted)");
    }
    *whole_document = true;
    *nothing_left = true;
    return Status::Ok();
  }
  DeleteExtractor extractor(patch_name, selectors);
  std::vector<std::string> path;
  const bool emptied = extractor.Walk(patch, path, false, false);
  if (!extractor.error().ok()) return extractor.error();
  // isEmptyDoc: nothing but version/kind/name scalars is no document at all.
  *nothing_left = emptied || std::all_of(patch.entries().begin(), patch.entries().end(), [](const YamlValue::Entry& e) {
                    return (e.first == "version" || e.first == "kind" || e.first == "name") && e.second.is_scalar();
                  });
  return Status::Ok();
}

Status ApplyDelete(YamlValue& document, const DocumentId& id, const DeleteSelector& selector,
                   std::string_view patch_name) {
  const std::string shown = JoinPath(selector.path);
  auto lookup_failed = [&] {
    return Status(ErrorCode::kFailedPrecondition,
                  std::string(patch_name) + ": patch delete: path '" + shown + "'" +
                      // The item's key, not its value: values may be secrets.
                      (selector.list_item ? " (the item selected by " + selector.key + ")" : "") +
                      " in document '" + id.ToString() + "': failed to delete path '" + shown + "': lookup failed");
  };
  if (selector.path.empty()) return lookup_failed();  // whole documents are deleted by the caller
  YamlValue* node = &document;
  const std::size_t walk = selector.list_item ? selector.path.size() : selector.path.size() - 1;
  for (std::size_t i = 0; i < walk; ++i) {
    node = node->is_map() ? node->Find(selector.path[i]) : nullptr;
    if (node == nullptr || node->is_null()) return lookup_failed();
  }
  if (!selector.list_item) {
    if (!node->is_map()) return lookup_failed();
    if (node->Erase(selector.path.back())) return Status::Ok();
    // Clearing an unset struct field succeeds; a map that lacks the key fails.
    std::vector<std::string> parent(selector.path.begin(), selector.path.end() - 1);
    return IsFreeFormMap(id.api_version, id.kind, JoinPath(parent)) ? lookup_failed() : Status::Ok();
  }
  if (!node->is_seq() || IsFreeFormMap(id.api_version, id.kind, shown)) return lookup_failed();
  auto& items = node->items();
  const auto it = std::find_if(items.begin(), items.end(), [&](const YamlValue& item) {
    const YamlValue* field = item.is_map() ? item.Find(selector.key) : nullptr;
    return field != nullptr && field->is_scalar() && field->text() == selector.value;
  });
  if (it == items.end()) return lookup_failed();
  items.erase(it);
  return Status::Ok();
}

Status MergeDocument(YamlValue& document, YamlValue patch, const DocumentId& id, std::string_view patch_name) {
  if (!document.is_map() || !patch.is_map()) {
    return Status(ErrorCode::kInvalidArgument, std::string(patch_name) + ": documents to merge must be maps");
  }
  Merger merger(id, patch_name);
  return merger.Merge(document, std::move(patch), "");
}

}  // namespace metalpxe
