#!/usr/bin/python3
"""Validates a rendered Talos machine config against a Talos JSON schema.

    talos_schema_check.py SCHEMA BASE RENDERED [BASE RENDERED ...]

SCHEMA is one of Talos's config.schema.json files (../shared/talos-testdata/
schema/); BASE is the profile's base config (talosctl gen config output) and
RENDERED the config metalpxe served from it. Every document is validated
against the schema definition of its kind (python3-jsonschema, Debian's).

The schemas document only what each Talos release wants written, and
`talosctl gen config` itself writes a few keys they leave out (`persist`, the
deprecated v1alpha1 fields of older releases). So what counts is a finding in
RENDERED that BASE does not have as well: a key metalpxe (or a test profile's
patch) added where Talos's schema does not allow it. Those are printed and the
exit status is 1; findings shared with BASE are only counted.

Known defect of the v1.15 schema, corrected here: its UnattendedInstallConfig
definition says `kind: UnattendedInstall` (schemaMeta in Talos's
unattended_install.go) while Talos registers and writes
`UnattendedInstallConfig` (the same file's UnattendedInstallConfigKind).
"""
import json
import sys

import jsonschema
import yaml

SCHEMA_KIND_FIXES = {"UnattendedInstall": "UnattendedInstallConfig"}


def load_schema(path):
    with open(path, encoding="utf-8") as f:
        schema = json.load(f)
    by_kind = {}
    for ref in schema["oneOf"]:
        name = ref["$ref"].split("/")[-1]
        definition = schema["$defs"][name]
        kind_prop = definition.get("properties", {}).get("kind")
        if kind_prop is None:
            by_kind["v1alpha1"] = name
            continue
        kinds = list(kind_prop.get("enum", []))
        for wrong, right in SCHEMA_KIND_FIXES.items():
            if wrong in kinds:
                kinds.append(right)
                kind_prop["enum"] = kinds
        for kind in kinds:
            by_kind[kind] = name
    return schema, by_kind


def doc_id(doc):
    if not isinstance(doc, dict):
        return "?"
    kind = doc.get("kind") or "v1alpha1"
    name = doc.get("name")
    return f"{kind}/{name}" if name else kind


def findings(schema, by_kind, path):
    """Set of (document, location, what) for every schema violation."""
    with open(path, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    validator_class = jsonschema.validators.validator_for(schema)
    out = set()
    for doc in docs:
        ident = doc_id(doc)
        kind = doc.get("kind", "v1alpha1") if isinstance(doc, dict) else "?"
        if kind not in by_kind:
            out.add((ident, "", f"kind {kind} is not in this schema"))
            continue
        sub = {k: v for k, v in schema.items() if k != "oneOf"}
        sub["$ref"] = "#/$defs/" + by_kind[kind]
        for error in validator_class(sub).iter_errors(doc):
            where = "/".join(str(p) for p in error.absolute_path)
            if error.validator == "additionalProperties":
                # One finding per unexpected key, so an added key is told
                # apart from the base's own.
                allowed = error.schema.get("properties", {})
                for key in sorted(set(error.instance) - set(allowed)):
                    out.add((ident, f"{where}/{key}".lstrip("/"), "key not in the schema"))
            else:
                out.add((ident, where, f"{error.validator}: {error.message[:200]}"))
    return out


def main(argv):
    if len(argv) < 4 or len(argv) % 2 != 0:
        print(__doc__, file=sys.stderr)
        return 2
    schema, by_kind = load_schema(argv[1])
    total = 0
    for base_path, rendered_path in zip(argv[2::2], argv[3::2]):
        base = findings(schema, by_kind, base_path)
        rendered = findings(schema, by_kind, rendered_path)
        added = sorted(rendered - base)
        total += len(added)
        for ident, where, what in added:
            print(f"{rendered_path}: {ident}: {where or '(document)'}: {what}")
        print(f"{rendered_path}: {len(added)} new finding(s), {len(rendered & base)} shared with {base_path}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
