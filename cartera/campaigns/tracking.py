"""Click tracking (off unless the campaign turns it on): each link of an e-mail is replaced by a signed
address on this site, ``/campaigns/c/TOKEN/``, that records the click and redirects to the original.

``TOKEN`` carries the recipient, the link's number in the e-mail and the original address, signed with
HMAC-SHA256 and the secret key: it cannot be guessed, and nobody can make one that points elsewhere,
so the address redirects only to a link that was in that recipient's e-mail (no open redirect).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

CLICK_SALT = "cartera.campaigns.click"
# A link in a plain-text e-mail: up to a space or a character that cannot end it in running text.
LINK = re.compile(r"https?://[^\s<>\"'«»]+", re.IGNORECASE)
TRAILING = ".,;:!?)]}"
MAX_URL = 2000  # Click.url's length


@dataclass(frozen=True)
class TrackedLink:
    """What a click token says: whose e-mail, which link (1 is the first), and where it goes."""

    recipient_id: int
    link: int
    url: str


def _signer() -> signing.Signer:
    return signing.Signer(salt=CLICK_SALT, algorithm="sha256")


def click_token(link: TrackedLink) -> str:
    """The signed token of one link of one recipient's e-mail."""
    return _signer().sign_object([link.recipient_id, link.link, link.url], compress=True)


def click_read(token: str) -> TrackedLink | None:
    """The link a token stands for, or ``None`` when it was not made by us (altered, truncated)."""
    try:
        recipient_id, number, url = _signer().unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(recipient_id, int) or not isinstance(number, int) or not isinstance(url, str):
        return None
    if not LINK.fullmatch(url):
        return None
    return TrackedLink(recipient_id, number, url)


def click_url(link: TrackedLink) -> str:
    """The tracking address that replaces ``link.url`` in the e-mail."""
    return settings.CARTERA_PUBLIC_URL.rstrip("/") + reverse("campaigns:click", args=[click_token(link)])


def track_links(text: str, recipient_id: int) -> str:
    """``text`` with every http(s) link replaced by its tracking address for ``recipient_id`` (the
    punctuation that ends a sentence after a link stays outside it)."""
    number = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal number
        found = match.group(0)
        url = found.rstrip(TRAILING)
        if len(url) > MAX_URL:
            return found  # longer than a click can record: sent as written
        number += 1
        return click_url(TrackedLink(recipient_id, number, url)) + found[len(url) :]

    return LINK.sub(replace, text)
