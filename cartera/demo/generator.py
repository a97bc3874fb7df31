"""The demo portfolio: a deterministic, realistic customer file for a Spanish business.

:func:`generate_demo` fills an empty customer file with companies, customers, three years of orders,
interactions and tasks, and creates the demo users (``admin``, ``manager``, ``ana``, ``luis``).
The same ``seed`` and ``today`` give the same data, row for row.

The business is a retailer of home and technology products that also sells to companies (about one
customer in ten works for a company). Purchases follow a repeat-buying process, so that the
analytics have something true to find:

* each buyer has an acquisition date (the first purchase) and a purchase rate drawn from a gamma
  distribution: a few buy every week, most a few times a year, some never come back;
* after each repeat purchase a buyer may become inactive for good, with a probability drawn from a
  beta distribution (the BG/NBD story of Fader, Hardie & Lee, *Counting Your Customers the Easy
  Way*, Marketing Science 24(2), 2005);
* a "slipping away" group does not stop at once: their rate decays exponentially, so their orders
  thin out month after month;
* order values follow the gamma-gamma spend model (Fader, Hardie & Lee 2005, *RFM and CLV*):
  each customer has their own gamma-distributed average spend.

So active, declining and inactive customers, one-time buyers and people who never bought all exist.

Speed: a million customers and ten million orders are written in a few minutes. Rows are built
column by column with numpy and written with the driver's fastest path (``executemany`` on SQLite,
``COPY`` on PostgreSQL); for the big size the secondary indexes are dropped during the load and
rebuilt once at the end, which is several times faster than maintaining them row by row.

Every email address and web site is under the reserved ``example`` domains (RFC 2606), so a demo
can never write to a real person.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.utils import timezone
from faker import Faker

from cartera.accounts import roles
from cartera.accounts.models import User
from cartera.accounts.services import user_create
from cartera.activity.models import Interaction, Task
from cartera.core import bulk
from cartera.core.database import update_planner_statistics
from cartera.core.money import base_currency
from cartera.core.text import fold
from cartera.customers.models import (
    Channel,
    Company,
    CompanySize,
    Customer,
    CustomField,
    CustomFieldType,
    Source,
    Stage,
    Tag,
    Title,
)
from cartera.demo.buying import (
    B2B_SHARE,
    NEVER_BOUGHT_SHARE,
    _calibrate,
    _draw_buyers,
    _first_days,
    _simulate,
)
from cartera.demo.reference import (
    CATEGORIES,
    CHANNEL_WORDS,
    COMPANY_FORMS,
    COMPANY_SIZES,
    COMPANY_STEMS,
    CONTACT_CHANNELS,
    CUSTOMER_NOTES,
    EMAIL_DOMAINS,
    INCOME_RANGES,
    JOB_TITLES,
    OTHER_NAME_WEIGHT,
    OTHER_SURNAME_WEIGHT,
    PROFESSIONS,
    PROVINCES,
    SALES_CHANNELS,
    SECTORS,
    SOURCES,
    STORES,
    STREET_NAMES,
    STREET_TYPES,
    TAGS,
    TASK_TITLES,
    TEAM_TASK_TITLES,
    TEMPLATES,
    TOP_FEMALE,
    TOP_MALE,
    TOP_SURNAMES,
    Template,
)
from cartera.demo.writing import (
    Progress,
    _alnum,
    _cif,
    _Clock,
    _objects,
    _Pending,
    _slug,
    _values,
    _weights,
    _Writer,
    _years_before,
)
from cartera.sales.models import Order

DEMO_PASSWORD = "cartera-demo"  # noqa: S105 - published on purpose: these are the demo logins
ORDER_SOURCE = "demo"
BIG_CUSTOMERS = 1_000_000
DEFAULT_ORDERS_PER_CUSTOMER = 10.0

# Above this size the load drops and rebuilds indexes and relaxes durability for its duration.
BULK_LOAD_THRESHOLD = 100_000
# Customers generated and written per step: bounds memory (about 10 orders per customer) whatever
# the size.
CHUNK = 50_000


class DemoUser(NamedTuple):
    username: str
    role: str
    first_name: str
    last_name: str


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", roles.ADMIN, "Carmen", "Ruiz Ortega"),
    DemoUser("manager", roles.MANAGER, "Javier", "Morales Gil"),
    DemoUser("ana", roles.SALES_REP, "Ana", "Torres Vidal"),
    DemoUser("luis", roles.SALES_REP, "Luis", "Navarro Campos"),
)


class DemoError(Exception):
    """The demo portfolio cannot be generated here (the customer file is not empty)."""


@dataclass
class DemoStats:
    """What :func:`generate_demo` wrote, and how long it took."""

    customers: int = 0
    companies: int = 0
    orders: int = 0
    interactions: int = 0
    tasks: int = 0
    tag_links: int = 0
    users_created: list[str] = field(default_factory=list)
    stages: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


# --- the generator --------------------------------------------------------------------------------


class _Pools:
    """Names, streets and the other lists the customers are drawn from (Faker es_ES + INE tables)."""

    def __init__(self, seed: int) -> None:
        fake = Faker("es_ES")
        fake.seed_instance(seed)
        person = next(p for p in fake.providers if hasattr(p, "first_names_female"))
        # Names Faker lists for both sexes ("José", "María", "Cruz") would break titles and genders.
        both = set(person.first_names_female) & set(person.first_names_male)
        female_names = [x for x in person.first_names_female if x not in both and x not in TOP_MALE]
        male_names = [x for x in person.first_names_male if x not in both and x not in TOP_FEMALE]
        female = dict.fromkeys(female_names, OTHER_NAME_WEIGHT) | TOP_FEMALE
        male = dict.fromkeys(male_names, OTHER_NAME_WEIGHT) | TOP_MALE
        surnames = dict.fromkeys(person.last_names, OTHER_SURNAME_WEIGHT) | TOP_SURNAMES
        self.female = _objects(list(female))
        self.female_w = _weights(list(female.values()))
        self.male = _objects(list(male))
        self.male_w = _weights(list(male.values()))
        self.surnames = _objects(list(surnames))
        self.surnames_w = _weights(list(surnames.values()))
        self.female_key = _objects([fold(x) for x in self.female])
        self.male_key = _objects([fold(x) for x in self.male])
        self.surname_key = _objects([fold(x) for x in self.surnames])
        self.female_mail = _objects([_alnum(x) for x in self.female])
        self.male_mail = _objects([_alnum(x) for x in self.male])
        self.surname_mail = _objects([_alnum(x) for x in self.surnames])
        # Streets: a fixed list of common names plus people's names, in Faker's es_ES style.
        types = [t for t, _w in STREET_TYPES]
        type_w = _weights([w for _t, w in STREET_TYPES])
        names = list(STREET_NAMES) + [f"de {fake.first_name()} {fake.last_name()}" for _ in range(400)]
        rng = np.random.default_rng([seed, 3])
        kinds = rng.choice(len(types), 3000, p=type_w)
        picks = rng.integers(0, len(names), 3000)
        self.streets = _objects([f"{types[k]} {names[p]}" for k, p in zip(kinds, picks, strict=True)])
        # Towns: capital or another town of the province, each with its postal code.
        self.province_w = _weights([p.population for p in PROVINCES])
        self.towns: list[tuple[str, ...]] = [p.towns for p in PROVINCES]
        self.town_codes: list[list[str]] = []
        for province in PROVINCES:
            codes = [f"{province.code}0"]  # the capital: its own district codes follow
            for town in province.towns[1:]:
                codes.append(f"{province.code}{100 + zlib.crc32(town.encode()) % 900:03d}")
            self.town_codes.append(codes)


def _choice(
    rng: np.random.Generator, options: Sequence[tuple[Any, ...]], size: int, column: int = 1
) -> np.ndarray:
    """Indices into ``options`` drawn with the weights in ``column``."""
    return rng.choice(len(options), size, p=_weights([o[column] for o in options]))


def generate_demo(
    *,
    customers: int = 2000,
    seed: int = 2026,
    today: dt.date | None = None,
    progress: Progress | None = None,
    orders_per_customer: float = DEFAULT_ORDERS_PER_CUSTOMER,
    interactions_per_customer: float = 1.5,
) -> DemoStats:
    """Fill an empty customer file with a demo portfolio and create the demo users if missing.

    ``customers`` people (about 10% contacts of companies, 15% who never bought), about
    ``orders_per_customer`` orders each on average over the three years before ``today`` (default:
    the local date), interactions and tasks. Deterministic for a given ``seed`` and ``today``.

    Raises :class:`DemoError` when customers already exist: the demo never mixes with real data.
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    started = time.perf_counter()
    report: Progress = progress or (lambda step, done, total: None)
    today = today or timezone.localdate()
    stats = DemoStats()
    if Customer.objects.exists():
        raise DemoError("The customer file is not empty; the demo portfolio only goes into an empty one.")

    users = _ensure_users(stats)
    big = customers >= BULK_LOAD_THRESHOLD
    with bulk.relaxed_durability(big), transaction.atomic():
        generator = _Generator(
            customers=customers,
            seed=seed,
            today=today,
            users=users,
            orders_per_customer=orders_per_customer,
            interactions_per_customer=interactions_per_customer,
            report=report,
            stats=stats,
        )
        tables = [m._meta.db_table for m in (Customer, Customer.tags.through, Order, Interaction)]
        if big:
            with bulk.without_secondary_indexes(
                *tables, keys=True, progress=lambda done, total: report("Indexes", done, total)
            ):
                generator.run()
        else:
            generator.run()
        _reset_sequences()
    if big:
        # After the commit: PostgreSQL's VACUUM cannot run inside a transaction.
        update_planner_statistics(tables + [Company._meta.db_table])
    stats.seconds = time.perf_counter() - started
    return stats


