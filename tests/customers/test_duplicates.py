"""Issue 11, item 12: a duplicate finder a user can trust, and a merge that loses nothing and can be undone."""

import datetime as dt
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone, translation

from cartera.activity.models import Interaction, Task
from cartera.activity.services import interaction_create, task_create
from cartera.customers.matching import Person, pairs_by_name, score_pair
from cartera.customers.models import Customer, CustomerMerge, DuplicateCandidate
from cartera.customers.selectors import customer_duplicate_candidates
from cartera.customers.services import (
    customer_create,
    customer_merge,
    customer_merge_undo,
    customer_update,
    duplicate_candidates_refresh,
    merge_order,
    tags_get_or_create,
)
from cartera.privacy.models import AuditEntry, ConsentEvent
from cartera.sales.models import Order
from cartera.sales.services import order_create

CITIES = ["Madrid", "Sevilla", "Bilbao", "Valencia", "Zaragoza", "Murcia", "Vigo", "Gijón", "León", "Cádiz"]


def test_namesakes_whose_email_and_phone_both_differ_are_not_proposed(manager):
    """The case of the report: the same first name and surname, different e-mails, phones and cities."""
    for i in range(60):
        customer_create(
            actor=manager,
            fields={
                "first_name": "Pablo",
                "last_name": "Jiménez",
                "email": f"pablo{i}@example.es",
                "phone": f"6{i:08d}",
                "city": CITIES[i % len(CITIES)],
            },
        )
    assert duplicate_candidates_refresh() == 0
    assert customer_duplicate_candidates(user=manager) == []


def test_a_pair_is_proposed_with_its_reasons(manager):
    a = customer_create(
        actor=manager, fields={"first_name": "Pablo", "last_name": "Jiménez", "phone": "611223344"}
    )
    b = customer_create(
        actor=manager,
        fields={
            "first_name": "PABLO",
            "last_name": "jimenez",
            "phone": "+34 611 22 33 44",
            "email": "p@x.es",
        },
    )
    # Family members sharing a landline are different people.
    customer_create(
        actor=manager, fields={"first_name": "Rosa", "last_name": "Jiménez", "phone": "611223344"}
    )
    assert duplicate_candidates_refresh() == 1
    [pair] = customer_duplicate_candidates(user=manager)
    assert {pair.first.pk, pair.second.pk} == {a.pk, b.pk}
    assert pair.score == 80 and pair.reasons == ("same_name", "same_phone") and pair.level == "high"
    with translation.override("en"):
        assert pair.reason_labels() == ["same name", "same phone"]
    with translation.override("es"):
        assert pair.reason_labels() == ["mismo nombre", "mismo teléfono"]


def test_contradicting_email_and_phone_only_when_everything_else_matches():
    a = Person.of(1, "ana", "ruiz", email="a@x.es", phone="+34600000001", company="acme", city="madrid")
    b = Person.of(2, "ana", "ruiz", email="b@x.es", phone="+34600000002", company="acme", city="madrid")
    match = score_pair(a, b)
    assert match is not None and "everything_else_matches" in match.reasons
    for other in (
        Person.of(2, "ana", "ruiz", email="b@x.es", phone="+34600000002", company="acme", city="sevilla"),
        Person.of(2, "ana", "ruix", email="b@x.es", phone="+34600000002", company="acme", city="madrid"),
        Person.of(2, "ana", "ruiz", email="b@x.es", phone="+34600000002", city="madrid"),
    ):
        assert score_pair(a, other) is None
    # A typo in the name, nothing else known: proposed, with a lower score.
    typo = score_pair(Person.of(1, "lucia", "martinez ortega"), Person.of(2, "lucia", "martines ortega"))
    assert typo is not None and typo.reasons == ("similar_name",) and 40 <= typo.score < 50
    assert list(pairs_by_name([Person.of(1, "ana", "ruiz"), Person.of(2, "ana", "ruiz")])) == [
        score_pair(Person.of(1, "ana", "ruiz"), Person.of(2, "ana", "ruiz"))
    ]


@pytest.fixture
def twins(owner, colleague, manager, customer):
    """``customer`` (Lucía, owner's, full) and an older, emptier twin owned by a colleague, who
    accepted e-mail, with an order, a call, a task, a tag and a consent record."""
    twin = customer_create(
        actor=manager,
        fields={
            "first_name": "Lucia",
            "last_name": "Martinez Ortega",
            "city": "Teruel",
            "opt_in_email": True,
            "owner": colleague,
        },
        tags=tags_get_or_create(names=["VIP"]),
    )
    long_ago = timezone.now() - dt.timedelta(days=900)
    Customer.objects.filter(pk=twin.pk).update(created_at=long_ago)
    twin.refresh_from_db()
    order_create(actor=manager, customer=twin, fields={"ordered_on": "2025-01-02", "amount": "10"})
    interaction_create(actor=manager, customer=twin, fields={"kind": "call", "subject": "hola"})
    task_create(actor=manager, fields={"title": "llamar", "customer": twin, "due_at": timezone.now()})
    return customer, twin, long_ago


