"""The printable prospecting sheet in a real browser: reached from the pipeline's menu, pre-filled from
a call list, readable at 375 px and 1280 px in Spanish and English, with a print button; printed by
Chromium it is A4 landscape, without the app's menus, its header row repeated on every page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pypdfium2
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture(params=["es-ES", "en-US"])
def browser_locale(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def call_list(transactional_db: Any, make_user: Any) -> Any:
    from django.utils import timezone

    from cartera.customers.services import customer_create
    from cartera.pipeline.models import CallList, CallListEntry

    owner = make_user("owner", "sales_rep", first_name="Olga")
    calls = CallList.objects.create(name="Visitas del martes", assignee=owner, for_date=timezone.localdate())
    for i, name in enumerate(["Maximiliano", "Bea", "Carmen"]):
        person = customer_create(
            actor=owner,
            fields={"first_name": name, "last_name": "Fernández de Córdoba", "phone": f"61200011{i}",
                    "email": f"{name.lower()}.fernandez@empresa-muy-larga.example.es", "sector": "Industria",
                    "stage": "prospect"},
        )  # fmt: skip
        CallListEntry.objects.create(call_list=calls, customer=person, position=i)
    return calls


def _pdf_pages(data: bytes) -> list[bytes]:
    return re.findall(rb"/MediaBox\s*\[([^\]]*)\]", data)


def test_the_prospecting_sheet_on_screen_and_on_paper(
    page, call_list, login, browser_locale, viewport, shot, sideways_overflow, browser_log
):
    login("owner")
    page.goto("/pipeline/calls/")
    page.locator(".subnav a[href='/pipeline/sheet/']").click()
    expect(page.locator("table.sheet tbody tr.blank")).to_have_count(12)
    expect(page.locator("[data-print]")).to_be_visible()  # shown by sheet.js (no inline script)
    assert sideways_overflow("blank sheet") is None
    page.goto(f"/pipeline/calls/lists/{call_list.pk}/")
    page.locator("#call-list-sheet").click()
    expect(page.locator("table.sheet tbody tr.filled")).to_have_count(3)
    expect(page.locator("table.sheet tbody tr.filled").first).to_contain_text("Maximiliano")
    expect(page.locator(".sheet-head")).to_contain_text("Visitas del martes")
    assert sideways_overflow("pre-filled sheet") is None
    shot(f"sheet-{browser_locale[:2]}")
    # The same sheet as a PDF made by the server (a phone prints web pages badly): one tap.
    expect(page.locator("#sheet-pdf")).to_be_visible()
    with page.expect_download() as download_info:
        page.locator("#sheet-pdf").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".pdf")
    made = pypdfium2.PdfDocument(Path(download.path()).read_bytes())
    assert len(made) == 1 and [round(v) for v in made[0].get_size()] == [842, 595]  # A4 landscape
    assert "Maximiliano" in made[0].get_textpage().get_text_range()
    made.close()
    # Printed: the menus and the form are gone, the table fits the page.
    page.emulate_media(media="print")
    expect(page.locator("header.topbar")).to_be_hidden()
    expect(page.locator("#sheet-form")).to_be_hidden()
    expect(page.locator("table.sheet thead")).to_be_visible()
    if viewport.width >= 1000:
        pdf = page.pdf(prefer_css_page_size=True, print_background=True)
        boxes = _pdf_pages(pdf)
        assert boxes, "no page in the PDF"
        width, height = (float(v) for v in boxes[0].split()[2:4])
        assert (round(width), round(height)) == (842, 595)  # A4 landscape, in points
        assert len(boxes) == 1  # 3 people and 12 blank rows fit one page
        (shot(f"printed-{browser_locale[:2]}").with_suffix(".pdf")).write_bytes(pdf)  # for people to look at
        page.set_viewport_size({"width": 1123, "height": 794})  # A4 landscape at 96 dpi
        shot(f"printed-{browser_locale[:2]}")
        page.emulate_media(media="screen")
        page.goto(f"/pipeline/sheet/?call_list={call_list.pk}&blank=40")
        assert len(_pdf_pages(page.pdf(prefer_css_page_size=True))) >= 2  # the header row on each
    browser_log.assert_clean()
