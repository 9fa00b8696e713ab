"""One writer per vendor format; WRITERS is the registry the runner iterates over."""

from __future__ import annotations

from breachline.generate.formats.app_json import AppJsonWriter
from breachline.generate.formats.aws_waf import AwsWafWriter
from breachline.generate.formats.base import FormatWriter
from breachline.generate.formats.cloudflare import CloudflareWriter
from breachline.generate.formats.magento_action_log import MagentoActionLogWriter
from breachline.generate.formats.magento_log import MagentoLogWriter
from breachline.generate.formats.modsecurity import ModSecurityWriter
from breachline.generate.formats.shopify_events import ShopifyEventsWriter

# Heaviest first: the runner hands formats to its workers in this order.
WRITERS: tuple[type[FormatWriter], ...] = (
    AwsWafWriter,
    AppJsonWriter,
    CloudflareWriter,
    ModSecurityWriter,
    MagentoLogWriter,
    ShopifyEventsWriter,
    MagentoActionLogWriter,
)
FORMAT_NAMES: tuple[str, ...] = tuple(w.name for w in WRITERS)

__all__ = ["FORMAT_NAMES", "WRITERS", "FormatWriter"]
