"""The access rules and the other new domain rules of the API, without a database:
keys, grants and scopes; idempotent retries; webhook signatures, URLs and back-off; a
charge's status; customer login codes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from vasguard.domain.access import (
    Action,
    NotYourService,
    PresentedKey,
    Principal,
    Role,
    check_provider,
    format_key,
    may,
    parse_key,
    roles_allowed,
    secret_matches,
    sees_province,
)
from vasguard.domain.customer_login import LoginCode, hash_code, wait_before_next_code
from vasguard.domain.idempotency import (
    KeptRequest,
    KeyReused,
    RequestInProgress,
    answer_for_retry,
)
from vasguard.domain.ledger import ChargeStatus, charge_status
from vasguard.domain.partner_feed import check_webhook, retry_delay, sign, verify
from vasguard.domain.refusals import InvalidInput

T = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
KEY_ID = "0123456789ab"


def test_a_key_parses_back_to_its_id_and_secret_and_matches_only_its_hash():
    token = format_key(KEY_ID, "s3cret-Secret")
    presented = parse_key(token)
    assert presented == PresentedKey(KEY_ID, "s3cret-Secret")
    assert secret_matches(presented, presented.secret_sha256)
    other = PresentedKey(KEY_ID, "s3cret-Secreu")
    assert not secret_matches(other, presented.secret_sha256)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "vg_",
        f"xx_{KEY_ID}_secret",  # not our prefix
        f"vg_{KEY_ID}secret",  # no separator
        f"vg_{KEY_ID}_",  # no secret
        "vg_0123456789a_secret",  # id too short
        "vg_0123456789AB_secret",  # not lower-case hex
        f"vg_{KEY_ID}_sécret",  # not ASCII
        f"vg_{KEY_ID}_" + "s" * 200,  # too long to be ours
    ],
)
def test_a_malformed_key_is_nothing_to_look_up(token):
    assert parse_key(token) is None


def test_grants_per_role():
    assert roles_allowed(Action.POST_MO) == [Role.GATEWAY]
    assert roles_allowed(Action.BILL_RUN) == [Role.OPERATOR]
    assert may(Role.PARTNER, Action.ORDER) and not may(Role.PARTNER, Action.READ_SUBSCRIBER)
    assert may(Role.CARE, Action.REFUND) and not may(Role.CARE, Action.EDIT_CATALOGUE)


def test_scopes_of_a_principal():
    partner = Principal(1, "p", Role.PARTNER, provider_id=7)
    care_sh = Principal(2, "c", Role.CARE, province="31")
    operator = Principal(3, "o", Role.OPERATOR)
    assert partner.sees_provider(7) and not partner.sees_provider(8)
    assert operator.sees_provider(8) and care_sh.sees_provider(8)
    assert care_sh.sees_province("31") and not care_sh.sees_province("11")
    assert sees_province(None, "11") and sees_province(operator, "11")
    assert not sees_province(care_sh, "11")
    check_provider(partner, 7, "80100001")
    check_provider(None, 8, "80100001")
    with pytest.raises(NotYourService):
        check_provider(partner, 8, "80200001")
    assert (partner.cause.kind, partner.cause.ref) == ("api", "p")


def test_a_retry_gets_the_first_answer_only_for_the_same_request_once_answered():
    digest = b"d" * 32
    answered = KeptRequest(digest, 201, '{"id": 1}')
    assert answer_for_retry(answered, digest, "k").status_code == 201
    with pytest.raises(KeyReused):
        answer_for_retry(answered, b"e" * 32, "k")
    with pytest.raises(RequestInProgress):
        answer_for_retry(KeptRequest(digest, None, None), digest, "k")


def test_a_webhook_signature_verifies_for_its_body_secret_and_time_only():
    body = b'{"events": []}'
    header = sign("a-secret-of-16-chars", body, T)
    assert verify("a-secret-of-16-chars", header, body, T + timedelta(seconds=60))
    assert not verify("another-secret-16ch", header, body, T)
    assert not verify("a-secret-of-16-chars", header, body + b" ", T)
    assert not verify("a-secret-of-16-chars", header, body, T + timedelta(seconds=301))
    assert not verify("a-secret-of-16-chars", None, body, T)
    assert not verify("a-secret-of-16-chars", "t=x,v1=00", body, T)


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/h", "https://", "https://u:p@example.com/", "https://ex ample.com/"],
)
def test_a_webhook_url_must_be_plain_http_or_https(url):
    with pytest.raises(InvalidInput):
        check_webhook(url, "s" * 16)


def test_a_webhook_secret_has_a_length_and_a_good_url_is_kept():
    assert check_webhook(" https://partner.example/hook ", "s" * 16) == (
        "https://partner.example/hook"
    )
    with pytest.raises(InvalidInput):
        check_webhook("https://partner.example/hook", "short")


def test_retries_back_off_doubling_up_to_the_maximum_with_jitter_down_to_half():
    rng = random.Random(1)
    delays = [retry_delay(n, 5, 3600, rng).total_seconds() for n in range(1, 12)]
    for n, delay in enumerate(delays, start=1):
        base = min(3600, 5 * 2 ** (n - 1))
        assert base / 2 <= delay <= base


def test_a_charge_is_refunded_before_held_before_billed():
    assert charge_status(refunded=True, held=True) is ChargeStatus.REFUNDED
    assert charge_status(refunded=False, held=True) is ChargeStatus.ON_HOLD
    assert charge_status(refunded=False, held=False) is ChargeStatus.BILLED


def test_login_codes_wait_a_minute_between_and_five_an_hour():
    assert wait_before_next_code([], T) is None
    assert wait_before_next_code([T - timedelta(seconds=20)], T) == timedelta(seconds=40)
    five = [T - timedelta(minutes=m) for m in (50, 40, 30, 20, 10)]
    assert wait_before_next_code(five, T) == timedelta(minutes=10)
    assert wait_before_next_code([T - timedelta(hours=2)], T) is None


def test_a_login_code_is_usable_until_it_expires_is_used_or_tried_five_times():
    salt = b"salt" * 4
    code = LoginCode(1, 1, hash_code("123456", salt), salt, T + timedelta(minutes=5), 0, None)
    assert code.matches("123456") and not code.matches("123457")
    assert code.usable_at(T) and not code.usable_at(T + timedelta(minutes=5))
    tried = LoginCode(1, 1, code.code_hash, salt, code.expires_at, 5, None)
    used = LoginCode(1, 1, code.code_hash, salt, code.expires_at, 0, T)
    assert not tried.usable_at(T) and not used.usable_at(T)