def test_merge_keeps_every_row_the_owner_the_opt_ins_and_the_earliest_date(twins, manager, colleague):
    customer, twin, long_ago = twins
    assert ConsentEvent.objects.filter(customer=twin).exists()
    consents = ConsentEvent.objects.filter(customer__in=[customer, twin]).count()
    keep, remove = merge_order(twin, customer)
    assert (keep, remove) == (customer, twin)  # the fuller record
    merge = customer_merge(
        actor=manager, keep=customer, remove=twin, choices={"owner": "remove", "city": "remove"}
    )
    customer.refresh_from_db()
    assert not Customer.objects.filter(pk=twin.pk).exists()
    assert customer.owner == colleague and customer.city == "Teruel" and customer.opt_in_email
    assert customer.created_at == long_ago
    assert customer.email == "lucia@example.es" and customer.stage == "customer"
    assert customer.orders.count() == 1 and customer.tasks.count() == 1
    assert customer.interactions.filter(kind="call").count() == 1
    assert [t.name for t in customer.tags.all()] == ["VIP"]
    assert ConsentEvent.objects.filter(customer=customer).count() >= consents
    entry = AuditEntry.objects.get(action="merged")
    assert entry.detail["merge_id"] == merge.pk and entry.detail["choices"]["owner"] == "remove"
    assert "city" in entry.detail["changed"]


def test_undo_brings_both_records_back(twins, manager, owner, colleague):
    customer, twin, long_ago = twins
    before = Customer.objects.get(pk=customer.pk)
    merge = customer_merge(actor=manager, keep=customer, remove=twin, choices={"owner": "remove"})
    note = Interaction.objects.get(customer=customer, kind="note")
    restored = customer_merge_undo(actor=manager, merge=merge)
    customer.refresh_from_db()
    assert restored.pk == twin.pk and restored.owner == colleague and restored.created_at == long_ago
    assert restored.city == "Teruel" and restored.opt_in_email
    assert customer.owner == owner and customer.created_at == before.created_at and customer.city == ""
    assert Order.objects.get().customer_id == twin.pk and Task.objects.get().customer_id == twin.pk
    assert [t.name for t in restored.tags.all()] == ["VIP"] and not customer.tags.exists()
    assert ConsentEvent.objects.filter(customer=restored).exists()
    assert Interaction.objects.filter(customer=restored, kind="call").count() == 1
    assert Interaction.objects.filter(pk=note.pk, customer=customer).exists()  # the merge stays in history
    merge.refresh_from_db()
    assert merge.undone_by == manager and AuditEntry.objects.filter(action="unmerged").count() == 1
    with pytest.raises(ValidationError):
        customer_merge_undo(actor=manager, merge=merge)


def test_undo_refused_when_the_kept_record_changed_since(twins, manager):
    customer, twin, _ = twins
    merge = customer_merge(actor=manager, keep=customer, remove=twin)
    customer.refresh_from_db()
    assert customer.city == "Teruel"  # filled from the twin
    customer_update(actor=manager, customer=customer, fields={"city": "Huesca"})
    with pytest.raises(ValidationError) as info:
        customer_merge_undo(actor=manager, merge=merge)
    assert "(localidad)" in info.value.messages[0]
    assert not Customer.objects.filter(pk=twin.pk).exists()
    # A change to a field the merge did not set is kept, and does not stop the undo.
    customer_update(actor=manager, customer=customer, fields={"city": "Teruel", "job_title": "Jefa"})
    customer_merge_undo(actor=manager, merge=merge)
    customer.refresh_from_db()
    assert customer.job_title == "Jefa" and Customer.objects.filter(pk=twin.pk).exists()


def test_rights_are_checked_when_merging_and_undoing(twins, owner, manager):
    customer, twin, _ = twins
    with pytest.raises(PermissionDenied):
        customer_merge(actor=owner, keep=customer, remove=twin)
    assert Customer.objects.filter(pk=twin.pk).exists()
    merge = customer_merge(actor=manager, keep=customer, remove=twin)
    with pytest.raises(PermissionDenied):
        customer_merge_undo(actor=owner, merge=merge)
    assert CustomerMerge.objects.get().undone_at is None


def test_merging_deletes_the_removed_records_candidates(manager):
    a = customer_create(
        actor=manager, fields={"first_name": "Ana", "last_name": "Ruiz", "phone": "600111222"}
    )
    b = customer_create(
        actor=manager, fields={"first_name": "Ana", "last_name": "Ruiz", "phone": "600111222"}
    )
    duplicate_candidates_refresh()
    assert DuplicateCandidate.objects.count() == 1
    customer_merge(actor=manager, keep=a, remove=b)
    assert DuplicateCandidate.objects.count() == 0


