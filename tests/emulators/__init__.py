"""Local Jira and Slack emulators for tests and benchmarks (see common.py for the control routes)."""
