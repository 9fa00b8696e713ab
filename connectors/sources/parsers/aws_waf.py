"""AWS WAF v2 logs: JSON lines, optionally gzipped (as Firehose writes them to S3)."""

from connectors.sources.sqlparser import SqlFileParser


class AwsWafParser(SqlFileParser):
    format = "aws_waf"
    description = "AWS WAF v2 web ACL logs (JSON lines, .gz as delivered to S3/Firehose)"
