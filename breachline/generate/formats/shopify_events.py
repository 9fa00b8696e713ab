"""Shopify Admin REST `events` objects of the us-store (Shopify Plus), one JSON object per line.

Shape and wording follow the events fixtures of Shopify/shopify-api-ruby (shared/external/shopify): id,
subject_id, created_at (shop time zone, America/New_York), subject_type, verb, arguments, body, message (HTML),
author, description, path. Ids are increasing, as Shopify's are.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import polars as pl

from breachline.generate.formats.base import DayContext, FormatWriter, Rendered, Schema
from breachline.generate.model import SHOPIFY_DOMAIN
from breachline.generate.vec import cat, day_times, frame, jstr, pick

SHOP_TZ = "America/New_York"
STAFF = ("Jane Smith", "Omar Haddad", "Lena Fischer", "Priya Patel")
APP_NAMES = ("Loyalty Sync", "Klaviyo: Email Marketing & SMS", "ShipStation", "Judge.me Product Reviews")
PRODUCTS = ("Alpine Rain Jacket", "Organic Cotton Tee", "Urban Backpack 22L", "Vintage Wool Scarf", "Slim Fit Hoodie",
            "Trail Running Shoe", "Insulated Bottle 750ml", "Classic Denim Jacket")
ADMIN = f"https://{SHOPIFY_DOMAIN}/admin"

SCHEMA: Schema = {
    "ts": pl.Int64,
    "subject_id": pl.Int64,
    "subject_type": pl.String,
    "verb": pl.String,
    "arguments": pl.String,  # JSON array text
    "body": pl.String,  # null -> JSON null
    "message": pl.String,
    "author": pl.String,
    "description": pl.String,
    "path": pl.String,
}


@dataclass(frozen=True)
class Template:
    subject_type: str
    verb: str
    weight: float
    author: str  # shopify | staff | app | customer


TEMPLATES: tuple[Template, ...] = (
    Template("Order", "placed", 10, "shopify"),
    Template("Order", "confirmed", 10, "shopify"),
    Template("Order", "authorization_success", 9, "shopify"),
    Template("Order", "capture_success", 7, "shopify"),
    Template("Order", "fulfillment_success", 6, "app"),
    Template("Order", "mail_sent", 6, "shopify"),
    Template("Order", "cancelled", 0.6, "staff"),
    Template("Order", "refund_success", 0.8, "staff"),
    Template("Product", "create", 1.5, "staff"),
    Template("Product", "update", 5, "staff"),
    Template("Product", "published", 1, "staff"),
    Template("Product", "unpublished", 0.4, "staff"),
    Template("Product", "destroy", 0.2, "staff"),
    Template("Collection", "update", 1, "staff"),
    Template("Page", "update", 0.4, "staff"),
    Template("Article", "create", 0.3, "staff"),
    Template("Comment", "create", 0.5, "customer"),
    Template("PriceRule", "create", 0.3, "staff"),
    Template("ApiPermission", "create", 0.05, "app"),
)


def _q(s: pl.Series) -> pl.Series:
    return s.to_frame("v").select(jstr("v")).to_series()


def _texts(t: Template, sid: pl.Series, n: int, rng: np.random.Generator, names: pl.Series,
           authors: pl.Series) -> dict[str, pl.Series | str]:
    """arguments (JSON), message (HTML), description and path for one event template."""
    sid_s = sid.cast(pl.String)
    order_no = cat("#", pl.Series(values=rng.integers(1001, 99_999, n)))
    amount = pl.Series(values=rng.integers(1_500, 40_000, n) / 100).cast(pl.String)
    product = pick(rng, PRODUCTS, n)
    link = lambda kind, label: cat('<a href="', ADMIN, f"/{kind}/", sid_s, '">', label, "</a>")  # noqa: E731
    st, verb = t.subject_type, t.verb
    if st == "Order":
        path = cat("/admin/orders/", sid_s)
        if verb in ("placed",):
            return {"arguments": "[]", "path": path,
                    "message": cat("This order was created for ", names, "."),
                    "description": cat("This order was created for ", names, ".")}
        if verb == "confirmed":
            return {"arguments": cat("[", _q(order_no), ",", _q(names), "]"), "path": path,
                    "message": cat("Received new order ", link("orders", order_no), " by ", names, "."),
                    "description": cat("Received new order ", order_no, " by ", names, ".")}
        if verb in ("authorization_success", "capture_success", "refund_success"):
            word = {"authorization_success": "authorized", "capture_success": "captured", "refund_success": "refunded"}[verb]
            txn = pl.Series(values=rng.integers(10**8, 10**9, n)).cast(pl.String)
            return {"arguments": cat('["', txn, '","', amount, '","USD"]'), "path": path,
                    "message": f"A transaction was {word}.", "description": f"A transaction was {word}."}
        if verb == "fulfillment_success":
            return {"arguments": cat("[", _q(order_no), "]"), "path": path,
                    "message": cat(authors, " fulfilled ", link("orders", order_no), "."),
                    "description": cat(authors, " fulfilled ", order_no, ".")}
        if verb == "mail_sent":
            return {"arguments": cat("[", _q(order_no), "]"), "path": path,
                    "message": cat("Order confirmation email was sent to ", names, "."),
                    "description": cat("Order confirmation email was sent to ", names, ".")}
        word = {"cancelled": "canceled", "refund_success": "refunded"}.get(verb, verb)
        return {"arguments": cat("[", _q(order_no), "]"), "path": path,
                "message": cat(authors, f" {word} order ", link("orders", order_no), "."),
                "description": cat(authors, f" {word} order ", order_no, ".")}
    kind = {"Product": "products", "Collection": "collections", "Page": "pages", "Article": "articles",
            "Comment": "comments", "PriceRule": "price_rules", "ApiPermission": "apps"}[st]
    label = product if st == "Product" else pick(rng, ("Winter Sale", "New Arrivals", "About us", "Shipping policy",
                                                      "BLACKFRIDAY25", "How to pick a backpack"), n)
    if st == "ApiPermission":
        label = authors
    noun = {"Product": "Product", "Collection": "Collection", "Page": "Page", "Article": "Article",
            "Comment": "Comment", "PriceRule": "Discount", "ApiPermission": "App"}[st]
    word = {"create": "created", "update": "updated", "published": "published", "unpublished": "unpublished",
            "destroy": "deleted"}[verb]
    if st == "ApiPermission":
        return {"arguments": cat("[", _q(label), "]"), "path": cat("/admin/apps/", sid_s),
                "message": cat(label, " was installed."), "description": cat(label, " was installed.")}
    return {"arguments": cat("[", _q(label), "]"), "path": cat(f"/admin/{kind}/", sid_s),
            "message": cat(f"{noun} was {word}: ", link(kind, label), "."),
            "description": cat(f"{noun} was {word}: ", label, ".")}


class ShopifyEventsWriter(FormatWriter):
    name: ClassVar[str] = "shopify_events"
    share: ClassVar[float] = 0.04
    schemas: ClassVar[dict[str, Schema]] = {"events": SCHEMA}

    def __init__(self) -> None:
        self._next_id = 6_412_880_193

    def path(self, stream: str, date: dt.date) -> str:
        return f"events-{date.isoformat()}.jsonl"

    def noise(self, ctx: DayContext) -> dict[str, pl.DataFrame]:
        rng, store = ctx.rng, ctx.store
        w = np.array([t.weight for t in TEMPLATES])
        ti = rng.choice(len(TEMPLATES), size=ctx.n, p=w / w.sum())
        frames = []
        for j, t in enumerate(TEMPLATES):
            n = int((ti == j).sum())
            if not n:
                continue
            who = rng.integers(0, store.n_customers, n)
            names = cat(store.first.gather(who), " ", store.last.gather(who))
            authors = {"shopify": pl.Series(values=["Shopify"] * n), "staff": pick(rng, STAFF, n),
                       "app": pick(rng, APP_NAMES, n), "customer": names}[t.author]
            sid = pl.Series(values=rng.integers(5_100_000_000, 5_999_999_999, n))
            texts = _texts(t, sid, n, rng, names, authors)
            body = cat("Great quality, fits well. - ", names) if t.subject_type == "Comment" else None
            frames.append(frame(SCHEMA, n, {"ts": np.zeros(n, dtype=np.int64), "subject_id": sid,
                                            "subject_type": t.subject_type, "verb": t.verb, "body": body,
                                            "author": authors, **texts}))
        df = pl.concat(frames)
        return {"events": df.with_columns(ts=pl.Series(values=day_times(rng, ctx.start_us, df.height)[rng.permutation(df.height)]))}

    def render(self, stream: str, df: pl.DataFrame) -> Rendered:
        df = df.sort("ts", maintain_order=True)
        # ids grow with time, by irregular steps (other shops' events share the sequence)
        steps = (df["ts"].to_numpy() % 97 + 1).astype(np.int64)
        ids = self._next_id + np.cumsum(steps)
        if len(ids):
            self._next_id = int(ids[-1]) + 1
        df = df.with_columns(_id=pl.Series(values=ids))
        created = (pl.from_epoch("ts", time_unit="us").dt.replace_time_zone("UTC").dt.convert_time_zone(SHOP_TZ)
                   .dt.strftime("%Y-%m-%dT%H:%M:%S%:z"))
        expr = pl.concat_str([
            pl.lit('{"id":'), pl.col("_id").cast(pl.String), pl.lit(',"subject_id":'), pl.col("subject_id").cast(pl.String),
            pl.lit(',"created_at":"'), created, pl.lit('","subject_type":'), jstr("subject_type"), pl.lit(',"verb":'),
            jstr("verb"), pl.lit(',"arguments":'), pl.col("arguments"), pl.lit(',"body":'),
            pl.when(pl.col("body").is_null()).then(pl.lit("null")).otherwise(jstr("body")), pl.lit(',"message":'),
            jstr("message"), pl.lit(',"author":'), jstr("author"), pl.lit(',"description":'), jstr("description"),
            pl.lit(',"path":'), jstr("path"), pl.lit("}"),
        ])
        return df.select(expr).to_series()
