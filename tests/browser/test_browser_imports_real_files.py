"""Issue 11 in the browser: a Spanish Excel customer list and an order history, in Spanish and English,
on a phone and a desktop: the columns not imported, what happened to each row, customers created
from the orders."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

CUSTOMERS = (
    "Nombre;Apellidos;Correo electrónico;Población;Etapa;Importe total\r\n"
    "PABLO;jimenez;;Sevilla;Oportunidad;1.234,56 €\r\n"
    "Pablo;Jiménez;;Sevilla;Oportunidad;99,00 €\r\n"
    "Lucía;Martínez Ortega;lucia@example.es;Madrid;Cliente;doce euros\r\n"
    "Marta;Vidal;marta@example.es;Vigo;VIP oro;12\r\n"
    "Íñigo;Núñez;no-es-correo;Bilbao;ex-cliente;0\r\n"
)
ORDERS = (
    "Nº pedido;Fecha;Código cliente;Nombre del cliente;Importe\r\n"
    "F-1;03/01/2025;C-001;José Álvarez;1.234,56 €\r\n"
    "F-2;04/01/2025;C-002;Begoña Íñiguez;45,00 €\r\n"
)
WORDS = {
    "es-ES": {"ignored": "No se importa", "commit": "Importar ahora", "kept": "misma persona que la fila 3"},
    "en-US": {"ignored": "Not imported", "commit": "Import now", "kept": "same person as row 3"},
}


@pytest.fixture(params=["es-ES", "en-US"])
def browser_locale(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _upload(page, path, kind):
    page.goto("/data/")
    page.locator("#upload-form select[name=kind]").select_option(kind)
    page.locator("#upload-form input[type=file]").set_input_files(str(path))
    page.locator("#upload-form button[type=submit]").click()
    expect(page.locator("#mapping-form")).to_be_visible()


def test_real_files(
    page, manager, customer, login, shot, browser_log, tmp_path, settings, sideways_overflow, browser_locale
):
    from cartera.customers.models import Customer
    from cartera.sales.models import Order

    words = WORDS[browser_locale]
    language = browser_locale[:2]
    settings.VAR_DIR = tmp_path
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    path = tmp_path / "clientes.csv"
    path.write_bytes(CUSTOMERS.encode("cp1252"))
    login("manager")
    _upload(page, path, "customers")
    expect(page.locator("#ignored-columns")).to_contain_text(f"{words['ignored']}: Importe total")
    assert sideways_overflow("mapping") is None
    shot(f"{language}-mapping")
    page.locator("#mapping-form button[value=dry_run]").click()
    expect(page.locator("#commit")).to_have_text(words["commit"])
    expect(page.locator("#row-notes")).to_contain_text(words["kept"])
    expect(page.locator("#row-notes")).to_contain_text("VIP oro")
    assert sideways_overflow("dry run") is None
    page.locator("#commit").click()
    expect(page.locator("#progress [data-status=done]")).to_be_visible()
    expect(page.locator("#row-notes")).to_contain_text(f"#{customer.pk}")
    assert sideways_overflow("result") is None
    shot(f"{language}-result")
    assert Customer.objects.filter(first_name="Pablo", last_name="Jiménez").count() == 1
    assert Customer.objects.get(email="marta@example.es").stage == "prospect"  # the default, not rejected

    orders = tmp_path / "pedidos.csv"
    orders.write_bytes(ORDERS.encode("cp1252"))
    _upload(page, orders, "orders")
    page.locator("#mapping-form input[name=create_customers]").check()
    assert sideways_overflow("orders mapping") is None
    shot(f"{language}-orders-mapping")
    page.locator("#mapping-form button[value=dry_run]").click()
    page.locator("#commit").click()
    expect(page.locator("#progress [data-status=done]")).to_be_visible()
    shot(f"{language}-orders-result")
    assert Order.objects.count() == 2 and Customer.objects.filter(first_name="Begoña").exists()
    browser_log.assert_clean()
