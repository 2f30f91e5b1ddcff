"""`make bench` judges its targets on a quiet machine only (issue 18, point 1)."""

from bench.report import QUIET_LOAD, Row, withhold_verdicts


def rows() -> list[Row]:
    return [
        Row("twins", "GetUser", value=1.0, met=False),
        Row("twins", "List", value=1.0, met=True),
    ]


def test_a_quiet_machine_keeps_the_verdicts() -> None:
    judged = rows()
    assert withhold_verdicts(judged, QUIET_LOAD) is None
    assert [row.met for row in judged] == [False, True]


def test_a_busy_machine_gets_no_verdict_and_a_note_that_says_why() -> None:
    judged = rows()
    note = withhold_verdicts(judged, 4.2)
    assert note is not None
    assert "4.2" in note
    assert [row.met for row in judged] == [None, None]
