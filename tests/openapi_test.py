#!/usr/bin/env python3
"""docs/openapi.yaml against the agent's routes.

Loads the file (PyYAML: Debian's python3-yaml), checks that it is shaped as
OpenAPI 3.0 (version, info, paths with operations that have responses,
parameters with name, place and schema, every $ref resolving, every error
answer using the JSON error shape), and that its set of paths equals the set
of paths agent/api_server.cc routes (its `req.path == "..."` tests). A path
routed but not described, or described but not routed, fails the test.

Usage: openapi_test.py SOURCE_DIR
"""
import re
import sys

try:
    import yaml
except ImportError:
    sys.exit("FAIL: PyYAML is missing: install Debian's python3-yaml")

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def fail(message):
    sys.exit("FAIL: " + message)


def resolve(doc, ref):
    if not ref.startswith("#/"):
        fail(f"$ref {ref}: only local references are used here")
    node = doc
    for part in ref[2:].split("/"):
        if not isinstance(node, dict) or part not in node:
            fail(f"$ref {ref} does not resolve")
        node = node[part]
    return node


def check_refs(doc, node, where):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                resolve(doc, value)
            elif value is None:
                # A plain scalar cut at ", " or ": " inside a flow mapping
                # turns into a key with no value.
                fail(f"{where}.{key}: no value (quote the text around it)")
            else:
                check_refs(doc, value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            check_refs(doc, value, f"{where}[{i}]")


def deref(doc, node):
    while isinstance(node, dict) and "$ref" in node:
        node = resolve(doc, node["$ref"])
    return node


def check_operation(doc, path, method, op):
    where = f"{method.upper()} {path}"
    if not op.get("summary"):
        fail(f"{where}: no summary")
    responses = op.get("responses")
    if not isinstance(responses, dict) or not responses:
        fail(f"{where}: no responses")
    for code, response in responses.items():
        if not re.fullmatch(r"[1-5]\d\d", str(code)):
            fail(f"{where}: response code {code!r} is not a quoted status")
        response = deref(doc, response)
        if not response.get("description"):
            fail(f"{where} {code}: no description")
        content = response.get("content", {})
        if not content:
            fail(f"{where} {code}: no content")
        if int(code) >= 400:
            schema = deref(doc, content.get("application/json", {}).get("schema", {}))
            props = schema.get("properties", {})
            if schema.get("type") != "object" or props.get("error", {}).get("type") != "string" \
                    or "error" not in schema.get("required", []):
                fail(f"{where} {code}: not the JSON error shape {{\"error\": string}}")
    for p in op.get("parameters", []):
        p = deref(doc, p)
        if not p.get("name") or p.get("in") not in {"query", "path", "header", "cookie"} \
                or "schema" not in p:
            fail(f"{where}: parameter {p} lacks name, in or schema")


def routed_paths(source_dir):
    text = open(f"{source_dir}/agent/api_server.cc", encoding="utf-8").read()
    paths = set(re.findall(r'req\.path == "([^"]+)"', text))
    if not paths:
        fail("found no req.path == \"...\" in agent/api_server.cc")
    return paths


def main():
    if len(sys.argv) != 2:
        fail("usage: openapi_test.py SOURCE_DIR")
    source_dir = sys.argv[1]
    doc = yaml.safe_load(open(f"{source_dir}/docs/openapi.yaml", encoding="utf-8"))
    if not isinstance(doc, dict):
        fail("docs/openapi.yaml is not a mapping")
    if not re.fullmatch(r"3\.0\.\d+", str(doc.get("openapi", ""))):
        fail(f"openapi: {doc.get('openapi')!r}, want 3.0.x")
    info = doc.get("info", {})
    if not info.get("title") or not info.get("version"):
        fail("info needs title and version")
    paths = doc.get("paths")
    if not isinstance(paths, dict) or not paths:
        fail("no paths")
    check_refs(doc, doc, "")
    for path, item in paths.items():
        if not path.startswith("/"):
            fail(f"path {path!r} does not start with /")
        ops = {k: v for k, v in item.items() if k in METHODS}
        if not ops:
            fail(f"{path}: no operation")
        for method, op in ops.items():
            check_operation(doc, path, method, op)
    described = set(paths)
    routed = routed_paths(source_dir)
    if described != routed:
        fail("docs/openapi.yaml and agent/api_server.cc disagree:"
             f"\n  routed, not described: {sorted(routed - described)}"
             f"\n  described, not routed: {sorted(described - routed)}")
    print(f"ok: {len(described)} paths")


if __name__ == "__main__":
    main()
