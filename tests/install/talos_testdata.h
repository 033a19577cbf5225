#pragma once
// Talos's own configpatcher test cases (siderolabs/talos
// pkg/machinery/config/configpatcher/testdata, with which inputs make which
// output taken from apply_test.go and load_test.go), read from the shared
// folder ../shared/talos-testdata: never copied into this repository.
//
// The folder comes from the METALPXE_TALOS_TESTDATA environment variable at
// ctest time, else the CMake cache variable of the same name (default
// ${PROJECT_SOURCE_DIR}/../shared/talos-testdata). Tests that need it FAIL
// when it is absent, with a message saying where it was looked for.
//
// Talos's tests compare the text of Talos's own encoder; metalpxe writes its
// own YAML, so the comparison here is of what Talos's decoder reads
// (AsTalosReadsIt): map order, quoting and block style do not matter, a field
// set to its zero value ("", [], {}, null) reads as an absent one (Talos's
// encoder writes `type: ""` and `cluster: null` for absent fields, and omits
// others), and inline manifest contents lose leading blank lines
// (ClusterInlineManifests.UnmarshalYAML trims them).
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/install/yaml_tree.h"

namespace metalpxe::testing {

std::string TalosTestdataDir();

// Success when the folder is there; otherwise a failure saying where it was sought.
::testing::AssertionResult TalosTestdataPresent();

struct TalosCase {
  std::string name;                  // a name usable as a profile and machine name
  std::string talos_test;            // the Talos test it comes from
  std::string base;                  // relative to TalosTestdataDir()
  std::vector<std::string> patches;  // patch files, in order
  std::string expected;              // expected output file; empty when an error is expected
  std::string error;                 // the error Talos reports (a substring of ours)
};

// gtest prints a case by its name.
inline void PrintTo(const TalosCase& c, std::ostream* os) { *os << c.name << " (" << c.talos_test << ")"; }

// Every case of apply_test.go and load_test.go that applies patches, plus the
// README's adaptations (unmerged `$delete` syntax, TestLoadStrategic's base).
const std::vector<TalosCase>& TalosCases();

std::string ReadTextFile(const std::string& path);
std::vector<YamlValue> ReadYamlFile(const std::string& path);

// The documents as Talos's decoder reads them (see above), v1alpha1 first as
// Talos's config container orders them.
std::vector<YamlValue> AsTalosReadsIt(std::vector<YamlValue> docs);

// Same configuration for Talos; the failure message shows both sides.
::testing::AssertionResult SameForTalos(const std::vector<YamlValue>& actual, const std::vector<YamlValue>& expected);

// The documents of a case's patch files, in order, one patch each (several
// documents of one file merge exactly as one multi-document patch).
std::vector<YamlValue> TalosCasePatches(const TalosCase& c);

// The schema for a config written for this Talos release: v1.15 (newest
// present) for 1.12 and later, v1.11 (the last documenting all of v1alpha1)
// before.
std::string TalosSchemaFor(int minor);

// One rendered config to check against a schema, next to its base config.
struct SchemaCheck {
  std::string schema;
  std::string base_file;
  std::string rendered_text;
};

// Runs tests/install/talos_schema_check.py (python3-jsonschema), once per
// schema: success when no rendered config has a schema finding that its base
// config does not have too.
::testing::AssertionResult PassTalosSchema(const std::vector<SchemaCheck>& checks);

// The static hostname a config sets (v1alpha1 machine.network.hostname, or a
// HostnameConfig's hostname); nullopt when it sets none.
std::optional<std::string> StaticHostname(const std::vector<YamlValue>& docs);

}  // namespace metalpxe::testing
