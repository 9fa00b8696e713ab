"""Playbooks: the YAML format (docs/playbooks.md, docs/playbook.schema.json), its loader and lint."""

from correlators.playbooks.loader import (
    PlaybookLoadError,
    Problem,
    check_playbook,
    configured_playbook_dirs,
    load_playbook,
    load_playbooks,
    playbook_files,
)
from correlators.playbooks.model import (
    Aggregate,
    Correlation,
    FirstSeenSpec,
    MatchSpec,
    NewValue,
    Playbook,
    PlaybookException,
    PlaybookTest,
    Rule,
    SequenceSpec,
    Step,
    ThresholdSpec,
)

__all__ = [
    "Aggregate",
    "Correlation",
    "FirstSeenSpec",
    "MatchSpec",
    "NewValue",
    "Playbook",
    "PlaybookException",
    "PlaybookLoadError",
    "PlaybookTest",
    "Problem",
    "Rule",
    "SequenceSpec",
    "Step",
    "ThresholdSpec",
    "check_playbook",
    "configured_playbook_dirs",
    "load_playbook",
    "load_playbooks",
    "playbook_files",
]
