"""Hostile inputs shared by the fuzz tests: odd unicode, injection strings, malformed JSON, wrong
types, and the checks every answer must pass (no 5xx, no trace, the documented shape)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Bounded and reproducible: the same examples on every run (CI), fixtures shared across examples.
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

INJECTIONS = (
    "'; DROP TABLE customers; --",
    '" OR 1=1 --',
    "1; SELECT * FROM agents WHERE '1'='1",
    "Robert'); DELETE FROM tickets;--",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</textarea><svg/onload=alert(1)>",
    "{{7*7}} ${7*7} %s%s%n",
    "../../../../etc/passwd",
    "\\x00\\u0000",
)
ODD_UNICODE = (
    "\u202eevil\u202c",  # right-to-left override
    "مرحبا بالعيادة",  # Arabic (RTL)
    "zero\u200bwidth\u200d\ufeff",
    "e\u0301\u0301\u0301\u0301\u0301",  # stacked combining marks
    "Z\u0336\u0335\u0334a\u0337l\u0338go",
    "nul\x00byte",
    "ctrl\x01\x07\x1b[31m\x7f",
    "👩‍👩‍👧‍👦🦷🏳️‍🌈",
    "\U0010ffff\ufffe",
    "\r\n\t\v\f",
)
# Lone surrogates cannot be encoded as UTF-8: they travel escaped inside JSON text.
LONE_SURROGATES = ('"\\ud800"', '"\\udfff tail"', '"a\\udbff\\udc00\\ud800b"')

hostile_text = st.one_of(
    st.sampled_from(INJECTIONS),
    st.sampled_from(ODD_UNICODE),
    st.text(min_size=0, max_size=60),
    st.text(st.characters(codec="utf-8"), max_size=30),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    hostile_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


MALFORMED = (
    b"",
    b"{",
    b"[1, 2",
    b"{'single': 'quotes'}",
    b'{"a": NaN}',
    b'{"a": Infinity}',
    b"\xff\xfe\x00garbage",
    b"\xc3\x28",  # invalid UTF-8
    b"null",
    b"true",
    b"42",
    b'"just a string"',
    b"[" * 5000 + b"]" * 5000,  # deep nesting
    b'{"a": 1e999999}',
    b'{"a": "\\ud800"}',
)
malformed_json = st.one_of(st.sampled_from(MALFORMED), st.binary(max_size=200))


def object_with(required: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects that have `required`'s keys, each value hostile or of a wrong type."""
    return st.fixed_dictionaries(
        {key: st.one_of(st.just(value), json_values) for key, value in required.items()},
        optional={"extra": json_values, "metadata": json_values},
    )


def assert_clean(status: int, body: str, *, allowed_5xx: tuple[int, ...] = ()) -> None:
    """No 5xx (except a documented one) and no Python exception text in the body."""
    assert status < 500 or status in allowed_5xx, (status, body[:500])
    for marker in ("Traceback", 'File "', "Exception:", "sqlalchemy.exc", "asyncpg."):
        assert marker not in body, (status, body[:500])


def json_error_body(body: str) -> dict[str, Any]:
    """A refusal's documented shape: a JSON object with a short "error" string."""
    data = json.loads(body)
    assert isinstance(data, dict) and isinstance(data.get("error"), str), body[:300]
    return data
