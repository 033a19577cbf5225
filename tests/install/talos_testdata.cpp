#include "tests/install/talos_testdata.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <unistd.h>

#include "core/install/yaml_writer.h"
#include "tests/support/subprocess.h"

namespace metalpxe::testing {
namespace {

bool IsV1Alpha1(const YamlValue& doc) { return doc.is_map() && doc.Find("kind") == nullptr; }

bool IsEmptyValue(const YamlValue& v) {
  if (v.is_null()) return true;
  if (v.is_scalar()) return ResolveScalar(v) == YamlScalarType::kString && v.text().empty();
  if (v.is_seq()) return v.items().empty();
  return v.entries().empty();
}

// Drops empty values bottom-up; list items stay (an item is data).
void Prune(YamlValue& v) {
  if (v.is_seq()) {
    for (auto& item : v.items()) Prune(item);
    return;
  }
  if (!v.is_map()) return;
  auto& entries = v.entries();
  for (auto& e : entries) Prune(e.second);
  std::erase_if(entries, [](const YamlValue::Entry& e) { return IsEmptyValue(e.second); });
}

void TrimInlineManifests(YamlValue& doc) {
  YamlValue* cluster = doc.Find("cluster");
  YamlValue* manifests = cluster != nullptr && cluster->is_map() ? cluster->Find("inlineManifests") : nullptr;
  if (manifests == nullptr || !manifests->is_seq()) return;
  for (auto& m : manifests->items()) {
    YamlValue* contents = m.is_map() ? m.Find("contents") : nullptr;
    if (contents == nullptr || !contents->is_scalar()) continue;
    const std::string& t = contents->text();
    const std::size_t start = t.find_first_not_of("\t\n\v\f\r");
    *contents = YamlValue::String(start == std::string::npos ? std::string() : t.substr(start));
  }
}

std::string Show(const std::vector<YamlValue>& docs) { return WriteYamlDocuments(docs); }

}  // namespace

std::string TalosTestdataDir() {
  const char* env = std::getenv("METALPXE_TALOS_TESTDATA");
  return env != nullptr && *env ? env : METALPXE_TALOS_TESTDATA_DEFAULT;
}

::testing::AssertionResult TalosTestdataPresent() {
  const std::string dir = TalosTestdataDir();
  if (std::filesystem::exists(std::filesystem::path(dir) / "README.md")) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "Talos's test data is missing: no " << dir << "/README.md. Tests read Talos's configpatcher cases "
         << "and schemas from ../shared/talos-testdata next to the checkout (set -DMETALPXE_TALOS_TESTDATA=DIR "
         << "at configure time or METALPXE_TALOS_TESTDATA=DIR for ctest).";
}

const std::vector<TalosCase>& TalosCases() {
  static const std::vector<TalosCase> cases = {
      {"apply", "TestApply", "apply/config.yaml",
       {"apply/strategic1.yaml", "apply/jsonpatch1.yaml", "apply/jsonpatch2.yaml", "apply/strategic2.yaml",
        "apply/strategic3.yaml"},
       "apply/expected.yaml", ""},
      {"apply-manifest-newline", "TestApplyWithManifestNewline", "apply/config.yaml", {"apply/strategic4.yaml"},
       "apply/expected_manifests.yaml", ""},
      {"multidoc", "TestApplyMultiDoc", "multidoc/config.yaml",
       {"multidoc/strategic1.yaml", "multidoc/strategic2.yaml", "multidoc/strategic3.yaml"}, "multidoc/expected.yaml",
       ""},
      {"multidoc-jsonpatch", "TestApplyMultiDocFail", "multidoc/config.yaml",
       {"multidoc/jsonpatch.yaml", "multidoc/strategic1.yaml"}, "",
       "JSON6902 patches are not supported for multi-document machine configuration"},
      {"apply-to-empty", "TestApplyToEmptyConfig", "apply-to-empty/base.derived.yaml", {"multidoc/strategic2.yaml"},
       "apply-to-empty/expected.derived.yaml", ""},
      {"auditpolicy", "TestApplyAuditPolicy", "auditpolicy/config.yaml", {"auditpolicy/patch1.yaml"},
       "auditpolicy/expected.yaml", ""},
      {"patchdelete", "TestApplyMultiDocDelete", "patchdelete/config.yaml", {"patchdelete/strategic1.yaml"},
       "patchdelete/expected.yaml", ""},
      {"patchdelete-controlplane", "TestApplyMultiDocCPDelete", "patchdelete/controlplane_orig.yaml",
       {"patchdelete/strategic2.yaml", "patchdelete/strategic3.yaml", "patchdelete/strategic4.yaml"},
       "patchdelete/controlplane_expected.yaml", ""},
      {"patchdeletemissing", "TestPatchDeleteMissing", "patchdeletemissing/config.yaml",
       {"patchdeletemissing/strategic1.yaml"}, "",
       "patch delete: path 'machine.network.hostname' in document '/v1alpha1': failed to delete path "
       "'machine.network.hostname': lookup failed"},
      {"patchlink", "TestPatchLink", "patchlink/base.yaml", {"patchlink/patch.yaml"}, "patchlink/expected.yaml", ""},
      {"patchmixed", "TestPatchMixed", "patchmixed/base.yaml", {"patchmixed/patch.yaml"}, "patchmixed/expected.yaml",
       ""},
      {"load-strategic", "TestLoadStrategic", "load/strategic.base.derived.yaml", {"load/strategic.yaml"},
       "load/strategic.expected.derived.yaml", ""},
      {"delete", "delete (afbe946b5, mainline syntax)", "delete/config.yaml", {"delete/patch.mainline.yaml"},
       "delete/expected.yaml", ""},
  };
  return cases;
}

std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<YamlValue> ReadYamlFile(const std::string& path) {
  auto docs = ParseYamlDocuments(ReadTextFile(path), path);
  EXPECT_TRUE(docs.ok()) << docs.status().ToString();
  return docs.ok() ? std::move(docs).value() : std::vector<YamlValue>{};
}

std::vector<YamlValue> AsTalosReadsIt(std::vector<YamlValue> docs) {
  for (auto& doc : docs) {
    if (IsV1Alpha1(doc)) TrimInlineManifests(doc);
    Prune(doc);
  }
  std::stable_partition(docs.begin(), docs.end(), IsV1Alpha1);
  return docs;
}

::testing::AssertionResult SameForTalos(const std::vector<YamlValue>& actual_in,
                                        const std::vector<YamlValue>& expected_in) {
  const auto actual = AsTalosReadsIt(actual_in);
  const auto expected = AsTalosReadsIt(expected_in);
  bool same = actual.size() == expected.size();
  for (std::size_t i = 0; same && i < actual.size(); ++i) same = SemanticallyEqual(actual[i], expected[i]);
  if (same) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "as Talos reads them, the configs differ.\n--- got (normalized):\n"
                                       << Show(actual) << "--- want (normalized):\n"
                                       << Show(expected);
}

std::vector<YamlValue> TalosCasePatches(const TalosCase& c) {
  std::vector<YamlValue> out;
  for (const auto& rel : c.patches) {
    for (auto& doc : ReadYamlFile(TalosTestdataDir() + "/" + rel)) out.push_back(std::move(doc));
  }
  return out;
}

std::string TalosSchemaFor(int minor) {
  return TalosTestdataDir() + (minor >= 12 ? "/schema/config.schema.v1.15.json" : "/schema/config.schema.v1.11.json");
}

::testing::AssertionResult PassTalosSchema(const std::vector<SchemaCheck>& checks) {
  static int counter = 0;
  std::map<std::string, std::vector<std::string>> args_by_schema;
  std::vector<std::string> files;
  for (const auto& c : checks) {
    const std::string rendered = ::testing::TempDir() + "/mpx-rendered-" + std::to_string(getpid()) + "-" +
                                 std::to_string(++counter) + ".yaml";
    std::ofstream(rendered, std::ios::binary) << c.rendered_text;
    files.push_back(rendered);
    args_by_schema[c.schema].push_back(c.base_file);
    args_by_schema[c.schema].push_back(rendered);
  }
  ::testing::AssertionResult result = ::testing::AssertionSuccess();
  for (const auto& [schema, pairs] : args_by_schema) {
    std::vector<std::string> argv{METALPXE_PYTHON3, METALPXE_TALOS_SCHEMA_CHECK, schema};
    argv.insert(argv.end(), pairs.begin(), pairs.end());
    auto run = RunCommand(argv, std::chrono::seconds(120));
    if (run.exit_code == 0) continue;
    result = ::testing::AssertionFailure()
             << "schema check against " << schema << " exited " << run.exit_code << ":\n"
             << run.output
             << (run.output.find("No module named") != std::string::npos
                     ? "(install python3-jsonschema and python3-yaml: deploy/install-deps.sh)"
                     : "");
  }
  if (result) {
    for (const auto& f : files) std::filesystem::remove(f);
  }
  return result;
}

std::optional<std::string> StaticHostname(const std::vector<YamlValue>& docs) {
  for (const auto& doc : docs) {
    const YamlValue* v = nullptr;
    if (IsV1Alpha1(doc)) {
      const YamlValue* machine = doc.Find("machine");
      const YamlValue* network = machine != nullptr && machine->is_map() ? machine->Find("network") : nullptr;
      v = network != nullptr && network->is_map() ? network->Find("hostname") : nullptr;
    } else if (doc.is_map() && doc.Find("kind")->is_scalar() && doc.Find("kind")->text() == "HostnameConfig") {
      v = doc.Find("hostname");
    }
    if (v != nullptr && v->is_scalar() && !v->text().empty()) return v->text();
  }
  return std::nullopt;
}

}  // namespace metalpxe::testing
