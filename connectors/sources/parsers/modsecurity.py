"""ModSecurity JSON audit logs: mod_security 2.9 (Apache) and libmodsecurity 3 (nginx/Apache connectors), one
record per line (SecAuditLogType Serial, or one file per transaction with Concurrent), optionally gzipped."""

from connectors.sources.sqlparser import SqlFileParser


class ModSecurityParser(SqlFileParser):
    format = "modsecurity"
    description = "ModSecurity JSON audit log (SecAuditLogFormat JSON), v2 and v3 shapes detected per record"
