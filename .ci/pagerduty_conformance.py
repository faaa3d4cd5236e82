#!/usr/bin/env python3
"""Checks the receiver's PagerDuty requests against PagerDuty's Events API v2
OpenAPI description (PagerDuty/api-schema, reference/events-v2/openapiv3.json).

usage: pagerduty_conformance.py OPENAPI.json REQUESTS.jsonl

REQUESTS.jsonl holds one request body per line, as the receiver sent them.
The webhook-receiver test `requests_for_the_conformance_check` writes it when
EDGEWATCH_PD_REQUESTS_OUT names a file:

    EDGEWATCH_PD_REQUESTS_OUT=/tmp/pd.jsonl cargo test -p edgewatch-webhook-receiver \\
        --test it --locked -- requests_for_the_conformance_check

Each body is validated against the request body schema of `POST /v2/enqueue`
(the path joined to its server's path), with the document's `$ref`s resolved
inside the document. If the description separates trigger events from
acknowledge/resolve ones (a discriminator on `event_action`), each body is
checked against its own; a plain oneOf/anyOf is left to the validator.
Formats are checked: `date-time` as RFC 3339, `url` as an absolute http(s)
URL. Then the limits PagerDuty's developer documentation states but the
description does not (payload required on triggers, 1,024-character summary,
255-character dedup_key, 32-character routing key, HTTPS image sources,
512,000-byte events) are checked and reported as [docs]. The file must hold
at least one trigger and one resolve.

Works with jsonschema 4.10 (Debian's python3-jsonschema) and later.
Routing keys are never printed.
"""
import copy
import json
import re
import sys
from urllib.parse import urlparse

from jsonschema import Draft7Validator, Draft202012Validator, FormatChecker

ENDPOINT = ("post", "/v2/enqueue")

RFC3339 = re.compile(
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)"
    r"(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$"
)


def formats():
    checker = FormatChecker()

    @checker.checks("date-time")
    def date_time(value):
        return not isinstance(value, str) or RFC3339.match(value) is not None

    @checker.checks("url")
    def url(value):
        if not isinstance(value, str):
            return True
        u = urlparse(value)
        return u.scheme in ("http", "https") and bool(u.netloc)

    return checker


def pointer(doc, ref):
    if not ref.startswith("#/"):
        raise SystemExit(f"only references inside the document are supported, not {ref}")
    node = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def deref(doc, node):
    seen = set()
    while isinstance(node, dict) and "$ref" in node:
        if node["$ref"] in seen:
            raise SystemExit(f"reference loop at {node['$ref']}")
        seen.add(node["$ref"])
        node = pointer(doc, node["$ref"])
    return node


def operation(doc):
    """The operation whose server path joined to its path is the endpoint."""
    method, endpoint = ENDPOINT
    found = []
    for path, item in doc.get("paths", {}).items():
        item = deref(doc, item)
        op = item.get(method)
        if op is None:
            continue
        servers = op.get("servers") or item.get("servers") or doc.get("servers") or [{"url": "/"}]
        for server in servers:
            prefix = urlparse(server["url"]).path.rstrip("/")
            if prefix + path == endpoint:
                found.append((path, op))
                break
    if len(found) != 1:
        raise SystemExit(f"expected one {method.upper()} {endpoint} in the description, found {len(found)}")
    return found[0]


def openapi30_to_json_schema(node):
    """OpenAPI 3.0's Schema Object differs from JSON Schema in a few
    keywords: `nullable`, and boolean exclusiveMinimum/Maximum."""
    if isinstance(node, list):
        return [openapi30_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: openapi30_to_json_schema(v) for k, v in node.items()}
    if node.pop("nullable", False) is True and "type" in node:
        node["type"] = [node["type"], "null"] if isinstance(node["type"], str) else node["type"] + ["null"]
    for bound in ("Minimum", "Maximum"):
        flag = node.get("exclusive" + bound)
        if isinstance(flag, bool):
            if flag and bound.lower() in node:
                node["exclusive" + bound] = node.pop(bound.lower())
            else:
                node.pop("exclusive" + bound)
    return node


