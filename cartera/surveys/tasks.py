"""Background work of the surveys app: running the automatic survey triggers in the worker."""

from __future__ import annotations

from cartera.core.tasks import task
from cartera.surveys.services.triggers import triggers_run


@task()
def run_triggers() -> str:
    """Invite the customers matching each automatic survey (also run after every refresh)."""
    sent = triggers_run()
    return ", ".join(f"survey {pk}: {n}" for pk, n in sent.items()) or "nothing to send"
