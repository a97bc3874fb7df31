"""Issue 11: what the import got wrong on files real people send, each on a file like theirs.

Spanish Excel writes ``;`` and Windows-1252 with dd/mm/yyyy dates and "1.234,56 €"; HubSpot exports
``,`` UTF-8 with its lifecycle stages; an order history comes with a customer code and no customer file.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation

from cartera.customers.models import Customer
from cartera.imports.models import ImportJob, ImportRowError, RowOutcome
from cartera.imports.services import import_job_configure, import_job_run
from cartera.sales.models import Order

pytestmark = pytest.mark.django_db

# A customer list saved by a Spanish Excel: ";" and Windows-1252, an amount column nothing reads.
SPANISH_CUSTOMERS = (
    "Nombre;Apellidos;Correo electrónico;Teléfono;Población;Importe total\r\n"
    "Lucía;Martínez;lucia@example.es;612 345 678;Madrid;1.234,56 €\r\n"
    "Íñigo;Zubizarreta;inigo@example.es;612 345 679;Bilbao;doce euros\r\n"
)


def _configure(job, user, **options):
    policy = options.pop("duplicate_policy", "skip")
    return import_job_configure(
        actor=user, job=job, columns=job.columns, options=options, duplicate_policy=policy
    )


def _cli(path, *args, user="manager"):
    out = io.StringIO()
    call_command("import", str(path), "--user", user, *args, stdout=out)
    return out.getvalue()


# --- 1. nothing silent ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "words"), [("es", "No se importa"), ("en", "Not imported")])
def test_columns_with_no_target_are_listed_on_the_pages(client, manager, start_job, language, words):
    job = start_job(manager, SPANISH_CUSTOMERS, encoding="cp1252")
    assert "Importe total" not in job.columns  # a customer file has no field for an amount
    client.force_login(manager)
    with translation.override(language):
        mapping = client.get(reverse("imports:mapping", args=[job.pk]), HTTP_ACCEPT_LANGUAGE=language)
        assert f"{words}:</strong> Importe total" in mapping.text
        job = import_job_run(job=job, dry_run=True)
        assert job.report["ignored"] == ["Importe total"]
        result = client.get(reverse("imports:detail", args=[job.pk]), HTTP_ACCEPT_LANGUAGE=language)
        assert f"{words}:</strong> Importe total" in result.text


def test_the_command_line_lists_the_columns_it_leaves_out(manager, tmp_path):
    path = tmp_path / "clientes.csv"
    path.write_bytes(SPANISH_CUSTOMERS.encode("cp1252"))
    out = _cli(path, "--dry-run", "--lang", "en")
    assert out.count("Not imported: Importe total") == 2  # before the run, and in its summary
    # Leaving a column out on purpose is said the same way.
    out = _cli(path, "--dry-run", "--map", "Población=", "--lang", "en")
    assert "Not imported: Población, Importe total" in out


@pytest.mark.parametrize(
    ("language", "words"),
    [("es", "no es un campo que esta importación pueda rellenar"), ("en", "is not a field")],
)
def test_map_to_an_unknown_field_is_refused_with_the_valid_fields(manager, tmp_path, language, words):
    path = tmp_path / "clientes.csv"
    path.write_bytes(SPANISH_CUSTOMERS.encode("cp1252"))
    with translation.override(language), pytest.raises(CommandError) as refused:
        _cli(path, "--map", "Importe total=importe_total")
    message = str(refused.value)
    assert words in message and "importe_total" in message and "Importe total" in message
    assert "first_name" in message and "email" in message and "stage" in message
    # Nothing is kept of the refused run: no customer, no job, no stored file.
    assert Customer.objects.count() == 0 and ImportJob.objects.count() == 0
    assert not list((tmp_path / "imports").glob("*.upload"))


def test_map_of_a_column_the_file_lacks_is_refused(manager, tmp_path):
    path = tmp_path / "clientes.csv"
    path.write_bytes(SPANISH_CUSTOMERS.encode("cp1252"))
    with pytest.raises(CommandError, match="Importe total"):
        _cli(path, "--map", "Importe=notes")


# --- 2. stages from every system --------------------------------------------------------------------------

HUBSPOT = (
    "Record ID,First Name,Last Name,Email,Lifecycle Stage\n"
    "101,Ana,Ruiz,ana@example.com,subscriber\n"
    "102,Bea,Sanz,bea@example.com,lead\n"
    "103,Carla,Pons,carla@example.com,marketingqualifiedlead\n"
    "104,Dani,Vila,dani@example.com,salesqualifiedlead\n"
    "105,Eva,Mora,eva@example.com,opportunity\n"
    "106,Fede,Gil,fede@example.com,customer\n"
    "107,Gema,Paz,gema@example.com,evangelist\n"
    "108,Hugo,Rey,hugo@example.com,other\n"
    "109,Inés,Luna,ines@example.com,Oportunidad\n"
    "110,Juan,Sol,juan@example.com,ex-cliente\n"
    "111,Kike,Mar,kike@example.com,Antiguo cliente\n"
    "112,Lola,Río,lola@example.com,Sospechoso\n"
    "113,Mario,Ros,mario@example.com,MQL\n"
    "114,Nora,Paz,nora@example.com,Cliente potencial\n"
    "115,Olga,Ortiz,olga@example.com,Former customer\n"
    "116,Pepe,Vera,pepe@example.com,VIP oro\n"
)


def test_hubspot_lifecycle_stages_and_spanish_words_map_to_cartera_stages(manager, start_job):
    # Eva and Pepe are already in the portfolio, as customers.
    for first, email in (("Eva", "eva@example.com"), ("Pepe", "pepe@example.com")):
        Customer.objects.create(first_name=first, email=email, stage="customer", owner=manager)
    job = start_job(manager, HUBSPOT, name="hubspot-contacts.csv")
    assert job.columns["Lifecycle Stage"] == "stage"
    job = _configure(job, manager, duplicate_policy="overwrite")
    with translation.override("en"):
        job = import_job_run(job=job, dry_run=False)
    stages = dict(Customer.objects.values_list("first_name", "stage"))
    assert stages == {
        "Ana": "suspect", "Bea": "prospect", "Carla": "prospect", "Dani": "prospect", "Eva": "prospect",
        "Fede": "customer", "Gema": "customer", "Hugo": "prospect", "Inés": "prospect", "Juan": "former",
        "Kike": "former", "Lola": "suspect", "Mario": "prospect", "Nora": "prospect", "Olga": "former",
        "Pepe": "customer",
    }  # fmt: skip
    # "opportunity" no longer rejects a person already in the portfolio, nor does an unknown word:
    # Pepe's stage is left as it was and the cell is reported, with the values Cartera understands.
    assert job.error_count == 0 and job.created_count == 14
    warning = ImportRowError.objects.get(job=job, outcome=RowOutcome.WARNING)
    assert (warning.row_number, warning.column, warning.value) == (17, "Lifecycle Stage", "VIP oro")
    assert "Prospect" in warning.reason and "opportunity" in warning.reason


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("es", ["Cliente potencial", "Excliente", "se dejó como estaba"]),
        ("en", ["Prospect", "Former customer", "left as it was"]),
    ],
)
def test_an_unknown_stage_is_reported_with_the_allowed_values(manager, start_job, language, expected):
    from cartera.imports.fields import parse_stage

    with translation.override(language), pytest.raises(ValueError) as unknown:
        parse_stage("VIP oro")
    assert all(word in str(unknown.value) for word in expected), str(unknown.value)


# --- 3. duplicates inside one file ------------------------------------------------------------------------

DUPLICATES = (
    "Nombre;Apellidos;Email;Ciudad;Cargo\r\n"
    "PABLO;jimenez;;Sevilla;\r\n"
    "Pablo;Jiménez;;Sevilla;\r\n"
    "Ana;Ruiz;ana@example.es;Bilbao;\r\n"
    "ANA;RUIZ;ana@example.es;Bilbao;Gerente\r\n"
)


def test_in_file_duplicates_keep_the_best_row_and_say_which_rows_were_skipped(manager, start_job, customer):
    job = start_job(manager, DUPLICATES + "Lucía;Martínez Ortega;lucia@example.es;;\r\n")
    with translation.override("en"):
        job = import_job_run(job=job, dry_run=False)
    pablo = Customer.objects.get(last_name_key="jimenez")
    assert (pablo.first_name, pablo.last_name) == ("Pablo", "Jiménez")  # proper case and accents win
    # Of the two Anas the fuller row (with a job title) is kept, even though it shouts.
    assert Customer.objects.get(email="ana@example.es").job_title == "Gerente"
    notes = {n.row_number: n for n in ImportRowError.objects.filter(job=job)}
    assert notes[2].outcome == RowOutcome.SKIPPED and "row 3" in notes[2].reason
    assert notes[4].outcome == RowOutcome.SKIPPED and "row 5" in notes[4].reason
    # The existing customer the last row matched, and how.
    assert notes[6].outcome == RowOutcome.MATCHED and notes[6].customer_id == customer.pk
    assert "same email" in notes[6].reason
    assert job.created_count == 2 and job.skipped_count == 3


def test_merged_duplicates_fill_the_kept_row_and_the_pages_say_so(client, manager, start_job):
    job = _configure(start_job(manager, DUPLICATES), manager, duplicate_policy="update_empty")
    with translation.override("es"):
        job = import_job_run(job=job, dry_run=False)
    ana = Customer.objects.get(email="ana@example.es")
    assert (ana.first_name, ana.job_title) == ("ANA", "Gerente")
    merged = ImportRowError.objects.get(job=job, row_number=4)
    assert merged.outcome == RowOutcome.MERGED and "misma persona que la fila 5" in merged.reason
    client.force_login(manager)
    page = client.get(reverse("imports:detail", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="es")
    assert "misma persona que la fila 5" in page.text
    # The rows not written as themselves are in the downloadable file, with what happened to them.
    rows = _download(client, job, "utf-8-sig")
    assert [row[0] for row in rows[1:]] == ["2", "4"]
    assert rows[1][2:4] == ["PABLO", "jimenez"]


def test_the_command_line_says_what_happened_to_each_duplicate(manager, customer, tmp_path):
    path = tmp_path / "clientes.csv"
    path.write_bytes((DUPLICATES + "Lucía;Martínez Ortega;lucia@example.es;;\r\n").encode("cp1252"))
    with translation.override("en"):
        out = _cli(path, "--dry-run")
    assert "row 2 skipped" in out and "same person as row 3" in out
    assert f"row 6 matched customer #{customer.pk}: same email" in out


# --- 4. orders that bring their customers -----------------------------------------------------------------

ORDERS = (
    "Nº pedido;Fecha;Código cliente;Nombre del cliente;Email;Importe\r\n"
    "F-0001;03/01/2025;C-001;José Álvarez;jose@example.es;1.234,56 €\r\n"
    "F-0002;15/02/2025;C-001;José Álvarez;jose@example.es;99,90 €\r\n"
    "F-0003;01/03/2025;C-002;Begoña Íñiguez;;45,00 €\r\n"
)


def test_an_order_history_creates_the_customers_it_names(manager, tmp_path):
    path = tmp_path / "pedidos.csv"
    path.write_bytes(ORDERS.encode("cp1252"))
    out = _cli(path, "--kind", "orders", "--dry-run", "--create-customers", "--lang", "en")
    assert "Customers would be created from the orders: 2." in out and Customer.objects.count() == 0
    out = _cli(path, "--kind", "orders", "--create-customers", "--lang", "en")
    assert "Customers were created from the orders: 2." in out
    jose = Customer.objects.get(email="jose@example.es")
    assert (jose.first_name, jose.last_name, jose.stage, jose.owner) == (
        "José",
        "Álvarez",
        "customer",
        manager,
    )
    assert sorted(jose.orders.values_list("amount", flat=True)) == [Decimal("99.90"), Decimal("1234.56")]
    assert Customer.objects.get(first_name="Begoña").orders.count() == 1
    # Again: nothing new, and the customers are found by their code.
    _cli(path, "--kind", "orders", "--create-customers")
    assert Customer.objects.count() == 2 and Order.objects.count() == 3
    # Rolling the first import back takes its customers with their orders.
    first = ImportJob.objects.order_by("pk")[1]
    _cli(path, "--rollback", str(first.pk))
    assert Customer.objects.count() == 0 and Order.objects.count() == 0


def test_without_the_option_the_error_line_shows_the_failing_value(manager, tmp_path):
    path = tmp_path / "pedidos.csv"
    path.write_bytes(ORDERS.encode("cp1252"))
    out = _cli(path, "--kind", "orders", "--dry-run", "--lang", "es")
    assert "fila 2 Código cliente 'C-001': ningún cliente coincide" in out
    assert "fila 4 Código cliente 'C-002'" in out


def test_a_customer_code_alone_names_the_new_customer(manager, start_job):
    job = start_job(manager, "Fecha;Cliente;Importe\r\n03/01/2025;C-0042;10,00\r\n", kind="orders")
    assert job.columns["Cliente"] == "customer_external_id"
    job = import_job_run(job=_configure(job, manager, create_customers=True), dry_run=False)
    assert Customer.objects.get().first_name == "C-0042" and Order.objects.get().amount == 10


@pytest.mark.parametrize(
    "header", ["Cliente", "Id cliente", "Código cliente", "Nº cliente", "Customer", "Customer ID"]
)
def test_customer_columns_are_recognised(manager, start_job, header):
    job = start_job(manager, f"Fecha;{header};Importe\r\n03/01/2025;C-1;10,00\r\n", kind="orders")
    assert job.columns[header] == "customer_external_id"


@pytest.mark.parametrize(("language", "words"), [("es", "Ninguna columna dice"), ("en", "No column says")])
def test_an_order_file_without_a_customer_column_gets_one_message(
    client, manager, start_job, tmp_path, language, words
):
    content = "Fecha;Importe;Producto\r\n03/01/2025;10,00;Libro\r\n04/01/2025;12,00;Disco\r\n"
    job = start_job(manager, content, kind="orders")
    with translation.override(language), pytest.raises(ValidationError) as refused:
        _configure(job, manager)
    assert words in refused.value.messages[0]
    client.force_login(manager)
    page = client.get(reverse("imports:mapping", args=[job.pk]), HTTP_ACCEPT_LANGUAGE=language)
    assert page.text.count(words) == 1
    path = tmp_path / "pedidos.csv"
    path.write_text(content, encoding="utf-8")
    with translation.override(language), pytest.raises(CommandError, match=words):
        _cli(path, "--kind", "orders")


def test_the_web_option_creates_the_customers(client, manager, start_job):
    job = start_job(manager, ORDERS, encoding="cp1252", kind="orders")
    client.force_login(manager)
    form = {f"col_{i}": job.columns.get(h, "") for i, h in enumerate(job.headers)}
    form.update(date_order="dmy", decimal_comma="on", duplicate_policy="skip", source="import",
                create_customers="on", action="dry_run")  # fmt: skip
    page = client.get(reverse("imports:mapping", args=[job.pk]))
    assert 'name="create_customers"' in page.text
    assert client.post(reverse("imports:mapping", args=[job.pk]), form).status_code == 302
    job.refresh_from_db()
    assert job.report["customers"] == 2 and job.report["error"] == 0
    import_job_run(job=job, dry_run=False)
    assert Customer.objects.count() == 2 and Order.objects.count() == 3


def test_a_rep_without_the_right_to_add_customers_cannot_have_them_created(owner, start_job):
    from django.contrib.auth.models import Permission

    owner.user_permissions.remove(*Permission.objects.filter(codename="add_customer"))
    owner.groups.clear()
    owner = type(owner).objects.get(pk=owner.pk)
    job = start_job(owner, ORDERS, encoding="cp1252", kind="orders")
    with pytest.raises(ValidationError):
        _configure(job, owner, create_customers=True)


# --- 6. honest counts -------------------------------------------------------------------------------------


def test_fill_in_empty_fields_counts_only_rows_that_changed(manager, start_job):
    rows = "".join(f"Cliente{n};Prueba;c{n}@example.es;Madrid\r\n" for n in range(100))
    content = "Nombre;Apellidos;Email;Ciudad\r\n" + rows
    import_job_run(job=start_job(manager, content), dry_run=False)
    for dry_run in (True, False):
        job = _configure(start_job(manager, content), manager, duplicate_policy="update_empty")
        job = import_job_run(job=job, dry_run=dry_run)
        assert (job.report["update"], job.report["unchanged"]) == (0, 100), job.report
    assert job.updated_count == 0
    # One customer whose city is empty gets it filled: one updated, and the note says which field.
    Customer.objects.filter(email="c7@example.es").update(city="")
    job = _configure(start_job(manager, content), manager, duplicate_policy="update_empty")
    with translation.override("en"):
        job = import_job_run(job=job, dry_run=False)
    assert (job.updated_count, job.report["unchanged"]) == (1, 99)
    note = ImportRowError.objects.get(job=job, row_number=9)
    assert "updated (City)" in note.reason
    assert Customer.objects.get(email="c7@example.es").city == "Madrid"


def test_the_command_line_says_unchanged(manager, tmp_path):
    path = tmp_path / "clientes.csv"
    path.write_bytes(SPANISH_CUSTOMERS.encode("cp1252"))
    _cli(path)
    out = _cli(path, "--on-duplicate", "update_empty", "--lang", "en")
    assert "0 updated, 2 unchanged" in out


# --- 7. the rejected rows in the file's own dialect -------------------------------------------------------

BAD_ROWS = (
    "Nombre;Apellidos;Email;Importe total\r\n"
    "Lucía;Martínez;lucia@example.es;1.234,56\r\n"
    "Íñigo;Núñez;no-es-correo;=1+1\r\n"
    ";Sin nombre;sin@example.es;+34 600\r\n"
)


def _download(client, job, encoding, delimiter=";"):
    response = client.get(reverse("imports:rejected", args=[job.pk]))
    assert response.status_code == 200
    raw = b"".join(response.streaming_content)
    return list(csv.reader(io.StringIO(raw.decode(encoding)), delimiter=delimiter))


def test_rejected_rows_go_back_as_spanish_excel_wrote_them(client, manager, start_job):
    job = import_job_run(job=start_job(manager, BAD_ROWS, encoding="cp1252"), dry_run=True)
    client.force_login(manager)
    response = client.get(reverse("imports:rejected", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="es")
    raw = b"".join(response.streaming_content)
    assert response["Content-Type"] == "text/csv; charset=windows-1252"
    assert not raw.startswith(b"\xef\xbb\xbf") and "Íñigo".encode("cp1252") in raw
    rows = list(csv.reader(io.StringIO(raw.decode("cp1252")), delimiter=";"))
    assert rows[0] == ["Fila", "Por qué no se importó", "Nombre", "Apellidos", "Email", "Importe total"]
    assert rows[1][0] == "3" and "no-es-correo" in rows[1][1]
    assert rows[1][2:] == ["Íñigo", "Núñez", "no-es-correo", "'=1+1"]  # formula-safe
    assert rows[2][0] == "4" and rows[2][5] == "'+34 600"


def test_a_character_windows_1252_lacks_makes_it_utf8_with_bom(client, manager, start_job):
    job = start_job(manager, BAD_ROWS, encoding="cp1252")
    # The file was Windows-1252, but the reason is written in a language it cannot hold.
    ImportRowError.objects.create(job=job, row_number=9, reason="Łódź ✗", raw=["Ł", "", "x", ""])
    client.force_login(manager)
    response = client.get(reverse("imports:rejected", args=[job.pk]))
    raw = b"".join(response.streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf") and response["Content-Type"] == "text/csv; charset=utf-8"
    assert "Łódź ✗" in raw.decode("utf-8-sig")


def test_the_rejected_file_imports_again_once_fixed(client, manager, start_job):
    job = import_job_run(job=start_job(manager, BAD_ROWS, encoding="cp1252"), dry_run=True)
    client.force_login(manager)
    response = client.get(reverse("imports:rejected", args=[job.pk]))
    fixed = b"".join(response.streaming_content).replace(b"no-es-correo", b"inigo@example.es")
    again = start_job(manager, fixed, name="rechazadas.csv")
    again = import_job_run(job=_configure(again, manager), dry_run=False)
    inigo = Customer.objects.get(email="inigo@example.es")
    assert (inigo.first_name, inigo.last_name) == ("Íñigo", "Núñez")
    assert again.created_count == 1 and again.error_count == 1  # the row with no first name still lacks it


def test_a_spreadsheet_upload_gets_semicolons_when_it_uses_decimal_commas(client, manager, start_job):
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Nombre", "Email"])
    sheet.append(["Ana", "ana@@example.es"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    job = import_job_run(job=start_job(manager, buffer.getvalue(), name="clientes.xlsx"), dry_run=True)
    client.force_login(manager)
    rows = _download(client, job, "utf-8-sig")
    assert rows[1][0] == "2" and rows[1][2:] == ["Ana", "ana@@example.es"]


# --- the bulk-write toolkit's plain twin writes the same rows ---------------------------------------------


def test_records_and_notes_are_the_same_with_the_plain_twin(manager, start_job, customer, settings):
    from cartera.imports.models import ImportRecord
    from cartera.imports.services import import_job_rollback

    def run(plain: bool) -> tuple[list[tuple], list[tuple]]:
        settings.CARTERA_BULK_PLAIN = plain
        content = DUPLICATES + "Lucía;Martínez Ortega;lucia@example.es;;Jefa\r\nX;;mal@@correo;;\r\n"
        job = _configure(start_job(manager, content), manager, duplicate_policy="update_empty")
        job = import_job_run(job=job, dry_run=False)
        records = list(
            ImportRecord.objects.filter(job=job)
            .order_by("row_number", "model")
            .values_list("model", "action", "row_number", "external_ref", "previous", "conflict")
        )
        notes = list(
            ImportRowError.objects.filter(job=job)
            .order_by("row_number", "outcome")
            .values_list("row_number", "outcome", "customer_id", "column", "value", "reason", "raw")
        )
        import_job_rollback(actor=manager, job=job)  # the same starting point for the other twin
        return records, notes

    fast, plain = run(False), run(True)
    assert fast == plain
    assert any(note[1] == RowOutcome.MATCHED for note in fast[1]) and any(r[4] for r in fast[0])
