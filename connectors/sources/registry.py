"""The vendor formats breachline reads, by name (the `format` of a configured source)."""

from __future__ import annotations

import importlib

from breachline.errors import ConfigError
from connectors.sources.base import Parser

# format name -> "module:Class" under connectors.sources.parsers
PARSERS: dict[str, str] = {
    "aws_waf": "aws_waf:AwsWafParser",
    "cloudflare_firewall": "cloudflare_firewall:CloudflareFirewallParser",
    "modsecurity": "modsecurity:ModSecurityParser",
    "magento_action_log": "magento_action_log:MagentoActionLogParser",
    "magento_log": "magento_log:MagentoLogParser",
    "shopify_events": "shopify_events:ShopifyEventsParser",
    "app_json": "app_json:AppJsonParser",
}


def get_parser(fmt: str) -> Parser:
    try:
        target = PARSERS[fmt]
    except KeyError:
        raise ConfigError(f'unknown format "{fmt}"; known formats: {", ".join(sorted(PARSERS))}') from None
    module_name, _, class_name = target.partition(":")
    module = importlib.import_module(f"connectors.sources.parsers.{module_name}")
    parser: Parser = getattr(module, class_name)()
    return parser
