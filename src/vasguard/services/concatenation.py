"""Concatenated MOs between their first part and the intake (rules: domain.concatenation).

Each part is stored before the SMSC is acknowledged for it (invariant 6). The channel
hands the reassembled message to ``services.intake`` under the set's ``mo_key``; parts are
kept until ``timeout`` after the first one came, so a part redelivered after the message
was taken finds it complete and the intake answers it as a duplicate. ``sweep`` then
gives every set past its timeout back once more: a complete one to be taken (a duplicate
if it was; taken now if the process died between storing its last part and the intake),
an incomplete one to be kept with ``keep_incomplete``, unacted on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from vasguard.domain.clock import Clock
from vasguard.domain.concatenation import DEFAULT_TIMEOUT, Fragment, FragmentSet
from vasguard.domain.messages import NewMo
from vasguard.domain.msisdn import normalise
from vasguard.services.unit_of_work import UnitOfWork


def keep_fragments(
    uow: UnitOfWork, clock: Clock, fragments: Sequence[Fragment]
) -> list[FragmentSet]:
    """Store parts (committed before this returns); the sets they belong to, as stored
    now (``complete`` says which can be taken)."""
    with uow:
        uow.messages.fragments.add(fragments, clock.now())
        uow.commit()
        return uow.messages.fragments.sets(list({f.key: None for f in fragments}))


def sweep(
    uow: UnitOfWork, clock: Clock, timeout: timedelta = DEFAULT_TIMEOUT, *, limit: int = 500
) -> list[FragmentSet]:
    """Sets whose first part is ``timeout`` old: take the complete ones (then ``forget``),
    ``keep_incomplete`` the others."""
    with uow:
        return uow.messages.fragments.older_than(clock.now() - timeout, limit)


def forget(uow: UnitOfWork, sets: Sequence[FragmentSet]) -> None:
    with uow:
        uow.messages.fragments.forget([s.key for s in sets])
        uow.commit()


def keep_incomplete(uow: UnitOfWork, clock: Clock, fragment_set: FragmentSet, text: str) -> None:
    """Store what arrived of an incomplete message as one MO nothing acts on (kind
    ``mo_incomplete``), and forget its parts, in one transaction."""
    key = fragment_set.key
    with uow:
        uow.messages.keep_incomplete(
            NewMo(
                msisdn=normalise(key.sender),
                service_number=key.destination,
                text=NewMo.clean(text),
                smsc_message_id=fragment_set.mo_key(),
                created_at=clock.now(),
            )
        )
        uow.messages.fragments.forget([key])
        uow.commit()
