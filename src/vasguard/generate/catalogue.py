"""The generated catalogue: the operator, its partners, their services and the plans.

The whole catalogue (about 200,000 services) is held in compact per-column lists, because
subscriptions pick services from it and messages quote service names and prices; table rows
are produced from it in batches so that no full list of row dicts ever exists.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from random import Random
from typing import Any

from vasguard.domain.catalogue import BillingMode
from vasguard.domain.msisdn import Province
from vasguard.generate import names

OPERATOR_CODE = "10086"
OPERATOR_NAME = "中国移动通信集团有限公司"
SERVICE_NUMBER = "10086"

PARTNERS = 5_400
OWN_SERVICES = 760
PARTNER_SERVICES = 200_000
# A partner service code is the enterprise code plus a 4-digit sequence.
MAX_SERVICES_PER_PARTNER = 9_999

CATEGORIES = (
    "news", "music", "weather", "reading", "games", "video",
    "finance", "education", "health", "lifestyle",
)  # fmt: skip
GROUP_CATEGORIES = ("ringback_group", "school", "farm", "mailbox")
# Share of partner services in group categories (school messaging, farm information, …).
PARTNER_GROUP_SHARE = 0.02
# Which group services the unit pays for, by category.
GROUP_PAID_SHARE = {"ringback_group": 0.5, "school": 0.2, "farm": 0.2, "mailbox": 0.1}
# Services exempt from the reminder for a technical reason (group-paid ones come on top).
TECHNICAL_EXEMPT_SHARE = 0.005

# Monthly prices in fen, skewed to the common price points.
MONTHLY_PRICES = (50, 100, 200, 300, 500, 600, 800, 1000, 1500, 2000, 3000)
MONTHLY_PRICE_WEIGHTS = (3, 6, 18, 20, 20, 3, 8, 12, 4, 4, 2)
PER_USE_PRICES = (10, 20, 50, 100, 200, 300)
PER_USE_PRICE_WEIGHTS = (5, 10, 25, 30, 20, 10)
PER_USE_SHARE = {"games": 0.4, "music": 0.2, "video": 0.15, "reading": 0.1}
FREE_SHARE = {"mailbox": 0.3}
DEFAULT_PER_USE_SHARE = 0.03
DEFAULT_FREE_SHARE = 0.03

# Fixed terms for the plan-includable own services (name → billing mode, price in fen).
INCLUDABLE_TERMS: dict[str, tuple[str, int]] = {
    "全国手机报": ("monthly", 300),
    "彩铃功能": ("monthly", 500),
    "139邮箱免费版": ("free", 0),
    "天气预报": ("monthly", 300),
    "无线音乐俱乐部普通会员": ("monthly", 300),
    "手机阅读包月": ("monthly", 500),
    "飞信会员": ("monthly", 500),
    "号簿管家": ("monthly", 200),
    "12580生活播报": ("monthly", 300),
    "手机视频基础包": ("monthly", 1000),
}

# How many own services a plan includes: 0..4.
PLAN_INCLUSION_WEIGHTS = (15, 25, 30, 20, 10)


@dataclass(slots=True)
class Pool:
    """Monthly services to pick subscriptions from, most popular first, with Zipf weights."""

    ids: list[int]
    cum_weights: list[float]

    @classmethod
    def zipf(cls, ids: list[int], exponent: float) -> Pool:
        weights = (1.0 / (rank**exponent) for rank in range(1, len(ids) + 1))
        return cls(ids, list(itertools.accumulate(weights)))

    def pick(self, rng: Random) -> int:
        return rng.choices(self.ids, cum_weights=self.cum_weights)[0]


@dataclass(slots=True)
class Catalogue:
    """Everything generated about providers, services and plans; ids start at 1.

    Per-service lists are indexed by service id (index 0 is a placeholder).
    """

    provider_codes: list[str] = field(default_factory=lambda: [""])
    provider_names: list[str] = field(default_factory=lambda: [""])
    provider_access: list[str] = field(default_factory=lambda: [""])
    service_codes: list[str] = field(default_factory=lambda: [""])
    service_names: list[str] = field(default_factory=lambda: [""])
    service_provider: list[int] = field(default_factory=lambda: [0])
    service_category: list[str] = field(default_factory=lambda: [""])
    service_billing: list[str] = field(default_factory=lambda: [""])
    service_price: list[int] = field(default_factory=lambda: [0])
    service_exempt: list[str | None] = field(default_factory=lambda: [None])
    service_group: list[bool] = field(default_factory=lambda: [False])
    service_group_paid: list[bool] = field(default_factory=lambda: [False])
    plan_codes: list[str] = field(default_factory=lambda: [""])
    plan_names: list[str] = field(default_factory=lambda: [""])
    plan_fees: list[int] = field(default_factory=lambda: [0])
    plan_included: list[tuple[int, ...]] = field(default_factory=lambda: [()])
    plan_cum_weights: list[float] = field(default_factory=list)
    own_pool: Pool = field(default_factory=lambda: Pool([], []))
    partner_pool: Pool = field(default_factory=lambda: Pool([], []))
    group_pool: Pool = field(default_factory=lambda: Pool([], []))

    @property
    def service_count(self) -> int:
        return len(self.service_codes) - 1

    @property
    def plan_count(self) -> int:
        return len(self.plan_codes) - 1

    def pick_plan(self, rng: Random) -> int:
        return rng.choices(range(1, len(self.plan_codes)), cum_weights=self.plan_cum_weights)[0]

    def reminder_applies(self, service_id: int) -> bool:
        """A charge reminder is owed: a monthly service not exempt from the reminder."""
        return (
            self.service_billing[service_id] == "monthly"
            and self.service_exempt[service_id] is None
        )

    # --- table rows --------------------------------------------------------------------

    def provider_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "id": i,
                "code": self.provider_codes[i],
                "name": self.provider_names[i],
                "kind": "operator" if i == 1 else "partner",
                "access_number": self.provider_access[i],
            }
            for i in range(1, len(self.provider_codes))
        ]

    def service_rows(self, batch: int) -> Iterator[list[dict[str, Any]]]:
        for start in range(1, len(self.service_codes), batch):
            stop = min(start + batch, len(self.service_codes))
            yield [
                {
                    "id": i,
                    "code": self.service_codes[i],
                    "name": self.service_names[i],
                    "provider_id": self.service_provider[i],
                    "category": self.service_category[i],
                    "billing_mode": self.service_billing[i],
                    "price_fen": self.service_price[i],
                    "reminder_exempt_reason": self.service_exempt[i],
                    "group_service": self.service_group[i],
                    "group_paid": self.service_group_paid[i],
                    "listed_until": None,
                }
                for i in range(start, stop)
            ]

    def plan_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "id": i,
                "code": self.plan_codes[i],
                "name": self.plan_names[i],
                "monthly_fee_fen": self.plan_fees[i],
            }
            for i in range(1, len(self.plan_codes))
        ]

    def plan_service_rows(self) -> list[dict[str, Any]]:
        return [
            {"plan_id": plan_id, "service_id": service_id}
            for plan_id in range(1, len(self.plan_codes))
            for service_id in self.plan_included[plan_id]
        ]


def build_catalogue(rng: Random, provinces: Sequence[Province]) -> Catalogue:
    """Generate the whole catalogue from ``rng``; same stream, same catalogue."""
    catalogue = Catalogue()
    _add_providers(catalogue, rng)
    _add_own_services(catalogue, rng, provinces)
    _add_partner_services(catalogue, rng)
    _add_plans(catalogue, rng)
    _add_pools(catalogue, rng)
    return catalogue


def _add_providers(catalogue: Catalogue, rng: Random) -> None:
    catalogue.provider_codes.append(OPERATOR_CODE)
    catalogue.provider_names.append(OPERATOR_NAME)
    catalogue.provider_access.append(SERVICE_NUMBER)
    codes = rng.sample(range(800_000, 1_000_000), PARTNERS)
    access_numbers = rng.sample(range(100_000_000), PARTNERS)
    seen: set[str] = set()
    for code, access in zip(codes, access_numbers, strict=True):
        name = _company_name(rng)
        while name in seen:
            name = _company_name(rng)
        seen.add(name)
        catalogue.provider_codes.append(str(code))
        catalogue.provider_names.append(name)
        # Partner access numbers: 10669xxxxx (10 digits) or 1065xxxxxxx (11 digits).
        if access % 2:
            catalogue.provider_access.append(f"10669{access % 100_000:05d}")
        else:
            catalogue.provider_access.append(f"1065{access % 10_000_000:07d}")


def _company_name(rng: Random) -> str:
    return (
        rng.choice(names.COMPANY_PLACES)
        + rng.choice(names.COMPANY_CORES)
        + rng.choice(names.COMPANY_TRADES)
        + rng.choice(names.COMPANY_FORMS)
    )


def _add_own_services(catalogue: Catalogue, rng: Random, provinces: Sequence[Province]) -> None:
    specs: list[tuple[str, str]] = list(names.OWN_NATIONAL)
    local = (
        (f"{p.name}{stem}{edition}", category)
        for edition in names.OWN_LOCAL_EDITIONS
        for p in provinces
        for stem, category in names.OWN_LOCAL_STEMS
    )
    specs.extend(itertools.islice(local, OWN_SERVICES - len(specs)))
    if len(specs) != OWN_SERVICES:
        raise AssertionError(f"own service names run short: {len(specs)} of {OWN_SERVICES}")
    for n, (name, category) in enumerate(specs, start=1):
        billing, price = INCLUDABLE_TERMS.get(name) or _billing_and_price(rng, category)
        _add_service(catalogue, rng, f"1258{n:04d}", name, 1, category, billing, price)


def _add_partner_services(catalogue: Catalogue, rng: Random) -> None:
    counts = _services_per_partner(rng)
    for provider_id in range(2, PARTNERS + 2):
        brand = catalogue.provider_names[provider_id]
        core = next((c for c in names.COMPANY_CORES if c in brand), "")
        code = catalogue.provider_codes[provider_id]
        for seq in range(1, counts[provider_id - 2] + 1):
            if rng.random() < PARTNER_GROUP_SHARE:
                category = rng.choice(GROUP_CATEGORIES)
            else:
                category = rng.choice(CATEGORIES)
            stem = rng.choice(names.CATEGORY_STEMS[category])
            prefix = core if rng.random() < 0.7 else ""
            name = f"{prefix}{stem}{rng.choice(names.EDITIONS)}"
            billing, price = _billing_and_price(rng, category)
            _add_service(
                catalogue, rng, f"{code}{seq:04d}", name, provider_id, category, billing, price
            )


def _services_per_partner(rng: Random) -> list[int]:
    """Every partner has at least one service; a few large ones have thousands (Zipf)."""
    ranks = list(range(PARTNERS))
    rng.shuffle(ranks)
    weights = list(itertools.accumulate(1.0 / (r + 1) ** 0.75 for r in ranks))
    drawn = Counter(
        rng.choices(range(PARTNERS), cum_weights=weights, k=PARTNER_SERVICES - PARTNERS)
    )
    counts = [1 + drawn[p] for p in range(PARTNERS)]
    excess = sum(max(0, c - MAX_SERVICES_PER_PARTNER) for c in counts)
    counts = [min(c, MAX_SERVICES_PER_PARTNER) for c in counts]
    for p in itertools.islice(itertools.cycle(range(PARTNERS)), excess):
        counts[p] += 1
    return counts


def _billing_and_price(rng: Random, category: str) -> tuple[str, int]:
    draw = rng.random()
    free_share = FREE_SHARE.get(category, DEFAULT_FREE_SHARE)
    if draw < free_share:
        return "free", 0
    if draw < free_share + PER_USE_SHARE.get(category, DEFAULT_PER_USE_SHARE):
        return "per_use", rng.choices(PER_USE_PRICES, PER_USE_PRICE_WEIGHTS)[0]
    return "monthly", rng.choices(MONTHLY_PRICES, MONTHLY_PRICE_WEIGHTS)[0]


def _add_service(
    catalogue: Catalogue,
    rng: Random,
    code: str,
    name: str,
    provider_id: int,
    category: str,
    billing: str,
    price: int,
) -> None:
    group = category in GROUP_CATEGORIES
    group_paid = group and rng.random() < GROUP_PAID_SHARE[category]
    exempt: str | None = None
    if group_paid:
        exempt = names.GROUP_PAID_EXEMPT_REASON
    elif rng.random() < TECHNICAL_EXEMPT_SHARE:
        exempt = rng.choice(names.EXEMPT_REASONS)
    catalogue.service_codes.append(code)
    catalogue.service_names.append(name)
    catalogue.service_provider.append(provider_id)
    catalogue.service_category.append(category)
    catalogue.service_billing.append(billing)
    catalogue.service_price.append(price)
    catalogue.service_exempt.append(exempt)
    catalogue.service_group.append(group)
    catalogue.service_group_paid.append(group_paid)


def _add_plans(catalogue: Catalogue, rng: Random) -> None:
    includable = range(1, names.PLAN_INCLUDABLE_COUNT + 1)
    weights: list[float] = []
    for prefix, brand, fees in names.PLAN_FAMILIES:
        for fee in fees:
            count = rng.choices(range(len(PLAN_INCLUSION_WEIGHTS)), PLAN_INCLUSION_WEIGHTS)[0]
            catalogue.plan_codes.append(f"{prefix}{fee}")
            catalogue.plan_names.append(f"{brand}{fee}元套餐")
            catalogue.plan_fees.append(fee * 100)
            catalogue.plan_included.append(tuple(sorted(rng.sample(includable, count))))
            # Cheaper plans are the common ones.
            weights.append(1.0 / fee)
    catalogue.plan_cum_weights = list(itertools.accumulate(weights))


def _add_pools(catalogue: Catalogue, rng: Random) -> None:
    own: list[int] = []
    partner: list[int] = []
    group: list[int] = []
    for service_id in range(1, len(catalogue.service_codes)):
        # Only monthly services are ordered as subscriptions (``check_order``).
        if catalogue.service_billing[service_id] != BillingMode.MONTHLY.value:
            continue
        if catalogue.service_group[service_id]:
            group.append(service_id)
        elif catalogue.service_provider[service_id] == 1:
            own.append(service_id)
        else:
            partner.append(service_id)
    for ids in (own, partner, group):
        rng.shuffle(ids)
    # The plan-includable services are the operator's best sellers: keep them on top, so
    # that excluding a subscriber's plan services actually matters.
    own.sort(key=lambda s: s > names.PLAN_INCLUDABLE_COUNT)
    catalogue.own_pool = Pool.zipf(own, 1.0)
    catalogue.partner_pool = Pool.zipf(partner, 0.9)
    catalogue.group_pool = Pool.zipf(group, 0.8)
