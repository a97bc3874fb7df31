"""Upload → mapping → dry run → commit → progress → done, in Spanish, on a phone and a desktop."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

CSV = "Nombre;Apellidos;Correo electrónico;Móvil;Ciudad\nAna;Ruiz;ana@example.es;600 111 222;Bilbao\nBea;Sanz;mal-correo;;Vigo\n"


def test_import_walkthrough(page, manager, login, shot, browser_log, tmp_path, settings, sideways_overflow):
    from cartera.customers.models import Customer

    settings.VAR_DIR = tmp_path
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    path = tmp_path / "clientes.csv"
    path.write_text(CSV, encoding="utf-8")
    login("manager")
    page.goto("/data/")
    page.locator("#upload-form input[type=file]").set_input_files(str(path))
    page.locator("#upload-form button[type=submit]").click()
    expect(page.locator("#mapping-form")).to_be_visible()
    expect(page.locator("body")).to_contain_text("+34600111222")
    assert sideways_overflow("mapping") is None
    shot("mapping")
    page.locator("#mapping-form button[value=dry_run]").click()
    expect(page.locator("#commit")).to_be_visible()
    expect(page.locator("#commit")).not_to_have_text("Import now")  # the page speaks Spanish
    expect(page.locator(".report")).to_contain_text("1")
    expect(page.locator("body")).to_contain_text("mal-correo")
    shot("dry-run")
    page.locator("#commit").click()
    expect(page.locator("#progress [data-status=done]")).to_be_visible()
    expect(page.locator("#progress [data-status=done]")).not_to_have_text("Done")
    expect(page.locator("#progress progress")).to_have_attribute("value", "100")
    shot("done")
    assert Customer.objects.filter(email="ana@example.es").exists()
    assert not Customer.objects.filter(first_name="Bea").exists()
    browser_log.assert_clean()


STALE = {
    "es-ES": "Otra persona guardó la correspondencia «Feria»",
    "en-GB": "Someone else saved the mapping “Feria”",
}


@pytest.mark.parametrize("browser_locale", list(STALE))
def test_a_stale_saved_mapping_is_refused(
    page, owner, manager, login, shot, browser_log, tmp_path, settings, sideways_overflow, browser_locale
):
    """Issue 16: a rep applies her saved mapping, a manager replaces it meanwhile; her save is refused
    with a message in her language, and the manager's version stays."""
    from cartera.imports.models import ImportMapping
    from cartera.imports.services import import_mapping_save

    settings.VAR_DIR = tmp_path
    path = tmp_path / "clientes.csv"
    path.write_text(CSV, encoding="utf-8")
    mine = import_mapping_save(
        actor=owner, name="Feria", kind="customers", columns={"Ciudad": "city"}, options={}
    )
    login("owner")
    page.goto("/data/")
    page.locator("#upload-form input[type=file]").set_input_files(str(path))
    page.locator("#upload-form button[type=submit]").click()
    expect(page.locator("#mapping-form")).to_be_visible()
    page.goto(page.url.split("?")[0] + f"?mapping={mine.pk}")
    expect(page.locator("#id_save_as")).to_have_value("Feria")
    import_mapping_save(
        actor=manager, name="Feria", kind="customers", columns={"Ciudad": "notes"}, options={}
    )
    page.locator("#mapping-form button[value=dry_run]").click()
    expect(page.locator("#mapping-form .errors")).to_contain_text(STALE[browser_locale])
    assert sideways_overflow("stale mapping") is None
    shot(f"stale-mapping-{browser_locale}")
    assert ImportMapping.objects.get().columns == {"Ciudad": "notes"}
    browser_log.assert_clean()
