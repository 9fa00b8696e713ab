"""breachline's own JSON-lines format for application events (docs/formats/app_json.md)."""

from connectors.sources.sqlparser import SqlFileParser


class AppJsonParser(SqlFileParser):
    format = "app_json"
    description = "breachline app_json: storefront/API/checkout/DSR/webhook/script events as JSON lines"
