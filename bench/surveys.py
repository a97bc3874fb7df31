"""Issue 14 speed benchmark: surveys at scale — inviting a 100,000-customer segment (freeze, render and
queue every e-mail), the public answer page, and the results pages over 1,000,000 answers.

Run from the repository root::

    .venv/bin/python -m bench.surveys                        # SQLite file var/bench-surveys.sqlite3
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cartera_surveys_bench .venv/bin/python -m bench.surveys

It builds its own database unless it already holds the rows: migrated, then ``--customers`` customers
(e-mail, consent for surveys in the ledger, owned by four sales reps, a lifecycle status each) and a
segment of them; and an NPS survey holding ``--answers`` answers spread over the last twelve months
(each to its own invitation; one in twenty with a comment, lapse reasons on one in ten). Timed:

- **invite**: what the survey's "send to a segment" button does (``invitations_create_bulk`` then
  ``invitations_send``: leave out the capped, check consent and the suppression list, render each
  e-mail in its customer's language and queue it in the outbox); a new survey each run, so no cap;
- **answer page**: ``--requests`` GETs and POSTs of the public page in-process, each on an invitation
  of its own, each from its own address (as customers answer from their own connection; the page
  limits answers per address);
- **results**: the survey's page and the survey results page as the manager (3 warm-up requests,
  then ``--requests`` timed), over the survey with ``--answers`` answers.

p95 is nearest-rank. Each step also reports CPU seconds and SQL statements (steadier than elapsed time
on a shared machine). Results go to docs/benchmarks.md between the ``bench:issue14`` markers
(``--no-doc`` to skip); hand-written notes belong after the end marker. ``--profile DIR`` writes a
cProfile of each step.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.campaigns import Profiled, QueryCount, _cpu_s, _nearest_rank, _rss_mib

ROOT = Path(__file__).resolve().parent.parent
# One section per database, so a run on one keeps the other's figures.
START_MARK = "<!-- bench:issue14:{vendor}:start -->"
END_MARK = "<!-- bench:issue14:{vendor}:end -->"
GOALS = {"invite": 60.0, "answer": 100.0, "results": 300.0}
OWNERS = ("bench-rep-1", "bench-rep-2", "bench-rep-3", "bench-rep-4")
LIFECYCLES = ("active", "active", "active", "at_risk", "inactive", "one_time")
RESULTS_SURVEY = "Bench NPS (answers)"


def _prepare(customers: int, answers: int) -> None:
    from decimal import Decimal

    from django.core.management import call_command
    from django.db.models import F
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from cartera.accounts.models import User
    from cartera.accounts.services import user_create
    from cartera.customers.models import Customer
    from cartera.insights.models import CustomerMetrics
    from cartera.privacy.models import ConsentEvent
    from cartera.segments.models import Segment
    from cartera.segments.services import segment_create
    from cartera.surveys.models import Invitation, Survey, SurveyResponse

    manager = User.objects.filter(username="bench-manager").first() or user_create(
        username="bench-manager", password=os.urandom(12).hex(), role="manager", email="bench@cartera.example"
    )
    reps = [
        User.objects.filter(username=name).first()
        or user_create(username=name, password=os.urandom(12).hex(), role="sales_rep", first_name=f"Rep {i}")
        for i, name in enumerate(OWNERS, 1)
    ]
    have = Customer.objects.count()
    if have < customers:
        today = timezone.localdate()
        now = timezone.now()
        for start in range(have, customers, 10_000):
            part = [
                Customer(
                    first_name=f"Cliente{i}", first_name_key=f"cliente{i}", last_name="Prueba",
                    email=f"c{i}@bench.example", stage="customer", owner=reps[i % len(reps)],
                    country="ES" if i % 5 else "GB",
                )
                for i in range(start, min(customers, start + 10_000))
            ]  # fmt: skip
            Customer.objects.bulk_create(part, batch_size=2_000)
            CustomerMetrics.objects.bulk_create(
                [
                    CustomerMetrics(
                        customer=c, orders_count=2, revenue=Decimal("80"), lifecycle=LIFECYCLES[c.pk % len(LIFECYCLES)],
                        last_order_on=today - dt.timedelta(days=60), first_order_on=today - dt.timedelta(days=400),
                        recency_days=60, tenure_days=400, frequency=1, computed_at=now,
                    )
                    for c in part
                ],
                batch_size=2_000,
            )  # fmt: skip
            ConsentEvent.objects.bulk_create(
                [
                    ConsentEvent(customer=c, channel="email", purpose="surveys", granted=True, source="form")
                    for c in part
                ],
                batch_size=2_000,
            )
            print(f"  {min(customers, start + 10_000):,} customers", file=sys.stderr)
    if not Segment.objects.filter(name="Bench encuestas").exists():
        segment_create(
            actor=manager,
            fields={
                "name": "Bench encuestas",
                "definition": {
                    "match": "all",
                    "groups": [
                        {"match": "all", "rules": [{"field": "email", "op": "contains", "value": "@"}]}
                    ],
                },
            },
        )
    survey = Survey.objects.filter(name=RESULTS_SURVEY).first() or Survey.objects.create(
        name=RESULTS_SURVEY, kind="nps", cap_days=1, created_by=manager
    )
    have = SurveyResponse.objects.filter(survey=survey).count()
    if have < answers:
        _answers(survey, have, answers)
    # Invitations made now (the prepared ones, an earlier run's) would leave every customer within the
    # frequency cap of the survey sent below: they are dated back (to when they were sent).
    recent = Invitation.objects.filter(created_at__gt=timezone.now() - dt.timedelta(days=2))
    recent.filter(sent_at__isnull=False).update(created_at=F("sent_at"))
    recent.update(created_at=timezone.now() - dt.timedelta(days=2))


def _answers(survey: Any, have: int, answers: int) -> None:
    """``answers - have`` more answers to ``survey``, spread over the last twelve months."""
    from django.utils import timezone

    from cartera.customers.models import Customer
    from cartera.surveys.models import Invitation, SurveyResponse

    ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    rng = random.Random(14)
    now = timezone.now()
    words = ("precio", "entrega", "atención", "calidad", "rápido", "amable", "tarde", "caro")
    reasons = ("price", "quality", "service", "delivery", "moved", "competitor", "no_need", "other")
    step = 20_000
    for start in range(have, answers, step):
        count = min(answers, start + step) - start
        when = [now - dt.timedelta(minutes=rng.randrange(0, 365 * 24 * 60)) for _ in range(count)]
        invitations = Invitation.objects.bulk_create(
            [
                Invitation(
                    survey=survey, customer_id=ids[(start + k) % len(ids)], token=os.urandom(18).hex(),
                    language="es", channel="email", trigger="periodic", sent_at=when[k],
                )
                for k in range(count)
            ],
            batch_size=5_000,
        )  # fmt: skip
        SurveyResponse.objects.bulk_create(
            [
                SurveyResponse(
                    survey=survey, invitation=invitation, customer_id=invitation.customer_id,
                    score=rng.choice((0, 3, 5, 6, 7, 7, 8, 8, 9, 9, 10, 10)),
                    reason=rng.choice(reasons) if k % 10 == 0 else "",
                    comment=" ".join(rng.sample(words, 3)) if k % 20 == 0 else "",
                    answered_at=when[k] + dt.timedelta(hours=2),
                )
                for k, invitation in enumerate(invitations)
            ],
            batch_size=5_000,
        )  # fmt: skip
        print(f"  {start + count:,} answers", file=sys.stderr)


def _timed(client: Any, url: str, requests: int, warm: int = 3) -> tuple[list[float], float, int]:
    """Times ``requests`` GETs of ``url`` after ``warm`` untimed ones: milliseconds each, CPU ms a
    request, SQL statements a request."""
    for _ in range(warm):
        assert client.get(url, secure=True).status_code == 200, url
    times = []
    c0 = _cpu_s()
    with QueryCount() as queries:
        for _ in range(requests):
            t0 = time.perf_counter()
            response = client.get(url, secure=True)
            times.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, (url, response.status_code)
    return times, (_cpu_s() - c0) * 1000 / max(1, requests), queries.count // max(1, requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument(
        "--database-url", help="e.g. postgres://postgres@127.0.0.1:5432/cartera_surveys_bench"
    )
    parser.add_argument(
        "--profile", metavar="DIR", help="write a cProfile of each timed step to DIR/<step>.prof"
    )
    parser.add_argument(
        "--breakdowns",
        action="store_true",
        help="also time the breakdowns page (over a minute a request at 1M)",
    )
    parser.add_argument("--skip-invite", action="store_true", help="time only the answer and results pages")
    args = parser.parse_args()
    from bench.doc import django_for_bench

    django_for_bench("bench-surveys.sqlite3", args.database_url)
    from django.db import connection
    from django.test import Client

    started = time.perf_counter()
    _prepare(args.customers, args.answers)
    prepared_s = time.perf_counter() - started

    from cartera.accounts.models import User
    from cartera.messaging.models import OutboxMessage, OutboxState
    from cartera.segments.models import Segment
    from cartera.segments.selectors.segments import segment_members
    from cartera.surveys.models import Invitation, Survey, Trigger
    from cartera.surveys.services import surveys as services

    manager = User.objects.get(username="bench-manager")
    segment = Segment.objects.get(name="Bench encuestas")
    results_survey = Survey.objects.get(name=RESULTS_SURVEY)
    figures: dict[str, Any] = {"load_before": os.getloadavg(), "base_rss": _rss_mib()}

    survey = services.survey_create(
        actor=manager, fields={"name": f"Bench NPS {dt.datetime.now():%H%M%S}", "kind": "nps", "cap_days": 1}
    )
    if not args.skip_invite:
        t0, c0 = time.perf_counter(), _cpu_s()
        with QueryCount() as invite_q, Profiled(args.profile, "invite"):
            ids = list(segment_members(user=manager, segment=segment).values_list("pk", flat=True))
            rows = services.invitations_create_bulk(survey=survey, customer_ids=ids, trigger=Trigger.MANUAL)
            sent = services.invitations_send(invitations=rows, sender_user=manager)
        figures.update(
            invite_s=time.perf_counter() - t0, invite_cpu=_cpu_s() - c0, invite_q=invite_q.count,
            invited=len(rows), queued=sent["queued"], refused=sent["refused"], peak_rss=_rss_mib(),
        )  # fmt: skip
        print(
            f"invite: {len(rows):,} invitations, {sent['queued']:,} queued, {sent['refused']:,} refused, "
            f"{figures['invite_s']:.1f} s ({figures['invite_cpu']:.1f} s CPU), {invite_q.count:,} queries, "
            f"peak RSS {figures['peak_rss']:.0f} MiB",
            file=sys.stderr,
        )
        # The e-mails are not sent: the outbox's delivery rate is issue 13's benchmark.
        OutboxMessage.objects.filter(batch=f"survey:{survey.pk}", state=OutboxState.QUEUED).update(
            state=OutboxState.CANCELLED, error="queued by the survey benchmark, not sent"
        )
    else:
        rows = services.invitations_create_bulk(
            survey=survey,
            customer_ids=list(segment_members(user=manager, segment=segment).values_list("pk", flat=True))[
                : 2 * args.requests + 10
            ],
            trigger=Trigger.MANUAL,
        )

    # The answer page: each request on an invitation of its own, from an address of its own.
    invitations = list(Invitation.objects.filter(survey=survey).order_by("pk")[: 2 * args.requests + 6])
    links = [f"/s/{services.signed_token(i)}/" for i in invitations]
    public = Client()
    answer: dict[str, list[float]] = {"get": [], "post": []}
    c0 = _cpu_s()
    with QueryCount() as answer_q, Profiled(args.profile, "answer"):
        for k, link in enumerate(links):
            address = f"10.{k // 65536 % 256}.{k // 256 % 256}.{k % 256}"
            for method in ("get", "post"):
                data = {"score": str(k % 11), "comment": "Muy bien atendidos" if k % 3 == 0 else ""}
                t0 = time.perf_counter()
                if method == "get":
                    response = public.get(link, secure=True, REMOTE_ADDR=address)
                else:
                    response = public.post(link, data, secure=True, REMOTE_ADDR=address)
                elapsed = (time.perf_counter() - t0) * 1000
                assert response.status_code == 200, (method, link, response.status_code)
                if k >= 3:  # the first few warm the caches
                    answer[method].append(elapsed)
    answered = len(answer["get"])
    figures.update(
        answer_get_p50=statistics.median(answer["get"]), answer_get_p95=_nearest_rank(answer["get"], 0.95),
        answer_post_p50=statistics.median(answer["post"]), answer_post_p95=_nearest_rank(answer["post"], 0.95),
        answer_cpu_ms=(_cpu_s() - c0) * 1000 / max(1, 2 * len(links)), answer_q=answer_q.count // max(1, 2 * len(links)),
        answered=answered,
    )  # fmt: skip
    print(
        f"answer page: GET p95 {figures['answer_get_p95']:.0f} ms, POST p95 {figures['answer_post_p95']:.0f} ms "
        f"({figures['answer_cpu_ms']:.0f} ms CPU, {figures['answer_q']} queries a request)",
        file=sys.stderr,
    )

    # What a page view would cost if it counted the million answers itself, and the worker's count.
    from cartera.surveys.selectors import surveys as survey_selectors
    from cartera.surveys.services.figures import figures_count_stale, figures_current

    t0, c0 = time.perf_counter(), _cpu_s()
    with Profiled(args.profile, "inline"):
        inline = survey_selectors.results(user=manager, survey=results_survey)
    figures.update(inline_s=time.perf_counter() - t0, inline_cpu=_cpu_s() - c0, inline_n=inline["overall"].n)
    print(f"counting in the page (not done above the limit): {figures['inline_s']:.1f} s", file=sys.stderr)
    from django.conf import settings

    if (
        args.answers <= settings.CARTERA_SURVEY_RESULTS_INLINE_MAX
    ):  # a small trial run: still the worker's path
        settings.CARTERA_SURVEY_RESULTS_INLINE_MAX = args.answers // 2
    stored = figures_current(user=manager, survey=results_survey)
    assert stored is not None, "the results survey should be above CARTERA_SURVEY_RESULTS_INLINE_MAX"
    type(stored).objects.filter(pk=stored.pk).update(wanted_at=dt.datetime.now(dt.UTC))  # as an answer does
    t0, c0 = time.perf_counter(), _cpu_s()
    with Profiled(args.profile, "worker_count"):
        figures_count_stale()
    figures.update(count_s=time.perf_counter() - t0, count_cpu=_cpu_s() - c0)
    print(f"worker's count: {figures['count_s']:.1f} s ({figures['count_cpu']:.1f} s CPU)", file=sys.stderr)

    client = Client()
    client.force_login(manager)
    pages = {
        "survey": f"/surveys/{results_survey.pk}/",
        "results": "/surveys/results/",
    }
    if args.breakdowns:
        pages["breakdowns"] = f"/surveys/{results_survey.pk}/breakdowns/"
    for name, url in pages.items():
        with Profiled(args.profile, name):
            times, cpu_ms, queries = _timed(client, url, args.requests)
        figures[f"{name}_p50"], figures[f"{name}_p95"] = statistics.median(times), _nearest_rank(times, 0.95)
        figures[f"{name}_cpu_ms"], figures[f"{name}_q"] = cpu_ms, queries
        print(
            f"{name} page ({url}): p50 {figures[f'{name}_p50']:.0f} ms, p95 {figures[f'{name}_p95']:.0f} ms "
            f"({cpu_ms:.0f} ms CPU, {queries} queries a request)",
            file=sys.stderr,
        )
    figures["load_after"] = os.getloadavg()
    if args.no_doc:
        return
    _write_doc(args, figures, connection.vendor, prepared_s, results_survey)


def _verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _write_doc(args: Any, f: dict[str, Any], vendor: str, prepared_s: float, survey: Any) -> None:
    from bench.doc import replace_section
    from bench.machine import machine_facts
    from cartera.surveys.models import SurveyResponse

    m = machine_facts()
    before, after = f["load_before"], f["load_after"]
    answers = SurveyResponse.objects.filter(survey=survey).count()
    rows = ["| step | p50 | p95 | CPU | SQL | goal | met |", "|---|---:|---:|---:|---:|---:|---|"]
    if "invite_s" in f:
        rows.append(
            f"| invite a segment: {f['invited']:,} invitations, {f['queued']:,} e-mails rendered and queued "
            f"({f['refused']:,} refused) | | {f['invite_s']:.1f} s | {f['invite_cpu']:.1f} s | {f['invite_q']:,} | "
            f"≤ {GOALS['invite']:.0f} s | {_verdict(f['invite_s'] <= GOALS['invite'])} |"
        )
    for method in ("get", "post"):
        p95 = f[f"answer_{method}_p95"]
        rows.append(
            f"| answer page, {method.upper()} ({f['answered']} requests) | {f[f'answer_{method}_p50']:.0f} ms | "
            f"{p95:.0f} ms | {f['answer_cpu_ms']:.0f} ms | {f['answer_q']} | ≤ {GOALS['answer']:.0f} ms | "
            f"{_verdict(p95 <= GOALS['answer'])} |"
        )
    rows.append(
        f"| the worker's count of the survey's {f['inline_n']:,} scored answers (tally, lapse reasons, follow-up "
        f"effect), after each answer or refresh | | {f['count_s']:.1f} s | {f['count_cpu']:.1f} s | | | |"
    )
    rows.append(
        f"| (for comparison) the same results counted in a page view, as below the limit | | {f['inline_s']:.1f} s | "
        f"{f['inline_cpu']:.1f} s | | | |"
    )
    for name, label in (
        ("survey", "the survey's page (score by month, owner, status; response rates)"),
        ("results", "survey results page (every survey, lapse reasons, follow-up effect, promoters)"),
        ("breakdowns", "breakdowns page (segment, persona, status, category; NPS beside audits)"),
    ):
        if f"{name}_p95" not in f:
            continue
        p95 = f[f"{name}_p95"]
        rows.append(
            f"| {label} | {f[f'{name}_p50']:.0f} ms | {p95:.0f} ms | {f[f'{name}_cpu_ms']:.0f} ms | {f[f'{name}_q']} | "
            f"≤ {GOALS['results']:.0f} ms | {_verdict(p95 <= GOALS['results'])} |"
        )
    start_mark, end_mark = START_MARK.format(vendor=vendor), END_MARK.format(vendor=vendor)
    lines = [
        start_mark,
        f"## Surveys on {vendor}: {args.customers:,} customers, {answers:,} answers (issue 14, `bench/surveys.py`)",
        "",
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {vendor}, {m['cpu']} ({m['cores']} cores, {m['ram_gib']} GiB), "
        f"Python {m['python']}; load average {before[0]:.2f} / {before[1]:.2f} / {before[2]:.2f} at the start, "
        f"{after[0]:.2f} / {after[1]:.2f} / {after[2]:.2f} at the end. Database built or checked in {prepared_s:.0f} s "
        f"(migrations, the answers when missing, earlier runs' invitations dated back). {args.requests} timed requests a page. Run: `make bench-surveys`.",
        "",
        *rows,
        end_mark,
    ]
    replace_section(start_mark, end_mark, "\n".join(lines))


if __name__ == "__main__":
    main()
