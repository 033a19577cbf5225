// JSON Pointer (RFC 6901 section 5) and JSON Patch (RFC 6902 appendix A)
// examples, word for word, on YAML trees.
#include <gtest/gtest.h>

#include "core/install/json_patch.h"
#include "core/install/json_pointer.h"
#include "core/install/yaml_writer.h"

namespace metalpxe {
namespace {

YamlValue Yaml(const std::string& text) {
  auto docs = ParseYamlDocuments(text, "test");
  EXPECT_TRUE(docs.ok()) << docs.status().ToString();
  return docs.ok() && !docs->empty() ? (*docs)[0] : YamlValue::Null();
}

// Applies `patch` to `doc`; the result as YAML, or "error: ..." .
std::string Patch(const std::string& doc, const std::string& patch) {
  YamlValue d = Yaml(doc);
  auto ops = ParseJsonPatch(Yaml(patch), "patch");
  if (!ops.ok()) return "error: " + ops.status().message();
  const YamlValue before = d;
  Status s = ApplyJsonPatch(d, *ops, "patch");
  if (!s.ok()) {
    EXPECT_TRUE(SemanticallyEqual(d, before)) << "a failed patch changed the document";
    return "error: " + s.message();
  }
  return WriteYaml(d);
}

void ExpectPatch(const std::string& doc, const std::string& patch, const std::string& want) {
  const std::string got = Patch(doc, patch);
  ASSERT_EQ(got.rfind("error:", 0), std::string::npos) << got;
  EXPECT_TRUE(JsonEqual(Yaml(got), Yaml(want))) << "got:\n" << got << "want:\n" << want;
}

void ExpectError(const std::string& doc, const std::string& patch, const std::string& fragment) {
  const std::string got = Patch(doc, patch);
  EXPECT_EQ(got.rfind("error:", 0), 0u) << got;
  EXPECT_NE(got.find(fragment), std::string::npos) << got;
}

TEST(install_json_pointer, Rfc6901Section5) {
  const YamlValue doc = Yaml(R"({"foo": ["bar", "baz"], "": 0, "a/b": 1, "c%d": 2, "e^f": 3, "g|h": 4,
                                 "i\\j": 5, "k\"l": 6, " ": 7, "m~n": 8})");
  auto at = [&](const std::string& pointer) -> std::string {
    auto p = ParseJsonPointer(pointer);
    EXPECT_TRUE(p.ok()) << pointer;
    const YamlValue* v = p.ok() ? ResolveJsonPointer(doc, *p) : nullptr;
    return v == nullptr ? "<none>" : v->is_scalar() ? v->text() : std::string(v->KindName());
  };
  EXPECT_EQ(at(""), "a map");
  EXPECT_EQ(at("/foo"), "a list");
  EXPECT_EQ(at("/foo/0"), "bar");
  EXPECT_EQ(at("/"), "0");
  EXPECT_EQ(at("/a~1b"), "1");
  EXPECT_EQ(at("/c%d"), "2");
  EXPECT_EQ(at("/e^f"), "3");
  EXPECT_EQ(at("/g|h"), "4");
  EXPECT_EQ(at("/i\\j"), "5");
  EXPECT_EQ(at("/k\"l"), "6");
  EXPECT_EQ(at("/ "), "7");
  EXPECT_EQ(at("/m~0n"), "8");
  EXPECT_EQ(at("/foo/2"), "<none>");
  EXPECT_EQ(at("/foo/01"), "<none>");
  EXPECT_EQ(at("/foo/-"), "<none>");
  EXPECT_FALSE(ParseJsonPointer("foo").ok());
  EXPECT_FALSE(ParseJsonPointer("/a~2").ok());
  EXPECT_FALSE(ParseJsonPointer("/a~").ok());
  EXPECT_EQ(FormatJsonPointer(*ParseJsonPointer("/a~1b/m~0n/~01")), "/a~1b/m~0n/~01");
  EXPECT_EQ((*ParseJsonPointer("/~01"))[0], "~1");  // not "/"
}

TEST(install_json_patch, Rfc6902AppendixA) {
  // A.1 .. A.5
  ExpectPatch(R"({"foo": "bar"})", R"([{"op": "add", "path": "/baz", "value": "qux"}])",
              R"({"baz": "qux", "foo": "bar"})");
  ExpectPatch(R"({"foo": ["bar", "baz"]})", R"([{"op": "add", "path": "/foo/1", "value": "qux"}])",
              R"({"foo": ["bar", "qux", "baz"]})");
  ExpectPatch(R"({"baz": "qux", "foo": "bar"})", R"([{"op": "remove", "path": "/baz"}])", R"({"foo": "bar"})");
  ExpectPatch(R"({"foo": ["bar", "qux", "baz"]})", R"([{"op": "remove", "path": "/foo/1"}])",
              R"({"foo": ["bar", "baz"]})");
  ExpectPatch(R"({"baz": "qux", "foo": "bar"})", R"([{"op": "replace", "path": "/baz", "value": "boo"}])",
              R"({"baz": "boo", "foo": "bar"})");
  // A.6, A.7
  ExpectPatch(R"({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}})",
              R"([{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}])",
              R"({"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}})");
  ExpectPatch(R"({"foo": ["all", "grass", "cows", "eat"]})", R"([{"op": "move", "from": "/foo/1", "path": "/foo/3"}])",
              R"({"foo": ["all", "cows", "eat", "grass"]})");
  // A.8, A.9
  ExpectPatch(R"({"baz": "qux", "foo": ["a", 2, "c"]})",
              R"([{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}])",
              R"({"baz": "qux", "foo": ["a", 2, "c"]})");
  ExpectError(R"({"baz": "qux"})", R"([{"op": "test", "path": "/baz", "value": "bar"}])", "test failed");
  // A.10, A.11, A.12
  ExpectPatch(R"({"foo": "bar"})", R"([{"op": "add", "path": "/child", "value": {"grandchild": {}}}])",
              R"({"foo": "bar", "child": {"grandchild": {}}})");
  ExpectPatch(R"({"foo": "bar"})", R"([{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}])",
              R"({"foo": "bar", "baz": "qux"})");
  ExpectError(R"({"foo": "bar"})", R"([{"op": "add", "path": "/baz/bat", "value": "qux"}])", "nothing at '/baz'");
  // A.13: a duplicate member is refused when the patch is read.
  EXPECT_FALSE(ParseYamlDocuments(R"([{"op": "add", "path": "/baz", "value": "qux", "op": "remove"}])", "p").ok());
  // A.14, A.15
  ExpectPatch(R"({"/": 9, "~1": 10})", R"([{"op": "test", "path": "/~01", "value": 10}])", R"({"/": 9, "~1": 10})");
  ExpectError(R"({"/": 9, "~1": 10})", R"([{"op": "test", "path": "/~01", "value": "10"}])", "test failed");
  // A.16
  ExpectPatch(R"({"foo": ["bar"]})", R"([{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}])",
              R"({"foo": ["bar", ["abc", "def"]]})");
}

