"""JavaScript value semantics for JSONLogic, as json-logic-js gets them from the JS engine.

Values are plain JSON-shaped Python values (None, bool, int, float, str, list, dict) plus `UNDEFINED`, which
JSONLogic produces where JS would (a missing argument, `{"and": []}`). Numbers are JS doubles: ints are kept
as ints when exact, but every arithmetic or comparison goes through float, as in JS.

Strings are sequences of Unicode code points (JS counts UTF-16 code units): `substr`, `length` and `<` on
strings differ from JS only for characters outside the Basic Multilingual Plane (documented in
docs/jsonlogic.md; the SQL engine counts code points too, so the two engines agree).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any, Final


class _Undefined:
    """JS `undefined`: distinct from null (`None`); falsy, `undefined == null` but not `===`."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Final = _Undefined()
NAN: Final = float("nan")
MAX_SAFE = 2.0**53

# ECMAScript WhiteSpace + LineTerminator: what Number(" 1 ") and parseFloat trim.
JS_WHITESPACE: Final = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_DECIMAL = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|Infinity)", re.ASCII)
_RADIX = re.compile(r"0([xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)", re.ASCII)
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*", re.ASCII)


def is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def is_object(v: Any) -> bool:
    """Arrays and objects: compared by identity in JS."""
    return isinstance(v, list | dict)


def norm_number(x: float) -> int | float:
    """A JS number as the tidiest Python value: integral doubles in the safe range become int."""
    if x.is_integer() and abs(x) < MAX_SAFE:
        return int(x)
    return x


def truthy(v: Any) -> bool:
    """jsonLogic.truthy: JS truthiness, except that an empty array is falsy."""
    if v is None or v is UNDEFINED or v is False:
        return False
    if v is True:
        return True
    if isinstance(v, int | float):
        return v != 0 and not math.isnan(v)
    if isinstance(v, str | list):
        return len(v) > 0
    return True  # objects


def js_truthy(v: Any) -> bool:
    """Plain JS truthiness (`!b` in the `in` operator): an empty array is truthy here."""
    return True if isinstance(v, list) else truthy(v)


