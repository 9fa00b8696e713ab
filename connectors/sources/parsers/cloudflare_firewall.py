"""Cloudflare Logpush `firewall_events`: JSON lines, optionally gzipped (as Logpush writes them to R2/S3)."""

from connectors.sources.sqlparser import SqlFileParser


class CloudflareFirewallParser(SqlFileParser):
    format = "cloudflare_firewall"
    description = "Cloudflare Logpush firewall_events (JSON lines; Datetime as RFC 3339, unix or unixnano)"
