"""Vectorised building blocks shared by the format writers.

Everything here works on whole columns (numpy arrays, Polars Series / expressions): the generator builds
millions of records, so a Python loop per record is never acceptable in the bulk path.

Conventions:
- event times are int64 **microseconds** since the Unix epoch (UTC) in every logical frame (`ts` column);
  each writer converts to its vendor's precision and encoding.
- logical string columns hold raw text; `jstr()` turns a column into a JSON string literal (quoted, escaped).
- line templates use «name» placeholders (JSON is full of braces, guillemets never occur in it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl
import pyarrow as pa

# A Polars dtype as written in code: the class (pl.String) or an instance (pl.Datetime("us")).
DType = pl.DataType | type[pl.DataType]

US = 1_000_000  # microseconds per second
DAY_US = 86_400 * US

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_ALNUM = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)
_B64 = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", dtype=np.uint8)
_PLACEHOLDER = re.compile(r"«(\w+)»")


def js(text: str) -> str:
    """A Python string as a JSON string literal (non-ASCII kept as UTF-8, like most log shippers)."""
    return json.dumps(text, ensure_ascii=False)


def jstr(expr: pl.Expr | str) -> pl.Expr:
    """JSON string literal of a String expression; Polars' struct encoder does the escaping in Rust."""
    e = pl.col(expr) if isinstance(expr, str) else expr
    # {"v":"..."} -> "..."
    return pl.struct(e.alias("v")).struct.json_encode().str.slice(5).str.head(-1)


def template(tpl: str, parts: Mapping[str, pl.Expr]) -> pl.Expr:
    """Concatenate literal text and expressions: every «name» in `tpl` is replaced by parts[name]."""
    pieces: list[pl.Expr] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(tpl):
        if m.start() > pos:
            pieces.append(pl.lit(tpl[pos : m.start()]))
        pieces.append(parts[m.group(1)])
        pos = m.end()
    if pos < len(tpl) or not pieces:
        pieces.append(pl.lit(tpl[pos:]))
    return pl.concat_str(pieces)


def _strings_from_fixed(chars: np.ndarray) -> pl.Series:
    """(n, k) uint8 matrix of ASCII codes -> String Series, through an Arrow fixed-size binary array (no copy,
    no Python loop)."""
    n, k = chars.shape
    if n == 0 or k == 0:
        return const("", n)
    arr = pa.FixedSizeBinaryArray.from_buffers(pa.binary(k), n, [None, pa.py_buffer(np.ascontiguousarray(chars))])
    out = pl.from_arrow(arr)
    assert isinstance(out, pl.Series)
    return out.cast(pl.Binary).cast(pl.String)


