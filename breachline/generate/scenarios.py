"""Injected incidents: each scenario adds a few events to one or more formats and one ground-truth line.

Scenario events are written in the same logical schemas as the noise (and rendered by the same code), so a
detector cannot tell them apart by shape. A loop per scenario instance is fine here: there are a few per week.
Entities are drawn so that no two instances of one scenario share an entity (except `pan-in-application-log`,
whose entity is the tenant), and instances are spread over the period (one per equal slot).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from breachline.generate.formats import aws_waf
from breachline.generate.formats import magento_action_log as mal
from breachline.generate.formats.app_json import SCHEMA as APP_SCHEMA
from breachline.generate.formats.http_pools import ATTACK_SQLI, BOT_UAS, BROWSER_UAS, SEARCH_PATH, qs
from breachline.generate.formats.magento_log import HTTP_FRAMES, V, trace
from breachline.generate.model import (
    API_CLIENTS,
    APPS,
    B2B_STORE,
    CUSTOMER_ID_BASE,
    ESCALATION_CANDIDATES,
    EU_HOST,
    EU_STORE,
    NON_SUPPORT_STAFF,
    OFFSITE_SCRIPT_HOSTS,
    SCRAPER_CANDIDATES,
    SKIMMER_SCRIPTS,
    SUPPORT_HOURS_UTC,
    SUPPORT_STAFF,
    UNTRUSTED_WEBHOOK_HOSTS,
    Store,
    admin_user_id,
    customer_ref,
)
from breachline.generate.vec import DAY_US, US

MIN = 60 * US
HOUR = 3600 * US

# Published card-network test numbers (Luhn-valid; shared/external/pii/test_pans).
TEST_PANS = ("4111111111111111", "4242424242424242", "5555555555554444", "378282246310005", "6011111111111117",
             "4000056655665556", "5105105105105100", "3566002020360505")
STUFFING_USERNAMES = ("admin", "administrator", "magento", "root", "test", "demo", "manager", "shop", "webmaster",
                      "support", "sales", "info", "admin1", "admin123", "user", "dev", "staging", "backup", "owner",
                      "api", "shopadmin", "storeadmin", "superuser", "sysadmin", "operator")


@dataclass(frozen=True)
class GroundTruth:
    scenario: str
    playbook: str
    entity: str
    start: dt.datetime
    end: dt.datetime

    def to_json(self) -> str:
        return json.dumps({"scenario": self.scenario, "playbook": self.playbook, "entity": self.entity,
                           "start": _rfc3339(self.start), "end": _rfc3339(self.end)})


def _rfc3339(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Plan:
    """Scenario rows per (format, stream), and the ground truth."""

    rows: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    truths: list[GroundTruth] = field(default_factory=list)

    @contextmanager
    def instance(self, scenario: str, playbook: str, entity: str) -> Iterator[Callable[[str, str, dict[str, Any]], None]]:
        """Collect one instance's rows; its ground truth spans them (whole seconds, inclusive)."""
        times: list[int] = []

        def add(fmt: str, stream: str, row: dict[str, Any]) -> None:
            self.rows[(fmt, stream)].append(row)
            times.append(int(row["ts"]))

        yield add
        lo, hi = min(times) // US, -(-max(times) // US)
        # every scenario finishes within 5 hours of its start, inside the period (Injector.times leaves room)
        self.truths.append(GroundTruth(scenario, playbook, entity, dt.datetime.fromtimestamp(lo, dt.UTC),
                                       dt.datetime.fromtimestamp(hi, dt.UTC)))


