// The YAML tree and writer: what is written reads back to the same data,
// strings stay strings, multi-line text survives byte for byte.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "core/install/yaml_tree.h"
#include "core/install/yaml_writer.h"

namespace metalpxe {
namespace {

// Writes {k: <text as a string>} and reads it back with yaml-cpp.
void ExpectStringRoundTrip(const std::string& text) {
  YamlValue doc = YamlValue::Map();
  doc.Set("k", YamlValue::String(text));
  const std::string written = WriteYaml(doc);
  YAML::Node back;
  try {
    back = YAML::Load(written);
  } catch (const YAML::Exception& e) {
    FAIL() << "not valid YAML: " << e.what() << "\n" << written;
  }
  ASSERT_TRUE(back["k"].IsScalar()) << written;
  EXPECT_EQ(back["k"].Scalar(), text) << written;
  // Non-plain in yaml-cpp's terms: a reader takes it as a string.
  auto reparsed = ParseYamlDocuments(written, "written");
  ASSERT_TRUE(reparsed.ok());
  EXPECT_EQ(ResolveScalar(*(*reparsed)[0].Find("k")), YamlScalarType::kString) << written;
}

TEST(install_yaml_writer, StringsThatLookLikeOtherTypesStayStrings) {
  for (const char* s : {"0755", "true", "false", "yes", "off", "null", "~", "", "42", "-1", "1e3", "0x1F", ".inf",
                        "3.14", "10.66.0.1", "52:54:00:12:34:56", "1:30"}) {
    ExpectStringRoundTrip(s);
  }
}

TEST(install_yaml_writer, StringsThatNeedQuotingForSyntax) {
  for (const char* s : {" leading", "trailing ", "a: b", "x #y", "#comment", "- item", "-", "?", ":", "[x]", "{y}",
                        "*alias", "&anchor", "!tag", "|", ">", "'single'", "\"double\"", "%percent", "@at", "`tick",
                        "---", "...", "ends with colon:", "back\\slash", "tab\there", "cr\rhere", "bell\x07",
                        "del\x7f", "nel\xc2\x85", "ls\xe2\x80\xa8", "bom\xef\xbb\xbf", "caf\xc3\xa9"}) {
    ExpectStringRoundTrip(s);
  }
}

TEST(install_yaml_writer, MultiLineStringsRoundTripExactly) {
  for (const char* s : {"a\nb", "a\nb\n", "a\nb\n\n", "a\nb\n\n\n", "\nleading newline", "\n\nx\n", "\n", "\n\n",
                        "  indented first line\nx\n", "x\n  indented later\n", "x\n\ty\n", "trailing   \nspaces  \n",
                        "a\n\n\nb", "a\r\nb\r\n", "# comment\nkey: value\n", "---\nnext doc\n", "a\n...\nb"}) {
    ExpectStringRoundTrip(s);
  }
}

TEST(install_yaml_writer, MultiLineTextIsALiteralBlockWithTheRightChomping) {
  YamlValue doc = YamlValue::Map();
  doc.Set("clip", YamlValue::String("a\nb\n"));
  doc.Set("strip", YamlValue::String("a\nb"));
  doc.Set("keep", YamlValue::String("a\nb\n\n"));
  EXPECT_EQ(WriteYaml(doc), "clip: |\n  a\n  b\nstrip: |-\n  a\n  b\nkeep: |+\n  a\n  b\n\n");
}

TEST(install_yaml_writer, PlainScalarsKeepTheirType) {
  auto docs = ParseYamlDocuments("a: 1\nb: true\nc: ~\nd: 0755\ne: '0755'\nf: !!str 12\ng: plain text\n", "t");
  ASSERT_TRUE(docs.ok());
  const std::string written = WriteYaml((*docs)[0]);
  EXPECT_EQ(written, "a: 1\nb: true\nc: null\nd: 0755\ne: \"0755\"\nf: \"12\"\ng: plain text\n");
  auto back = ParseYamlDocuments(written, "back");
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(SemanticallyEqual((*docs)[0], (*back)[0]));
}

TEST(install_yaml_writer, NestedStructuresAndEmptyContainers) {
  const char* text = R"(
m:
  list:
    - a
    - {x: 1, y: [1, 2]}
    - [p, q]
    - []
    - {}
    - null
  empty_map: {}
  empty_list: []
  "quoted key": v
  "true": key that reads as bool
)";
  auto docs = ParseYamlDocuments(text, "t");
  ASSERT_TRUE(docs.ok());
  const std::string written = WriteYaml((*docs)[0]);
  auto back = ParseYamlDocuments(written, "back");
  ASSERT_TRUE(back.ok()) << written;
  EXPECT_TRUE(SemanticallyEqual((*docs)[0], (*back)[0])) << written;
  EXPECT_EQ(WriteYaml((*back)[0]), written);  // stable
}

TEST(install_yaml_writer, SeveralDocuments) {
  std::vector<YamlValue> docs;
  docs.push_back(YamlValue::Map());
  docs.back().Set("a", YamlValue::Plain("1"));
  docs.push_back(YamlValue::Map());
  docs.back().Set("b", YamlValue::Plain("2"));
  EXPECT_EQ(WriteYamlDocuments(docs), "a: 1\n---\nb: 2\n");
}

TEST(install_yaml_tree, RejectsDuplicateKeysComplexKeysAndDeepNesting) {
  EXPECT_FALSE(ParseYamlDocuments("a: 1\na: 2\n", "t").ok());
  EXPECT_FALSE(ParseYamlDocuments("? [a]\n: 1\n", "t").ok());
  std::string deep;
  for (int i = 0; i < kMaxYamlDepth + 5; ++i) deep += "[";
  for (int i = 0; i < kMaxYamlDepth + 5; ++i) deep += "]";
  auto r = ParseYamlDocuments(deep, "deep");
  EXPECT_FALSE(r.ok());
}

TEST(install_yaml_tree, RejectsTextThatIsNotUtf8) {
  EXPECT_FALSE(ParseYamlDocuments("k: \"name\x91 x\"\n", "t").ok());
  EXPECT_FALSE(ParseYamlDocuments("\xc3: v\n", "t").ok());
  EXPECT_TRUE(ParseYamlDocuments("k: caf\xc3\xa9\n", "t").ok());
}

TEST(install_yaml_tree, InputsThatHangYamlCppLoadAllFailFast) {
  // yaml-cpp 0.7's LoadAll loops forever on these (jbeder/yaml-cpp#1040).
  for (const char* text : {",", ",\n", " ,", ",a: b\n", "machine:\n  x: 1\n---\n,\n"}) {
    EXPECT_FALSE(ParseYamlDocuments(text, "t").ok()) << text;
  }
  auto docs = ParseYamlDocuments("a: 1\n---\n---\nb: 2\n", "t");
  ASSERT_TRUE(docs.ok());
  EXPECT_EQ(docs->size(), 2u);
}

TEST(install_yaml_tree, AnchorsAndAliasesExpand) {
  auto docs = ParseYamlDocuments("base: &b {x: 1, y: [1, 2]}\ncopy: *b\nk: &s text\nv: *s\n", "t");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  EXPECT_TRUE(SemanticallyEqual(*(*docs)[0].Find("base"), *(*docs)[0].Find("copy")));
  EXPECT_EQ((*docs)[0].Find("v")->text(), "text");
}

TEST(install_yaml_tree, AliasBombIsRefused) {
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 8; ++i) {
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) bomb += std::string(j ? ", " : "") + "*a" + std::to_string(i - 1);
    bomb += "]\n";
  }
  auto r = ParseYamlDocuments(bomb, "bomb");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nodes"), std::string::npos);
}