TEST(install_json_patch, CopyRootAndEdgeCases) {
  ExpectPatch("{a: {b: 1}}", "[{op: copy, from: /a, path: /c}]", "{a: {b: 1}, c: {b: 1}}");
  ExpectPatch("{a: 1}", "[{op: replace, path: '', value: {z: 2}}]", "{z: 2}");
  ExpectPatch("{a: 1}", "[{op: add, path: '', value: [1]}]", "[1]");
  ExpectPatch("{a: [1, 2]}", "[{op: add, path: /a/2, value: 3}]", "{a: [1, 2, 3]}");
  ExpectPatch("{a: {b: 1}}", "[{op: move, from: /a, path: /a}]", "{a: {b: 1}}");
  ExpectError("{a: {b: 1}}", "[{op: move, from: /a, path: /a/b/c}]", "proper prefix");
  ExpectError("{a: [1, 2]}", "[{op: add, path: /a/3, value: 3}]", "not an index");
  ExpectError("{a: [1, 2]}", "[{op: add, path: /a/01, value: 3}]", "not an index");
  ExpectError("{a: [1, 2]}", "[{op: remove, path: /a/-}]", "nothing at '/a/-'");
  ExpectError("{a: 1}", "[{op: remove, path: ''}]", "whole document");
  ExpectError("{a: 1}", "[{op: replace, path: /b, value: 2}]", "nothing at '/b'");
  ExpectError("{a: 1}", "[{op: remove, path: /a/b}]", "not a map or a list");
  // All or nothing: the first operation's change is gone when the second fails.
  ExpectError("{a: 1}", "[{op: add, path: /b, value: 2}, {op: test, path: /a, value: 2}]", "operation 2");
  // Numbers compare as numbers, maps regardless of order, YAML 1.1 forms too.
  EXPECT_TRUE(JsonEqual(Yaml("1"), Yaml("1.0")));
  EXPECT_TRUE(JsonEqual(Yaml("0x10"), Yaml("16")));
  EXPECT_TRUE(JsonEqual(Yaml("{a: 1, b: [x]}"), Yaml("{b: [x], a: 1}")));
  EXPECT_FALSE(JsonEqual(Yaml("[1, 2]"), Yaml("[2, 1]")));
  EXPECT_FALSE(JsonEqual(Yaml("'true'"), Yaml("true")));
  EXPECT_TRUE(JsonEqual(Yaml("null"), Yaml("~")));
}

TEST(install_json_patch, MalformedOperationsAreRefusedWhenRead) {
  auto refused = [](const std::string& patch, const std::string& fragment, std::size_t op) {
    std::size_t failed = 99;
    auto ops = ParseJsonPatch(Yaml(patch), "p", &failed);
    ASSERT_FALSE(ops.ok()) << patch;
    EXPECT_NE(ops.status().message().find(fragment), std::string::npos) << ops.status().message();
    EXPECT_EQ(failed, op) << patch;
  };
  refused("{op: add}", "list of operations", 0);
  refused("[x]", "must be a map", 0);
  refused("[{op: add, path: /a, value: 1}, {path: /a}]", "'op' is missing", 1);
  refused("[{op: merge, path: /a}]", "not one of", 0);
  refused("[{op: add, value: 1}]", "'path' is missing", 0);
  refused("[{op: add, path: 42, value: 1}]", "must be a string", 0);
  refused("[{op: add, path: a, value: 1}]", "must be empty or start with '/'", 0);
  refused("[{op: add, path: /a}]", "'value' is missing", 0);
  refused("[{op: copy, path: /a}]", "'from' is missing", 0);
  refused("[{op: remove, path: /a~x}]", "followed by 0 or 1", 0);
}

TEST(install_json_patch, UntouchedScalarsKeepTheirForm) {
  YamlValue doc = Yaml("machine:\n  files:\n    - permissions: '0755'\n      content: |\n        a\n        b\n");
  auto ops = ParseJsonPatch(Yaml("[{op: add, path: /machine/certSANs, value: [foo.com]}]"), "p");
  ASSERT_TRUE(ops.ok());
  ASSERT_TRUE(ApplyJsonPatch(doc, *ops, "p").ok());
  const std::string out = WriteYaml(doc);
  EXPECT_NE(out.find("permissions: \"0755\""), std::string::npos) << out;
  EXPECT_NE(out.find("content: |\n"), std::string::npos) << out;
  EXPECT_NE(out.find("- foo.com"), std::string::npos) << out;
}

}  // namespace
}  // namespace metalpxe
