"""Adobe Commerce admin audit data (shared/external/magento):

- `logging_event`: rows of `magento_logging_event` (the Action Log table) of the eu-store instance, dumped as
  JSON lines. `ip` / `x_forwarded_ip` are integers (ip2long), as the table stores them (0 = none).
- `export_csv`: the b2b-store admin's Action Log report export (System > Action Logs > Report > Export CSV):
  columns Time, Action Group, Action, IP Address, Username, Result, Full Action Name, Details, with the grid's
  display values (labels, dotted IPs, `Nov 1, 2026 2:00:03 AM` in the admin locale, set to UTC).
- `lac`: rows of `magento_login_as_customer_log` (eu-store).
- `session`: rows of `admin_user_session` (eu-store), the day's sessions as they stood at the end of the day.

`info` (the report's Details) conventions, used by the scenarios and the benign look-alikes alike:
exports `customer: 48211 records exported to var/export/customer_20261101_020112.csv` (Data Transfer) or
`customer_listing: 120 records` (grid export); role saves `role=Administrators; role_id=1; resources=Magento_Backend::all; users=...`;
user saves `user=...; user_id=..; role=...; role_id=..`; views and saves the entity id.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import polars as pl

from breachline.generate.formats.base import DayContext, FormatWriter, Rendered, Schema
from breachline.generate.model import (
    B2B_STORE,
    CUSTOMER_ID_BASE,
    ERP_USER,
    EU_STORE,
    ROLES,
    SUPPORT_HOURS_UTC,
    SUPPORT_STAFF,
    Admin,
    admin_user_id,
)
from breachline.generate.vec import (
    OFFICE_HOURLY,
    US,
    cat,
    const,
    day_times,
    frame,
    jstr,
    nulls,
    pick,
    where,
)

LOGIN_FAILED = ("The account sign-in was incorrect or your account is disabled temporarily. "
                "Please wait and try again later.")

GROUP_LABELS = {
    "admin_login": "Admin Sign In", "admin_accounts": "Admin Permissions", "customer": "Customers",
    "sales_orders": "Orders", "sales_invoices": "Invoices", "sales_shipments": "Shipments",
    "catalog_products": "Products", "cms_pages": "CMS Pages", "cms_blocks": "CMS Blocks",
    "promotions": "Cart Price Rules", "system_config": "System Configuration", "reports": "Reports",
    "cache_management": "Cache Management",
}
ACTION_LABELS = {"view": "View", "save": "Save", "delete": "Delete", "export": "Export", "login": "Login",
                 "logout": "Logout", "massUpdate": "Mass Update", "flush": "Flush"}
CSV_HEADER = ("Time", "Action Group", "Action", "IP Address", "Username", "Result", "Full Action Name", "Details")

EVENT_SCHEMA: Schema = {
    "ts": pl.Int64,
    "ip": pl.String,
    "x_forwarded_ip": pl.String,  # null = none (0 in the table)
    "event_code": pl.String,
    "action": pl.String,
    "info": pl.String,
    "status": pl.String,  # success | failure
    "user": pl.String,
    "user_id": pl.Int64,
    "fullaction": pl.String,
    "error_message": pl.String,
}
LAC_SCHEMA: Schema = {
    "ts": pl.Int64, "user_id": pl.Int64, "user_name": pl.String, "customer_id": pl.Int64, "customer_email": pl.String,
}
SESSION_SCHEMA: Schema = {
    "ts": pl.Int64, "updated_ts": pl.Int64, "user_id": pl.Int64, "status": pl.Int64, "ip": pl.String,
}


@dataclass(frozen=True)
class Activity:
    event_code: str
    action: str
    fullaction: str
    info: str  # customer | order | product | page | block | export_customer | export_orders | config | ...
    weight: float


ACTIVITIES: dict[str, tuple[Activity, ...]] = {
    "Support": (
        Activity("customer", "view", "customer_index_edit", "customer", 5),
        Activity("customer", "save", "customer_index_save", "customer", 1.5),
        Activity("sales_orders", "view", "sales_order_view", "order", 4),
        Activity("customer", "export", "mui_export_gridToCsv", "export_customer_small", 0.15),
    ),
    "Marketing": (
        Activity("cms_pages", "save", "cms_page_save", "page", 2),
        Activity("promotions", "save", "sales_rule_promo_quote_save", "rule", 2),
        Activity("customer", "export", "mui_export_gridToCsv", "export_customer_small", 0.2),
    ),
    "Catalog": (
        Activity("catalog_products", "save", "catalog_product_save", "product", 5),
        Activity("catalog_products", "massUpdate", "catalog_product_action_attribute_save", "products", 1),
    ),
    "Content": (
        Activity("cms_pages", "save", "cms_page_save", "page", 3),
        Activity("cms_blocks", "save", "cms_block_save", "block", 2),
    ),
    "Operations": (
        Activity("sales_orders", "view", "sales_order_view", "order", 5),
        Activity("sales_shipments", "save", "adminhtml_order_shipment_save", "order", 3),
    ),
    "Finance": (
        Activity("sales_invoices", "save", "sales_order_invoice_save", "order", 3),
        Activity("reports", "view", "reports_report_sales_sales", "report", 1),
        Activity("sales_orders", "export", "mui_export_gridToCsv", "export_orders_small", 0.5),
    ),
    "Administrators": (
        Activity("system_config", "save", "adminhtml_system_config_save", "config", 2),
        Activity("cache_management", "flush", "adminhtml_cache_flushSystem", "cache", 1),
        Activity("admin_accounts", "save", "adminhtml_user_save", "user_save", 0.6),
        Activity("admin_accounts", "save", "adminhtml_user_role_saverole", "role_save_limited", 0.3),
        Activity("customer", "export", "mui_export_gridToCsv", "export_customer_small", 0.2),
    ),
}


def role_save_info(role: str, users: str) -> str:
    r = ROLES[role]
    return f"role={r.name}; role_id={r.role_id}; resources={r.resources}; users={users}"


def user_save_info(username: str, user_id: int, role: str) -> str:
    r = ROLES[role]
    return f"user={username}; user_id={user_id}; role={r.name}; role_id={r.role_id}"


def export_info(entity: str, records: int, file: str | None = None) -> str:
    """Details of an export: the entity (or grid), how many records, and for Data Transfer the file."""
    if file:
        return f"{entity}: {records} records exported to var/export/{file}"
    return f"{entity}_listing: {records} records"


def _ip_int(col: str) -> pl.Expr:
    parts = pl.col(col).str.extract_groups(r"^(\d+)\.(\d+)\.(\d+)\.(\d+)$")
    return pl.when(pl.col(col).is_null()).then(pl.lit(0, dtype=pl.Int64)).otherwise(
        parts.struct.field("1").cast(pl.Int64) * 16_777_216 + parts.struct.field("2").cast(pl.Int64) * 65_536
        + parts.struct.field("3").cast(pl.Int64) * 256 + parts.struct.field("4").cast(pl.Int64))


def _mysql_time(col: str) -> pl.Expr:
    return pl.from_epoch(col, time_unit="us").dt.strftime("%Y-%m-%d %H:%M:%S")


def _nullable_int(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.String).fill_null("null")


def _nullable_str(col: str) -> pl.Expr:
    return pl.when(pl.col(col).is_null()).then(pl.lit("null")).otherwise(jstr(col))


def event_row(ts: int, *, ip: str, event_code: str, action: str, fullaction: str, user: str, user_id: int | None,
              info: str = "", status: str = "success", error_message: str | None = None) -> dict[str, Any]:
    return {"ts": ts, "ip": ip, "x_forwarded_ip": None, "event_code": event_code, "action": action, "info": info,
            "status": status, "user": user, "user_id": user_id, "fullaction": fullaction, "error_message": error_message}


class MagentoActionLogWriter(FormatWriter):
    name: ClassVar[str] = "magento_action_log"
    share: ClassVar[float] = 0.01
    schemas: ClassVar[dict[str, Schema]] = {
        "logging_event": EVENT_SCHEMA, "export_csv": EVENT_SCHEMA, "lac": LAC_SCHEMA, "session": SESSION_SCHEMA,
    }
    # stream -> tenant, for scenarios and docs
    TENANTS: ClassVar[dict[str, str]] = {"logging_event": EU_STORE, "export_csv": B2B_STORE, "lac": EU_STORE,
                                         "session": EU_STORE}

    def __init__(self) -> None:
        self._next_id = {"logging_event": 1, "lac": 1, "session": 1}

    def path(self, stream: str, date: dt.date) -> str:
        d = date.isoformat()
        return {
            "logging_event": f"magento_logging_event-{d}.jsonl",
            "export_csv": f"action_log_export-{d}.csv",
            "lac": f"login_as_customer_log-{d}.jsonl",
            "session": f"admin_user_session-{d}.jsonl",
        }[stream]

    # ------------------------------------------------------------------------------------------- noise
    def noise(self, ctx: DayContext) -> dict[str, pl.DataFrame]:
        n = max(ctx.n, 24)
        eu = self._events(ctx, EU_STORE, int(n * 0.5))
        b2b = self._events(ctx, B2B_STORE, int(n * 0.35))
        lac = self._lac(ctx, max(2, int(n * 0.08)))
        return {"logging_event": eu, "export_csv": b2b, "lac": lac, "session": self._sessions(ctx, eu)}

    def _events(self, ctx: DayContext, tenant: str, n: int) -> pl.DataFrame:
        rng, store = ctx.rng, ctx.store
        staff = [a for a in store.admins.values() if not a.is_service]
        weights = np.array([3.0 if a.is_support else 1.5 if a.role != "Administrators" else 1.0 for a in staff])
        per_staff = rng.multinomial(max(0, n - 6), weights / weights.sum())
        frames = [self._staff_day(ctx, tenant, a, int(m)) for a, m in zip(staff, per_staff, strict=True) if m]
        frames.append(self._erp_night(ctx, tenant, store.admins[ERP_USER]))
        frames.append(self._thin_failures(ctx, tenant, max(1, min(8, n // 80))))
        return pl.concat(frames)

    def _staff_day(self, ctx: DayContext, tenant: str, admin: Admin, n: int) -> pl.DataFrame:
        """One staff member's working day: a login, their role's activities, a logout."""
        rng, store = ctx.rng, ctx.store
        uid = admin_user_id(admin.username, tenant)
        acts = ACTIVITIES[admin.role]
        w = np.array([a.weight for a in acts])
        ai = rng.choice(len(acts), size=n, p=w / w.sum())
        ts = day_times(rng, ctx.start_us, n, OFFICE_HOURLY)
        home = rng.random() < 0.15  # working from home today: one address all day
        ip = store.customer_nets.ips[int(rng.integers(0, len(store.customer_nets)))] if home else admin.office_ip
        cust = pl.Series(values=rng.integers(CUSTOMER_ID_BASE, CUSTOMER_ID_BASE + store.n_customers, n)).cast(pl.String)
        order = cat("0000", pl.Series(values=rng.integers(10_000, 99_999, n)))
        num = pl.Series(values=rng.integers(1, 4_000, n)).cast(pl.String)
        small = pl.Series(values=rng.integers(12, 420, n)).cast(pl.String)
        kinds = pl.Series(values=[a.info for a in acts]).gather(ai)
        other_staff = pick(rng, SUPPORT_STAFF, n)
        info_by_kind = {
            "customer": cust, "order": order, "product": num, "page": num, "block": num, "rule": num,
            "products": cat(num, ",", pl.Series(values=rng.integers(4_000, 8_000, n)).cast(pl.String)),
            "export_customer_small": cat("customer_listing: ", small, " records"),
            "export_orders_small": cat("sales_order_grid: ", small, " records"),
            "config": pick(rng, ("section=payment", "section=sales_email", "section=web", "section=catalog"), n),
            "cache": const("", n),
            "report": const("", n),
            "user_save": cat("user=", other_staff, "; user_id=", other_staff.replace_strict(
                {u: str(admin_user_id(u, tenant)) for u in SUPPORT_STAFF}, return_dtype=pl.String),
                "; role=Support; role_id=2"),
            "role_save_limited": const(role_save_info("Support", ",".join(SUPPORT_STAFF)), n),
        }
        info = nulls(n)
        for kind, values in info_by_kind.items():
            info = where(kinds == kind, values, info)
        body = frame(EVENT_SCHEMA, n, {
            "ts": ts, "ip": ip, "event_code": pl.Series(values=[a.event_code for a in acts]).gather(ai),
            "action": pl.Series(values=[a.action for a in acts]).gather(ai), "info": info, "status": "success",
            "user": admin.username, "user_id": uid, "fullaction": pl.Series(values=[a.fullaction for a in acts]).gather(ai),
        })
        first, last = int(ts[0]) if n else ctx.start_us + 9 * 3600 * US, int(ts[-1]) if n else ctx.start_us + 17 * 3600 * US
        edges = pl.DataFrame([
            event_row(max(ctx.start_us, first - int(rng.integers(5, 300)) * US), ip=ip, event_code="admin_login",
                      action="login", fullaction="adminhtml_auth_login", user=admin.username, user_id=uid),
            event_row(min(ctx.start_us + 86_399 * US, last + int(rng.integers(30, 900)) * US), ip=ip,
                      event_code="admin_login", action="logout", fullaction="adminhtml_auth_logout",
                      user=admin.username, user_id=uid),
        ], schema=dict(EVENT_SCHEMA))
        return pl.concat([edges, body])

    def _erp_night(self, ctx: DayContext, tenant: str, erp: Admin) -> pl.DataFrame:
        """02:00 every night: the ERP service user signs in and exports all customers (Data Transfer)."""
        rng = ctx.rng
        t0 = ctx.start_us + 2 * 3600 * US + int(rng.integers(0, 90)) * US
        uid = admin_user_id(ERP_USER, tenant)
        records = int(rng.integers(38_000, 41_000))
        stamp = ctx.date.strftime("%Y%m%d") + "_02" + f"{int(rng.integers(0, 3)):02d}" + f"{int(rng.integers(0, 60)):02d}"
        rows = [
            event_row(t0, ip=erp.office_ip, event_code="admin_login", action="login", fullaction="adminhtml_auth_login",
                      user=ERP_USER, user_id=uid),
            event_row(t0 + int(rng.integers(20, 90)) * US, ip=erp.office_ip, event_code="customer", action="export",
                      fullaction="adminhtml_export_export", user=ERP_USER, user_id=uid,
                      info=export_info("customer", records, f"customer_{stamp}.csv")),
            event_row(t0 + int(rng.integers(200, 400)) * US, ip=erp.office_ip, event_code="sales_orders",
                      action="export", fullaction="adminhtml_export_export", user=ERP_USER, user_id=uid,
                      info=export_info("sales_order", int(rng.integers(300, 1_500)), f"sales_order_{stamp}.csv")),
            event_row(t0 + int(rng.integers(500, 700)) * US, ip=erp.office_ip, event_code="admin_login",
                      action="logout", fullaction="adminhtml_auth_logout", user=ERP_USER, user_id=uid),
        ]
        return pl.DataFrame(rows, schema=dict(EVENT_SCHEMA))

    def _thin_failures(self, ctx: DayContext, tenant: str, n: int) -> pl.DataFrame:
        """Failed sign-ins spread thin: staff typos from their usual address, and single internet probes."""
        rng, store = ctx.rng, ctx.store
        staff = [a for a in store.admins.values() if not a.is_service]
        si = rng.integers(0, len(staff), n)
        typo = rng.random(n) < 0.6
        probe_ip = store.customer_nets.ips.gather(rng.integers(0, len(store.customer_nets), n))
        user = where(typo, pl.Series(values=[a.username for a in staff]).gather(si),
                     pick(rng, ("admin", "administrator", "magento", "test", "root"), n))
        user_id = where(typo, pl.Series(values=[admin_user_id(a.username, tenant) for a in staff]).gather(si),
                        nulls(n, pl.Int64))
        return frame(EVENT_SCHEMA, n, {
            "ts": day_times(rng, ctx.start_us, n, OFFICE_HOURLY),
            "ip": where(typo, pl.Series(values=[a.office_ip for a in staff]).gather(si), probe_ip),
            "event_code": "admin_login", "action": "login", "info": "", "status": "failure", "user": user,
            "user_id": user_id, "fullaction": "adminhtml_auth_login", "error_message": LOGIN_FAILED,
        })

    def _lac(self, ctx: DayContext, n: int) -> pl.DataFrame:
        """Support staff signing in as customers to help them, inside support hours."""
        rng, store = ctx.rng, ctx.store
        lo, hi = SUPPORT_HOURS_UTC
        ts = np.sort(ctx.start_us + rng.integers(lo * 3600 * US + 60 * US, hi * 3600 * US - 60 * US, n))
        who = pick(rng, SUPPORT_STAFF, n)
        cust = rng.integers(0, store.n_customers, n)
        return frame(LAC_SCHEMA, n, {
            "ts": ts, "user_id": who.replace_strict({u: admin_user_id(u, EU_STORE) for u in SUPPORT_STAFF},
                                                   return_dtype=pl.Int64),
            "user_name": who, "customer_id": cust + CUSTOMER_ID_BASE,
            # the column is varchar(40): Magento stores the address cut to 40 characters
            "customer_email": store.email.gather(cust).str.slice(0, 40),
        })

    def _sessions(self, ctx: DayContext, events: pl.DataFrame) -> pl.DataFrame:
        logins = events.filter((pl.col("action") == "login") & (pl.col("status") == "success"))
        n = logins.height
        rng = ctx.rng
        dur = rng.integers(5 * 60, 6 * 3600, n) * US
        updated = np.minimum(logins["ts"].to_numpy() + dur, ctx.start_us + 86_399 * US)
        return frame(SESSION_SCHEMA, n, {
            "ts": logins["ts"], "updated_ts": updated, "user_id": logins["user_id"],
            "status": np.where(rng.random(n) < 0.9, 0, 1), "ip": logins["ip"],
        })

    # ------------------------------------------------------------------------------------------ render
    def render(self, stream: str, df: pl.DataFrame) -> Rendered:
        df = df.sort("ts", maintain_order=True)
        if stream == "export_csv":
            return self._csv(df)
        first = self._next_id[stream]
        self._next_id[stream] = first + df.height
        df = df.with_columns(_id=pl.int_range(first, first + df.height, dtype=pl.Int64))
        if stream == "logging_event":
            expr = pl.concat_str([
                pl.lit('{"log_id":'), pl.col("_id").cast(pl.String), pl.lit(',"ip":'), _ip_int("ip").cast(pl.String),
                pl.lit(',"x_forwarded_ip":'), _ip_int("x_forwarded_ip").cast(pl.String), pl.lit(',"event_code":'),
                jstr("event_code"), pl.lit(',"time":"'), _mysql_time("ts"), pl.lit('","action":'), jstr("action"),
                pl.lit(',"info":'), jstr(pl.col("info").fill_null("")), pl.lit(',"status":'), jstr("status"),
                pl.lit(',"user":'), jstr("user"), pl.lit(',"user_id":'), _nullable_int("user_id"),
                pl.lit(',"fullaction":'), jstr("fullaction"), pl.lit(',"error_message":'),
                _nullable_str("error_message"), pl.lit("}"),
            ])
        elif stream == "lac":
            expr = pl.concat_str([
                pl.lit('{"log_id":'), pl.col("_id").cast(pl.String), pl.lit(',"time":"'), _mysql_time("ts"),
                pl.lit('","user_id":'), _nullable_int("user_id"), pl.lit(',"user_name":'), jstr("user_name"),
                pl.lit(',"customer_id":'), _nullable_int("customer_id"), pl.lit(',"customer_email":'),
                jstr("customer_email"), pl.lit("}"),
            ])
        else:
            expr = pl.concat_str([
                pl.lit('{"id":'), pl.col("_id").cast(pl.String), pl.lit(',"session_id":null,"user_id":'),
                _nullable_int("user_id"), pl.lit(',"status":'), pl.col("status").cast(pl.String),
                pl.lit(',"created_at":"'), _mysql_time("ts"), pl.lit('","updated_at":"'), _mysql_time("updated_ts"),
                pl.lit('","ip":'), jstr("ip"), pl.lit("}"),
            ])
        return df.select(expr).to_series()

    def _csv(self, df: pl.DataFrame) -> pl.DataFrame:
        out = df.select(
            pl.from_epoch("ts", time_unit="us").dt.strftime("%b %-d, %Y %-I:%M:%S %p").alias("Time"),
            pl.col("event_code").replace_strict(GROUP_LABELS, default=pl.col("event_code")).alias("Action Group"),
            pl.col("action").replace_strict(ACTION_LABELS, default=pl.col("action")).alias("Action"),
            pl.col("ip").alias("IP Address"),
            pl.col("user").alias("Username"),
            pl.col("status").str.to_titlecase().alias("Result"),
            pl.col("fullaction").alias("Full Action Name"),
            pl.col("info").fill_null("").alias("Details"),
        )
        assert tuple(out.columns) == CSV_HEADER
        return out