TEST(install_yaml_tree, ErrorsNameThePlaceNotTheValue) {
  auto r = ParseYamlDocuments("key: secret-value\nother: [unclosed\n", "file.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("file.yaml:"), std::string::npos);
  EXPECT_EQ(r.status().message().find("secret-value"), std::string::npos);
}

}  // namespace
}  // namespace metalpxe

namespace metalpxe {
namespace {

TEST(install_yaml_tree, PlainScalarResolution) {
  for (const char* s : {"0", "42", "-7", "+3", "0755", "0o17", "0x1F", "0b101", "1_000", "1:30", "190:20:30",
                        "52:54:00:12:34:56" /* YAML 1.1 sexagesimal: MACs of digits get quoted */}) {
    EXPECT_EQ(ResolvePlainScalar(s), YamlScalarType::kInt) << s;
  }
  for (const char* s : {"1.5", "-0.5", ".5", "1.", "1e3", "1.5E-3", ".inf", "-.Inf", ".nan", "10.66"}) {
    EXPECT_EQ(ResolvePlainScalar(s), YamlScalarType::kFloat) << s;
  }
  for (const char* s : {"10.66.0.1", "52:54:00:ab:34:56", "1.2.3", "v1.9.5", "0x", "1e", "-", ".", "1:300", "abc",
                        "/dev/sda", "1.30-rc1", "0:30"}) {
    EXPECT_EQ(ResolvePlainScalar(s), YamlScalarType::kString) << s;
  }
  EXPECT_EQ(ResolvePlainScalar("true"), YamlScalarType::kBool);
  EXPECT_EQ(ResolvePlainScalar("~"), YamlScalarType::kNull);
}

}  // namespace
}  // namespace metalpxe