def _ensure_users(stats: DemoStats) -> dict[str, User]:
    users: dict[str, User] = {}
    for spec in DEMO_USERS:
        user = User.objects.filter(username=spec.username).first()
        if user is None:
            user = user_create(
                username=spec.username,
                password=DEMO_PASSWORD,
                role=spec.role,
                email=f"{spec.username}@example.com",
                first_name=spec.first_name,
                last_name=spec.last_name,
            )
            stats.users_created.append(spec.username)
        users[spec.username] = user
    return users


def _reset_sequences() -> None:
    """Rows were written with explicit ids: move the id sequences past them (PostgreSQL)."""
    sql = connection.ops.sequence_reset_sql(
        no_style(), [Company, Customer, Order, Interaction, Task, Customer.tags.through]
    )
    with connection.cursor() as cursor:
        for statement in sql:
            cursor.execute(statement)


def _next_id(model: type[models.Model]) -> int:
    top: int | None = model._default_manager.aggregate(top=models.Max("pk"))["top"]
    return (top or 0) + 1


class _Generator:
    """One run of :func:`generate_demo`; state shared by its steps."""

    def __init__(
        self,
        *,
        customers: int,
        seed: int,
        today: dt.date,
        users: dict[str, User],
        orders_per_customer: float,
        interactions_per_customer: float,
        report: Progress,
        stats: DemoStats,
    ) -> None:
        self.n = customers
        self.seed = seed
        self.today = today
        self.start = _years_before(today, 3)
        self.days = (today - self.start).days  # orders on days [0, days): up to yesterday
        self.users = users
        self.reps = [users["ana"].pk, users["luis"].pk]
        self.authors = np.array([users["ana"].pk, users["luis"].pk, users["manager"].pk])
        self.report = report
        self.stats = stats
        self.interactions_per_customer = interactions_per_customer
        self.orders_per_customer = orders_per_customer
        self.rng = np.random.default_rng([seed, 1])
        zone = ZoneInfo(settings.TIME_ZONE)
        self.clock = _Clock(self.start, self.days + 120, zone, connection.vendor)
        self.pools = _Pools(seed)
        self.scale = _calibrate(orders_per_customer / (1 - NEVER_BOUGHT_SHARE), self.days)
        self.emails: dict[str, int] = {}
        self.phones: set[int] = set()
        self.order_seq = 0
        self.interaction_id = _next_id(Interaction)
        self.order_id = _next_id(Order)
        self.link_id = _next_id(Customer.tags.through)
        self.customer_base = _next_id(Customer)
        # position -> (id, first name, owner, 0 suspect / 1 prospect / 2 customer / 3 former, day created)
        self.task_picks: dict[int, tuple[int, str, int | None, int, int]] = {}
        self.timings: dict[str, float] = {}

    # -- steps -------------------------------------------------------------------------------------

    def run(self) -> None:
        self._timed("companies", self._companies)
        self._timed("population", self._population)
        self._timed("companies", self._write_companies)
        self._setup_extras()
        writers = {
            "customers": _Writer(Customer, CUSTOMER_FIELDS),
            "orders": _Writer(Order, ORDER_FIELDS),
            "interactions": _Writer(Interaction, INTERACTION_FIELDS),
            "tags": _Writer(Customer.tags.through, ("id", "customer", "tag")),
        }
        expected_orders = int(self.n * self.orders_per_customer)
        self.report("Customers", 0, self.n)
        self.report("Orders", 0, expected_orders)
        chunks = [(no, lo, min(lo + CHUNK, self.n)) for no, lo in enumerate(range(0, self.n, CHUNK))]
        # One thread builds the next chunk while this one writes the current one: SQLite and the
        # PostgreSQL driver release the GIL while they work, so the two overlap on two cores.
        # Chunks are still built one after the other, in order, so the data does not change.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-build") as builder:
            future = builder.submit(self._chunk, *chunks[0])
            for index, (_no, _lo, hi) in enumerate(chunks):
                built = future.result()
                if index + 1 < len(chunks):
                    future = builder.submit(self._chunk, *chunks[index + 1])
                began = time.perf_counter()
                for key, pending in built.items():
                    for rows in pending.batches:
                        writers[key].write(rows)
                self.timings["write"] = self.timings.get("write", 0.0) + time.perf_counter() - began
                self.report("Customers", hi, self.n)
                self.report("Orders", writers["orders"].rows, max(expected_orders, writers["orders"].rows))
        self.report("Orders", writers["orders"].rows, writers["orders"].rows)
        self._timed("tasks", self._tasks)
        self.stats.customers = writers["customers"].rows
        self.stats.orders = writers["orders"].rows
        self.stats.interactions = writers["interactions"].rows
        self.stats.tag_links = writers["tags"].rows
        self.stats.timings = self.timings

    def _timed(self, name: str, step: Callable[[], None]) -> None:
        began = time.perf_counter()
        step()
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - began

    def _companies(self) -> None:
        """About one customer in ten works for a company; companies have one to a dozen contacts."""
        rng = np.random.default_rng([self.seed, 2])
        b2b_people = int(round(self.n * B2B_SHARE))
        count = max(1, int(round(b2b_people / 2.4))) if b2b_people else 0
        self.company_count = count
        if not count:
            self.company_sector = self.company_province = self.company_owner = np.zeros(0, dtype=np.int64)
            self.company_domain = _objects([])
            self.company_weight = np.zeros(0)
            self.company_large = np.zeros(0, dtype=bool)
            return
        pools = self.pools
        sectors = [s for s in SECTORS if s[2] > 0]
        sector = _choice(rng, sectors, count, column=2)
        size = _choice(rng, COMPANY_SIZES, count)
        form = _choice(rng, COMPANY_FORMS, count)
        province = rng.choice(len(PROVINCES), count, p=pools.province_w)
        surname_a = rng.choice(len(pools.surnames), count, p=pools.surnames_w)
        surname_b = rng.choice(len(pools.surnames), count, p=pools.surnames_w)
        pattern = rng.choice(5, count, p=[0.4, 0.15, 0.2, 0.1, 0.15])
        stem_pick = rng.integers(0, 4, count)
        used_ids: set[str] = set()
        base = _next_id(Company)
        rows: list[tuple[Any, ...]] = []
        domains: list[str] = []
        slugs: set[str] = set()
        owner = np.where(rng.random(count) < 0.5, self.reps[0], self.reps[1])
        large = np.array([COMPANY_SIZES[s][0] == CompanySize.LARGE for s in size])
        owner = np.where(large & (rng.random(count) < 0.5), self.users["manager"].pk, owner)
        for i in range(count):
            sector_name = sectors[sector[i]][0]
            stems = COMPANY_STEMS[sector_name]
            stem = stems[stem_pick[i] % len(stems)]
            s1, s2 = pools.surnames[surname_a[i]], pools.surnames[surname_b[i]]
            town = PROVINCES[province[i]].towns[0]
            core = (
                f"{stem} {s1}",
                f"{stem} {s1} y {s2}",
                f"{stem} {town}",
                f"Hermanos {s1}",
                f"Grupo {s1}",
            )[pattern[i]]
            suffix, _w, letter = COMPANY_FORMS[form[i]]
            name = f"{core} {suffix}"
            while True:
                digits = PROVINCES[province[i]].code + f"{int(rng.integers(0, 100_000)):05d}"
                tax_id = _cif(letter, digits)
                if tax_id not in used_ids:
                    used_ids.add(tax_id)
                    break
            slug = _slug(core) or "empresa"
            domain = f"{slug}-{i + 1}.example" if slug in slugs else f"{slug}.example"
            slugs.add(slug)
            domains.append(domain)
            rows.append(
                (
                    base + i,
                    name,
                    Company.key_for(name),
                    tax_id,
                    sector_name,
                    str(COMPANY_SIZES[size[i]][0]),
                    PROVINCES[province[i]].community,
                    f"https://www.{domain}",
                )
            )
        self.company_rows = rows
        self.company_ids = np.arange(base, base + count)
        self.company_sector = np.array([SECTORS.index(sectors[s]) for s in sector])
        self.company_province = province
        self.company_owner = owner
        self.company_domain = _objects(domains)
        self.company_weight = np.array([COMPANY_SIZES[s][2] for s in size], dtype=float)
        self.company_large = large

    def _population(self) -> None:
        """Who buys, who works for which company, and when each person entered the file.

        People are numbered in the order they entered the file, so ids grow with ``created_at``
        (the "newest" sort is the order of arrival) and the database appends rather than inserts.
        """
        rng = self.rng
        n, days = self.n, self.days
        buyer = rng.random(n) >= NEVER_BOUGHT_SHARE
        company = np.full(n, -1, dtype=np.int64)
        if self.company_count:
            b2b = np.flatnonzero(rng.random(n) < B2B_SHARE)
            b2b = rng.permutation(b2b)
            first = b2b[: self.company_count]  # every company gets at least one contact
            company[first] = np.arange(first.size)
            rest = b2b[self.company_count :]
            company[rest] = rng.choice(self.company_count, rest.size, p=_weights(self.company_weight))
        first_day = _first_days(rng, n, days)
        # Some buyers were prospects for a while before buying.
        lead = np.where(rng.random(n) < 0.45, np.floor(rng.exponential(45.0, n)).astype(np.int64), 0)
        prospect_day = np.minimum(np.floor(days * rng.random(n) ** 0.6).astype(np.int64), days - 1)
        created_day = np.where(buyer, np.maximum(first_day - lead, 0), prospect_day)
        order = np.argsort(created_day, kind="stable")
        self.buyer = buyer[order]
        self.company = company[order]
        self.first_day = first_day[order]
        self.created_day = created_day[order]
        self.created_second = rng.integers(8 * 3600, 20 * 3600, n)
        # The first purchase comes after the person is in the file.
        same_day = self.buyer & (self.first_day == self.created_day)
        self.first_second = np.where(same_day, self.created_second + rng.integers(300, 3600, n), 0)
        picks = rng.choice(n, min(n, max(40, n // 15), 4000), replace=False)
        self.task_positions = set(picks.tolist())

    def _write_companies(self) -> None:
        """A company enters the file shortly before its first contact does."""
        count = self.company_count
        if not count:
            return
        rng = np.random.default_rng([self.seed, 4])
        first_seen = np.full(count, self.days - 1, dtype=np.int64)
        contacts = self.company >= 0
        np.minimum.at(first_seen, self.company[contacts], self.created_day[contacts])
        day = np.maximum(first_seen - rng.integers(0, 60, count), 0)
        stamps = self.clock.stamps(day, rng.integers(9 * 3600, 18 * 3600, count)).tolist()
        _Writer(Company, COMPANY_FIELDS).write(
            [(row[0], stamp, stamp, *row[1:]) for row, stamp in zip(self.company_rows, stamps, strict=True)]
        )
        self.stats.companies = count
        self.report("Companies", count, count)

    def _setup_extras(self) -> None:
        self.tags = {name: Tag.objects.get_or_create(name=name)[0].pk for name in TAGS}
        for position, (key, label, kind, choices) in enumerate(
            (
                ("tarjeta_club", "Tarjeta Club", CustomFieldType.BOOLEAN, ""),
                ("tienda_habitual", "Tienda habitual", CustomFieldType.CHOICE, "\n".join(STORES)),
            )
        ):
            CustomField.objects.get_or_create(
                key=key,
                defaults={"label": label, "field_type": kind, "choices": choices, "position": position},
            )

    # -- one chunk of customers --------------------------------------------------------------------

    def _chunk(self, chunk_no: int, lo: int, hi: int) -> dict[str, _Pending]:
        """Build (not write) the rows of customers ``lo`` to ``hi`` and of their orders, interactions, tags."""
        writers = {key: _Pending() for key in ("customers", "orders", "interactions", "tags")}
        rng = np.random.default_rng([self.seed, 10, chunk_no])
        began = time.perf_counter()
        m = hi - lo
        buyer = self.buyer[lo:hi]
        buyer_pos = np.flatnonzero(buyer)
        params = _draw_buyers(rng, buyer_pos.size, self.scale, self.days)
        b_idx, o_day = _simulate(rng, self.first_day[lo:hi][buyer_pos], params, self.days)
        o_cust = buyer_pos[b_idx]  # position within the chunk
        count = np.bincount(o_cust, minlength=m)
        last_day = np.full(m, -1, dtype=np.int64)
        np.maximum.at(last_day, o_cust, o_day)
        self.timings["simulate"] = self.timings.get("simulate", 0.0) + time.perf_counter() - began

        began = time.perf_counter()
        people = self._people(rng, lo, hi, count, last_day)
        writers["customers"].write(people["rows"])
        self.timings["customers"] = self.timings.get("customers", 0.0) + time.perf_counter() - began

        began = time.perf_counter()
        spend = self._orders(rng, lo, hi, o_cust, o_day, people, writers["orders"])
        self.timings["orders"] = self.timings.get("orders", 0.0) + time.perf_counter() - began

        began = time.perf_counter()
        self._interactions(rng, lo, hi, count, last_day, people, writers["interactions"])
        self._tag_links(rng, lo, hi, spend, o_cust, o_day, people, writers["tags"])
        self.timings["interactions"] = self.timings.get("interactions", 0.0) + time.perf_counter() - began
        return writers

    def _people(
        self, rng: np.random.Generator, lo: int, hi: int, count: np.ndarray, last_day: np.ndarray
    ) -> dict[str, Any]:
        pools, clock, m = self.pools, self.clock, hi - lo
        ids = np.arange(self.customer_base + lo, self.customer_base + hi)
        company = self.company[lo:hi]
        b2b = company >= 0
        female = rng.random(m) < 0.51
        first_f = rng.choice(len(pools.female), m, p=pools.female_w)
        first_m = rng.choice(len(pools.male), m, p=pools.male_w)
        s1 = rng.choice(len(pools.surnames), m, p=pools.surnames_w)
        s2 = rng.choice(len(pools.surnames), m, p=pools.surnames_w)
        first_name = np.where(female, pools.female[first_f], pools.male[first_m])
        first_key = np.where(female, pools.female_key[first_f], pools.male_key[first_m])
        first_mail = np.where(female, pools.female_mail[first_f], pools.male_mail[first_m])
        last_name = pools.surnames[s1] + " " + pools.surnames[s2]
        last_key = pools.surname_key[s1] + " " + pools.surname_key[s2]

        u = rng.random(m)
        title = np.where(
            female,
            np.where(u < 0.55, Title.MRS, np.where(u < 0.85, Title.MS, np.where(u < 0.9, Title.DR, ""))),
            np.where(u < 0.85, Title.MR, np.where(u < 0.9, Title.DR, "")),
        ).astype(object)
        title[rng.random(m) < 0.003] = Title.MX.value

        age_days = np.clip(rng.normal(45 * 365.25, 14 * 365.25, m), 18 * 365.25 + 1, 80 * 365.25 - 1).astype(
            np.int64
        )
        has_birth = rng.random(m) < 0.85
        birth = np.datetime64(self.today) - age_days.astype("timedelta64[D]")
        birth_text = np.datetime_as_string(birth, unit="D").astype(object)
        birth_text[~has_birth] = None
        age = age_days / 365.25

        # Stage: never-buyers are suspects or prospects; buyers are customers, some marked former
        # after a long silence.
        since_last = self.days - last_day
        suspect = rng.random(m) < 0.5
        former = (count > 0) & (since_last > 300) & (rng.random(m) < 0.4)
        stage = np.where(
            count == 0,
            np.where(suspect, Stage.SUSPECT, Stage.PROSPECT),
            np.where(former, Stage.FORMER, Stage.CUSTOMER),
        ).astype(object)
        group = np.where(count == 0, np.where(suspect, 0, 1), 2)
        source = np.empty(m, dtype=object)
        for g, key in enumerate((Stage.SUSPECT, Stage.PROSPECT, Stage.CUSTOMER)):
            where = np.flatnonzero(group == g)
            options = SOURCES[key]
            source[where] = _values(options)[_choice(rng, options, where.size)]

        # Where they live: a company contact usually near the company.
        province = rng.choice(len(PROVINCES), m, p=pools.province_w)
        near = b2b & (rng.random(m) < 0.8)
        if near.any():
            province[near] = self.company_province[company[near]]
        town_pick = rng.random(m)
        district = rng.integers(1, 51, m)
        city = np.empty(m, dtype=object)
        postal = np.empty(m, dtype=object)
        region = np.empty(m, dtype=object)
        for p_index in np.unique(province):
            where = np.flatnonzero(province == p_index)
            towns = pools.towns[p_index]
            codes = pools.town_codes[p_index]
            t = np.where(
                town_pick[where] < 0.55,
                0,
                1 + (town_pick[where] * 1000).astype(np.int64) % max(1, len(towns) - 1),
            )
            t = np.minimum(t, len(towns) - 1)
            city[where] = _objects(list(towns))[t]
            region[where] = PROVINCES[p_index].name
            code_base = _objects(codes)[t]
            postal[where] = np.where(
                t == 0,
                code_base + _objects([f"{d:02d}" for d in range(100)])[district[where]],
                code_base,
            )
        number = rng.integers(1, 160, m)
        floor = rng.integers(1, 9, m)
        door = rng.integers(0, 6, m)
        flat = rng.random(m) < 0.6
        street = pools.streets[rng.integers(0, len(pools.streets), m)]
        doors = ("A", "B", "C", "D", "izda.", "dcha.")
        address = [
            f"{s}, {nb}, {fl}º {doors[dr]}" if f else f"{s}, {nb}"
            for s, nb, fl, dr, f in zip(
                street, number.tolist(), floor.tolist(), door.tolist(), flat.tolist(), strict=True
            )
        ]

        # Work: company contacts have a job title and the company's sector.
        sector = np.full(m, "", dtype=object)
        has_sector = rng.random(m) < 0.45
        sector_names = _objects([s[0] for s in SECTORS])
        sector[has_sector] = sector_names[_choice(rng, SECTORS, int(has_sector.sum()))]
        if b2b.any():
            sector[b2b] = sector_names[self.company_sector[company[b2b]]]
        prof = _choice(rng, PROFESSIONS, m, column=2)
        profession = np.where(
            female, _objects([p[1] for p in PROFESSIONS])[prof], _objects([p[0] for p in PROFESSIONS])[prof]
        )
        profession = np.where(rng.random(m) < 0.7, profession, "").astype(object)
        retired = age >= 66
        profession[retired] = np.where(female[retired], "Jubilada", "Jubilado")
        student = (age < 24) & (rng.random(m) < 0.6)
        profession[student] = "Estudiante"
        job = _choice(rng, JOB_TITLES, m, column=2)
        job_title = np.where(
            female, _objects([j[1] for j in JOB_TITLES])[job], _objects([j[0] for j in JOB_TITLES])[job]
        )
        job_title = np.where(b2b, job_title, "").astype(object)

        # Contact details.
        has_email = np.where(group == 0, rng.random(m) < 0.75, rng.random(m) < 0.95)
        has_phone = rng.random(m) < 0.93
        email = self._emails(
            rng, first_mail, pools.surname_mail[s1], pools.surname_mail[s2], age, company, has_email
        )
        phone = self._phones(rng, has_phone)
        channel_names = _values(CONTACT_CHANNELS)
        preferred = channel_names[_choice(rng, CONTACT_CHANNELS, m)]
        preferred = np.where((preferred == Channel.EMAIL) & ~has_email, Channel.PHONE.value, preferred)
        preferred = np.where(
            np.isin(preferred, [Channel.PHONE, Channel.SMS, Channel.WHATSAPP]) & ~has_phone,
            Channel.MAIL.value,
            preferred,
        ).astype(object)
        opt_email = has_email & ((rng.random(m) < 0.68) | (preferred == Channel.EMAIL))
        opt_phone = has_phone & ((rng.random(m) < 0.45) | (preferred == Channel.PHONE))
        opt_sms = has_phone & ((rng.random(m) < 0.35) | (preferred == Channel.SMS))
        opt_mail = (rng.random(m) < 0.2) | (preferred == Channel.MAIL)

        income = np.where(rng.random(m) < 0.55, _values(INCOME_RANGES)[_choice(rng, INCOME_RANGES, m)], "")

        owner = np.where(rng.random(m) < 0.52, self.reps[0], self.reps[1])
        if b2b.any():
            owner[b2b] = self.company_owner[company[b2b]]
        company_id = np.where(b2b, self.company_ids[np.maximum(company, 0)] if self.company_count else 0, 0)

        club = (count > 0) & (rng.random(m) < 0.25)
        store = rng.random(m) < 0.3
        store_pick = rng.integers(0, len(STORES), m)
        # Few distinct values: encode each JSON document once, then pick (a million json.dumps cost seconds).
        documents = _objects(
            [
                json.dumps(
                    ({"tarjeta_club": True} if c else {})
                    | ({"tienda_habitual": STORES[sp - 1]} if sp else {}),
                    ensure_ascii=False,
                )
                for c in (False, True)
                for sp in range(len(STORES) + 1)
            ]
        )
        custom = documents[club * (len(STORES) + 1) + np.where(store, store_pick + 1, 0)].tolist()
        notes = np.where(
            rng.random(m) < 0.04, _objects(list(CUSTOMER_NOTES))[rng.integers(0, len(CUSTOMER_NOTES), m)], ""
        )

        created = clock.stamps(self.created_day[lo:hi], self.created_second[lo:hi])
        rows = list(
            zip(
                ids.tolist(), created.tolist(), created.tolist(), title.tolist(), first_name.tolist(),
                last_name.tolist(), email, phone, stage.tolist(), sector.tolist(),
                [int(c) if b else None for c, b in zip(company_id.tolist(), b2b.tolist(), strict=True)],
                job_title.tolist(), profession.tolist(), birth_text.tolist(), address, city.tolist(),
                region.tolist(), postal.tolist(), ["ES"] * m, preferred.tolist(), opt_email.tolist(),
                opt_phone.tolist(), opt_sms.tolist(), opt_mail.tolist(), source.tolist(), income.tolist(),
                owner.tolist(), custom, notes.tolist(), [k[:100] for k in first_key.tolist()],
                [k[:150] for k in last_key.tolist()],
                strict=True,
            )
        )  # fmt: skip
        for position in range(lo, hi):
            if position in self.task_positions:
                i = position - lo
                self.task_picks[position] = (
                    int(ids[i]),
                    str(first_name[i]),
                    int(owner[i]),
                    int(group[i] if count[i] == 0 else 2 + former[i]),
                    int(self.created_day[position]),
                )
        for name in stage.tolist():
            self.stats.stages[name] = self.stats.stages.get(name, 0) + 1
        return {
            "rows": rows,
            "ids": ids,
            "first_name": first_name,
            "city": city,
            "preferred": preferred,
            "owner": owner,
            "b2b": b2b,
            "source": source,
            "opt_email": opt_email,
            "stage": stage,
        }

    def _emails(
        self,
        rng: np.random.Generator,
        first: np.ndarray,
        s1: np.ndarray,
        s2: np.ndarray,
        age: np.ndarray,
        company: np.ndarray,
        has_email: np.ndarray,
    ) -> list[str | None]:
        """Lower-case, unique addresses in the usual Spanish patterns; a number settles clashes."""
        m = first.size
        pattern = rng.choice(7, m, p=[0.30, 0.12, 0.10, 0.14, 0.10, 0.14, 0.10])
        domain_pick = rng.choice(len(EMAIL_DOMAINS), m, p=_weights([d[1] for d in EMAIL_DOMAINS]))
        year = ((self.today.year - age).astype(np.int64) % 100).tolist()
        number = rng.integers(1, 100, m).tolist()
        seen = self.emails
        result: list[str | None] = []
        for i in range(m):
            if not has_email[i]:
                result.append(None)
                continue
            f, a, b = first[i] or "cliente", s1[i] or "x", s2[i] or "x"
            if company[i] >= 0:
                local = f"{f[:20]}.{a[:20]}" if pattern[i] % 2 else f"{f[0]}{a[:25]}"
                domain = self.company_domain[company[i]]
            else:
                local = (
                    f"{f}.{a}", f"{f}{a}", f"{f}.{a}.{b}", f"{f[0]}{a}{b[0]}", f"{f}_{a}{year[i]:02d}",
                    f"{f}{a}{number[i]}", f"{a}.{f}",
                )[pattern[i]][:50]  # fmt: skip
                domain = EMAIL_DOMAINS[domain_pick[i]][0]
            address = f"{local}@{domain}"
            clash = seen.get(address)
            if clash is None:
                seen[address] = 1
            else:
                while True:
                    clash += 1
                    candidate = f"{local}{clash}@{domain}"
                    if candidate not in seen:
                        break
                seen[address] = clash
                seen[candidate] = 1
                address = candidate
            result.append(address)
        return result

    def _phones(self, rng: np.random.Generator, has_phone: np.ndarray) -> list[str]:
        """Unique Spanish mobile numbers (6xx and 71x-74x ranges) in E.164."""
        m = has_phone.size
        numbers = np.where(
            rng.random(m) < 0.85,
            600_000_000 + rng.integers(0, 100_000_000, m),
            710_000_000 + rng.integers(0, 40_000_000, m),
        ).tolist()
        seen = self.phones
        result: list[str] = []
        for i, number in enumerate(numbers):
            if not has_phone[i]:
                result.append("")
                continue
            while number in seen:
                number = 600_000_000 + int(rng.integers(0, 100_000_000))
            seen.add(number)
            result.append(f"+34{number}")
        return result

    def _orders(
        self,
        rng: np.random.Generator,
        lo: int,
        hi: int,
        o_cust: np.ndarray,
        o_day: np.ndarray,
        people: dict[str, Any],
        writer: _Pending,
    ) -> np.ndarray:
        """Write the chunk's orders; returns each customer's total spend."""
        m, k = hi - lo, o_cust.size
        b2b = people["b2b"]
        # Gamma-gamma spend: each customer's typical order value, then gamma noise around it.
        nu = rng.gamma(3.5, 1 / 40.0, m)
        cat_b2c = _weights([c[2] for c in CATEGORIES])
        cat_b2b = _weights([c[3] for c in CATEGORIES])
        factor = np.array([c[1] for c in CATEGORIES])
        factor = factor / float(factor @ cat_b2c)
        favourite = np.where(
            b2b, rng.choice(len(CATEGORIES), m, p=cat_b2b), rng.choice(len(CATEGORIES), m, p=cat_b2c)
        )
        channel_b2c = _weights([c[1] for c in SALES_CHANNELS])
        channel_b2b = _weights([c[2] for c in SALES_CHANNELS])
        main_channel = np.where(
            b2b,
            rng.choice(len(SALES_CHANNELS), m, p=channel_b2b),
            rng.choice(len(SALES_CHANNELS), m, p=channel_b2c),
        )
        self._favourite = favourite
        if not k:
            return np.zeros(m)
        o_b2b = b2b[o_cust]
        category = np.where(
            rng.random(k) < 0.5,
            favourite[o_cust],
            np.where(
                o_b2b, rng.choice(len(CATEGORIES), k, p=cat_b2b), rng.choice(len(CATEGORIES), k, p=cat_b2c)
            ),
        )
        channel = np.where(
            rng.random(k) < 0.7,
            main_channel[o_cust],
            rng.choice(len(SALES_CHANNELS), k, p=channel_b2c),
        )
        value = rng.gamma(4.0, 1.0, k) / nu[o_cust] * factor[category] * np.where(o_b2b, 2.5, 1.0)
        amount = np.round(np.maximum(value, 1.0), 2)
        spend = np.bincount(o_cust, weights=amount, minlength=m)
        second = rng.integers(9 * 3600, 21 * 3600, k)
        first = self.first_second[lo:hi][o_cust]
        same = (o_day == self.first_day[lo:hi][o_cust]) & (first > 0)
        second = np.where(same, np.minimum(np.maximum(second, first), 21 * 3600 + 1800), second)
        stamps = self.clock.stamps(o_day, second).tolist()
        ids = range(self.order_id, self.order_id + k)
        self.order_id += k
        refs = [f"DEMO-{n:09d}" for n in range(self.order_seq + 1, self.order_seq + k + 1)]
        self.order_seq += k
        category_names = _objects([c[0] for c in CATEGORIES])
        channel_names = _values(SALES_CHANNELS)
        customer_ids = people["ids"][o_cust].tolist()
        dates = self.clock.dates(o_day).tolist()
        amounts = amount.tolist()
        channels = channel_names[channel].tolist()
        categories = category_names[category].tolist()
        currency = base_currency()  # the one the analysis adds up, whatever the server's setting
        for start in range(0, k, 200_000):
            end = min(start + 200_000, k)
            writer.write(
                list(
                    zip(
                        ids[start:end], stamps[start:end], stamps[start:end], customer_ids[start:end],
                        dates[start:end], amounts[start:end], [currency] * (end - start), channels[start:end],
                        categories[start:end], [ORDER_SOURCE] * (end - start), refs[start:end],
                        strict=True,
                    )
                )
            )  # fmt: skip
        return spend

    def _interactions(
        self,
        rng: np.random.Generator,
        lo: int,
        hi: int,
        count: np.ndarray,
        last_day: np.ndarray,
        people: dict[str, Any],
        writer: _Pending,
    ) -> None:
        """Calls, emails, visits... before the first purchase, while buying, and after lapsing."""
        m = hi - lo
        stage = people["stage"]
        mean = np.where(
            stage == Stage.SUSPECT,
            0.4,
            np.where(
                stage == Stage.PROSPECT,
                1.6,
                np.where(stage == Stage.FORMER, 2.0, 0.8 + 0.12 * np.minimum(count, 30)),
            ),
        )
        mean = mean * self.interactions_per_customer / 1.5
        per = rng.poisson(mean)
        who = np.repeat(np.arange(m), per)
        k = who.size
        if not k:
            return
        created = self.created_day[lo:hi][who]
        span = np.maximum(self.days - created, 1)
        day = np.minimum(created + (rng.random(k) * span).astype(np.int64), self.days - 1)
        second = rng.integers(9 * 3600, 20 * 3600, k)
        same = day == created
        second = np.where(same, np.maximum(second, self.created_second[lo:hi][who] + 60), second)
        first = self.first_day[lo:hi][who]
        bought = count[who] > 0
        moment = np.where(~bought | (day < first), 0, np.where(day > last_day[who] + 150, 2, 1))
        keys = ("pre", "buying", "lapsed")
        template = np.empty(k, dtype=np.int64)
        flat: list[Template] = []
        for g, key in enumerate(keys):
            where = np.flatnonzero(moment == g)
            template[where] = len(flat) + rng.integers(0, len(TEMPLATES[key]), where.size)
            flat.extend(TEMPLATES[key])
        author = np.where(rng.random(k) < 0.8, people["owner"][who], self.authors[rng.integers(0, 3, k)])
        stamps = self.clock.stamps(day, second).tolist()
        names = people["first_name"][who].tolist()
        cities = people["city"][who].tolist()
        channels = people["preferred"][who].tolist()
        favourite = self._favourite[who].tolist()
        category_names = [c[0].lower() for c in CATEGORIES]
        customer_ids = people["ids"][who].tolist()
        authors = author.tolist()
        rows = []
        ids = self.interaction_id
        for i, (t, stamp) in enumerate(zip(template.tolist(), stamps, strict=True)):
            tpl = flat[t]
            body = tpl.body.format(
                nombre=names[i],
                categoria=category_names[favourite[i]],
                ciudad=cities[i],
                canal=CHANNEL_WORDS.get(channels[i], "teléfono"),
            )
            rows.append(
                (ids + i, stamp, stamp, customer_ids[i], str(tpl.kind), str(tpl.direction), stamp, authors[i],
                 tpl.subject, body, str(tpl.outcome))
            )  # fmt: skip
        self.interaction_id += k
        writer.write(rows)

    def _tag_links(
        self,
        rng: np.random.Generator,
        lo: int,
        hi: int,
        spend: np.ndarray,
        o_cust: np.ndarray,
        o_day: np.ndarray,
        people: dict[str, Any],
        writer: _Pending,
    ) -> None:
        m = hi - lo
        tags: dict[str, np.ndarray] = {}
        if spend.any():
            tags["VIP"] = spend >= max(np.quantile(spend[spend > 0], 0.98), 1.0)
            tags["Cuenta clave"] = people["b2b"] & (spend >= np.quantile(spend, 0.9))
        else:
            tags["VIP"] = tags["Cuenta clave"] = np.zeros(m, dtype=bool)
        tags["Newsletter"] = people["opt_email"] & (rng.random(m) < 0.3)
        tags["Feria Hogar 2025"] = (people["source"] == Source.EVENT) & (rng.random(m) < 0.7)
        black_friday = np.zeros(m, dtype=bool)
        if o_cust.size:
            moment = np.datetime64(self.start) + o_day.astype("timedelta64[D]")
            month_start = moment.astype("datetime64[M]")
            november = month_start.astype(np.int64) % 12 == 10
            late = (moment - month_start).astype(np.int64) >= 19  # from the 20th
            black_friday[o_cust[november & late]] = True
        tags["Black Friday"] = black_friday & (rng.random(m) < 0.6)
        tags["Reclamación abierta"] = (people["stage"] != Stage.SUSPECT) & (rng.random(m) < 0.015)
        rows = []
        ids = people["ids"]
        for name in TAGS:
            tag_id = self.tags[name]
            for i in np.flatnonzero(tags[name]).tolist():
                rows.append((int(ids[i]), tag_id))
        rows.sort()
        start = self.link_id
        self.link_id += len(rows)
        writer.write([(start + j, c, t) for j, (c, t) in enumerate(rows)])

    # -- tasks -------------------------------------------------------------------------------------

    def _tasks(self) -> None:
        """Tasks for the demo team: most done, some overdue, some due today, some ahead."""
        rng = np.random.default_rng([self.seed, 20])
        picks = [self.task_picks[p] for p in sorted(self.task_picks)]
        team = max(4, len(picks) // 25)
        k = len(picks) + team
        status = rng.choice(4, k, p=[0.55, 0.15, 0.1, 0.2])  # done, overdue, today, upcoming
        # Every demo user opens "My tasks" to something: two overdue and two for today each.
        assignees = [self.users[u].pk for u in ("ana", "luis", "manager")]
        clock = self.clock
        rows = []
        now_id = _next_id(Task)
        for i in range(k):
            since = 0  # a task about a customer comes after they entered the file
            if i < len(picks):
                customer_id, name, owner, group, since = picks[i]
                options = TASK_TITLES[:7] if group != 3 else TASK_TITLES[7:8]
                title = options[int(rng.integers(0, len(options)))].format(nombre=name)
                assignee = owner or assignees[0]
            else:
                customer_id = None
                title = TEAM_TASK_TITLES[int(rng.integers(0, len(TEAM_TASK_TITLES)))]
                assignee = assignees[(i - len(picks)) % len(assignees)]
            if i < 8:
                assignee = assignees[i // 2 % 2]
                status[i] = 1 if i % 2 == 0 else 2
            due_offset = {
                0: -int(rng.integers(1, 300)),
                1: -int(rng.integers(1, 20)),
                2: 0,
                3: int(rng.integers(1, 45)),
            }[int(status[i])]
            due_day = max(self.days + due_offset, min(since + 1, self.days))
            due_second = int(rng.integers(9, 19)) * 3600 + int(rng.integers(0, 4)) * 900
            due = clock.stamps(np.array([due_day]), np.array([due_second]))[0]
            created_day = max(since, due_day - int(rng.integers(1, 30)))
            created = clock.stamps(
                np.array([min(created_day, self.days - 1)]), np.array([9 * 3600 + i % 3600])
            )[0]
            done = status[i] == 0
            done_at = clock.stamps(np.array([due_day]), np.array([due_second - 1800]))[0] if done else None
            creator = assignee if rng.random() < 0.7 else self.users["manager"].pk
            rows.append(
                (
                    now_id + i,
                    title,
                    customer_id,
                    assignee,
                    due,
                    bool(done),
                    done_at,
                    "",
                    creator,
                    created,
                    created,
                    created,  # seen: the demo's history is not news to anyone
                )
            )
        _Writer(Task, TASK_FIELDS).write(rows)
        self.stats.tasks = len(rows)
        self.report("Tasks", len(rows), len(rows))


CUSTOMER_FIELDS = (
    "id", "created_at", "updated_at", "title", "first_name", "last_name", "email", "phone", "stage", "sector",
    "company", "job_title", "profession", "birth_date", "address", "city", "region", "postal_code", "country",
    "preferred_channel", "opt_in_email", "opt_in_phone", "opt_in_sms", "opt_in_mail", "source", "income_range",
    "owner", "custom_fields", "notes", "first_name_key", "last_name_key",
)  # fmt: skip
ORDER_FIELDS = (
    "id", "created_at", "updated_at", "customer", "ordered_on", "amount", "currency", "channel", "category",
    "source", "external_ref",
)  # fmt: skip
INTERACTION_FIELDS = (
    "id", "created_at", "updated_at", "customer", "kind", "direction", "occurred_at", "author", "subject", "body",
    "outcome",
)  # fmt: skip
COMPANY_FIELDS = (
    "id",
    "created_at",
    "updated_at",
    "name",
    "name_key",
    "tax_id",
    "sector",
    "size",
    "region",
    "website",
)
TASK_FIELDS = (
    "id", "title", "customer", "assignee", "due_at", "done", "done_at", "notes", "created_by", "created_at",
    "updated_at", "seen_at",
)  # fmt: skip