def random_strings(rng: np.random.Generator, n: int, k: int, alphabet: str = "hex") -> pl.Series:
    """n random strings of k characters from the hex, lower-alphanumeric or URL-safe base64 alphabet."""
    if alphabet == "hex":  # bytes.hex() runs in C and needs no table look-up
        chars = np.frombuffer(rng.bytes((n * k + 1) // 2).hex().encode("ascii"), dtype=np.uint8)[: n * k]
        return _strings_from_fixed(chars.reshape(n, k))
    table = {"alnum": _ALNUM, "b64": _B64}[alphabet]
    raw = np.frombuffer(rng.bytes(n * k), dtype=np.uint8).reshape(n, k)
    # 256 is a multiple of 64, so b64 is unbiased; alnum (36 symbols) is slightly biased, which is fine here
    return _strings_from_fixed(table[raw % len(table)])


class StringPool:
    """A fixed set of random strings to draw from: for values that repeat in real traffic (session cookies,
    form keys) and are costly to make one by one. Built once per run from the first RNG it is given."""

    def __init__(self, size: int, k: int, alphabet: str = "alnum") -> None:
        self.size, self.k, self.alphabet = size, k, alphabet
        self._values: pl.Series | None = None

    def draw(self, rng: np.random.Generator, n: int) -> pl.Series:
        if self._values is None:
            self._values = random_strings(rng, self.size, self.k, self.alphabet)
        return self._values.gather(rng.integers(0, self.size, n))


def digits(rng: np.random.Generator, n: int, k: int) -> pl.Series:
    """n random strings of k decimal digits (leading zeros kept)."""
    raw = rng.integers(0, 10, size=(n, k), dtype=np.uint8) + ord("0")
    return _strings_from_fixed(raw.astype(np.uint8))


def ip_strings(ips: np.ndarray) -> pl.Series:
    """Dotted-quad strings from uint32 IPv4 addresses."""
    df = pl.DataFrame({"ip": np.asarray(ips, dtype=np.int64)})
    ip = pl.col("ip")
    return df.select(
        pl.concat_str(
            [
                (ip // 16_777_216).cast(pl.String),
                (ip // 65_536 % 256).cast(pl.String),
                (ip // 256 % 256).cast(pl.String),
                (ip % 256).cast(pl.String),
            ],
            separator=".",
        )
    ).to_series()


def ip_to_int(ip: str) -> int:
    a, b, c, d = (int(x) for x in ip.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def pick(rng: np.random.Generator, pool: Sequence[str], n: int, p: Sequence[float] | None = None) -> pl.Series:
    """n draws (with replacement) from a pool of strings, optionally weighted."""
    idx = rng.choice(len(pool), size=n, p=_norm(p)) if p is not None else rng.integers(0, len(pool), n)
    return pl.Series(values=list(pool), dtype=pl.String).gather(idx)


def _norm(p: Sequence[float]) -> np.ndarray:
    arr = np.asarray(p, dtype=np.float64)
    return arr / arr.sum()


# Share of a day's traffic per UTC hour: a European/US store, quiet at 03:00-05:00, busiest in the evening.
STORE_HOURLY = _norm(
    [2.0, 1.5, 1.1, 0.8, 0.7, 0.8, 1.3, 2.4, 3.6, 4.4, 4.9, 5.2, 5.4, 5.3, 5.2, 5.3, 5.6, 6.0, 6.6, 7.2, 7.4, 6.8, 5.0, 3.2]
)
# Office hours for staff working in the admin (UTC).
OFFICE_HOURLY = _norm(
    [0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 2.0, 7.0, 9.0, 9.5, 9.0, 7.0, 8.0, 9.0, 9.0, 8.5, 7.0, 4.0, 2.0, 1.0, 0.5, 0.2, 0.1]
)
FLAT_HOURLY = _norm([1.0] * 24)


def day_times(rng: np.random.Generator, day_start_us: int, n: int, hourly: np.ndarray = STORE_HOURLY) -> np.ndarray:
    """n sorted event times (µs) inside one UTC day, following an hourly profile."""
    hours = rng.choice(24, size=n, p=hourly)
    within = rng.integers(0, 3_600 * US, size=n)
    return np.sort(day_start_us + hours.astype(np.int64) * 3_600 * US + within)


def iso_ms_z(ts_us: pl.Series) -> pl.Series:
    """RFC 3339 UTC with milliseconds: '2026-11-01T10:15:02.120Z'."""
    return pl.from_epoch(ts_us, time_unit="us").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")


def nulls(n: int, dtype: DType = pl.String) -> pl.Series:
    return pl.Series(values=[None], dtype=dtype).new_from_index(0, n)


def const(value: object, n: int, dtype: DType = pl.String) -> pl.Series:
    return pl.Series(values=[value], dtype=dtype).new_from_index(0, n)


def cat(*parts: str | pl.Series) -> pl.Series:
    """Concatenate Series element-wise with literal strings between them."""
    exprs = [pl.lit(p) if isinstance(p, str) else pl.lit(p.cast(pl.String)) for p in parts]
    return pl.select(pl.concat_str(exprs)).to_series()


def where(mask: np.ndarray | pl.Series, a: pl.Series, b: pl.Series) -> pl.Series:
    """Element-wise `a if mask else b`."""
    m = mask if isinstance(mask, pl.Series) else pl.Series(values=mask, dtype=pl.Boolean)
    return a.zip_with(m, b)


def scatter(n: int, mask: np.ndarray, values: pl.Series, base: pl.Series | None = None) -> pl.Series:
    """`base` (default all null) with `values` (one per True in mask, in order) written where mask is True.
    Cheaper than `where` when the values are costly to build and only a few rows get one."""
    out = base.clone() if base is not None else nulls(n, values.dtype)
    idx = np.flatnonzero(mask)
    return out.scatter(idx, values) if len(idx) else out


def frame(schema: Mapping[str, DType], n: int, cols: Mapping[str, object]) -> pl.DataFrame:
    """A frame with exactly `schema`'s columns: Series/arrays cast to the column type, scalars repeated,
    missing or None columns null."""
    unknown = set(cols) - set(schema)
    if unknown:
        raise KeyError(f"columns not in schema: {sorted(unknown)}")
    data: dict[str, pl.Series] = {}
    for name, dtype in schema.items():
        value = cols.get(name)
        if value is None:
            data[name] = nulls(n, dtype)
        elif isinstance(value, pl.Series):
            data[name] = value.cast(dtype)
        elif isinstance(value, np.ndarray):
            data[name] = pl.Series(values=value).cast(dtype)
        else:
            data[name] = const(value, n, dtype)
        if len(data[name]) != n:
            raise ValueError(f"column {name}: {len(data[name])} values for {n} rows")
    return pl.DataFrame(data)


def rows_frame(schema: Mapping[str, DType], rows: Sequence[Mapping[str, object]]) -> pl.DataFrame:
    """A frame from a few Python dicts (scenario events), with the stream's schema; missing keys are null."""
    for row in rows:
        unknown = set(row) - set(schema)
        if unknown:
            raise KeyError(f"columns not in schema: {sorted(unknown)}")
    return pl.DataFrame(list(rows), schema=dict(schema))


def lognormal_int(rng: np.random.Generator, n: int, median: float, sigma: float, lo: int, hi: int) -> np.ndarray:
    return np.clip(rng.lognormal(np.log(median), sigma, n), lo, hi).astype(np.int64)
