"""Issue 11, item 11: every Cartera command speaks one language per run (``--lang``), in its own
summaries, its tables' headings and its ``CommandError`` texts: a Spanish run prints no English
sentence, an English run no Spanish one."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone, translation

from cartera.accounts.models import ApiToken
from cartera.customers.models import Customer
from cartera.customers.services import customer_create
from cartera.insights.models import RefreshRun

pytestmark = pytest.mark.django_db


def _run(name: str, *args: str, lang: str, **options: Any) -> str:
    """Everything a run prints (stdout, stderr and the refusal, if any), the caller speaking the other
    language so that only ``--lang`` can make the run speak ``lang``."""
    out, err = io.StringIO(), io.StringIO()
    with translation.override("es" if lang == "en" else "en"):
        try:
            call_command(name, *args, lang=lang, stdout=out, stderr=err, **options)
        except CommandError as exc:
            err.write(f"CommandError: {exc}")
    return out.getvalue() + err.getvalue()


def _token(lang: str, users: dict[str, Any]) -> str:
    text = _run("token", "create", users["manager"].username, "laptop", lang=lang)
    text += _run("token", "list", lang=lang)
    token = ApiToken.objects.get(user=users["manager"], name="laptop")
    text += _run("token", "revoke", users["manager"].username, str(token.pk), lang=lang)
    text += _run("token", "revoke", users["manager"].username, "9999", lang=lang)
    text += _run("token", "list", "nadie", lang=lang)
    return text


def _token_none(lang: str, users: dict[str, Any]) -> str:
    return _run("token", "list", lang=lang)


def _campaign(lang: str, users: dict[str, Any], tmp_path: Any) -> str:
    mail = tmp_path / "stray.eml"
    mail.write_text("From: ana@example.es\nSubject: Hola\n\nNada que ver.\n", encoding="utf-8")
    text = _run("campaign", "replies", str(mail), lang=lang)
    text += _run("campaign", "replies", str(tmp_path / "missing.eml"), lang=lang)
    text += _run("campaign", "pause", "9999", "--user", users["manager"].username, lang=lang)
    text += _run("campaign", "list", "--user", "nadie", lang=lang)
    return text


def _demo(lang: str, users: dict[str, Any]) -> str:
    customer_create(actor=users["owner"], fields={"first_name": "Ana"})
    text = _run("demo", "--customers", "5", "--if-empty", lang=lang)
    text += _run("demo", "--customers", "5", lang=lang)
    text += _run("demo", "--customers", "0", lang=lang)
    return text


def _privacy(lang: str, users: dict[str, Any], tmp_path: Any) -> str:
    customer = customer_create(actor=users["owner"], fields={"first_name": "Ana"})
    text = _run("privacy", "export", str(customer.pk), "--output", str(tmp_path / "ana.json"), lang=lang)
    text += _run("privacy", "export", "9999", lang=lang)
    text += _run("privacy", "erase", str(customer.pk), "--user", "nadie", "--confirm", "x", lang=lang)
    text += _run("privacy", "retention", "--schedule", lang=lang)
    text += _run("privacy", "retention", "--schedule", lang=lang)
    text += _run("privacy", "retention", "--background", lang=lang)
    return text


def _surveys(lang: str, users: dict[str, Any]) -> str:
    return _run("surveys", "triggers", lang=lang) + _run("surveys", "audits", "--as-user", "nadie", lang=lang)


def _refresh(lang: str, users: dict[str, Any]) -> str:
    return _run("refresh", "--background", lang=lang) + _run("refresh", lang=lang)


def _refresh_lock(lang: str, users: dict[str, Any]) -> str:
    """A refresh held by a live worker elsewhere is refused, naming the holder; once the holder is
    silent it is taken over, and the note of the new run (the model and why) is printed."""
    now = timezone.now()
    held = RefreshRun.objects.create(
        started_at=now - dt.timedelta(hours=1), heartbeat_at=now - dt.timedelta(seconds=5), trigger="task",
        holder={"host": "worker-2.example", "pid": 4242, "task_id": "7c1e"},
    )  # fmt: skip
    text = _run("refresh", lang=lang)
    RefreshRun.objects.filter(pk=held.pk).update(heartbeat_at=now - dt.timedelta(hours=1))
    text += _run("refresh", lang=lang)
    held.refresh_from_db()
    return text + held.note  # the note left on the run taken over speaks the run's language too


def _holdout(lang: str, users: dict[str, Any], load: Callable[..., Any]) -> str:
    """The human tables of ``holdout`` (status names included) on part of the CDNOW sample; its
    ``--json`` keeps the status codes, whatever the language."""
    load(max_rows=2500)
    text = _run("holdout", "--cutoff", "1997-06-30", "--end", "1998-06-30", lang=lang)
    machine = json.loads(
        _run("holdout", "--cutoff", "1997-06-30", "--end", "1998-06-30", "--json", lang=lang)
    )
    assert {"one_time", "active"} <= set(machine["status_return_rates"])
    assert "one_time" not in text and "at_risk" not in text  # the codes are for machines
    return text


def _demo_logins(lang: str, users: dict[str, Any]) -> str:
    """A demo loaded into an empty file: its summary (stages) and its logins (roles)."""
    Customer.objects.all().delete()
    return _run("demo", "--customers", "5", lang=lang)


def _dbstats(lang: str, users: dict[str, Any]) -> str:
    return _run("dbstats", lang=lang)


# (what runs, English phrases, Spanish phrases): each run must print all of its language's phrases
# and none of the other's.
CASES: dict[str, tuple[Callable[..., str], tuple[str, ...], tuple[str, ...]]] = {
    "token": (
        _token,
        ("Shown once; store it now", "last used", "status", "revoked.", "has no token with id 9999",
         "No user named 'nadie'"),
        ("Solo se muestra una vez", "último uso", "estado", "revocado.", "no tiene ningún token con id 9999",
         "No hay ningún usuario llamado 'nadie'"),
    ),
    "token-none": (_token_none, ("No tokens.",), ("No hay tokens.",)),
    "campaign": (
        _campaign,
        ("not a reply to a campaign", "logged 0 replies; 1 answered no campaign", "No file",
         "No campaign 9999 that", "No active user 'nadie'"),
        ("no es una respuesta a una campaña", "0 respuestas registradas; 1 no respondía a ninguna campaña",
         "No existe el fichero", "No hay ninguna campaña 9999", "No hay ningún usuario activo 'nadie'"),
    ),
    "demo": (
        _demo,
        ("already has customers; no demo data loaded", "is not empty", "must be at least 1"),
        ("ya tiene clientes; no se han cargado", "no está vacío", "debe ser al menos 1"),
    ),
    "privacy": (
        _privacy,
        ("Wrote ", "No customer 9999.", "No active user called 'nadie'", "Nightly retention queued.",
         "A retention run is already queued.", "Queued retention (task"),
        ("Escrito ", "No existe el cliente 9999.", "No hay ningún usuario activo llamado 'nadie'",
         "Conservación nocturna en cola.", "Ya hay una ejecución de conservación en cola.",
         "Conservación en cola (tarea"),
    ),
    "surveys": (
        _surveys,
        ("No automatic survey found anyone to ask.", "No active user 'nadie'."),
        ("Ninguna encuesta automática", "No hay ningún usuario activo 'nadie'."),
    ),
    "refresh": (
        _refresh,
        ("Queued refresh (task", "reading orders", "analysing 0 customers", "writing the snapshot",
         "Refreshed 0 customers and 0 orders in"),
        ("Actualización en cola (tarea", "leyendo los pedidos", "analizando 0 clientes",
         "escribiendo la instantánea", "Actualizados 0 clientes y 0 pedidos en"),
    ),
    "dbstats": (_dbstats, ("Planner statistics refreshed in",), ("Estadísticas del planificador",)),
    "refresh-lock": (
        _refresh_lock,
        ("A refresh is already running (run ", "by process 4242 on worker-2.example", "worker task 7c1e",
         "trigger task", "last sign of life", "took over the lock of run", "no sign of life for",
         "abandoned (", "taken over by process", "model paretonbd: the default, no backtest yet"),
        ("Ya hay una actualización en marcha (ejecución ", "por el proceso 4242 de worker-2.example",
         "la tarea 7c1e del proceso de tareas", "origen: task", "última señal de vida hace",
         "se ha tomado el bloqueo de la ejecución", "sin señales de vida desde hace", "abandonada (",
         "la sustituye el proceso", "modelo paretonbd: el predeterminado"),
    ),
    "holdout": (
        _holdout,
        ("Status at the cut-off: how many", "One-time buyer", "Active"),
        ("Estado en el corte", "Compró una vez", "Activo"),
    ),
    "demo-logins": (
        _demo_logins,
        ("Demo logins", "Administrator", "Sales rep", "Customers", "Orders", "Customer: ", "Former customer: "),
        ("Accesos de demostración", "Administrador", "Comercial", "Clientes", "Pedidos", "Cliente: ",
         "Excliente: "),
    ),
}  # fmt: skip


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("command", sorted(CASES))
def test_a_command_speaks_the_language_of_the_run(command, lang, owner, manager, tmp_path, cdnow_loader):
    run, english, spanish = CASES[command]
    users = {"owner": owner, "manager": manager}
    needs_path = run in (_campaign, _privacy)
    if run is _holdout:
        text = run(lang, users, cdnow_loader)
    else:
        text = run(lang, users, tmp_path) if needs_path else run(lang, users)
    said, not_said = (english, spanish) if lang == "en" else (spanish, english)
    for words in said:
        assert words in text, (words, text)
    for words in not_said:
        assert words not in text, (words, text)


def test_lang_after_a_subcommand_is_the_runs_language_not_an_abbreviation(owner, tmp_path):
    """``manage.py privacy export 42 --lang en`` speaks English: ``--lang`` is the run's language, not
    argparse's abbreviation of ``export --language`` (the document's), which keeps its own meaning.
    No option of a Cartera command can be abbreviated."""
    customer = customer_create(actor=owner, fields={"first_name": "Ana"})
    target = str(tmp_path / "ana.json")

    def export(*args: str) -> str:
        out = io.StringIO()
        with translation.override("es"):
            call_command("privacy", "export", str(customer.pk), "--output", target, *args, stdout=out)
        return out.getvalue()

    assert export("--lang", "en") == f"Wrote {target} (es).\n"  # the document keeps the default
    assert export("--language", "en") == f"Escrito {target} (en).\n"  # the run keeps the caller's
    assert export("--lang", "en", "--language", "en") == f"Wrote {target} (en).\n"
    assert export("--language", "en", "--lang", "es") == f"Escrito {target} (en).\n"
    with translation.override("en"):
        assert call_command("token", "--lang", "es", "list") is None  # before the subcommand too
    for abbreviation in (["--langu", "en"], ["--out", target]):
        with pytest.raises(CommandError, match="unrecognized arguments"):
            call_command("privacy", "export", str(customer.pk), *abbreviation, stdout=io.StringIO())
