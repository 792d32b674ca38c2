"""The complaint ticket, without a database."""

from datetime import UTC, datetime

import pytest

from vasguard.domain.complaints import complaint_id_of, ticket_for
from vasguard.domain.shards import ID_RANGE


def test_the_ticket_is_the_local_date_and_the_id_in_seven_digits():
    assert ticket_for(datetime(2026, 11, 24, 2, 0, tzinfo=UTC), 1, "Asia/Shanghai") == (
        "TS2611240000001"
    )


def test_the_ticket_is_dated_in_the_deployment_zone():
    # 23:00 UTC on 30 November is 07:00 on 1 December in Shanghai.
    opened = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    assert ticket_for(opened, 1234567, "Asia/Shanghai") == "TS2612011234567"
    assert ticket_for(opened, 1234567, "UTC") == "TS2611301234567"


def test_a_shards_ticket_names_the_shard_in_two_digits_and_fits_the_column():
    opened = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    ticket = ticket_for(opened, 3 * ID_RANGE + 42, "Asia/Shanghai")
    assert ticket == "TS261201030000042" and len(ticket) <= 20
    assert ticket_for(opened, 12 * ID_RANGE + 10**9, "Asia/Shanghai") == "TS261201121000000000"


@pytest.mark.parametrize(
    "complaint_id", [1, 42, 9_999_999, ID_RANGE, 3 * ID_RANGE + 42, 89 * ID_RANGE + 123]
)
def test_a_tickets_id_reads_back(complaint_id):
    ticket = ticket_for(datetime(2026, 12, 1, tzinfo=UTC), complaint_id, "Asia/Shanghai")
    assert complaint_id_of(ticket) == complaint_id


@pytest.mark.parametrize(
    "text", ["", "TS", "TS261201", "TS26120112345", "XX2612010000001", "TS26120100000０1"]
)
def test_what_is_not_a_tickets_shape_names_no_id(text):
    assert complaint_id_of(text) is None