def test_a_new_customer_with_an_existing_phone_is_warned_about(client, owner, customer):
    client.force_login(owner)
    url = reverse("customers:create")
    data = {
        "first_name": "Luci",
        "last_name": "M.",
        "phone": "+34 612 34 56 78",
        "stage": "prospect",
        "country": "ES",
    }
    with translation.override("en"):
        page = client.post(url, data, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and Customer.objects.count() == 1
    assert "This phone already belongs to" in page.text and f"/customers/{customer.pk}/" in page.text
    assert 'name="phone_confirmed" value="+34612345678"' in page.text
    page = client.post(url, data, HTTP_ACCEPT_LANGUAGE="es")
    assert "Este teléfono ya pertenece a" in page.text and Customer.objects.count() == 1
    response = client.post(url, {**data, "phone_confirmed": "+34612345678"})
    assert response.status_code == 302 and Customer.objects.filter(phone="+34612345678").count() == 2


def test_merge_screen_choice_and_undo_through_the_pages(client, manager, outsider, twins):
    customer, twin, _ = twins
    client.force_login(manager)
    assert client.post(reverse("customers:duplicates")).status_code == 302
    page = client.get(reverse("customers:duplicates"))
    assert f"keep={customer.pk}&amp;remove={twin.pk}" in page.text and "mismo nombre" in page.text
    screen = client.get(reverse("customers:merge"), {"keep": twin.pk, "remove": customer.pk})
    assert f'name="keep" value="{customer.pk}"' in screen.text  # the fuller record is kept by default
    assert 'name="city" value="remove" checked' in screen.text
    assert 'name="owner" value="keep" checked' in screen.text
    done = client.post(reverse("customers:merge"), {"keep": customer.pk, "remove": twin.pk, "city": "keep"})
    merge = CustomerMerge.objects.get()
    assert done.url == reverse("customers:merge_detail", args=[merge.pk])
    customer.refresh_from_db()
    assert customer.city == ""  # the user's choice, not the default
    detail = client.get(done.url)
    assert "Deshacer esta fusión" in detail.text
    assert "Fusiones recientes" in client.get(reverse("customers:duplicates")).text
    client.force_login(outsider)
    assert client.get(done.url).status_code == 404 and client.post(done.url).status_code == 404
    client.force_login(manager)
    undone = client.post(done.url)
    assert undone.url == reverse("customers:detail", args=[twin.pk])
    assert Customer.objects.filter(pk=twin.pk).exists()


def test_an_erased_persons_merge_cannot_be_undone_and_says_why(twins, manager):
    """Erasure clears what a merge kept to undo it (the removed record is the same person's data); the
    undo then refuses with a message instead of failing on the missing snapshot."""
    from cartera.privacy.services import customer_erase

    customer, twin, _ = twins
    merge = customer_merge(actor=manager, keep=customer, remove=twin)
    customer_erase(actor=manager, customer=customer, confirmation=f"ERASE {customer.pk}")
    merge.refresh_from_db()
    assert merge.snapshot == {} and merge.removed_label == ""
    with pytest.raises(ValidationError, match="erased|suprimido"):
        customer_merge_undo(actor=manager, merge=merge)


@pytest.mark.parametrize(
    ("role", "page", "own_pair", "colleagues_pair", "search"),
    [("manager", 200, 200, 200, 302), ("owner", 200, 200, 403, 403), ("outsider", 403, 403, 403, 403)],
)
def test_the_duplicates_pages_per_role(
    client, twins, owner, manager, outsider, role, page, own_pair, colleagues_pair, search
):
    """The page and the merge screen follow the API's rule: managers every pair, a rep the pairs of
    their own customers (a colleague's half: 403), an outsider nothing; looking for duplicates again
    (a pass over the whole file) is the managers'."""
    customer, colleagues_twin, _ = twins
    own_twin = customer_create(
        actor=owner,
        fields={"first_name": "Lucia", "last_name": "Martinez Ortega", "phone": "+34 612 34 56 78"},
    )
    duplicate_candidates_refresh()
    client.force_login({"manager": manager, "owner": owner, "outsider": outsider}[role])
    listed = client.get(reverse("customers:duplicates"))
    assert listed.status_code == page
    if role == "owner":
        shown = {frozenset(map(int, p)) for p in re.findall(r"keep=(\d+)&amp;remove=(\d+)", listed.text)}
        assert shown == {frozenset({customer.pk, own_twin.pk})}
        assert "Buscar duplicados ahora" not in listed.text and "clientes que llevas tú" in listed.text
    merge = reverse("customers:merge")
    assert client.get(merge, {"keep": customer.pk, "remove": own_twin.pk}).status_code == own_pair
    assert (
        client.get(merge, {"keep": customer.pk, "remove": colleagues_twin.pk}).status_code == colleagues_pair
    )
    assert client.post(reverse("customers:duplicates")).status_code == search
