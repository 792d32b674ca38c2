"""Group commit: which MOs may share a transaction; no database."""

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vasguard.domain.group_commit import transactions


@pytest.mark.parametrize(
    ("senders", "runs"),
    [
        ([], []),
        (["a"], [[0]]),
        (["a", "b", "c"], [[0, 1, 2]]),
        (["a", "a"], [[0], [1]]),
        (["a", "b", "a", "c"], [[0, 1], [2, 3]]),
        (["a", "b", "b", "a"], [[0, 1], [2, 3]]),
        (["a", "a", "a"], [[0], [1], [2]]),
    ],
)
def test_runs(senders: list[str], runs: list[list[int]]) -> None:
    assert transactions(senders) == runs


@given(st.lists(st.sampled_from("abcde"), max_size=40))
def test_runs_keep_order_never_repeat_a_sender_and_end_only_on_a_repeat(
    senders: list[str],
) -> None:
    runs = transactions(senders)
    assert [p for run in runs for p in run] == list(range(len(senders)))
    for run in runs:
        assert len({senders[p] for p in run}) == len(run)
    for run, following in pairwise(runs):
        assert senders[following[0]] in {senders[p] for p in run}
