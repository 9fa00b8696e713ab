"""The shipped library: every playbook's embedded tests (the same code path as `breachline playbooks test`),
lint clean, the ids `breachline generate` names, a runbook each, positive and near-miss tests each."""

from __future__ import annotations

import pytest

from breachline.paths import PLAYBOOKS_DIR, REPO_ROOT
from correlators.correlation import compile_playbook, run_test
from correlators.playbooks import Playbook, PlaybookTest, load_playbooks
from correlators.playbooks.lint import lint

GENERATOR_IDS = {
    "admin-escalation-then-bulk-export", "api-client-customer-scraping", "pan-in-application-log",
    "pii-to-untrusted-webhook", "cross-customer-data-exposure", "dsr-wrong-subject",
    "waf-attack-then-data-response", "admin-credential-stuffing-success", "login-as-customer-abuse",
    "payment-token-offsite-script",
}

LIBRARY = load_playbooks([PLAYBOOKS_DIR])
CASES = [(pb, t) for pb in LIBRARY for t in pb.tests]


@pytest.mark.parametrize(("pb", "case"), CASES, ids=[f"{pb.id}::{t.name}" for pb, t in CASES])
def test_embedded_case(pb: Playbook, case: PlaybookTest) -> None:
    outcome = run_test(pb, case)
    assert outcome.passed, outcome.describe()


def test_library_covers_the_generator_and_the_issue() -> None:
    ids = {pb.id for pb in LIBRARY}
    assert ids >= GENERATOR_IDS
    assert len(ids) >= 15
    types = {pb.correlation.type for pb in LIBRARY}
    assert types == {"match", "threshold", "sequence", "first_seen"}


def test_library_lints_clean() -> None:
    loaded, problems = lint([PLAYBOOKS_DIR], repo_root=REPO_ROOT, compile_check=lambda pb: None)
    assert len(loaded) == len(LIBRARY)
    assert [str(p) for p in problems] == []


@pytest.mark.parametrize("pb", LIBRARY, ids=[pb.id for pb in LIBRARY])
def test_each_playbook_is_complete(pb: Playbook) -> None:
    assert any(t.expect_alerts > 0 for t in pb.tests), "a test that fires"
    assert any(t.expect_alerts == 0 for t in pb.tests), "a near-miss test that stays silent"
    assert pb.runbook == f"docs/runbooks/{pb.id}.md" and (REPO_ROOT / pb.runbook).is_file()
    assert pb.description and pb.tags
    assert "SELECT" in compile_playbook(pb).sql
