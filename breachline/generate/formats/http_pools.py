"""Request-shaped pools shared by the WAF-ish writers: user agents, storefront routes, attack payloads."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

import numpy as np
import polars as pl

BROWSER_UAS: tuple[str, ...] = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36 Edg/129.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.58 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.6668.100 Mobile Safari/537.36",
)
BROWSER_UA_WEIGHTS = (0.28, 0.08, 0.12, 0.09, 0.18, 0.10, 0.06, 0.02, 0.04, 0.03)
CRAWLER_UAS: tuple[str, ...] = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
)
BOT_UAS: tuple[str, ...] = (
    "sqlmap/1.8.4#stable (https://sqlmap.org)",
    "python-requests/2.31.0",
    "curl/8.4.0",
    "Go-http-client/1.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/91.0.4472.124 Safari/537.36",
    "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
    "Mozilla/5.0 zgrab/0.x",
    "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
)
ACCEPT_HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
LANG_BY_COUNTRY = {
    "DE": "de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7", "AT": "de-AT,de;q=0.9,en;q=0.8", "CH": "de-CH,de;q=0.9,fr;q=0.8",
    "FR": "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", "BE": "nl-BE,nl;q=0.9,fr;q=0.8", "GB": "en-GB,en;q=0.9",
    "NL": "nl-NL,nl;q=0.9,en;q=0.8", "IT": "it-IT,it;q=0.9,en;q=0.8", "ES": "es-ES,es;q=0.9,en;q=0.8",
    "PL": "pl-PL,pl;q=0.9,en;q=0.8", "SE": "sv-SE,sv;q=0.9,en;q=0.8", "DK": "da-DK,da;q=0.9,en;q=0.8",
    "US": "en-US,en;q=0.9", "CA": "en-CA,en;q=0.9,fr-CA;q=0.8",
}


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # "{slug}" means a catalog product page
    args: tuple[str, ...]  # raw query strings to choose from ("" = none)
    weight: float


STOREFRONT_ROUTES: tuple[Route, ...] = (
    Route("GET", "/", ("",), 8),
    Route("GET", "{slug}", ("", "", "color=blue", "size=M"), 30),
    Route("GET", "/women.html", ("", "p=2", "price=20-40", "product_list_order=price"), 6),
    Route("GET", "/men.html", ("", "p=3", "size=L"), 5),
    Route("GET", "/gear/bags.html", ("",), 3),
    Route("GET", "/catalogsearch/result/", ("q=hoodie", "q=rain+jacket", "q=backpack", "q=running+shoes", "q=gift+card"), 5),
    Route("GET", "/customer/section/load/", ("sections=cart%2Cmessages&force_new_section_timestamp=false",), 12),
    Route("GET", "/static/version1761900000/frontend/Example/luma/en_US/mage/requirejs/mixins.js", ("",), 6),
    Route("GET", "/static/version1761900000/frontend/Example/luma/en_US/css/styles-m.css", ("",), 5),
    Route("POST", "/checkout/cart/add/", ("",), 3),
    Route("GET", "/checkout/cart/", ("",), 3),
    Route("GET", "/checkout/", ("",), 2),
    Route("POST", "/rest/eu_store/V1/carts/mine/estimate-shipping-methods", ("",), 1.5),
    Route("POST", "/rest/eu_store/V1/carts/mine/payment-information", ("",), 0.8),
    Route("GET", "/customer/account/", ("",), 1.5),
    Route("GET", "/customer/account/login/", ("",), 1.2),
    Route("POST", "/customer/account/loginPost/", ("",), 0.8),
    Route("GET", "/sales/order/history/", ("",), 0.6),
    Route("GET", "/rest/V1/directory/countries", ("",), 0.4),
)

BOT_PATHS: tuple[str, ...] = (
    "/", "/index.php", "/customer/account/login/", "/catalog/product/view/id/12", "/checkout/cart/add/",
    "/rest/V1/products", "/admin", "/wp-login.php", "/.env", "/phpinfo.php", "/downloader/index.php",
    "/magento_version", "/app/etc/env.php", "/pub/errors/report.php", "/graphql",
)

SEARCH_PATH = "/catalogsearch/result/"


def sqli_tokens(payload: str) -> list[str]:
    """What AWS WAF reports as matchedData: the first few tokens of the offending value."""
    return re.findall(r"[A-Za-z_]+|\d+|'", payload)[:4]


# Bot SQLi (blocked outside the search page), benign searches that trip the SQLi rule in COUNT mode on the
# search page, and the attacker payloads of the waf-attack-then-data-response scenario (also on the search
# page, where the rule is in COUNT mode: that is why they get through).
BOT_SQLI: tuple[str, ...] = (
    "1' OR '1'='1",
    "1 UNION SELECT NULL,NULL,NULL--",
    "1' AND SLEEP(5)-- -",
    "1;DROP TABLE customer_entity--",
    "1' AND extractvalue(1,concat(0x7e,version()))-- -",
    "admin'--",
)
SEARCH_FP: tuple[str, ...] = ("O'Brien jacket", "men's 'classic' tee", "rock'n'roll hoodie", "kids' select 1 offer")
ATTACK_SQLI: tuple[str, ...] = (
    "x' UNION SELECT email,firstname,lastname,telephone FROM customer_entity-- -",
    "x%' UNION ALL SELECT email,password_hash,NULL,NULL FROM customer_entity WHERE '1'='1",
    "x') UNION SELECT entity_id,email,dob,taxvat FROM customer_entity LIMIT 5000-- -",
)
BOT_XSS: tuple[str, ...] = (
    "<script>alert(1)</script>",
    "\"><svg onload=alert(document.domain)>",
    "<img src=x onerror=prompt(1)>",
)
BOT_LFI: tuple[str, ...] = ("../../../../etc/passwd", "....//....//app/etc/env.php", "/proc/self/environ")


def qs(param: str, value: str) -> str:
    """A query string as the browser/bot sends it (percent-encoded)."""
    return f"{param}={quote(value, safe='')}"


def route_table(routes: tuple[Route, ...]) -> tuple[np.ndarray, pl.Series, pl.Series, np.ndarray, np.ndarray]:
    """Flattened routes for vectorised sampling: weights, methods, paths, args offsets and counts."""
    weights = np.array([r.weight for r in routes], dtype=np.float64)
    methods = pl.Series(values=[r.method for r in routes], dtype=pl.String)
    paths = pl.Series(values=[r.path for r in routes], dtype=pl.String)
    counts = np.array([len(r.args) for r in routes], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return weights / weights.sum(), methods, paths, offsets, counts


def route_args(routes: tuple[Route, ...]) -> pl.Series:
    return pl.Series(values=[a for r in routes for a in r.args], dtype=pl.String)


def sample_routes(
    rng: np.random.Generator, n: int, routes: tuple[Route, ...], catalog: pl.Series
) -> tuple[pl.Series, pl.Series, pl.Series]:
    """(method, path, args) for n storefront requests."""
    p, methods, paths, offsets, counts = route_table(routes)
    r = rng.choice(len(routes), size=n, p=p)
    a = offsets[r] + (rng.random(n) * counts[r]).astype(np.int64)
    slug = catalog.gather(rng.integers(0, len(catalog), n))
    path = (
        pl.DataFrame({"path": paths.gather(r), "slug": slug})
        .select(
            pl.when(pl.col("path") == "{slug}")
            .then(pl.concat_str([pl.lit("/"), pl.col("slug")]))
            .otherwise(pl.col("path"))
        )
        .to_series()
    )
    return methods.gather(r), path, route_args(routes).gather(a)
