"""Security operators' shared pieces: argument checks at compile time and the Python implementations.

Semantics (the SQL engine implements the same, see docs/jsonlogic.md):
- regex [value, pattern, flags?]: RE2 search; pattern and flags are string literals ("i" = ignore case);
  true only when value is a string that matches.
- starts_with / ends_with [value, affix]: both strings, else false.
- lower [value]: a string in lower case (DuckDB's Unicode mapping), anything else null.
- length [value]: code points of a string, elements of an array, anything else null.
- cidr [address, network]: network is a literal CIDR string or list of them; true when address is an IPv4 or
  IPv6 address string (strict dotted-quad / RFC 4291 text, no zone id) inside one of them.
- domain_in [host, domains]: domains a literal string or list; true when host (a string; case and one
  trailing dot ignored) equals an entry or is a subdomain of it.
"""

from __future__ import annotations

import ipaddress
import re as _stdlib_re
from dataclasses import dataclass
from typing import Any

import re2

from correlators.jsonlogic.errors import JsonLogicError

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_IPV4_STRICT = _stdlib_re.compile(r"(?:(?:0|[1-9][0-9]{0,2})\.){3}(?:0|[1-9][0-9]{0,2})", _stdlib_re.ASCII)


def regex_pattern(pattern: Any, flags: Any, path: str) -> str:
    """The RE2 pattern to run (flags folded in as `(?i)`), or a compile-time error naming the path."""
    if not isinstance(pattern, str):
        raise JsonLogicError(path, "regex: the pattern must be a string literal")
    if flags not in (None, "", "i"):
        raise JsonLogicError(path, 'regex: flags must be "" or "i" (ignore case)')
    full = f"(?i){pattern}" if flags == "i" else pattern
    try:
        re2.compile(full, _RE2_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise JsonLogicError(path, f"regex: invalid RE2 pattern {pattern!r}: {detail}") from exc
    return full


def compile_regex(full_pattern: str) -> Any:
    return re2.compile(full_pattern, _RE2_OPTIONS)


@dataclass(frozen=True)
class Network:
    version: int  # 4 or 6
    low: int
    high: int
    text: str


def networks(arg: Any, path: str) -> list[Network]:
    """Literal CIDR networks (a string or list of strings), parsed at compile time."""
    items = arg if isinstance(arg, list) else [arg]
    if not items:
        raise JsonLogicError(path, "cidr: give at least one network")
    out: list[Network] = []
    for item in items:
        if not isinstance(item, str):
            raise JsonLogicError(path, "cidr: networks must be string literals such as \"10.0.0.0/8\"")
        try:
            net = ipaddress.ip_network(item, strict=False)
        except ValueError as exc:
            raise JsonLogicError(path, f"cidr: {item!r} is not an IPv4 or IPv6 network") from exc
        out.append(Network(net.version, int(net.network_address), int(net.broadcast_address), item))
    return out


def parse_address(value: Any) -> tuple[int, int] | None:
    """(version, integer) for a strictly written address string, else None."""
    if not isinstance(value, str):
        return None
    if ":" not in value:
        if not _IPV4_STRICT.fullmatch(value):
            return None
        parts = [int(p) for p in value.split(".")]
        if any(p > 255 for p in parts):
            return None
        return 4, (parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]
    if "%" in value or not value.isascii():
        return None
    try:
        return 6, int(ipaddress.IPv6Address(value))
    except ValueError:
        return None


def in_networks(value: Any, nets: list[Network]) -> bool:
    parsed = parse_address(value)
    if parsed is None:
        return False
    version, number = parsed
    return any(n.version == version and n.low <= number <= n.high for n in nets)


_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"


def ipv4_text_prefix(net: Network) -> str:
    """The text every address of the network starts with: its whole leading octets, each with its dot."""
    prefix = 32 - (net.high - net.low).bit_length()
    octets = [(net.low >> s) & 255 for s in (24, 16, 8, 0)]
    whole = prefix // 8
    if whole == 4:
        return ".".join(str(o) for o in octets)
    return "".join(f"{o}." for o in octets[:whole])


def ipv4_networks_pattern(nets: list[Network]) -> str:
    """One RE2 pattern (full match) for "a strictly written IPv4 address inside one of these networks".

    Whole octets of the prefix are literal text, the octet the prefix ends in lists its allowed values,
    the rest are any octet 0-255 without leading zeros (what parse_address accepts)."""
    alternatives = []
    for n in nets:
        prefix = 32 - (n.high - n.low).bit_length()
        octets = [(n.low >> s) & 255 for s in (24, 16, 8, 0)]
        parts = []
        for i in range(4):
            bits = min(max(prefix - 8 * i, 0), 8)
            if bits == 8:
                parts.append(str(octets[i]))
            elif bits == 0:
                parts.append(_OCTET)
            else:
                low = octets[i] & (0xFF << (8 - bits)) & 0xFF
                values = range(low, low + (1 << (8 - bits)))
                parts.append("(?:" + "|".join(str(v) for v in values) + ")")
        alternatives.append("\\.".join(parts))
    return "(?:" + "|".join(alternatives) + ")"


def domains(arg: Any, path: str) -> list[str]:
    items = arg if isinstance(arg, list) else [arg]
    if not items or not all(isinstance(d, str) and d.strip(".") and d.isprintable() for d in items):
        raise JsonLogicError(path, "domain_in: give a domain or a list of domains as string literals")
    return [normalise_host(d) for d in items]


def normalise_host(host: str) -> str:
    lowered = lower(host)
    return lowered[:-1] if lowered.endswith(".") else lowered


def domain_matches(value: Any, entries: list[str]) -> bool:
    if not isinstance(value, str):
        return False
    host = normalise_host(value)
    return any(host == d or host.endswith("." + d) for d in entries)


def domain_pattern(entries: list[str]) -> str:
    """One RE2 pattern equivalent to domain_matches on a lower-cased host: (any prefix ending in a dot)
    then an entry, then at most one trailing dot. The SQL engine runs it with regexp_full_match."""
    alternatives = "|".join(re2_escape(d) for d in entries)
    return f"(?s)(.*\\.)?({alternatives})\\.?"


def re2_escape(text: str) -> str:
    """Backslash every ASCII punctuation character (RE2 reads that as the literal character)."""
    return "".join("\\" + c if c.isascii() and not c.isalnum() and c != "_" else c for c in text)


def lower(s: str) -> str:
    """DuckDB's lower(): Python's mapping except that U+0130 (İ) becomes a plain "i"."""
    return s.replace("\u0130", "i").lower()


def length(value: Any) -> int | None:
    if isinstance(value, str | list):
        return len(value)
    return None