def number_to_string(x: float) -> str:
    """Number.prototype.toString(): shortest round-trip digits, JS exponent rules."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    # value = 0.<digits> * 10**n, with repr's shortest round-trip digits (what JS prints too).
    _, digit_tuple, exponent = Decimal(repr(abs(float(x)))).as_tuple()
    digits = "".join(map(str, digit_tuple)).lstrip("0")
    stripped = digits.rstrip("0")
    n = int(exponent) + len(digits)
    digits = stripped
    k = len(digits)
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        out = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return sign + out


def to_string(v: Any) -> str:
    """JS String(v)."""
    if isinstance(v, str):
        return v
    if v is None:
        return "null"
    if v is UNDEFINED:
        return "undefined"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int | float):
        return number_to_string(float(v))
    if isinstance(v, list):
        return join(v, ",")
    return "[object Object]"


def join(items: list[Any], sep: str) -> str:
    """Array.prototype.join: null and undefined elements become empty strings."""
    return sep.join("" if x is None or x is UNDEFINED else to_string(x) for x in items)


def string_to_number(s: str) -> float:
    """JS Number(string): trimmed; empty is 0; decimal, Infinity or 0x/0o/0b literal; anything else NaN."""
    t = s.strip(JS_WHITESPACE)
    if t == "":
        return 0.0
    if _DECIMAL.fullmatch(t):
        return float(t.replace("Infinity", "inf"))
    m = _RADIX.fullmatch(t)
    if m:
        base = {"x": 16, "o": 8, "b": 2}[m.group(1)[0].lower()]
        return float(int(m.group(1)[1:], base))
    return NAN


def to_number(v: Any) -> float:
    """JS Number(v) (ToNumber, with ToPrimitive for arrays and objects)."""
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, int | float):
        return float(v)
    if v is None:
        return 0.0
    if v is UNDEFINED:
        return NAN
    if isinstance(v, str):
        return string_to_number(v)
    if isinstance(v, list):
        return string_to_number(to_string(v))
    return NAN


def parse_float(v: Any) -> float:
    """JS parseFloat(v): the longest decimal prefix of String(v) after leading whitespace, else NaN."""
    if is_number(v):
        return float(v)
    t = to_string(v).lstrip(JS_WHITESPACE)
    m = _DECIMAL.match(t)
    if not m:
        return NAN
    text = m.group(0)
    # The regex is greedy on "1e" / "1." forms already; a dangling exponent is not part of the prefix.
    return float(text.replace("Infinity", "inf"))


def to_integer(v: Any) -> float:
    """ToIntegerOrInfinity: NaN is 0, infinities stay, otherwise truncate."""
    x = to_number(v)
    if math.isnan(x):
        return 0.0
    if math.isinf(x):
        return x
    return float(math.trunc(x))


def to_primitive(v: Any) -> Any:
    """ToPrimitive for arrays and objects (both become strings); other values are already primitive."""
    if isinstance(v, list | dict):
        return to_string(v)
    return v


def _num_eq(a: float, b: float) -> bool:
    return a == b  # NaN is unequal to everything, as in JS


def strict_equals(a: Any, b: Any) -> bool:
    """JS `===`: same type and value; arrays and objects by identity; NaN never equal."""
    if is_number(a) and is_number(b):
        return _num_eq(float(a), float(b))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if a is None or b is None or a is UNDEFINED or b is UNDEFINED:
        return a is b
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if is_object(a) and is_object(b):
        return a is b
    return False


def loose_equals(a: Any, b: Any) -> bool:
    """JS `==` (IsLooselyEqual)."""
    nullish_a = a is None or a is UNDEFINED
    nullish_b = b is None or b is UNDEFINED
    if nullish_a or nullish_b:
        return nullish_a and nullish_b
    if isinstance(a, bool):
        return loose_equals(1 if a else 0, b)
    if isinstance(b, bool):
        return loose_equals(a, 1 if b else 0)
    if is_number(a) and is_number(b):
        return _num_eq(float(a), float(b))
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if is_object(a) and is_object(b):
        return a is b
    if is_object(a):
        return loose_equals(to_string(a), b)
    if is_object(b):
        return loose_equals(a, to_string(b))
    # one number, one string
    return _num_eq(to_number(a), to_number(b))


def less_than(a: Any, b: Any) -> bool:
    """JS `a < b` (IsLessThan; an undefined result is false)."""
    pa, pb = to_primitive(a), to_primitive(b)
    if isinstance(pa, str) and isinstance(pb, str):
        return pa < pb
    return to_number(pa) < to_number(pb)


def less_equal(a: Any, b: Any) -> bool:
    """JS `a <= b`: not (b < a), unless a NaN makes the comparison undefined (false)."""
    pa, pb = to_primitive(a), to_primitive(b)
    if isinstance(pa, str) and isinstance(pb, str):
        return pa <= pb
    x, y = to_number(pa), to_number(pb)
    return x <= y


def js_add(a: Any, b: Any) -> Any:
    """JS binary `+` (string concatenation when either primitive is a string)."""
    pa, pb = to_primitive(a), to_primitive(b)
    if isinstance(pa, str) or isinstance(pb, str):
        return to_string(pa) + to_string(pb)
    return to_number(pa) + to_number(pb)


def js_mod(a: float, b: float) -> float:
    """JS `%`: sign of the dividend; NaN for a zero divisor or an infinite dividend."""
    if math.isnan(a) or math.isnan(b) or math.isinf(a) or b == 0:
        return NAN
    if math.isinf(b):
        return a
    return math.fmod(a, b)


def js_div(a: float, b: float) -> float:
    """JS `/`: IEEE division (x/0 is ±Infinity, 0/0 is NaN)."""
    if b == 0:
        if a == 0 or math.isnan(a):
            return NAN
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def js_mul(a: float, b: float) -> float:
    return a * b


def js_get(data: Any, key: str) -> Any:
    """`data[key]` for JSON data: own keys of objects, array indexes and `length`, string characters."""
    if isinstance(data, dict):
        return data.get(key, UNDEFINED)
    if isinstance(data, list | str):
        if key == "length":
            return len(data)
        if _ARRAY_INDEX.fullmatch(key):
            i = int(key)
            return data[i] if i < len(data) else UNDEFINED
    return UNDEFINED


def index_of(haystack: list[Any], needle: Any) -> int:
    """Array.prototype.indexOf (strict equality)."""
    for i, item in enumerate(haystack):
        if strict_equals(item, needle):
            return i
    return -1


def substr(source: Any, start: Any, length: Any = UNDEFINED) -> str:
    """String.prototype.substr(start, length) on String(source)."""
    s = to_string(source)
    size = len(s)
    st = to_integer(start)
    if st == -math.inf:
        st = 0.0
    elif st < 0:
        st = max(size + st, 0.0)
    st = min(st, float(size))
    ln = float(size) - st if length is UNDEFINED else min(max(to_integer(length), 0.0), size - st)
    if ln <= 0:
        return ""
    i = int(st)
    return s[i : i + int(ln)]


def to_json_compatible(v: Any) -> Any:
    """The value JSON.stringify would produce (undefined in arrays becomes null); for reports and tests."""
    if v is UNDEFINED:
        return None
    if isinstance(v, list):
        return [to_json_compatible(x) for x in v]
    if isinstance(v, dict):
        return {k: to_json_compatible(x) for k, x in v.items() if x is not UNDEFINED}
    return v
