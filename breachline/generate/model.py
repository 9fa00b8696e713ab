"""The synthetic store: tenants, customers, admin users, API clients, apps, hosts and IP address pools.

The constants here are the "facts" the playbooks and docs/generate.md refer to (allow-lists, support staff,
support hours); change them together. Everything random is drawn from one seeded generator, so a seed gives
the same store every time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import polars as pl

from breachline.generate.vec import ip_strings, ip_to_int

# ---------------------------------------------------------------------------------------------- tenants
EU_STORE = "eu-store"  # Adobe Commerce 2.4: AWS WAF (ALB), nginx + ModSecurity v3, action-log tables dumped as JSON
B2B_STORE = "b2b-store"  # Adobe Commerce 2.3: Cloudflare, Apache + ModSecurity v2, action log exported as CSV
US_STORE = "us-store"  # Shopify Plus: Admin REST events

EU_HOST = "shop.example.com"
B2B_HOST = "b2b.example.com"
B2B_API_HOST = "api.b2b.example.com"
MEDIA_HOST = "media.example.com"
SHOPIFY_DOMAIN = "us-store.myshopify.com"

# ---------------------------------------------------------------------------------------- allow-lists
# Outbound webhooks may only go to these hosts, and only over https.
APPROVED_WEBHOOK_HOSTS: tuple[str, ...] = (
    "hooks.loyalty.example.com",
    "erp.partner.example.net",
    "api.crm.example.org",
    "hooks.shipping.example.com",
    "events.marketing.example.net",
)
# Hosts the injected `pii-to-untrusted-webhook` scenarios send to (plus http:// to an approved host).
UNTRUSTED_WEBHOOK_HOSTS: tuple[str, ...] = (
    "webhook-relay.example",
    "collector.data-sync.example",
    "requestbin.example",
    "hooks.partner-sync.example",
    "data-export.example",
    "webhook.free-integrations.example",
)
# Third-party scripts on the checkout may only talk to these hosts.
ALLOWED_SCRIPT_HOSTS: tuple[str, ...] = (
    "api.stripe.com",
    "js.stripe.com",
    "m.stripe.network",
    "www.google-analytics.com",
    "www.googletagmanager.com",
    "static.cdn.example.com",
)
# Off-site collectors used by the injected `payment-token-offsite-script` scenarios (a skimmer).
OFFSITE_SCRIPT_HOSTS: tuple[str, ...] = (
    "cdn-analytics.example",
    "jquery-static.example",
    "payment-verify.example",
    "static-cdnjs.example",
    "google-analytics-cdn.example",
    "checkout-metrics.example",
    "assets-magento.example",
    "pay-secure-verify.example",
)

SUPPORT_HOURS_UTC = (8, 20)  # login-as-customer is expected 08:00-20:00 UTC, by support staff only


@dataclass(frozen=True)
class Role:
    role_id: int
    name: str
    resources: str  # ACL resources as Magento shows them; Magento_Backend::all is "full permission"


ROLES: dict[str, Role] = {
    r.name: r
    for r in (
        Role(1, "Administrators", "Magento_Backend::all"),
        Role(2, "Support", "Magento_Customer::manage,Magento_LoginAsCustomer::login,Magento_Sales::actions_view"),
        Role(3, "Marketing", "Magento_Cms::page,Magento_CatalogRule::promo,Magento_Newsletter::newsletter"),
        Role(4, "Catalog", "Magento_Catalog::products,Magento_Catalog::categories"),
        Role(5, "Content", "Magento_Cms::page,Magento_Cms::block"),
        Role(6, "Operations", "Magento_Sales::sales,Magento_Sales::shipment"),
        Role(7, "Finance", "Magento_Sales::sales_invoice,Magento_Reports::report"),
        Role(8, "ERP Integration", "Magento_Customer::manage,Magento_ImportExport::export,Magento_Sales::sales"),
    )
}
FULL_PERMISSION_ROLE = ROLES["Administrators"]


@dataclass(frozen=True)
class Admin:
    username: str
    user_id: int
    role: str
    email: str
    office_ip: str
    is_support: bool = False
    is_service: bool = False


# The same people have accounts on both Magento instances (user ids differ per instance: see admin_user_id()).
_STAFF: tuple[tuple[str, str], ...] = (
    ("admin", "Administrators"),
    ("support.anna", "Support"),
    ("support.ben", "Support"),
    ("support.carla", "Support"),
    ("support.dmitri", "Support"),
    ("marketing.lee", "Marketing"),
    ("catalog.maria", "Catalog"),
    ("content.sam", "Content"),
    ("ops.tom", "Operations"),
    ("finance.julia", "Finance"),
    ("erp-sync", "ERP Integration"),
)
SUPPORT_STAFF: tuple[str, ...] = tuple(u for u, r in _STAFF if r == "Support")
ERP_USER = "erp-sync"
# Staff who could escalate themselves (everyone but the existing administrator, support and the service user).
ESCALATION_CANDIDATES: tuple[str, ...] = ("marketing.lee", "catalog.maria", "content.sam", "ops.tom", "finance.julia")
NON_SUPPORT_STAFF: tuple[str, ...] = ("marketing.lee", "catalog.maria", "content.sam", "ops.tom", "finance.julia")

OFFICE_IPS = ("81.2.69.142", "81.2.69.160")  # the company's two office egress addresses
ERP_IP = "52.58.20.11"  # the ERP's data-centre egress


@dataclass(frozen=True)
class ApiClient:
    name: str
    ip: str
    user_agent: str
    weight: float
    endpoints: tuple[str, ...]  # which resource kinds it reads: product, order, stock, customer, cart


API_CLIENTS: tuple[ApiClient, ...] = (
    ApiClient(ERP_USER, ERP_IP, "erp-sync/4.2 (+https://erp.partner.example.net)", 0.30, ("product", "order", "stock")),
    ApiClient("pim-connector", "18.196.44.7", "pim-connector/2.8.1 GuzzleHttp/7", 0.22, ("product", "stock")),
    ApiClient("shipping-bridge", "35.157.90.23", "shipping-bridge/1.14 python-requests/2.31.0", 0.18, ("order",)),
    ApiClient("loyalty-sync", "3.120.11.54", "loyalty-sync/3.0 okhttp/4.12.0", 0.10, ("customer", "order")),
    ApiClient("mobile-app", "34.89.201.9", "ShopApp/5.3.0 (iOS 17.4; Alamofire/5.8)", 0.12, ("product", "cart", "customer")),
    ApiClient("reviews-widget", "104.196.7.31", "reviews-widget/1.2 node-fetch/3.3", 0.08, ("product",)),
)
# Clients whose token is "stolen" in the api-client-customer-scraping scenario (never the ERP: its nightly
# paging is the benign look-alike).
SCRAPER_CANDIDATES: tuple[str, ...] = ("mobile-app", "reviews-widget", "loyalty-sync", "pim-connector")


@dataclass(frozen=True)
class App:
    name: str
    webhook_url: str  # approved endpoint (https, host on APPROVED_WEBHOOK_HOSTS)
    topics: tuple[str, ...]


APPS: tuple[App, ...] = (
    App("loyalty-sync", "https://hooks.loyalty.example.com/magento/orders", ("order", "customer")),
    App(ERP_USER, "https://erp.partner.example.net/inbound/magento", ("order", "invoice")),
    App("crm-bridge", "https://api.crm.example.org/v2/webhooks/commerce", ("customer",)),
    App("shipping-bridge", "https://hooks.shipping.example.com/orders/created", ("order", "shipment")),
    App("marketing-hub", "https://events.marketing.example.net/collect/magento", ("customer", "newsletter")),
)


@dataclass(frozen=True)
class Script:
    name: str
    url: str  # where the benign version of the script sends its requests


SCRIPTS: tuple[Script, ...] = (
    Script("stripe-js", "https://api.stripe.com/v1/payment_methods"),
    Script("stripe-m", "https://m.stripe.network/inner.html"),
    Script("ga4", "https://www.google-analytics.com/g/collect"),
    Script("gtm", "https://www.googletagmanager.com/gtm.js"),
    Script("cdn-assets", "https://static.cdn.example.com/js/checkout-ui.min.js"),
)
# Names of the (compromised) third-party scripts in payment-token-offsite-script scenarios.
SKIMMER_SCRIPTS: tuple[str, ...] = ("chat-widget", "ab-testing", "reviews-carousel")

# -------------------------------------------------------------------------------------------- networks
# (first two octets, ISO country). Disjoint /16s per population, so no scenario address appears in noise.
CUSTOMER_NETS: tuple[tuple[str, str], ...] = (
    ("84.128", "DE"), ("91.64", "DE"), ("178.24", "DE"), ("93.192", "DE"), ("90.12", "FR"), ("176.128", "FR"),
    ("86.150", "GB"), ("82.132", "GB"), ("145.53", "NL"), ("77.160", "NL"), ("79.20", "IT"), ("83.44", "ES"),
    ("83.24", "PL"), ("90.229", "SE"), ("62.178", "AT"), ("85.1", "CH"), ("73.14", "US"), ("98.207", "US"),
    ("24.34", "US"), ("142.112", "CA"), ("89.64", "BE"), ("188.83", "DK"),
)
BOT_NETS: tuple[tuple[str, str], ...] = (
    ("45.155", "RU"), ("185.220", "DE"), ("103.145", "VN"), ("193.42", "RU"), ("167.94", "US"),
    ("159.65", "DE"), ("139.59", "SG"), ("45.95", "NL"), ("198.98", "US"), ("61.177", "CN"),
)
# Addresses of staff-searching / NAT users whose searches trip the SQLi rule in COUNT mode (benign look-alike).
SEARCH_FP_NETS: tuple[tuple[str, str], ...] = (("62.159", "GB"), ("87.79", "DE"), ("212.58", "FR"))
ATTACKER_NETS: tuple[tuple[str, str], ...] = (
    ("5.188", "RU"), ("194.26", "NL"), ("146.70", "US"), ("91.243", "UA"), ("195.123", "LV"), ("176.113", "RU"),
)

FIRST_NAMES = ["Emma", "Liam", "Olivia", "Noah", "Ava", "Elias", "Mia", "Lukas", "Sofia", "Leon", "Hannah", "Finn", "Lea", "Paul", "Clara", "Jonas", "Marie", "Felix", "Anna", "Max", "Julia", "Louis", "Chloe", "Hugo", "Alice", "Jack", "Grace", "Oscar", "Amelia", "Henry", "Isla", "George", "Freya", "Arthur", "Lucia", "Mateo", "Martina", "Leo", "Giulia", "Marco", "Sara", "Luca", "Laura", "Pablo", "Elena", "Jan", "Zofia", "Kacper", "Maja", "Erik", "Astrid", "Lars", "Ingrid", "Jesse", "Fleur", "Daan", "Noor", "Bram", "Tess", "Sven", "Ella", "Milan", "Nina", "Ethan", "Chloe", "Mason", "Lily", "Logan", "Zoe", "Lucas", "Aria", "Owen", "Nora", "James", "Mila"]
LAST_NAMES = ["Mueller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Evans", "Walker", "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Garcia", "Martinez", "Lopez", "Sanchez", "Perez", "Gomez", "Nowak", "Kowalski", "Wisniewski", "Andersson", "Johansson", "Karlsson", "Nilsson", "Jansen", "deVries", "Bakker", "Visser", "Smit", "Meijer", "Norman", "OBrien", "Miller", "Davis", "Anderson", "Moore", "Jackson", "White", "Harris", "Clark", "Lewis", "Young", "Hall", "Allen", "King", "Wright", "Scott", "Green", "Baker"]
CITIES = {
    "DE": ("Berlin", "10115"), "FR": ("Lyon", "69001"), "GB": ("Leeds", "LS1 4AP"), "NL": ("Utrecht", "3511"),
    "IT": ("Milano", "20121"), "ES": ("Valencia", "46001"), "PL": ("Krakow", "30-001"), "SE": ("Uppsala", "753 10"),
    "AT": ("Graz", "8010"), "CH": ("Basel", "4051"), "US": ("Austin", "78701"), "CA": ("Ottawa", "K1P 1J1"),
    "BE": ("Gent", "9000"), "DK": ("Aarhus", "8000"),
}
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com")

CUSTOMER_ID_BASE = 1000  # Magento entity ids start here; app_json writes them as "c-<id>"


def customer_ref(entity_id: int) -> str:
    """How app_json names a customer (see docs/formats/app_json.md examples)."""
    return f"c-{entity_id}"


def admin_user_id(username: str, tenant: str) -> int:
    """Admin user ids per Magento instance (the b2b instance's users were created later, so ids differ)."""
    idx = [u for u, _ in _STAFF].index(username)
    return idx + 1 if tenant == EU_STORE else idx + 31


def _ips_in(rng: np.random.Generator, nets: tuple[tuple[str, str], ...], n: int) -> tuple[np.ndarray, np.ndarray]:
    """n random addresses in the given /16s; returns (uint32 addresses, index of the net for each)."""
    which = rng.integers(0, len(nets), n)
    prefixes = np.array([ip_to_int(f"{p}.0.0") for p, _ in nets], dtype=np.int64)
    low = rng.integers(1, 65_534, n)
    return (prefixes[which] + low).astype(np.uint32), which


@dataclass
class IpPool:
    """A population of client addresses with their countries."""

    ips: pl.Series  # dotted strings
    countries: pl.Series  # ISO alpha-2, upper case
    ints: np.ndarray = field(repr=False)

    @classmethod
    def draw(cls, rng: np.random.Generator, nets: tuple[tuple[str, str], ...], n: int) -> IpPool:
        ints, which = _ips_in(rng, nets, n)
        ints, first = np.unique(ints, return_index=True)  # distinct addresses
        which = which[first]
        countries = pl.Series(values=[c for _, c in nets], dtype=pl.String).gather(which)
        return cls(ip_strings(ints), countries, ints)

    def __len__(self) -> int:
        return len(self.ips)


@dataclass
class Store:
    """Everything the noise generators and scenarios draw actors from."""

    n_customers: int
    first: pl.Series
    last: pl.Series
    email: pl.Series
    phone: pl.Series
    country: pl.Series
    city: pl.Series
    postcode: pl.Series
    customer_ip: pl.Series  # a customer's usual address
    customer_nets: IpPool  # anonymous visitors
    bots: IpPool
    search_fp: IpPool
    attackers: IpPool
    admins: dict[str, Admin]
    catalog: pl.Series  # product URL slugs

    def customer_id(self, idx: int) -> int:
        return CUSTOMER_ID_BASE + idx

    def customer(self, idx: int) -> dict[str, Any]:
        """One customer's record as plain Python values (for scenarios)."""
        return {
            "entity_id": CUSTOMER_ID_BASE + idx,
            "ref": customer_ref(CUSTOMER_ID_BASE + idx),
            "first": self.first[idx],
            "last": self.last[idx],
            "email": self.email[idx],
            "phone": self.phone[idx],
            "country": self.country[idx],
            "city": self.city[idx],
            "postcode": self.postcode[idx],
            "ip": self.customer_ip[idx],
        }


@lru_cache(maxsize=4)  # a Store is never mutated; tests and reruns in one process reuse it
def build_store(seed: int, n_customers: int = 40_000) -> Store:
    rng = np.random.default_rng([seed, 0])
    fi = rng.integers(0, len(FIRST_NAMES), n_customers)
    li = rng.integers(0, len(LAST_NAMES), n_customers)
    first = pl.Series(values=FIRST_NAMES, dtype=pl.String).gather(fi)
    last = pl.Series(values=LAST_NAMES, dtype=pl.String).gather(li)
    ids = pl.Series(values=np.arange(CUSTOMER_ID_BASE, CUSTOMER_ID_BASE + n_customers), dtype=pl.Int64)
    dom = pl.Series(values=EMAIL_DOMAINS, dtype=pl.String).gather(rng.integers(0, len(EMAIL_DOMAINS), n_customers))
    cust_ints, which = _ips_in(rng, CUSTOMER_NETS, n_customers)
    country = pl.Series(values=[c for _, c in CUSTOMER_NETS], dtype=pl.String).gather(which)
    city_tbl = pl.DataFrame(
        {"country": list(CITIES), "city": [v[0] for v in CITIES.values()], "postcode": [v[1] for v in CITIES.values()]}
    )
    df = pl.DataFrame({"first": first, "last": last, "id": ids, "dom": dom, "country": country}).with_columns(
        email=pl.concat_str(
            [pl.col("first").str.to_lowercase(), pl.lit("."), pl.col("last").str.to_lowercase(), pl.col("id").cast(pl.String),
             pl.lit("@"), pl.col("dom")]
        ),
        phone=pl.concat_str([pl.lit("+1 555 01"), (pl.col("id") % 100).cast(pl.String).str.zfill(2), pl.lit(" "),
                             (pl.col("id") * 7919 % 10_000).cast(pl.String).str.zfill(4)]),
    ).join(city_tbl, on="country", how="left", maintain_order="left")
    admins: dict[str, Admin] = {}
    for username, role in _STAFF:
        office = OFFICE_IPS[len(admins) % 2]
        admins[username] = Admin(
            username=username,
            user_id=admin_user_id(username, EU_STORE),
            role=role,
            email=f"{username}@staff.example.com",
            office_ip=ERP_IP if username == ERP_USER else office,
            is_support=role == "Support",
            is_service=username == ERP_USER,
        )
    slugs = [
        f"{cat}/{adj}-{item}-{n}.html"
        for n, (cat, adj, item) in enumerate(
            (c, a, i)
            for c in ("women", "men", "gear", "sale", "home")
            for a in ("classic", "organic", "slim", "vintage", "urban", "alpine")
            for i in ("tee", "hoodie", "jacket", "backpack", "bottle", "sneaker", "scarf", "lamp")
        )
    ]
    return Store(
        n_customers=n_customers,
        first=df["first"],
        last=df["last"],
        email=df["email"],
        phone=df["phone"],
        country=df["country"],
        city=df["city"],
        postcode=df["postcode"],
        customer_ip=ip_strings(cust_ints),
        customer_nets=IpPool.draw(rng, CUSTOMER_NETS, 60_000),
        bots=IpPool.draw(rng, BOT_NETS, 400),
        search_fp=IpPool.draw(rng, SEARCH_FP_NETS, 300),
        attackers=IpPool.draw(rng, ATTACKER_NETS, 200),
        admins=admins,
        catalog=pl.Series(values=slugs, dtype=pl.String),
    )
