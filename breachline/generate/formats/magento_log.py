"""Magento `var/log/system.log` and `var/log/exception.log` (Monolog LineFormatter; MAGENTO_FORMAT_NOTES.md).

eu-store runs Magento 2.4 (Monolog 2): `[2026-11-01T09:29:22.913747+00:00] main.CRITICAL: ...`, exceptions
stringified into the message with a multi-line `Stack trace:` / `#0 ...` block. b2b-store runs 2.3 (Monolog 1):
`[2026-11-01 09:29:22] main.CRITICAL: ... {"exception":"[object] (...)"} []` on one line. Every entry ends with
the context and extra JSON (`[] []` when empty).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import polars as pl

from breachline.generate.formats.base import DayContext, FormatWriter, Rendered, Schema, by_time, split
from breachline.generate.model import B2B_STORE, EU_HOST, EU_STORE
from breachline.generate.vec import const, day_times, frame, template

# stream -> (tenant, file kind, Magento line)
STREAMS: dict[str, tuple[str, str, str]] = {
    "eu_system": (EU_STORE, "system", "2.4"),
    "eu_exception": (EU_STORE, "exception", "2.4"),
    "b2b_system": (B2B_STORE, "system", "2.3"),
    "b2b_exception": (B2B_STORE, "exception", "2.3"),
}
STREAM_SHARE = {"eu_system": 0.45, "eu_exception": 0.15, "b2b_system": 0.3, "b2b_exception": 0.1}

SCHEMA: Schema = {
    "ts": pl.Int64,
    "channel": pl.String,
    "level": pl.String,
    "message": pl.String,  # everything after "LEVEL: ": message, context and extra (may span lines)
}

V = "/var/www/html/vendor/magento"


def trace(*frames: str) -> str:
    """A PHP stack trace block as Throwable::__toString() prints it."""
    lines = [f"#{i} {f}" for i, f in enumerate(frames)] + [f"#{len(frames)} {{main}}"]
    return "\nStack trace:\n" + "\n".join(lines)


HTTP_FRAMES = (
    f"{V}/framework/Interception/Interceptor.php(58): Magento\\Framework\\App\\FrontController->dispatch()",
    f"{V}/framework/App/Http.php(116): Magento\\Framework\\App\\FrontController\\Interceptor->dispatch()",
    f"{V}/framework/App/Bootstrap.php(264): Magento\\Framework\\App\\Http->launch()",
    "/var/www/html/pub/index.php(30): Magento\\Framework\\App\\Bootstrap->run()",
)


@dataclass(frozen=True)
class Entry:
    level: str
    message_24: str  # «n» is replaced by a number
    message_23: str
    weight: float
    channel: str = "main"


SYSTEM: tuple[Entry, ...] = (
    Entry("INFO", "Broken reference: the 'header.panel' element cannot be added as child to 'header-wrapper', because "
          "the latter doesn't exist [] []", "Broken reference: No element found with ID 'store.settings.currency'. [] []", 5),
    Entry("INFO", 'cache_invalidate:  {"method":"POST","url":"https:\\/\\/' + EU_HOST + '\\/rest\\/V1\\/products","invalidateInfo":'
          '{"tags":["cat_p_«n»"],"mode":"matchingAnyTag"},"is_exception":false} []',
          'cache_invalidate:  {"method":"POST","url":"https:\\/\\/b2b.example.com\\/rest\\/V1\\/products","invalidateInfo":'
          '{"tags":["cat_p_«n»"],"mode":"matchingAnyTag"},"is_exception":false} []', 12),
    Entry("INFO", 'Consumer "async.operations.all" skipped as required connection "amqp" is not configured. Unknown '
          "connection name amqp [] []", "Add of item with id Magento_Sales::sales_creditmemo was processed [] []", 3),
    Entry("WARNING", "Session size of 262144 exceeded allowed session max size of 256000. [] []",
          "Session size of 262144 exceeded allowed session max size of 256000. [] []", 1),
    # masked card data in payment debug lines: the benign look-alike of pan-in-application-log
    Entry("DEBUG", 'Payment gateway response {"order_id":"0000«n»","card":"411111******1111","cc_last4":"1111",'
          '"result":"approved"} []', 'Payment gateway response {"order_id":"0000«n»","cc_number":"XXXX-XXXX-XXXX-4242",'
          '"result":"approved"} []', 4),
    Entry("ERROR", 'Could not receive shipping rates from carrier "ups": Request timed out [] []',
          'Could not receive shipping rates from carrier "ups": Request timed out [] []', 1),
    Entry("ERROR", "Unable to send mail: Unknown error [] []",
          'Unable to send mail: Unknown error {"exception":"[object] (Magento\\\\Framework\\\\Exception\\\\MailException'
          '(code: 0): Unable to send mail: Unknown error at ' + V + '/module-email/Model/Transport.php:181)"} []', 1),
)
EXCEPTION: tuple[Entry, ...] = (
    Entry("CRITICAL",
          "Magento\\Framework\\Exception\\LocalizedException: Invalid Form Key. Please refresh the page. in "
          f"{V}/framework/App/Request/CsrfValidator.php:129"
          + trace(f"{V}/framework/App/FrontController.php(245): Magento\\Framework\\App\\Request\\CsrfValidator->validate()",
                  *HTTP_FRAMES) + " [] []",
          'Invalid Form Key. Please refresh the page. {"exception":"[object] (Magento\\\\Framework\\\\Exception\\\\'
          'LocalizedException(code: 0): Invalid Form Key. Please refresh the page. at ' + V
          + '/framework/App/Request/CsrfValidator.php:129)"} []', 4),
    Entry("CRITICAL",
          "PDOException: SQLSTATE[40001]: Serialization failure: 1213 Deadlock found when trying to get lock; try "
          f"restarting transaction in {V}/framework/DB/Statement/Pdo/Mysql.php:91"
          + trace(f"{V}/framework/DB/Statement/Pdo/Mysql.php(91): PDOStatement->execute(Array)",
                  f"{V}/module-inventory-indexer/Indexer/SourceItem/Strategy/Sync.php(93): Magento\\Framework\\DB\\Statement\\Pdo\\Mysql->execute(Array)",
                  *HTTP_FRAMES) + " [] []",
          'SQLSTATE[40001]: Serialization failure: 1213 Deadlock found when trying to get lock; try restarting '
          'transaction {"exception":"[object] (PDOException(code: 40001): SQLSTATE[40001]: Serialization failure: 1213 '
          'Deadlock found when trying to get lock; try restarting transaction at ' + V
          + '/framework/DB/Statement/Pdo/Mysql.php:91)"} []', 2),
    Entry("CRITICAL",
          "Magento\\Framework\\Exception\\NoSuchEntityException: The product that was requested doesn't exist. Verify "
          f"the product and try again. in {V}/module-catalog/Model/ProductRepository.php:280"
          + trace(f"{V}/module-catalog/Model/ProductRepository.php(280): Magento\\Catalog\\Model\\ProductRepository->get('«n»')",
                  f"{V}/module-quote/Model/Quote/Item/Repository.php(112): Magento\\Catalog\\Model\\ProductRepository\\Interceptor->getById(«n»)",
                  *HTTP_FRAMES) + " [] []",
          "The product that was requested doesn't exist. Verify the product and try again. {\"exception\":\"[object] "
          "(Magento\\\\Framework\\\\Exception\\\\NoSuchEntityException(code: 0): The product that was requested "
          "doesn't exist. Verify the product and try again. at " + V + '/module-catalog/Model/ProductRepository.php:280)"} []',
          3),
    Entry("CRITICAL", "Error when running a cron job" + ' {"exception":"[object] (RuntimeException(code: 0): Error when '
          'running a cron job at ' + V + '/module-cron/Observer/ProcessCronQueueObserver.php:368)"} []',
          'Error when running a cron job {"exception":"[object] (RuntimeException(code: 0): Error when running a cron '
          'job at ' + V + '/module-cron/Observer/ProcessCronQueueObserver.php:368)"} []', 1, channel="report"),
)


def time_prefix(version: str) -> pl.Expr:
    fmt = "%Y-%m-%dT%H:%M:%S%.6f+00:00" if version == "2.4" else "%Y-%m-%d %H:%M:%S"
    return pl.from_epoch("ts", time_unit="us").dt.strftime(fmt)


class MagentoLogWriter(FormatWriter):
    name: ClassVar[str] = "magento_log"
    share: ClassVar[float] = 0.04
    schemas: ClassVar[dict[str, Schema]] = {s: SCHEMA for s in STREAMS}

    def path(self, stream: str, date: dt.date) -> str:
        tenant, kind, _ = STREAMS[stream]
        return f"{tenant}-{kind}-{date.isoformat()}.log"

    def render(self, stream: str, df: pl.DataFrame) -> Rendered:
        version = STREAMS[stream][2]
        lines = df.select(pl.concat_str([pl.lit("["), time_prefix(version), pl.lit("] "), pl.col("channel"),
                                         pl.lit("."), pl.col("level"), pl.lit(": "), pl.col("message")])).to_series()
        return by_time(df, lines)

    def noise(self, ctx: DayContext) -> dict[str, pl.DataFrame]:
        out = {}
        for stream, n in split(ctx.n, STREAM_SHARE).items():
            _, kind, version = STREAMS[stream]
            out[stream] = self._entries(ctx, SYSTEM if kind == "system" else EXCEPTION, version, n)
        return out

    def _entries(self, ctx: DayContext, pool: tuple[Entry, ...], version: str, n: int) -> pl.DataFrame:
        rng = ctx.rng
        w = np.array([e.weight for e in pool])
        ei = rng.choice(len(pool), size=n, p=w / w.sum())
        frames = []
        for j, entry in enumerate(pool):
            m = int((ei == j).sum())
            if not m:
                continue
            text = entry.message_24 if version == "2.4" else entry.message_23
            if "«n»" in text:
                num = pl.DataFrame({"n": rng.integers(1_000, 99_999, m)}).select(
                    template(text, {"n": pl.col("n").cast(pl.String)})).to_series()
            else:
                num = const(text, m)
            frames.append(frame(SCHEMA, m, {"ts": np.zeros(m, dtype=np.int64), "channel": entry.channel,
                                            "level": entry.level, "message": num}))
        df = pl.concat(frames)
        ts = day_times(rng, ctx.start_us, df.height)[rng.permutation(df.height)]
        return df.with_columns(ts=pl.Series(values=ts))
