"""breachline's own `app_json` (docs/formats/app_json.md): storefront, API, checkout, DSR, webhook and script events.

Absent values are left out of the record (never written as null). `ts` is RFC 3339 with milliseconds, except
for the webhook dispatcher and the checkout script collector, which emit epoch milliseconds (both allowed by the
spec, and a parser must handle both).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import numpy as np
import polars as pl

from breachline.generate.formats.base import DayContext, FormatWriter, Rendered, Schema, by_time
from breachline.generate.formats.http_pools import (
    BROWSER_UA_WEIGHTS,
    BROWSER_UAS,
    STOREFRONT_ROUTES,
    sample_routes,
)
from breachline.generate.jsonrender import render_objects
from breachline.generate.model import (
    API_CLIENTS,
    APPS,
    B2B_HOST,
    B2B_STORE,
    CUSTOMER_ID_BASE,
    ERP_IP,
    ERP_USER,
    EU_HOST,
    EU_STORE,
    SCRIPTS,
    SUPPORT_STAFF,
    Store,
)
from breachline.generate.vec import (
    DAY_US,
    US,
    cat,
    const,
    day_times,
    frame,
    iso_ms_z,
    lognormal_int,
    nulls,
    pick,
    random_strings,
    scatter,
    where,
)

SCHEMA: Schema = {
    "ts": pl.Int64,
    "id": pl.String,
    "kind": pl.String,
    "action": pl.String,
    "outcome": pl.String,
    "tenant": pl.String,
    "actor_user": pl.String,
    "actor_user_id": pl.String,
    "actor_role": pl.String,
    "actor_session_id": pl.String,
    "actor_customer_id": pl.String,
    "actor_api_client": pl.String,
    "actor_app": pl.String,
    "src_ip": pl.String,
    "src_country": pl.String,
    "src_user_agent": pl.String,
    "http_method": pl.String,
    "http_host": pl.String,
    "http_path": pl.String,
    "http_query": pl.String,
    "http_status": pl.Int64,
    "http_request_bytes": pl.Int64,
    "http_response_bytes": pl.Int64,
    "resource_type": pl.String,
    "resource_id": pl.String,
    "resource_owner_id": pl.String,
    "resource_record_count": pl.Int64,
    "dst_url": pl.String,
    "message": pl.String,
    "body": pl.String,
}

# JSON layout: (key, column) for scalars, (key, [children]) for objects; order as in the spec's table.
LAYOUT: list[tuple[str, Any]] = [
    ("ts", "ts"), ("id", "id"), ("kind", "kind"), ("action", "action"), ("outcome", "outcome"), ("tenant", "tenant"),
    ("actor", [("user", "actor_user"), ("user_id", "actor_user_id"), ("role", "actor_role"),
               ("session_id", "actor_session_id"), ("customer_id", "actor_customer_id"),
               ("api_client", "actor_api_client"), ("app", "actor_app")]),
    ("src", [("ip", "src_ip"), ("country", "src_country"), ("user_agent", "src_user_agent")]),
    ("http", [("method", "http_method"), ("host", "http_host"), ("path", "http_path"), ("query", "http_query"),
              ("status", "http_status"), ("request_bytes", "http_request_bytes"),
              ("response_bytes", "http_response_bytes")]),
    ("resource", [("type", "resource_type"), ("id", "resource_id"), ("owner_id", "resource_owner_id"),
                  ("record_count", "resource_record_count")]),
    ("dst", [("url", "dst_url")]),
    ("message", "message"), ("body", "body"),
]
EPOCH_KINDS = ("webhook", "script")


# Columns whose values come from fixed pools (user agents, routes, hosts, staff) or are built from ids and
# percent-encoded queries: quoting suffices, escaping is only paid for free text (message, body). Every record
# is parsed back as JSON in the tests, which would catch a value that needs escaping.
UNESCAPED = frozenset({
    "id", "kind", "action", "outcome", "tenant", "actor_user", "actor_user_id", "actor_role", "actor_session_id",
    "actor_customer_id", "actor_api_client", "actor_app", "src_ip", "src_country", "src_user_agent", "http_method",
    "http_host", "http_path", "http_query", "resource_type", "resource_id", "resource_owner_id", "dst_url",
})


def render_lines(df: pl.DataFrame) -> pl.Series:
    ts = pl.when(pl.col("kind").is_in(EPOCH_KINDS)).then((pl.col("ts") // 1000).cast(pl.String)).otherwise(
        pl.concat_str([pl.lit('"'), pl.col("_iso"), pl.lit('"')]))
    df = df.with_columns(_iso=iso_ms_z(df["ts"]))
    return render_objects(df, LAYOUT, raw={"ts": ts}, unescaped=UNESCAPED)


def customer_body(store: Store, idx: np.ndarray) -> pl.Series:
    """A customer record as the REST API / account page returns it (PII: name, email, phone, address)."""
    return cat(
        '{"id":', pl.Series(values=idx + CUSTOMER_ID_BASE), ',"email":"', store.email.gather(idx),
        '","firstname":"', store.first.gather(idx), '","lastname":"', store.last.gather(idx),
        '","addresses":[{"telephone":"', store.phone.gather(idx), '","city":"', store.city.gather(idx),
        '","postcode":"', store.postcode.gather(idx), '","country_id":"', store.country.gather(idx), '"}]}',
    )


def order_body(store: Store, idx: np.ndarray, order_ids: pl.Series) -> pl.Series:
    return cat(
        '{"increment_id":"', order_ids, '","customer_email":"', store.email.gather(idx), '","customer_firstname":"',
        store.first.gather(idx), '","customer_lastname":"', store.last.gather(idx), '","billing_address":{"city":"',
        store.city.gather(idx), '","telephone":"', store.phone.gather(idx), '"},"grand_total":',
        pl.Series(values=(idx % 9000) / 100 + 19.9).round(2), ',"payment":{"method":"stripe_payments","cc_last4":"',
        pl.Series(values=(idx * 37 % 10_000)).cast(pl.String).str.zfill(4), '"}}',
    )


def cref(idx: np.ndarray) -> pl.Series:
    """app_json customer references ("c-1042") for customer indexes."""
    return cat("c-", pl.Series(values=idx + CUSTOMER_ID_BASE))


def order_ids(rng: np.random.Generator, n: int) -> pl.Series:
    return cat("0000", pl.Series(values=rng.integers(10_000, 99_999, n)))


class AppJsonWriter(FormatWriter):
    name: ClassVar[str] = "app_json"
    share: ClassVar[float] = 0.41
    schemas: ClassVar[dict[str, Schema]] = {"app": SCHEMA}

    def path(self, stream: str, date: dt.date) -> str:
        return f"app-{date.isoformat()}.jsonl"

    def render(self, stream: str, df: pl.DataFrame) -> Rendered:
        return by_time(df, render_lines(df))

    def noise(self, ctx: DayContext) -> dict[str, pl.DataFrame]:
        rng, n = ctx.rng, ctx.n
        n_dsr = max(1, n // 40_000)
        n_erp = min(80, max(5, n // 400))  # the ERP's nightly paging through customers
        rest = max(0, n - n_dsr - n_erp)
        kinds = rng.choice(5, size=rest, p=[0.72, 0.14, 0.09, 0.03, 0.02])
        parts = [
            self._storefront(ctx, int((kinds == 0).sum())),
            self._api(ctx, int((kinds == 1).sum())),
            self._checkout(ctx, int((kinds == 2).sum())),
            self._webhook(ctx, int((kinds == 3).sum())),
            self._script(ctx, int((kinds == 4).sum())),
            self._dsr(ctx, n_dsr),
            self._erp_export(ctx, n_erp),
        ]
        return {"app": pl.concat(parts, how="vertical")}

    # ----------------------------------------------------------------------------------------------------
    @staticmethod
    def _ids(rng: np.random.Generator, n: int) -> pl.Series:
        return cat("req-", random_strings(rng, n, 20))

    def _storefront(self, ctx: DayContext, n: int) -> pl.DataFrame:
        rng, store = ctx.rng, ctx.store
        ts = day_times(rng, ctx.start_us, n)
        logged_in = rng.random(n) < 0.4
        # a day's active customers: a few thousand, each with one session id for the day
        active = rng.choice(store.n_customers, size=max(1, min(store.n_customers, n // 6)), replace=False)
        who = active[rng.integers(0, len(active), n)]
        sess_tbl = random_strings(rng, len(active), 26, "alnum")
        uniq_pos = np.searchsorted(np.sort(active), who)
        sess = sess_tbl.gather(uniq_pos)
        anon_sess = random_strings(rng, n, 26, "alnum")
        method, path, query = sample_routes(rng, n, STOREFRONT_ROUTES, store.catalog)
        # logged-in customers also look at their own account and orders
        act = np.where(logged_in, rng.choice(4, size=n, p=[0.72, 0.12, 0.10, 0.06]), 0)
        actions = pl.Series(values=["page_view", "account_view", "order_view", "login"]).gather(act)
        oid = order_ids(rng, n)
        path = where(act == 1, const("/customer/account/", n),
                     where(act == 2, cat("/sales/order/view/order_id/", oid, "/"),
                           where(act == 3, const("/customer/account/loginPost/", n), path)))
        method = where(act == 3, const("POST", n), method)
        query = where(act == 0, query, const("", n))
        failed_login = (act == 3) & (rng.random(n) < 0.05)
        status = np.where(failed_login, 401, np.where(rng.random(n) < 0.01, 404, 200))
        cust = cref(who)
        own = act == 1
        with_body = (act == 1) | (act == 2)
        body_mask = with_body & (rng.random(n) < 0.3)
        cust_body, order_rows = body_mask & own, body_mask & ~own
        body = scatter(n, cust_body, customer_body(store, who[cust_body]))
        body = scatter(n, order_rows, order_body(store, who[order_rows], oid.filter(pl.Series(values=order_rows))), body)
        ip = where(logged_in, store.customer_ip.gather(who), store.customer_nets.ips.gather(rng.integers(0, len(store.customer_nets), n)))
        tenant_b2b = rng.random(n) < 0.15
        return frame(SCHEMA, n, {
            "ts": ts, "id": self._ids(rng, n), "kind": "storefront", "action": actions,
            "tenant": where(tenant_b2b, const(B2B_STORE, n), const(EU_STORE, n)),
            "actor_session_id": where(logged_in, sess, anon_sess), "actor_customer_id": where(logged_in, cust, nulls(n)),
            "src_ip": ip, "src_user_agent": pick(rng, BROWSER_UAS, n, BROWSER_UA_WEIGHTS),
            "http_method": method, "http_host": where(tenant_b2b, const(B2B_HOST, n), const(EU_HOST, n)),
            "http_path": path, "http_query": where(query == "", nulls(n), query), "http_status": status,
            "http_response_bytes": lognormal_int(rng, n, 48_000, 0.6, 800, 900_000),
            "resource_type": where(act == 1, const("customer", n), where(act == 2, const("order", n), nulls(n))),
            "resource_id": where(act == 1, cust, where(act == 2, oid, nulls(n))),
            "resource_owner_id": where(with_body, cust, nulls(n)),
            "body": body,
        })

    def _api(self, ctx: DayContext, n: int) -> pl.DataFrame:
        """Integrations reading products, stock and orders; customer reads only for a handful of customers each
        (the benign side of api-client-customer-scraping)."""
        rng, store = ctx.rng, ctx.store
        ts = day_times(rng, ctx.start_us, n, hourly=np.full(24, 1 / 24))
        weights = np.array([c.weight for c in API_CLIENTS])
        ci = rng.choice(len(API_CLIENTS), size=n, p=weights / weights.sum())
        # each client's endpoint kind, uniform over what it reads
        kinds = ("product", "stock", "order", "cart", "customer")
        allowed = np.array([[k in c.endpoints for k in kinds] for c in API_CLIENTS], dtype=np.float64)
        cum = np.cumsum(allowed / allowed.sum(axis=1, keepdims=True), axis=1)
        k = (rng.random(n)[:, None] > cum[ci]).sum(axis=1)
        k = np.minimum(k, len(kinds) - 1)
        few = rng.choice(store.n_customers, size=(len(API_CLIENTS), 5), replace=False)  # today's few customers
        cust_idx = few[ci, rng.integers(0, 5, n)]
        any_cust = rng.integers(0, store.n_customers, n)
        pid = pl.Series(values=rng.integers(1, 4_000, n)).cast(pl.String)
        oid = order_ids(rng, n)
        sku = cat("SKU-", pid)
        paths = [cat("/rest/V1/products/", sku), cat("/rest/V1/stockItems/", sku), cat("/rest/V1/orders/", oid),
                 const("/rest/V1/carts/mine", n), cat("/rest/V1/customers/", pl.Series(values=cust_idx + CUSTOMER_ID_BASE))]
        path = paths[0]
        for j in range(1, len(kinds)):
            path = where(k == j, paths[j], path)
        owner = where(k == 4, cref(cust_idx), where(k == 2, cref(any_cust), nulls(n)))
        rtype = pl.Series(values=list(kinds)).gather(k)
        rid = where(k == 4, cref(cust_idx), where(k == 2, oid, where(k == 3, nulls(n), sku)))
        with_body = (k == 4) & (rng.random(n) < 0.5)
        body = scatter(n, with_body, customer_body(store, cust_idx[with_body]))
        clients = pl.Series(values=[c.name for c in API_CLIENTS])
        return frame(SCHEMA, n, {
            "ts": ts, "id": self._ids(rng, n), "kind": "api", "action": "api_request", "tenant": EU_STORE,
            "actor_api_client": clients.gather(ci), "src_ip": pl.Series(values=[c.ip for c in API_CLIENTS]).gather(ci),
            "src_user_agent": pl.Series(values=[c.user_agent for c in API_CLIENTS]).gather(ci),
            "http_method": "GET", "http_host": EU_HOST, "http_path": path,
            "http_status": np.where(rng.random(n) < 0.02, 404, 200),
            "http_response_bytes": lognormal_int(rng, n, 3_500, 0.7, 300, 120_000),
            "resource_type": rtype, "resource_id": rid, "resource_owner_id": owner,
            "resource_record_count": np.ones(n, dtype=np.int64), "body": body,
        })

    def _checkout(self, ctx: DayContext, n: int) -> pl.DataFrame:
        rng, store = ctx.rng, ctx.store
        ts = day_times(rng, ctx.start_us, n)
        who = rng.integers(0, store.n_customers, n)
        guest = rng.random(n) < 0.35
        declined = rng.random(n) < 0.04
        last4 = pick(rng, ("4242", "0002", "4444", "0005", "1117", "9995"), n)
        msg = where(declined, cat("Payment authorization declined for card ending ", last4, " (do_not_honor)"), nulls(n))
        return frame(SCHEMA, n, {
            "ts": ts, "id": self._ids(rng, n), "kind": "checkout", "action": "checkout", "tenant": EU_STORE,
            "actor_session_id": random_strings(rng, n, 26, "alnum"),
            "actor_customer_id": where(guest, nulls(n), cref(who)), "src_ip": store.customer_ip.gather(who),
            "src_user_agent": pick(rng, BROWSER_UAS, n, BROWSER_UA_WEIGHTS), "http_method": "POST",
            "http_host": EU_HOST,
            "http_path": where(guest, const("/rest/eu_store/V1/guest-carts/payment-information", n),
                               const("/rest/eu_store/V1/carts/mine/payment-information", n)),
            "http_status": np.where(declined, 400, 200),
            "http_request_bytes": lognormal_int(rng, n, 1_800, 0.3, 400, 9_000),
            "http_response_bytes": lognormal_int(rng, n, 120, 0.3, 20, 2_000),
            "resource_type": "order", "resource_owner_id": where(guest, nulls(n), cref(who)), "message": msg,
        })

    def _webhook(self, ctx: DayContext, n: int) -> pl.DataFrame:
        """Apps receiving order/customer payloads at their approved https endpoints (PII to trusted hosts)."""
        rng, store = ctx.rng, ctx.store
        ts = day_times(rng, ctx.start_us, n)
        ai = rng.integers(0, len(APPS), n)
        who = rng.integers(0, store.n_customers, n)
        oid = order_ids(rng, n)
        is_order = rng.random(n) < 0.7
        return frame(SCHEMA, n, {
            "ts": ts, "id": cat("whk-", random_strings(rng, n, 20)), "kind": "webhook", "action": "webhook_delivery",
            "tenant": EU_STORE, "actor_app": pl.Series(values=[a.name for a in APPS]).gather(ai),
            "http_method": "POST", "http_status": np.where(rng.random(n) < 0.03, 503, 200),
            "http_request_bytes": lognormal_int(rng, n, 1_400, 0.4, 200, 20_000),
            "resource_type": where(is_order, const("order", n), const("customer", n)),
            "resource_id": where(is_order, oid, cref(who)), "resource_owner_id": cref(who),
            "dst_url": pl.Series(values=[a.webhook_url for a in APPS]).gather(ai),
            "body": where(is_order, order_body(store, who, oid), customer_body(store, who)),
        })

    def _script(self, ctx: DayContext, n: int) -> pl.DataFrame:
        """Checkout scripts calling their own (allow-listed) hosts; Stripe.js carries payment tokens."""
        rng, store = ctx.rng, ctx.store
        ts = day_times(rng, ctx.start_us, n)
        si = rng.integers(0, len(SCRIPTS), n)
        stripe = si == 0
        token = cat('{"type":"card","payment_method":"pm_', random_strings(rng, n, 24, "alnum"), '"}')
        ga = cat("v=2&tid=G-EX4MPLE1&cid=", pl.Series(values=rng.integers(10**8, 10**9, n)).cast(pl.String),
                 "&en=begin_checkout")
        who = rng.integers(0, store.n_customers, n)
        return frame(SCHEMA, n, {
            "ts": ts, "id": cat("scr-", random_strings(rng, n, 20)), "kind": "script", "action": "script_request",
            "tenant": EU_STORE, "actor_app": pl.Series(values=[s.name for s in SCRIPTS]).gather(si),
            "actor_session_id": random_strings(rng, n, 26, "alnum"), "actor_customer_id": cref(who),
            "src_ip": store.customer_ip.gather(who), "http_method": "POST", "http_status": 200,
            "dst_url": pl.Series(values=[s.url for s in SCRIPTS]).gather(si),
            "body": where(stripe, token, where(si == 2, ga, nulls(n))),
        })

    def _dsr(self, ctx: DayContext, n: int) -> pl.DataFrame:
        """Data-subject requests answered with the requester's own records."""
        rng, store = ctx.rng, ctx.store
        ts = day_times(rng, ctx.start_us, n, hourly=np.full(24, 1 / 24))
        who = rng.integers(0, store.n_customers, n)
        return frame(SCHEMA, n, {
            "ts": ts, "id": cat("dsr-", random_strings(rng, n, 16)), "kind": "dsr", "action": "dsr_response",
            "tenant": EU_STORE, "actor_user": pick(rng, SUPPORT_STAFF, n), "actor_customer_id": cref(who),
            "http_method": "GET", "http_host": EU_HOST, "http_path": "/privacy/dsr/export", "http_status": 200,
            "resource_type": "customer", "resource_id": cref(who), "resource_owner_id": cref(who),
            "resource_record_count": rng.integers(2, 40, n), "body": customer_body(store, who),
        })

    def _erp_export(self, ctx: DayContext, n: int) -> pl.DataFrame:
        """02:00 nightly: the ERP pages through all customers, ~1 MB per page (large, but expected)."""
        rng = ctx.rng
        start = ctx.start_us + 2 * 3_600 * US + int(rng.integers(0, 120)) * US
        ts = start + np.cumsum(rng.integers(8 * US, 25 * US, n))
        ts = np.minimum(ts, ctx.start_us + DAY_US - 1)
        client = next(c for c in API_CLIENTS if c.name == ERP_USER)
        page = pl.Series(values=np.arange(1, n + 1)).cast(pl.String)
        return frame(SCHEMA, n, {
            "ts": ts, "id": self._ids(rng, n), "kind": "api", "action": "api_request", "tenant": EU_STORE,
            "actor_api_client": ERP_USER, "src_ip": ERP_IP, "src_user_agent": client.user_agent,
            "http_method": "GET", "http_host": EU_HOST, "http_path": "/rest/V1/customers/search",
            "http_query": cat("searchCriteria[pageSize]=500&searchCriteria[currentPage]=", page),
            "http_status": 200, "http_response_bytes": lognormal_int(rng, n, 1_050_000, 0.15, 600_000, 1_900_000),
            "resource_type": "customer", "resource_record_count": const(500, n, pl.Int64),
        })
