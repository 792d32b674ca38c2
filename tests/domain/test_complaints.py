"""The complaint ticket, without a database."""

from datetime import UTC, datetime

from vasguard.domain.complaints import ticket_for


def test_the_ticket_is_the_local_date_and_the_id_in_seven_digits():
    assert ticket_for(datetime(2026, 11, 24, 2, 0, tzinfo=UTC), 1, "Asia/Shanghai") == (
        "TS2611240000001"
    )


def test_the_ticket_is_dated_in_the_deployment_zone():
    # 23:00 UTC on 30 November is 07:00 on 1 December in Shanghai.
    opened = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    assert ticket_for(opened, 1234567, "Asia/Shanghai") == "TS2612011234567"
    assert ticket_for(opened, 1234567, "UTC") == "TS2611301234567"