def validators(doc):
    """A validator per event_action (key None: any action)."""
    path, op = operation(doc)
    body = deref(doc, op.get("requestBody", {}))
    try:
        schema = body["content"]["application/json"]["schema"]
    except KeyError:
        raise SystemExit(f"POST {path} has no application/json request body schema")
    version = str(doc.get("openapi", ""))
    if version.startswith("3.0"):
        cls = Draft7Validator
        components = openapi30_to_json_schema(doc.get("components", {}))
        schema = openapi30_to_json_schema(schema)
    elif version.startswith("3.1"):
        cls = Draft202012Validator
        components = doc.get("components", {})
    else:
        raise SystemExit(f"unsupported OpenAPI version {version!r}")
    # The schema becomes the root of a document that also holds the
    # components, so `#/components/...` references resolve as in the original.
    root_doc = {"components": components}

    def make(s):
        return cls({**copy.deepcopy(s), "components": components}, format_checker=formats())

    resolved = deref(root_doc, schema)
    discriminator = resolved.get("discriminator") if isinstance(resolved, dict) else None
    if discriminator and discriminator.get("propertyName") == "event_action" and discriminator.get("mapping"):
        by_action = {action: make({"$ref": ref}) for action, ref in discriminator["mapping"].items()}
        how = f"one schema per event_action ({', '.join(sorted(by_action))})"
    else:
        by_action = {None: make(schema)}
        how = "one schema for every event_action"
    print(f"POST {ENDPOINT[1]} (path {path} in OpenAPI {version}): {how}, {cls.__name__}")
    return by_action


def documented_limits(body, size):
    """What PagerDuty's developer documentation adds to the description."""
    problems = []
    action = body.get("event_action")
    key = body.get("routing_key")
    if isinstance(key, str) and len(key) != 32:
        problems.append("routing_key: should be 32 characters")
    dedup = body.get("dedup_key")
    if isinstance(dedup, str) and len(dedup) > 255:
        problems.append(f"dedup_key: {len(dedup)} characters, over 255")
    if action in ("acknowledge", "resolve") and not dedup:
        problems.append("dedup_key: required for acknowledge and resolve")
    if action == "trigger":
        payload = body.get("payload")
        if not isinstance(payload, dict):
            problems.append("payload: required for trigger")
        elif isinstance(payload.get("summary"), str) and len(payload["summary"]) > 1024:
            problems.append(f"payload/summary: {len(payload['summary'])} characters, over 1024")
    for i, image in enumerate(body.get("images") or []):
        if isinstance(image, dict) and not str(image.get("src", "")).startswith("https://"):
            problems.append(f"images/{i}/src: must be an HTTPS URL")
    if size > 512_000:
        problems.append(f"{size} bytes, over the 512,000-byte limit")
    return problems


def main():
    if len(sys.argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    spec_path, requests_path = sys.argv[1], sys.argv[2]
    try:
        with open(spec_path) as f:
            by_action = validators(json.load(f))
        with open(requests_path, encoding="utf-8") as f:
            lines = [(n, line) for n, line in enumerate(f, 1) if line.strip()]
    except (OSError, ValueError) as e:
        print(f"pagerduty_conformance: {e}", file=sys.stderr)
        return 2
    errors = 0
    counts = {}
    for n, line in lines:
        try:
            body = json.loads(line)
        except ValueError as e:
            errors += 1
            print(f"{requests_path}:{n}: not JSON: {e}")
            continue
        action = body.get("event_action") if isinstance(body, dict) else None
        counts[action] = counts.get(action, 0) + 1
        where = f"{requests_path}:{n} ({action} {body.get('dedup_key') if isinstance(body, dict) else ''})"
        secret = body.get("routing_key") if isinstance(body, dict) else None

        def say(problem):
            if isinstance(secret, str) and secret:
                problem = problem.replace(secret, "**REDACTED**")
            print(f"{where}: {problem}")

        validator = by_action.get(action, by_action.get(None))
        if validator is None:
            errors += 1
            say(f"event_action {action!r} has no schema in the description")
            continue
        for e in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
            errors += 1
            say(f"[openapi] {'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}")
        if isinstance(body, dict):
            for problem in documented_limits(body, len(line.rstrip("\n").encode("utf-8"))):
                errors += 1
                say(f"[docs] {problem}")
    for needed in ("trigger", "resolve"):
        if not counts.get(needed):
            errors += 1
            print(f"{requests_path}: no {needed} event to check")
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items(), key=lambda kv: str(kv[0])))
    print(f"{len(lines)} PagerDuty requests ({summary or 'none'}) checked against the Events API v2 description: {errors} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
