from __future__ import annotations

import pytest

from tests.smtp_server import Recorder, start_server


def smtp_mailers(port: int) -> dict:
    """``MAILERS`` for Django's SMTP backend talking to 127.0.0.1:``port`` (the test mailbox of
    pytest-django is replaced by a real server)."""
    backend = "django.core.mail.backends.smtp.EmailBackend"
    return {"default": {"BACKEND": backend, "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 10}}}


@pytest.fixture
def smtp(settings):
    """A real SMTP server (aiosmtpd) that Django's SMTP backend sends to, for this test."""
    recorder = Recorder()
    controller = start_server(recorder)
    settings.MAILERS = smtp_mailers(controller.port)
    settings.CARTERA_EMAIL_RATE = 0
    settings.CARTERA_PUBLIC_URL = "https://cartera.example"
    settings.CARTERA_UNSUBSCRIBE_ADDRESS = "baja@cartera.example"
    settings.DEFAULT_FROM_EMAIL = "Tienda <tienda@cartera.example>"
    yield recorder
    controller.stop()


@pytest.fixture
def consenting(customer, owner):
    """The shared customer, with marketing e-mail consent in the ledger."""
    from cartera.privacy.services import consent_record

    consent_record(
        actor=owner,
        customer=customer,
        channel="email",
        purpose="marketing",
        granted=True,
        source="form",
        wording="Quiero recibir ofertas por e-mail",
        version="t1",
    )
    customer.refresh_from_db()
    return customer
