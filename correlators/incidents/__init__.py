"""Incidents: alerts grouped by playbook and dedup key, with suppression, repeat policy and an alert budget."""

from correlators.incidents.assign import AssignSummary, assign
from correlators.incidents.policy import SEVERITIES, IncidentPolicy

__all__ = ["SEVERITIES", "AssignSummary", "IncidentPolicy", "assign"]
