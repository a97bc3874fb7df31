"""Issue 11, item 11: one language per command-line run (``--lang``, ``cartera --lang``, else the
default language), for the summary and the row messages alike."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.utils import translation

from cartera.cli import main, split_language
from cartera.core.commands import LANGUAGE_ENV, command_language

pytestmark = pytest.mark.django_db

# An order file with a column nothing reads, a row whose customer is unknown and a row with a bad date.
ORDERS = (
    "Nº pedido;Fecha;Email;Importe;Comentario\r\n"
    "P-1;03/01/2025;nadie@example.es;10,00;hola\r\n"
    "P-2;32/01/2025;nadie@example.es;12,00;adiós\r\n"
)
ENGLISH = ("Job ", " rows; ", "would be created", "Not imported: Comentario", "row 2 ", "row 3 ",
           "no customer matches", "not a real date")  # fmt: skip
SPANISH = ("Importación ", " filas; ", "se crearían", "No se importa: Comentario", "fila 2 ", "fila 3 ",
           "ningún cliente coincide", "la fecha no existe")  # fmt: skip


def _run(tmp_path, *args):
    path = tmp_path / "pedidos.csv"
    path.write_bytes(ORDERS.encode("cp1252"))
    out = io.StringIO()
    call_command("import", str(path), "--user", "manager", "--kind", "orders", "--dry-run", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("language", "said", "not_said"), [("en", ENGLISH, SPANISH), ("es", SPANISH, ENGLISH)]
)
def test_an_import_run_speaks_one_language(manager, tmp_path, language, said, not_said):
    # The caller's language is the other one: --lang wins over it, for every line.
    with translation.override("es" if language == "en" else "en"):
        out = _run(tmp_path, "--lang", language)
    for words in said:
        assert words in out, (words, out)
    for words in not_said:
        assert words not in out, (words, out)


def test_without_lang_the_default_language_speaks(manager, tmp_path, settings, monkeypatch):
    monkeypatch.delenv(LANGUAGE_ENV, raising=False)
    with translation.override(settings.LANGUAGE_CODE):
        out = _run(tmp_path)
    assert all(words in out for words in SPANISH) and not any(words in out for words in ENGLISH)


def test_the_global_option_of_the_cartera_command(manager, tmp_path, monkeypatch, capsys):
    assert split_language(["cartera", "--lang", "en", "import", "f.csv", "--lang=es"]) == (
        ["cartera", "import", "f.csv"],
        "es",
    )
    monkeypatch.setenv(LANGUAGE_ENV, "")  # restored after the test
    with translation.override("es"):
        main(["cartera", "--lang", "en", "help", "import"])
        assert "--currency" in capsys.readouterr().out
        assert command_language() == "en"
        # A command run later in the same process follows it, however the caller's language is set.
        translation.activate("es")
        out = _run(tmp_path)
    assert all(words in out for words in ENGLISH) and not any(words in out for words in SPANISH)


def test_a_wrong_global_language_is_refused(monkeypatch, capsys):
    monkeypatch.setenv(LANGUAGE_ENV, "")
    with pytest.raises(SystemExit) as stopped, translation.override("es"):
        main(["cartera", "--lang", "fr", "help"])
    assert stopped.value.code == 2 and "fr" in capsys.readouterr().err
