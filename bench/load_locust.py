"""The users of the load benchmark (issue 16), for locust; ``bench/load.py`` starts it headless.

Two kinds of client:

- ``PortfolioUser``: a person at work, already logged in (a session of her own), who, with a think
  time between requests, opens the customer list (sometimes filtered or sorted, sometimes the next
  page), searches, opens a customer's page, logs a call on it (the htmx quick form) and uses the API
  with a personal token. The mix is below (``PortfolioUser.tasks``).
- ``BruteForcer``: an attacker guessing passwords on the login form as fast as the server answers,
  one username per client, never the right password.

Both use locust's ``FastHttpUser`` (geventhttpclient): locust runs on the same two cores as the
server, and the plain ``HttpUser`` (requests) costs it several times more CPU per request.

Everything the run needs from the database (sessions, tokens, customer ids, search terms) comes from
the JSON file named by ``CARTERA_LOAD_WORKLOAD``, written by ``bench/load.py`` before the run. Every
answer is recorded (name, start time, milliseconds, failed) into ``CARTERA_LOAD_RECORD`` when the run
stops, so that ``bench/load.py`` computes exact percentiles over the measured window.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from typing import Any
from urllib.parse import urlsplit

from locust import FastHttpUser, constant, events, task
from requests.cookies import create_cookie

WORKLOAD: dict[str, Any] = json.loads(open(os.environ["CARTERA_LOAD_WORKLOAD"]).read())  # noqa: SIM115, PTH123
THINK_SECONDS = float(os.environ.get("CARTERA_LOAD_THINK", "1"))
RECORD: list[tuple[str, float, float, bool, int]] = []
_NEXT = re.compile(r'href="([^"]*)"\s+rel="next"|rel="next"\s+href="([^"]*)"')
_people = itertools.count()
_attackers = itertools.count()


@events.request.add_listener
def _record(
    request_type: str, name: str, response_time: float, exception: Any, start_time: float, **extra: Any
) -> None:
    response = extra.get("response")
    status = getattr(response, "status_code", 0) or 0
    RECORD.append((name, start_time, response_time, exception is not None, status))


@events.quitting.add_listener
def _save(**_: Any) -> None:
    with open(os.environ["CARTERA_LOAD_RECORD"], "w") as out:  # noqa: PTH123
        json.dump(RECORD, out)


class PortfolioUser(FastHttpUser):
    """A sales rep or a manager using the CRM, one request every ``THINK_SECONDS`` or so."""

    wait_time = constant(THINK_SECONDS)

    def on_start(self) -> None:
        n = next(_people)
        self.rng = random.Random(n)
        account = WORKLOAD["sessions"][n % len(WORKLOAD["sessions"])]
        self.token = account["token"]
        # Already logged in (the session was opened by bench/load.py): the people of the test are at
        # work, not arriving; logging 50 people in costs 50 password hashes before anything else.
        for name, value in (("sessionid", account["session"]), ("csrftoken", account["csrf"])):
            self.client.cookiejar.set_cookie(create_cookie(name, value, domain=urlsplit(self.host).hostname))
        self.csrf = account["csrf"]
        self.next_page: str | None = None

    def _customer(self) -> int:
        return int(self.rng.choice(WORKLOAD["customer_ids"]))

    @task(4)
    def customer_list(self) -> None:
        if self.next_page and self.rng.random() < 0.5:
            url, self.next_page = self.next_page, None
            response = self.client.get(url, name="list: next page")
        else:
            query = self.rng.choice(WORKLOAD["list_queries"])
            response = self.client.get("/customers/" + (f"?{query}" if query else ""), name="list")
        match = _NEXT.search(response.text or "")
        self.next_page = (match.group(1) or match.group(2)).replace("&amp;", "&") if match else None

    @task(3)
    def search(self) -> None:
        term = self.rng.choice(WORKLOAD["terms"])
        self.client.get("/customers/", params={"q": term}, name="search")

    @task(3)
    def customer_page(self) -> None:
        self.client.get(f"/customers/{self._customer()}/", name="customer page")

    @task(1)
    def log_call(self) -> None:
        pk = self._customer()
        self.client.post(
            f"/activity/customers/{pk}/interactions/",
            data={"kind": "call", "subject": "Llamada de seguimiento (prueba de carga)", "outcome": ""},
            headers={
                "HX-Request": "true",
                "HX-Target": "interaction-form",
                "X-CSRFToken": self.csrf,
                "Referer": f"{self.host}/customers/{pk}/",
            },
            name="log a call",
        )

    @task(1)
    def home(self) -> None:
        self.client.get("/", name="home")

    @task(2)
    def api(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        roll = self.rng.random()
        if roll < 0.4:
            self.client.get("/api/customers", params={"limit": 50}, headers=headers, name="api: list")
        elif roll < 0.7:
            term = self.rng.choice(WORKLOAD["terms"])
            self.client.get("/api/customers", params={"q": term}, headers=headers, name="api: search")
        else:
            self.client.get(f"/api/customers/{self._customer()}", headers=headers, name="api: customer")


class BruteForcer(FastHttpUser):
    """Guesses passwords for one username from this machine's address, without pause."""

    wait_time = constant(0)
    fixed_count = int(os.environ.get("CARTERA_LOAD_ATTACKERS", "10"))

    def on_start(self) -> None:
        n = next(_attackers)
        self.username = WORKLOAD["attack_usernames"][n % len(WORKLOAD["attack_usernames"])]
        self.guesses = (f"guess-{n}-{i}" for i in itertools.count())
        self.client.get("/accounts/login/", name="brute force: login form")
        self.csrf = next((c.value or "" for c in self.client.cookiejar if c.name == "csrftoken"), "")

    @task
    def guess(self) -> None:
        with self.client.post(
            "/accounts/login/",
            data={
                "username": self.username,
                "password": next(self.guesses),
                "csrfmiddlewaretoken": self.csrf,
            },
            headers={"Referer": self.host + "/accounts/login/"},
            name=f"brute force: wrong password ({self.username})",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            # A wrong password is the form again (200); a locked-out username is 429. Anything else
            # (a redirect: logged in; a 5xx) is a failure of the benchmark or of the server.
            if response.status_code in (200, 429):
                response.success()
            else:
                response.failure(f"unexpected {response.status_code}")
