#!/usr/bin/env python3
"""Checks generated Grafana dashboards against the Grafana dashboard JSON
schema (grafana-foundation-sdk, draft-07) and each panel's options and
custom field config against its panel kind's schema.

usage: grafana_conformance.py SCHEMA_DIR DASHBOARD.json...
"""
import json
import os
import sys

from jsonschema import Draft7Validator


def load(schema_dir, name):
    with open(os.path.join(schema_dir, name + ".jsonschema.json")) as f:
        return json.load(f)


def sub_validator(schema, definition):
    # Validate against one definition, keeping the file's other definitions
    # reachable for its $refs.
    return Draft7Validator({"definitions": schema["definitions"], "$ref": "#/definitions/" + definition})


def main():
    schema_dir, files = sys.argv[1], sys.argv[2:]
    if not files:
        print("no dashboards given", file=sys.stderr)
        return 2
    dashboard = Draft7Validator(load(schema_dir, "dashboard"))
    kinds = {}
    errors = 0
    for path in files:
        with open(path) as f:
            doc = json.load(f)
        for e in dashboard.iter_errors(doc):
            errors += 1
            print(f"{path}: {'/'.join(map(str, e.absolute_path))}: {e.message}")
        for i, panel in enumerate(doc.get("panels", [])):
            kind = panel.get("type")
            if kind == "row":
                continue
            if kind not in kinds:
                try:
                    kinds[kind] = load(schema_dir, kind)
                except FileNotFoundError:
                    errors += 1
                    print(f"{path}: panels/{i}: no schema for panel kind {kind}")
                    continue
            schema = kinds[kind]
            checks = [("Options", panel.get("options", {}), "options")]
            custom = panel.get("fieldConfig", {}).get("defaults", {}).get("custom")
            if custom is not None and "FieldConfig" in schema["definitions"]:
                checks.append(("FieldConfig", custom, "fieldConfig/defaults/custom"))
            for definition, value, where in checks:
                for e in sub_validator(schema, definition).iter_errors(value):
                    errors += 1
                    print(f"{path}: panels/{i} ({kind} {panel.get('title')!r}) {where}/{'/'.join(map(str, e.absolute_path))}: {e.message}")
    print(f"{len(files)} dashboards checked against the Grafana schema: {errors} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