def app_row(ts: int, rng: np.random.Generator, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(APP_SCHEMA)
    row.update(ts=ts, id="req-" + rng.bytes(10).hex(), tenant=EU_STORE)
    row.update(fields)
    unknown = set(row) - set(APP_SCHEMA)
    if unknown:
        raise KeyError(f"not app_json columns: {sorted(unknown)}")
    return row


def customer_json(c: dict[str, Any]) -> str:
    return json.dumps({"id": c["entity_id"], "email": c["email"], "firstname": c["first"], "lastname": c["last"],
                       "addresses": [{"telephone": c["phone"], "city": c["city"], "postcode": c["postcode"],
                                      "country_id": c["country"]}]}, separators=(",", ":"))


class Injector:
    """Draws scenario instances over the period [start_us, start_us + days)."""

    def __init__(self, store: Store, seed: int, start_us: int, days: int) -> None:
        self.store, self.start_us, self.days = store, start_us, days
        self.end_us = start_us + days * DAY_US
        self.rng = np.random.default_rng([seed, 999])
        self.plan = Plan()
        self._used_ips: set[str] = set()
        self._used_customers: set[int] = set()
        self._used: dict[str, set[str]] = defaultdict(set)  # per scenario: entities already drawn

    # --------------------------------------------------------------------------------------- helpers
    def times(self, count: int, lead: int = 30 * MIN, tail: int = 5 * HOUR) -> list[int]:
        """One start time per equal slot of the period, so instances spread out."""
        span = self.end_us - tail - (self.start_us + lead)
        slot = span // count
        return [self.start_us + lead + i * slot + int(self.rng.integers(0, max(1, slot))) for i in range(count)]

    def attacker(self) -> tuple[str, str]:
        """An attacker address (never used by another instance) and its country."""
        pool = self.store.attackers
        while True:
            i = int(self.rng.integers(0, len(pool)))
            ip = str(pool.ips[i])
            if ip not in self._used_ips:
                self._used_ips.add(ip)
                return ip, str(pool.countries[i])

    def attacker_ip(self) -> str:
        return self.attacker()[0]

    def customer(self) -> dict[str, Any]:
        while True:
            idx = int(self.rng.integers(0, self.store.n_customers))
            if idx not in self._used_customers:
                self._used_customers.add(idx)
                return self.store.customer(idx)

    def pick(self, pool: tuple[str, ...], used: set[str]) -> str:
        free = [x for x in pool if x not in used] or list(pool)
        choice = free[int(self.rng.integers(0, len(free)))]
        used.add(choice)
        return choice

    def spaced(self, t0: int, n: int, lo_s: float, hi_s: float) -> list[int]:
        """n increasing times from t0, lo_s..hi_s seconds apart."""
        gaps = self.rng.uniform(lo_s, hi_s, n) * US
        return [int(t0 + g) for g in np.cumsum(gaps)]

    def count(self, cap: int) -> int:
        """About three a week, at least one; at most `cap`, the number of distinct entities available."""
        return min(cap, max(1, int(self.rng.poisson(3.0 * self.days / 7))))

    # ------------------------------------------------------------------------------------- scenarios
    def run(self) -> Plan:
        unlimited = 10**6  # addresses and customers: plenty
        for fn, cap in (
            (self.admin_escalation, len(ESCALATION_CANDIDATES)),
            (self.api_scraping, len(SCRAPER_CANDIDATES)),
            (self.pan_in_log, unlimited),
            (self.untrusted_webhook, len(UNTRUSTED_WEBHOOK_HOSTS) + len(APPS)),
            (self.cross_customer, unlimited),
            (self.dsr_wrong_subject, unlimited),
            (self.waf_then_data, unlimited),
            (self.credential_stuffing, unlimited),
            (self.login_as_customer_abuse, len(SUPPORT_STAFF)),  # off-hours support or non-support staff
            (self.offsite_script, len(OFFSITE_SCRIPT_HOSTS)),
        ):
            for t0 in self.times(self.count(cap)):
                fn(t0)
        self.plan.truths.sort(key=lambda g: (g.start, g.playbook, g.entity))
        return self.plan

    def admin_escalation(self, t0: int) -> None:
        user = self.pick(ESCALATION_CANDIDATES, self._used["escalation"])
        stream = "logging_event" if self.rng.random() < 0.6 else "export_csv"
        tenant = mal.MagentoActionLogWriter.TENANTS[stream]
        uid = admin_user_id(user, tenant)
        admin = self.store.admins[user]
        ip = admin.office_ip if self.rng.random() < 0.5 else self.attacker_ip()
        rng = self.rng
        with self.plan.instance("admin privilege escalation then bulk customer export",
                                "admin-escalation-then-bulk-export", user) as add:
            def ev(ts: int, **kw: Any) -> None:
                add("magento_action_log", stream, mal.event_row(ts, ip=ip, user=user, user_id=uid, **kw))

            ev(t0, event_code="admin_login", action="login", fullaction="adminhtml_auth_login")
            t_role = t0 + int(rng.integers(1, 10)) * MIN
            if rng.random() < 0.5:
                ev(t_role, event_code="admin_accounts", action="save", fullaction="adminhtml_user_role_saverole",
                   info=mal.role_save_info("Administrators", f"admin,{user}"))
            else:
                ev(t_role, event_code="admin_accounts", action="save", fullaction="adminhtml_user_save",
                   info=mal.user_save_info(user, uid, "Administrators"))
            t = t_role
            for t in self.spaced(t_role, int(rng.integers(0, 4)), 30, 300):
                ev(t, event_code="customer", action="view", fullaction="customer_index_edit",
                   info=str(CUSTOMER_ID_BASE + int(rng.integers(0, self.store.n_customers))))
            t_exp = t + int(rng.integers(8, 80)) * MIN
            records = int(rng.integers(1_000, 60_000))
            if rng.random() < 0.5:
                stamp = dt.datetime.fromtimestamp(t_exp / US, dt.UTC).strftime("%Y%m%d_%H%M%S")
                ev(t_exp, event_code="customer", action="export", fullaction="adminhtml_export_export",
                   info=mal.export_info("customer", records, f"customer_{stamp}.csv"))
            else:
                ev(t_exp, event_code="customer", action="export", fullaction="mui_export_gridToCsv",
                   info=mal.export_info("customer", records))
            t_out = t_exp + int(rng.integers(1, 6)) * MIN
            ev(t_out, event_code="admin_login", action="logout", fullaction="adminhtml_auth_logout")
            if stream == "logging_event":
                add("magento_action_log", "session",
                    {"ts": t0, "updated_ts": t_out, "user_id": uid, "status": 0, "ip": ip})

    def api_scraping(self, t0: int) -> None:
        rng = self.rng
        name = self.pick(SCRAPER_CANDIDATES, self._used["scraping"])
        client = next(c for c in API_CLIENTS if c.name == name)
        stolen = rng.random() < 0.6
        ip = self.attacker_ip() if stolen else client.ip
        ua = "python-requests/2.31.0" if stolen else client.user_agent
        n = int(rng.integers(150, 600))
        duration = int(rng.integers(3, 11)) * MIN
        ts = np.sort(t0 + rng.integers(0, duration, n))
        if rng.random() < 0.5:  # enumeration of consecutive ids
            first = int(rng.integers(0, self.store.n_customers - n))
            idxs = list(range(first, first + n))
        else:
            idxs = [int(x) for x in rng.choice(self.store.n_customers, size=n, replace=False)]
        with self.plan.instance("an API client scraping customer records", "api-client-customer-scraping", name) as add:
            for t, idx in zip(ts, idxs, strict=True):
                c = self.store.customer(idx)
                add("app_json", "app", app_row(
                    int(t), rng, kind="api", action="api_request", actor_api_client=name, src_ip=ip,
                    src_user_agent=ua, http_method="GET", http_host=EU_HOST,
                    http_path=f"/rest/V1/customers/{c['entity_id']}", http_status=200,
                    http_response_bytes=int(rng.integers(1_400, 3_200)), resource_type="customer",
                    resource_id=c["ref"], resource_owner_id=c["ref"], resource_record_count=1,
                    body=customer_json(c)))

    def pan_in_log(self, t0: int) -> None:
        rng = self.rng
        tenant = EU_STORE if rng.random() < 0.6 else B2B_STORE
        prefix = "eu" if tenant == EU_STORE else "b2b"
        v24 = tenant == EU_STORE
        with self.plan.instance("PANs written to an application log", "pan-in-application-log", tenant) as add:
            for t in self.spaced(t0, int(rng.integers(1, 5)), 20, 600):
                pan = TEST_PANS[int(rng.integers(0, len(TEST_PANS)))]
                order = f"0000{int(rng.integers(10_000, 99_999))}"
                exp = f"{int(rng.integers(1, 13)):02d}"
                if rng.random() < 0.6:
                    req = json.dumps({"order_id": order, "payment": {"method": "braintree_cc", "cc_number": pan,
                                      "cc_exp_month": exp, "cc_exp_year": "2028", "cc_cid": "737"},
                                      "amount": "89.90"}, separators=(",", ":"))
                    add("magento_log", f"{prefix}_system",
                        {"ts": t, "channel": "main", "level": "DEBUG", "message": f"Payment gateway request {req} []"})
                else:
                    text = (f'Gateway rejected request: {{"creditCard":{{"number":"{pan}","expirationDate":'
                            f'"{exp}/2028","cvv":"737"}},"orderId":"{order}"}}')
                    where = f"{V}/module-payment/Gateway/Http/Client/Zend.php:109"
                    if v24:
                        message = (f"Magento\\Payment\\Gateway\\Http\\ClientException: {text} in {where}" + trace(
                            f"{V}/module-payment/Gateway/Command/GatewayCommand.php(117): Magento\\Payment\\Gateway\\Http\\Client\\Zend->placeRequest()",
                            *HTTP_FRAMES) + " [] []")
                    else:
                        ctx = json.dumps({"exception": "[object] (Magento\\Payment\\Gateway\\Http\\ClientException"
                                                       f"(code: 0): {text} at {where})"})
                        message = f"{text} {ctx} []"
                    add("magento_log", f"{prefix}_exception",
                        {"ts": t, "channel": "main", "level": "CRITICAL", "message": message})
                if rng.random() < 0.4:
                    add("app_json", "app", app_row(
                        t + int(rng.integers(1, 5)) * US, rng, kind="checkout", action="checkout", tenant=tenant,
                        http_method="POST", http_host=EU_HOST if v24 else "b2b.example.com",
                        http_path="/rest/V1/carts/mine/payment-information", http_status=502,
                        message=f"Payment authorization failed: card={pan} exp={exp}/28 cvv=737 gateway=braintree"))

    def untrusted_webhook(self, t0: int) -> None:
        rng = self.rng
        used = self._used["webhook"]
        # options: http:// to an app's own approved host (scheme downgrade), or any unused unapproved host
        downgrades = [(a, a.webhook_url.split("/")[2], a.webhook_url.replace("https://", "http://")) for a in APPS
                      if a.webhook_url.split("/")[2] not in used]
        foreign = []
        for h in UNTRUSTED_WEBHOOK_HOSTS:
            if h not in used:
                a = APPS[int(rng.integers(0, len(APPS)))]
                foreign.append((a, h, f"{'https' if rng.random() < 0.5 else 'http'}://{h}/hooks/{a.name}"))
        options = (downgrades if rng.random() < 1 / 3 else foreign) or downgrades or foreign
        app, host, url = options[int(rng.integers(0, len(options)))]
        used.add(host)
        with self.plan.instance("PII sent by webhook to an http:// or unapproved host", "pii-to-untrusted-webhook", host) as add:
            for t in self.spaced(t0, int(rng.integers(3, 25)), 5, 240):
                c = self.store.customer(int(rng.integers(0, self.store.n_customers)))
                add("app_json", "app", app_row(
                    t, rng, id="whk-" + rng.bytes(10).hex(), kind="webhook", action="webhook_delivery",
                    actor_app=app.name, http_method="POST", http_status=200,
                    http_request_bytes=int(rng.integers(600, 2_400)), resource_type="customer",
                    resource_id=c["ref"], resource_owner_id=c["ref"], dst_url=url, body=customer_json(c)))

    def cross_customer(self, t0: int) -> None:
        rng = self.rng
        viewer, victim = self.customer(), self.customer()
        session = "".join(chr(c) for c in rng.integers(97, 123, 26))
        ua = BROWSER_UAS[int(rng.integers(0, len(BROWSER_UAS)))]
        with self.plan.instance("a session showing customer A's data to customer B", "cross-customer-data-exposure",
                                viewer["ref"]) as add:
            base = {"kind": "storefront", "actor_session_id": session, "actor_customer_id": viewer["ref"],
                    "src_ip": viewer["ip"], "src_user_agent": ua, "http_method": "GET", "http_host": EU_HOST,
                    "http_status": 200}
            times = self.spaced(t0, int(rng.integers(3, 9)), 10, 120)
            leaks = set(rng.choice(len(times), size=min(len(times), int(rng.integers(1, 4))), replace=False).tolist())
            for i, t in enumerate(times):
                if i in leaks:
                    order_view = rng.random() < 0.5
                    oid = f"0000{int(rng.integers(10_000, 99_999))}"
                    add("app_json", "app", app_row(
                        t, rng, **base, action="order_view" if order_view else "account_view",
                        http_path=f"/sales/order/view/order_id/{oid}/" if order_view else "/customer/account/",
                        http_response_bytes=int(rng.integers(30_000, 90_000)),
                        resource_type="order" if order_view else "customer",
                        resource_id=oid if order_view else victim["ref"], resource_owner_id=victim["ref"],
                        body=customer_json(victim)))
                else:
                    add("app_json", "app", app_row(
                        t, rng, **base, action="page_view", http_path="/" + str(self.store.catalog[int(rng.integers(0, 200))]),
                        http_response_bytes=int(rng.integers(30_000, 150_000))))

    def dsr_wrong_subject(self, t0: int) -> None:
        rng = self.rng
        requester, subject = self.customer(), self.customer()
        agent = SUPPORT_STAFF[int(rng.integers(0, len(SUPPORT_STAFF)))]
        with self.plan.instance("a DSR answered with another customer's records", "dsr-wrong-subject",
                                requester["ref"]) as add:
            for t in self.spaced(t0, int(rng.integers(1, 3)), 30, 600):
                add("app_json", "app", app_row(
                    t, rng, id="dsr-" + rng.bytes(8).hex(), kind="dsr", action="dsr_response", actor_user=agent,
                    actor_customer_id=requester["ref"], http_method="GET", http_host=EU_HOST,
                    http_path="/privacy/dsr/export", http_status=200, resource_type="customer",
                    resource_id=subject["ref"], resource_owner_id=subject["ref"],
                    resource_record_count=int(rng.integers(3, 40)), body=customer_json(subject)))

    def waf_then_data(self, t0: int) -> None:
        rng = self.rng
        ip, country = self.attacker()
        ua = BOT_UAS[0] if rng.random() < 0.5 else BROWSER_UAS[int(rng.integers(0, len(BROWSER_UAS)))]
        with self.plan.instance("a WAF-flagged SQL injection followed by an oversized response from the same IP",
                                "waf-attack-then-data-response",
                                ip) as add:
            times = self.spaced(t0, int(rng.integers(3, 12)), 3, 25)
            payload = ATTACK_SQLI[0]
            for t in times:
                payload = ATTACK_SQLI[int(rng.integers(0, len(ATTACK_SQLI)))]
                add("aws_waf", "waf", aws_waf.scenario_row(
                    rng, t, ip, str(country), method="GET", uri=SEARCH_PATH, args=qs("q", payload), ua=ua,
                    verdict=aws_waf.verdict_sqli_count(payload)))
            victims = [self.store.customer(int(i)) for i in rng.choice(self.store.n_customers, 12, replace=False)]
            dump = json.dumps({"items": [{"email": v["email"], "firstname": v["first"], "lastname": v["last"],
                                          "telephone": v["phone"]} for v in victims]}, separators=(",", ":"))
            for t in self.spaced(times[-1], int(rng.integers(1, 3)), 5, 120):
                add("app_json", "app", app_row(
                    t, rng, kind="storefront", action="page_view", src_ip=ip, src_user_agent=ua, http_method="GET",
                    http_host=EU_HOST, http_path=SEARCH_PATH, http_query=qs("q", payload), http_status=200,
                    http_response_bytes=int(rng.integers(1_100_000, 9_000_000)), resource_type="customer",
                    resource_record_count=int(rng.integers(500, 5_000)), body=dump))

    def credential_stuffing(self, t0: int) -> None:
        rng = self.rng
        ip = self.attacker_ip()
        stream = "logging_event" if self.rng.random() < 0.6 else "export_csv"
        tenant = mal.MagentoActionLogWriter.TENANTS[stream]
        staff = [a.username for a in self.store.admins.values() if not a.is_service]
        names = list(rng.choice(STUFFING_USERNAMES, size=int(rng.integers(12, 24)), replace=False)) + staff
        victim = staff[int(rng.integers(0, len(staff)))]
        uid = admin_user_id(victim, tenant)
        with self.plan.instance("credential stuffing against the admin then success",
                                "admin-credential-stuffing-success", ip) as add:
            times = self.spaced(t0, int(rng.integers(40, 150)), 2, 15)
            for t in times:
                name = str(names[int(rng.integers(0, len(names)))])
                known = name in staff
                add("magento_action_log", stream, mal.event_row(
                    t, ip=ip, event_code="admin_login", action="login", fullaction="adminhtml_auth_login", user=name,
                    user_id=admin_user_id(name, tenant) if known else None, status="failure",
                    error_message=mal.LOGIN_FAILED))
            t_ok = times[-1] + int(rng.integers(3, 40)) * US
            add("magento_action_log", stream, mal.event_row(
                t_ok, ip=ip, event_code="admin_login", action="login", fullaction="adminhtml_auth_login", user=victim,
                user_id=uid))
            t = t_ok
            for t in self.spaced(t_ok, int(rng.integers(1, 5)), 20, 180):
                add("magento_action_log", stream, mal.event_row(
                    t, ip=ip, event_code="customer", action="view", fullaction="customer_index_edit", user=victim,
                    user_id=uid, info=str(CUSTOMER_ID_BASE + int(rng.integers(0, self.store.n_customers)))))
            if stream == "logging_event":
                add("magento_action_log", "session", {"ts": t_ok, "updated_ts": t + 5 * MIN, "user_id": uid,
                                                      "status": 1, "ip": ip})

    def login_as_customer_abuse(self, t0: int) -> None:
        rng = self.rng
        used = self._used["lac"]
        off_hours = rng.random() < 0.5
        if off_hours:  # a support agent, at night (the whole session stays outside support hours)
            user = self.pick(SUPPORT_STAFF, used)
            day0 = t0 - (t0 - self.start_us) % DAY_US
            lo, hi = SUPPORT_HOURS_UTC
            night = [h for h in range(24) if (h >= hi + 1 or h < lo - 2) and day0 + (h + 2) * HOUR <= self.end_us]
            t0 = day0 + night[int(rng.integers(0, len(night)))] * HOUR + int(rng.integers(0, 30)) * MIN
        else:  # staff who are not support, any time
            user = self.pick(NON_SUPPORT_STAFF, used)
        uid = admin_user_id(user, EU_STORE)
        ip = self.store.admins[user].office_ip if rng.random() < 0.7 else self.attacker_ip()
        with self.plan.instance("login-as-customer abuse", "login-as-customer-abuse", user) as add:
            add("magento_action_log", "logging_event", mal.event_row(
                t0, ip=ip, event_code="admin_login", action="login", fullaction="adminhtml_auth_login", user=user,
                user_id=uid))
            times = self.spaced(t0, int(rng.integers(2, 10)), 60, 400)
            for t in times:
                c = self.customer()
                add("magento_action_log", "lac", {"ts": t, "user_id": uid, "user_name": user,
                                                  "customer_id": c["entity_id"], "customer_email": c["email"][:40]})
            add("magento_action_log", "session", {"ts": t0, "updated_ts": times[-1] + 2 * MIN, "user_id": uid,
                                                  "status": 0, "ip": ip})

    def offsite_script(self, t0: int) -> None:
        rng = self.rng
        host = self.pick(OFFSITE_SCRIPT_HOSTS, self._used["offsite"])
        script = SKIMMER_SCRIPTS[int(rng.integers(0, len(SKIMMER_SCRIPTS)))]
        url = f"https://{host}/{'collect' if rng.random() < 0.5 else 'v2/analytics.gif'}"
        with self.plan.instance("a third-party checkout script sending payment tokens off-site",
                                "payment-token-offsite-script", host) as add:
            for t in self.spaced(t0, int(rng.integers(3, 20)), 30, 600):
                c = self.store.customer(int(rng.integers(0, self.store.n_customers)))
                pan = TEST_PANS[int(rng.integers(0, len(TEST_PANS)))]
                body = json.dumps({"cc": pan, "exp": f"{int(rng.integers(1, 13)):02d}/{int(rng.integers(27, 31))}",
                                   "cvv": str(int(rng.integers(100, 999))),
                                   "payment_method_nonce": "tokencc_bc_" + rng.bytes(8).hex(),
                                   "email": c["email"], "name": f"{c['first']} {c['last']}"}, separators=(",", ":"))
                add("app_json", "app", app_row(
                    t, rng, id="scr-" + rng.bytes(10).hex(), kind="script", action="script_request", actor_app=script,
                    actor_session_id="".join(chr(x) for x in rng.integers(97, 123, 26)),
                    actor_customer_id=customer_ref(c["entity_id"]), src_ip=c["ip"], http_method="POST",
                    http_status=200, dst_url=url, body=body))


def plan_scenarios(store: Store, seed: int, start_us: int, days: int) -> Plan:
    return Injector(store, seed, start_us, days).run()
