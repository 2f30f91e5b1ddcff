"""Every alert has a runbook entry its runbook_url points at, and every entry has an alert."""

import re

from tests.support.prometheus import RUNBOOK, alert_rules

RUNBOOK_URL = "https://github.com/usersuite/usersuite/blob/main/docs/runbook.md#"


def entries() -> set[str]:
    """The alert names the runbook has a `### <alert>` entry for."""
    return set(re.findall(r"^### (\w+)$", RUNBOOK.read_text(), flags=re.MULTILINE))


def test_every_alert_has_an_entry_and_every_entry_an_alert() -> None:
    alerts = {rule["alert"] for rule in alert_rules()}
    assert alerts - entries() == set(), "alerts without a runbook entry"
    assert entries() - alerts == set(), "runbook entries without an alert"


def test_every_runbook_url_points_at_its_alerts_entry() -> None:
    for rule in alert_rules():
        url = rule["annotations"]["runbook_url"]
        assert url == RUNBOOK_URL + rule["alert"].lower(), rule["alert"]
