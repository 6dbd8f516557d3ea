#!/usr/bin/env python3
"""Counts glide-core's public surface from rustdoc's JSON output: the types (structs, enums,
unions, type aliases), traits, free functions and inherent methods reachable from the crate root.

Usage (a nightly rustdoc feature, on the stable toolchain):
    RUSTC_BOOTSTRAP=1 cargo rustdoc -p glide-rs-core --all-features --lib -- \
        -Z unstable-options --output-format json
    python3 tools/public_surface.py target/doc/glide_core.json
"""
import json
import sys
from collections import Counter


def main(path: str) -> None:
    doc = json.load(open(path))
    index = doc["index"]
    local = {k: v for k, v in index.items() if v.get("crate_id") == 0}
    counts = Counter()
    modules = 0
    for item in local.values():
        inner = item.get("inner", {})
        kind = next(iter(inner), None) if isinstance(inner, dict) else inner
        if kind == "module":
            if item.get("visibility") == "public":
                modules += 1
        elif kind in ("struct", "enum", "union", "type_alias"):
            counts["types"] += 1
        elif kind == "trait":
            counts["traits"] += 1
        elif kind == "function":
            pass  # counted below: free functions are module items, methods impl items
    # Free functions: the items of public modules that are functions.
    for item in local.values():
        inner = item.get("inner", {})
        if isinstance(inner, dict) and "module" in inner:
            for child in inner["module"].get("items", []):
                c = local.get(str(child)) or local.get(child)
                if c and isinstance(c.get("inner"), dict) and "function" in c["inner"]:
                    if c.get("visibility") == "public":
                        counts["functions"] += 1
    # Inherent methods of local types.
    for item in local.values():
        inner = item.get("inner", {})
        if isinstance(inner, dict) and "impl" in inner:
            imp = inner["impl"]
            if imp.get("trait") is not None or imp.get("synthetic") or imp.get("blanket_impl"):
                continue
            for child in imp.get("items", []):
                c = local.get(str(child)) or local.get(child)
                if c and isinstance(c.get("inner"), dict) and "function" in c["inner"]:
                    if c.get("visibility") == "public":
                        counts["methods"] += 1
    total = sum(counts.values())
    print(
        f"modules {modules}, types {counts['types']}, traits {counts['traits']}, "
        f"functions {counts['functions']}, methods {counts['methods']}: {total} public items"
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/doc/glide_core.json")
