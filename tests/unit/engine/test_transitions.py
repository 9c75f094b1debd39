"""The transition table is complete, unambiguous and enforced."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from controller.api.status import Phase
from controller.engine.machine import HANDLERS
from controller.engine.transitions import ALL, TRANSITIONS, IllegalTransition, next_phase

PHASES = set(get_args(Phase))


def test_every_phase_has_a_handler_and_the_table_knows_every_phase() -> None:
    assert set(HANDLERS) == PHASES == set(ALL)
    assert {row.target for row in TRANSITIONS} == PHASES - {""}


def test_a_trigger_leads_to_one_phase_from_any_source() -> None:
    seen: dict[tuple[str, str], str] = {}
    for row in TRANSITIONS:
        for source in row.sources:
            assert (source, row.trigger) not in seen, (source, row.trigger)
            seen[(source, row.trigger)] = row.target


def test_moves_the_table_does_not_list_are_refused() -> None:
    assert next_phase("Progressing", "rollback") == "Failed"
    with pytest.raises(IllegalTransition, match="'Succeeded' on 'rollback'"):
        next_phase("Succeeded", "rollback")
    with pytest.raises(IllegalTransition):
        next_phase("Terminated", "deleted")


def test_docs_list_every_transition() -> None:
    docs = (Path(__file__).parents[3] / "docs" / "engine.md").read_text()
    for row in TRANSITIONS:
        assert f"| `{row.trigger}` | {row.target} | {row.meaning} |" in docs, row.trigger
