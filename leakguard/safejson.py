"""JSON from input leakguard does not control: image configs, manifests, exec forms.

A document nested deeper than the parser's stack raises RecursionError from
`json.loads`, and one nested just below that limit makes any later recursive
use of it (`str()`, a walk) fail the same way. Here both are a ValueError, as
any other malformed JSON is, so callers report bad input instead of crashing.
"""

from __future__ import annotations

import json
from typing import Any

# Image configs, manifests, indexes and credential-helper answers nest a few
# levels; anything deeper than this is not one of them.
MAX_DEPTH = 100


def loads(data: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads`, refusing (ValueError) a document nested more than `max_depth` deep."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise ValueError(f"nested more than {max_depth} levels deep") from None
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > max_depth:
            raise ValueError(f"nested more than {max_depth} levels deep")
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return value
