"""How one ESME connects and behaves: the SMSC's address and credentials, and the limits
the operator agreed with the SMSC (window, submit rate) or that keep the link honest
(enquire_link interval, response timeout, reconnect back-off)."""

from __future__ import annotations

from dataclasses import dataclass

from vasguard.channels.smpp.framing import DEFAULT_MAX_LENGTH, HEADER_LENGTH


@dataclass(frozen=True, slots=True, kw_only=True)
class SmppConfig:
    """Settings of one bind; a pool opens ``binds`` of them to the same SMSC.

    ``window`` bounds the submit_sm awaiting their submit_sm_resp; ``submit_rate`` is in
    messages per second (``None``: no limit) with bursts of at most ``submit_burst``.
    ``deliver_batch`` is how many deliver_sm already received are handed to the handler
    in one call (one group commit); ``deliver_backlog`` is how many may wait for the
    handler before new ones are answered ESME_RX_T_APPN so the SMSC redelivers later.
    ``message_payload``: an MT longer than one SMS goes whole, in one submit_sm with the
    ``message_payload`` TLV, for an SMSC that cuts it for the handset itself (one submit
    and one receipt per MT); otherwise as UDH parts, a submit_sm each. Times are in seconds.
    """

    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    binds: int = 1
    window: int = 10
    submit_rate: float | None = None
    submit_burst: int = 1
    enquire_link_interval: float = 30.0
    response_timeout: float = 10.0
    connect_timeout: float = 10.0
    reconnect_min: float = 1.0
    reconnect_max: float = 60.0
    deliver_batch: int = 64
    deliver_backlog: int = 1_000
    max_pdu_length: int = DEFAULT_MAX_LENGTH
    message_payload: bool = False

    def __post_init__(self) -> None:
        problems = []
        if not 0 < self.port < 65_536:
            problems.append(f"port must be 1..65535, got {self.port}")
        for field, value, limit in (
            ("system_id", self.system_id, 15),
            ("password", self.password, 8),
            ("system_type", self.system_type, 12),
        ):
            if not value.isascii() or len(value) > limit:
                problems.append(f"{field} must be ASCII of at most {limit} characters (SMPP 3.4)")
        for field, number in (
            ("binds", self.binds),
            ("window", self.window),
            ("submit_burst", self.submit_burst),
            ("deliver_batch", self.deliver_batch),
            ("deliver_backlog", self.deliver_backlog),
        ):
            if number < 1:
                problems.append(f"{field} must be at least 1, got {number}")
        if self.submit_rate is not None and self.submit_rate <= 0:
            problems.append(f"submit_rate must be positive or None, got {self.submit_rate}")
        for field, seconds in (
            ("enquire_link_interval", self.enquire_link_interval),
            ("response_timeout", self.response_timeout),
            ("connect_timeout", self.connect_timeout),
            ("reconnect_min", self.reconnect_min),
        ):
            if seconds <= 0:
                problems.append(f"{field} must be positive, got {seconds}")
        if self.reconnect_max < self.reconnect_min:
            problems.append("reconnect_max must be at least reconnect_min")
        if self.max_pdu_length < HEADER_LENGTH:
            problems.append(f"max_pdu_length must be at least {HEADER_LENGTH}")
        if problems:
            raise ValueError("invalid SMPP configuration: " + "; ".join(problems))

    @property
    def peer(self) -> str:
        return f"{self.host}:{self.port}"
