#include "core/install/talos_patch.h"

#include <algorithm>

#include "core/install/strategic_merge.h"

namespace metalpxe {
namespace {

std::vector<YamlValue>::iterator FindDocument(std::vector<YamlValue>& config, const DocumentId& id) {
  return std::find_if(config.begin(), config.end(), [&](const YamlValue& doc) {
    auto other = IdentifyDocument(doc, "");
    return other.ok() && *other == id;
  });
}

// The document a delete selector addresses (makeSelector in delete.go): the
// patch document's apiVersion and kind, both or neither (v1alpha1), and name.
Result<DocumentId> SelectorTarget(const YamlValue& doc, std::string_view name) {
  DocumentId id{doc.ScalarAt("apiVersion"), doc.ScalarAt("kind"), doc.ScalarAt("name")};
  if (id.api_version.empty() && id.kind.empty()) return DocumentId{"", "v1alpha1", ""};
  if (id.api_version.empty() || id.kind.empty()) {
    return Status(ErrorCode::kInvalidArgument,
                  std::string(name) + ": `$patch: delete` needs both apiVersion and kind in its document");
  }
  return id;
}

Status ApplyStrategicDocument(std::vector<YamlValue>& config, YamlValue doc, const std::string& name) {
  std::vector<DeleteSelector> selectors;
  bool whole_document = false;
  bool nothing_left = false;
  if (Status s = ExtractDeletes(doc, &selectors, &whole_document, &nothing_left, name); !s.ok()) return s;
  if (whole_document || !selectors.empty()) {
    auto target_id = SelectorTarget(doc, name);
    if (!target_id.ok()) return target_id.status();
    auto target = FindDocument(config, *target_id);
    // Talos 1.14+: a delete for a document the config does not have is skipped.
    if (target != config.end()) {
      if (whole_document) {
        config.erase(target);
        return Status::Ok();
      }
      for (const auto& selector : selectors) {
        if (Status s = ApplyDelete(*target, *target_id, selector, name); !s.ok()) return s;
      }
    }
  }
  if (nothing_left) return Status::Ok();
  auto id = IdentifyDocument(doc, name);
  if (!id.ok()) return id.status();
  auto target = FindDocument(config, *id);
  if (target == config.end()) {
    config.push_back(std::move(doc));
    return Status::Ok();
  }
  return MergeDocument(*target, std::move(doc), *id, name);
}

}  // namespace

Result<TalosPatch> PatchFromValue(const YamlValue& value, std::string_view name, std::size_t* failed_item) {
  TalosPatch patch;
  if (value.is_map()) {
    patch.documents.push_back(value);
    return patch;
  }
  if (value.is_seq()) {
    auto ops = ParseJsonPatch(value, name, failed_item);
    if (!ops.ok()) return ops.status();
    patch.kind = TalosPatch::Kind::kJson6902;
    patch.operations = std::move(ops).value();
    return patch;
  }
  return Status(ErrorCode::kInvalidArgument,
                std::string(name) + ": a patch is a map (strategic merge) or a list of JSON6902 operations, not " +
                    std::string(value.KindName()));
}

Result<TalosPatch> PatchFromText(std::string_view text, std::string_view name) {
  auto docs = ParseYamlDocuments(text, name);
  if (!docs.ok()) return docs.status();
  if (docs->size() == 1 && (*docs)[0].is_seq()) return PatchFromValue((*docs)[0], name);
  TalosPatch patch;
  for (std::size_t i = 0; i < docs->size(); ++i) {
    if (!(*docs)[i].is_map()) {
      return Status(ErrorCode::kInvalidArgument, std::string(name) + ": document " + std::to_string(i + 1) +
                                                     " is " + std::string((*docs)[i].KindName()) + ", not a map");
    }
    patch.documents.push_back(std::move((*docs)[i]));
  }
  return patch;
}

Status ApplyTalosPatch(std::vector<YamlValue>& config, const TalosPatch& patch, std::string_view name,
                       std::size_t* failed_item) {
  if (patch.kind == TalosPatch::Kind::kJson6902) {
    if (config.size() != 1) {
      if (failed_item != nullptr) *failed_item = kWholePatch;
      return Status(ErrorCode::kFailedPrecondition,
                    std::string(name) + ": JSON6902 patches are not supported for multi-document machine "
                                        "configuration");
    }
    if (Status s = ApplyJsonPatch(config[0], patch.operations, name, failed_item); !s.ok()) return s;
    // talosctl loads the result again: it must still be a config document.
    auto id = IdentifyDocument(config[0], std::string(name) + ": after the JSON6902 patch");
    return id.ok() ? Status::Ok() : id.status();
  }
  for (std::size_t i = 0; i < patch.documents.size(); ++i) {
    if (failed_item != nullptr) *failed_item = i;
    const std::string doc_name =
        patch.documents.size() == 1 ? std::string(name) : std::string(name) + " document " + std::to_string(i + 1);
    if (Status s = ApplyStrategicDocument(config, patch.documents[i], doc_name); !s.ok()) return s;
  }
  return Status::Ok();
}

Status CheckConfigDocuments(const std::vector<YamlValue>& config, std::string_view what) {
  std::vector<DocumentId> seen;
  for (std::size_t i = 0; i < config.size(); ++i) {
    auto id = IdentifyDocument(config[i], std::string(what) + " document " + std::to_string(i + 1));
    if (!id.ok()) return id.status();
    if (std::find(seen.begin(), seen.end(), *id) != seen.end()) {
      return Status(ErrorCode::kInvalidArgument, std::string(what) + ": document " + id->ToString() +
                                                     " appears twice");
    }
    seen.push_back(*id);
  }
  return Status::Ok();
}

}  // namespace metalpxe
