// Talos's own configpatcher cases (tests/install/talos_testdata.h), applied
// with metalpxe's patch code and compared with Talos's expected output as
// Talos's decoder reads it; plus what load_test.go says about patch files.
#include <gtest/gtest.h>

#include "core/install/strategic_merge.h"
#include "core/install/talos_patch.h"
#include "core/install/yaml_writer.h"
#include "tests/install/talos_testdata.h"

namespace metalpxe {
namespace {

using testing::TalosCase;

std::string Data(const std::string& rel) { return testing::TalosTestdataDir() + "/" + rel; }

Result<TalosPatch> LoadPatch(const std::string& rel) { return PatchFromText(testing::ReadTextFile(Data(rel)), rel); }

// Applies a case's patches to its base; the documents or the first error.
Result<std::vector<YamlValue>> ApplyCase(const TalosCase& c) {
  std::vector<YamlValue> docs = testing::ReadYamlFile(Data(c.base));
  if (Status s = CheckConfigDocuments(docs, c.base); !s.ok()) return s;
  for (const auto& rel : c.patches) {
    auto patch = LoadPatch(rel);
    if (!patch.ok()) return patch.status();
    if (Status s = ApplyTalosPatch(docs, *patch, rel); !s.ok()) return s;
  }
  return docs;
}

class TalosConfigpatcherCase : public ::testing::TestWithParam<TalosCase> {};

TEST_P(TalosConfigpatcherCase, MatchesTalos) {
  ASSERT_TRUE(testing::TalosTestdataPresent());
  const TalosCase& c = GetParam();
  auto result = ApplyCase(c);
  if (!c.error.empty()) {
    ASSERT_FALSE(result.ok()) << c.talos_test << " expects an error";
    EXPECT_NE(result.status().message().find(c.error), std::string::npos) << result.status().message();
    return;
  }
  ASSERT_TRUE(result.ok()) << c.talos_test << ": " << result.status().ToString();
  const auto expected = testing::ReadYamlFile(Data(c.expected));
  EXPECT_TRUE(testing::SameForTalos(*result, expected)) << c.talos_test;
  // What metalpxe serves is the written text: it must read back the same.
  auto back = ParseYamlDocuments(WriteYamlDocuments(*result), "written");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(testing::SameForTalos(*back, expected)) << c.talos_test << " (written and read back)";
}

INSTANTIATE_TEST_SUITE_P(Talos, TalosConfigpatcherCase, ::testing::ValuesIn(testing::TalosCases()),
                         [](const ::testing::TestParamInfo<TalosCase>& info) {
                           std::string name = info.param.name;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// load_test.go: TestLoadJSON, TestLoadYAML, TestLoadStrategic.
TEST(install_talos_load, PatchFilesAreClassifiedAsTalosDoes) {
  ASSERT_TRUE(testing::TalosTestdataPresent());
  auto json = LoadPatch("load/patch.json");
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  ASSERT_EQ(json->kind, TalosPatch::Kind::kJson6902);
  ASSERT_EQ(json->operations.size(), 1u);
  EXPECT_EQ(json->operations[0].kind, JsonPatchOpKind::kAdd);
  EXPECT_EQ(FormatJsonPointer(json->operations[0].path), "/machine/certSANs");

  auto yaml = LoadPatch("load/patch.yaml");
  ASSERT_TRUE(yaml.ok()) << yaml.status().ToString();
  ASSERT_EQ(yaml->kind, TalosPatch::Kind::kJson6902);
  ASSERT_EQ(yaml->operations.size(), 1u);
  EXPECT_EQ(FormatJsonPointer(yaml->operations[0].path), "/some/path");
  EXPECT_TRUE(SemanticallyEqual(yaml->operations[0].value, (*ParseYamlDocuments("[a, b, c]", "v"))[0]));

  auto strategic = LoadPatch("load/strategic.yaml");
  ASSERT_TRUE(strategic.ok()) << strategic.status().ToString();
  ASSERT_EQ(strategic->kind, TalosPatch::Kind::kStrategic);
  ASSERT_EQ(strategic->documents.size(), 1u);
  auto id = IdentifyDocument(strategic->documents[0], "strategic.yaml");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->kind, "v1alpha1");
}

// delete/patch.yaml is the unmerged `bogus: $delete` syntax: mainline Talos,
// and metalpxe, read it as a label whose value is the text "$delete".
TEST(install_talos_load, UnmergedDeleteSyntaxIsAPlainValue) {
  ASSERT_TRUE(testing::TalosTestdataPresent());
  std::vector<YamlValue> docs = testing::ReadYamlFile(Data("delete/config.yaml"));
  auto patch = LoadPatch("delete/patch.yaml");
  ASSERT_TRUE(patch.ok());
  ASSERT_TRUE(ApplyTalosPatch(docs, *patch, "patch.yaml").ok());
  const YamlValue* bogus = docs[0].Find("machine")->Find("nodeLabels")->Find("bogus");
  ASSERT_NE(bogus, nullptr);
  EXPECT_EQ(bogus->text(), "$delete");
}

}  // namespace
}  // namespace metalpxe
