"""Custom questionnaires: the builder (add, edit, reorder, remove; a new version once answered), the
public answer page (rendered, validated, escaped, in the customer's language, editable 24 h), the
per-question results, the API, scoping, and erasure of the words."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from cartera.surveys.models import Question, QuestionAnswer, SurveyResponse
from cartera.surveys.selectors.surveys import question_results
from cartera.surveys.services.questions import question_add, question_move, question_remove, question_update
from cartera.surveys.services.surveys import invitation_create, response_record, survey_create


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()
    yield
    cache.clear()


BASE = {
    "required": True,
    "text_en": "",
    "choices_es": "",
    "choices_en": "",
    "scale_min": 1,
    "scale_max": 5,
    "low_label_es": "",
    "low_label_en": "",
    "high_label_es": "",
    "high_label_en": "",
}


def _fields(**changes):
    return {**BASE, **changes}


@pytest.fixture
def questionnaire(manager):
    survey = survey_create(actor=manager, fields={"name": "Tienda nueva", "kind": "custom"})
    question_add(
        actor=manager,
        survey=survey,
        fields=_fields(
            kind="single",
            text_es="¿Cómo nos conociste?",
            text_en="How did you hear about us?",
            choices_es="Un amigo\nInternet\nLa tienda",
            choices_en="A friend\nThe internet\nThe shop",
        ),
    )
    question_add(
        actor=manager,
        survey=survey,
        fields=_fields(
            kind="multiple",
            text_es="¿Qué compras?",
            choices_es="Ropa\nCalzado\nAccesorios",
            required=False,
        ),
    )
    question_add(
        actor=manager,
        survey=survey,
        fields=_fields(
            kind="scale",
            text_es="¿Qué tal la atención?",
            text_en="How was the service?",
            scale_min=0,
            scale_max=10,
            low_label_es="Pésima",
            high_label_es="Excelente",
            low_label_en="Awful",
            high_label_en="Excellent",
        ),
    )
    question_add(
        actor=manager,
        survey=survey,
        fields=_fields(kind="text", text_es="¿Algo más?", text_en="Anything else?", required=False),
    )
    survey.refresh_from_db()
    return survey


def _questions(survey):
    survey.refresh_from_db()
    return list(Question.objects.filter(survey=survey, version=survey.questions_version))


def test_the_builder_adds_edits_reorders_and_removes_questions(client, manager):
    survey = survey_create(actor=manager, fields={"name": "Encuesta propia", "kind": "custom"})
    client.force_login(manager)
    url = reverse("surveys:questions", args=[survey.pk])
    assert client.get(url).status_code == 200
    post = {**BASE, "required": "on"}
    added = client.post(url, {**post, "kind": "single", "text_es": "¿Color?", "choices_es": "Rojo\nAzul"})
    assert added.status_code == 302
    client.post(url, {**post, "kind": "scale", "text_es": "¿Nota?", "scale_min": "1", "scale_max": "7"})
    client.post(url, {**post, "kind": "text", "text_es": "¿Por qué?"})
    first, second, third = _questions(survey)
    assert [q.text_es for q in (first, second, third)] == ["¿Color?", "¿Nota?", "¿Por qué?"]
    # Move the last one up, then edit the first.
    client.post(reverse("surveys:question_move", args=[survey.pk, third.pk]), {"direction": "up"})
    assert [q.text_es for q in _questions(survey)] == ["¿Color?", "¿Por qué?", "¿Nota?"]
    edit = reverse("surveys:question_edit", args=[survey.pk, first.pk])
    assert "Rojo" in client.get(edit).content.decode()
    client.post(
        edit, {**post, "kind": "single", "text_es": "¿Color favorito?", "choices_es": "Rojo\nAzul\nVerde"}
    )
    first.refresh_from_db()
    assert first.text_es == "¿Color favorito?" and first.choices() == ["Rojo", "Azul", "Verde"]
    client.post(reverse("surveys:question_remove", args=[survey.pk, second.pk]))
    assert [q.text_es for q in _questions(survey)] == ["¿Color favorito?", "¿Por qué?"]
    assert [q.position for q in _questions(survey)] == [0, 1]
    survey.refresh_from_db()
    assert survey.questions_version == 1  # nobody answered: changed in place


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"kind": "single", "choices_es": "Solo una"}, "choices_es", "al menos dos"),
        ({"kind": "multiple", "choices_es": "A\nA"}, "choices_es", "solo una vez"),
        ({"kind": "single", "choices_es": "A\nB", "choices_en": "Only one"}, "choices_en", "tantas"),
        ({"kind": "scale", "scale_min": "5", "scale_max": "3"}, "scale_max", "por encima"),
        ({"kind": "scale", "scale_min": "0", "scale_max": "99"}, "scale_max", "10"),
        ({"kind": "text", "text_es": ""}, "text_es", "obligatorio"),
    ],
)
def test_the_builder_refuses_bad_questions_with_a_message(client, manager, changes, field, message):
    survey = survey_create(actor=manager, fields={"name": "Mala", "kind": "custom"})
    client.force_login(manager)
    post = {**BASE, "text_es": "¿Pregunta?", **changes}
    response = client.post(reverse("surveys:questions", args=[survey.pk]), post, HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field])
    assert not Question.objects.exists()


def test_only_those_who_may_change_the_survey_build_it(client, owner, outsider, manager, questionnaire):
    first = _questions(questionnaire)[0]
    with pytest.raises(PermissionDenied):
        question_add(actor=owner, survey=questionnaire, fields=_fields(kind="text", text_es="¿X?"))
    client.force_login(owner)
    assert client.get(reverse("surveys:questions", args=[questionnaire.pk])).status_code == 200  # may view
    assert (
        client.post(reverse("surveys:question_remove", args=[questionnaire.pk, first.pk])).status_code == 403
    )
    client.force_login(outsider)
    assert client.get(reverse("surveys:questions", args=[questionnaire.pk])).status_code in (403, 404)
    assert Question.objects.filter(pk=first.pk).exists()
    other = survey_create(actor=manager, fields={"name": "NPS", "kind": "nps"})
    with pytest.raises(ValidationError):
        question_add(actor=manager, survey=other, fields=_fields(kind="text", text_es="¿X?"))


def _post_for(survey, single="1", multiple=("0", "2"), scale="8", text="Muy bien"):
    q = _questions(survey)
    data = {f"q-{q[0].pk}": single, f"q-{q[2].pk}": scale, f"q-{q[3].pk}": text}
    data[f"q-{q[1].pk}"] = list(multiple)
    return data


def test_the_answer_page_renders_validates_and_keeps_the_answers(client, customer, questionnaire, answer_url):
    invitation = invitation_create(actor=None, survey=questionnaire, customer=customer)
    url = answer_url(invitation)
    page = client.get(url).content.decode()
    for text in ("¿Cómo nos conociste?", "Un amigo", "¿Qué compras?", "Pésima", "Excelente", "(opcional)"):
        assert text in page
    questions = _questions(questionnaire)
    # The required single choice is missing; a scale value off the scale; a choice that does not exist.
    bad = client.post(url, {f"q-{questions[2].pk}": "11", f"q-{questions[1].pk}": ["7"]})
    assert bad.status_code == 400 and not SurveyResponse.objects.exists()
    assert bad.context["form"].errors.keys() >= {
        f"q-{questions[0].pk}",
        f"q-{questions[1].pk}",
        f"q-{questions[2].pk}",
    }
    good = client.post(url, _post_for(questionnaire, text="<script>alert(1)</script> muy bien"))
    assert good.status_code == 200
    body = good.content.decode()
    assert "<script>alert(1)" not in body and "&lt;script&gt;" in body
    response = SurveyResponse.objects.get()
    assert response.questions_version == 1 and response.score is None
    answers = {a.question_id: a for a in response.answers.all()}
    assert answers[questions[0].pk].choices == [1]
    assert answers[questions[1].pk].choices == [0, 2]
    assert answers[questions[2].pk].value == 8
    assert answers[questions[3].pk].customer == customer
    # Changing it within 24 hours keeps one answer, with the new values shown again.
    again = client.get(url).content.decode()
    checked = set(re.findall(r'name="(q-\d+)" value="(\d+)"[^>]*checked', again))
    assert checked == {
        (f"q-{questions[0].pk}", "1"),
        (f"q-{questions[1].pk}", "0"),
        (f"q-{questions[1].pk}", "2"),
        (f"q-{questions[2].pk}", "8"),
    }
    client.post(url, _post_for(questionnaire, single="0", multiple=(), scale="3", text=""))
    response = SurveyResponse.objects.get()
    assert {a.question_id: (a.choices, a.value) for a in response.answers.all()} == {
        questions[0].pk: ([0], None),
        questions[2].pk: ([], 3),
    }


def test_the_answer_page_speaks_english_to_english_customers(client, customer, questionnaire, answer_url):
    customer.country = "GB"
    customer.save()
    page = client.get(answer_url(invitation_create(actor=None, survey=questionnaire, customer=customer)))
    body = page.content.decode()
    assert "How did you hear about us?" in body and "The internet" in body and "Excellent" in body
    # No English given: the Spanish wording rather than nothing.
    assert "¿Qué compras?" in body and "Calzado" in body


def test_custom_answers_cannot_change_after_24_hours(customer, questionnaire):
    invitation = invitation_create(actor=None, survey=questionnaire, customer=customer)
    q = _questions(questionnaire)
    then = timezone.now() - dt.timedelta(hours=25)
    response_record(invitation=invitation, score=None, answers={q[0].pk: "0", q[2].pk: "5"}, now=then)
    with pytest.raises(ValidationError):
        response_record(invitation=invitation, score=None, answers={q[0].pk: "1", q[2].pk: "9"})
    assert QuestionAnswer.objects.get(question=q[0]).choices == [0]


def test_a_change_after_answers_makes_a_new_version_and_old_answers_keep_their_meaning(
    client, manager, customer, questionnaire, answer_url
):
    first = invitation_create(actor=None, survey=questionnaire, customer=customer)
    v1 = _questions(questionnaire)
    response_record(invitation=first, score=None, answers={v1[0].pk: "2", v1[2].pk: "9"})
    # Edit the choices of the first question and remove the text question.
    question_update(
        actor=manager,
        survey=questionnaire,
        question=v1[0],
        fields=_fields(kind="single", text_es="¿Cómo nos conociste?", choices_es="Redes\nPrensa"),
    )
    questionnaire.refresh_from_db()
    assert questionnaire.questions_version == 2
    v2 = _questions(questionnaire)
    question_remove(actor=manager, survey=questionnaire, question=v2[3])
    question_move(actor=manager, survey=questionnaire, question=v2[2], up=True)
    questionnaire.refresh_from_db()
    assert questionnaire.questions_version == 2  # version 2 has no answer yet: changed in place
    # Version 1 is untouched and its answer still reads "La tienda".
    assert [q.choices() for q in Question.objects.filter(survey=questionnaire, version=1)][0][
        2
    ] == "La tienda"
    old = question_results(user=manager, survey=questionnaire, version=1)
    assert old["responses"] == 1
    assert [r["count"] for r in old["questions"][0]["rows"]] == [0, 0, 1]
    # A new invitation is asked version 2: three questions, the new choices.
    other = invitation_create(actor=None, survey=questionnaire, customer=None)
    page = client.get(answer_url(other)).content.decode()
    assert "Redes" in page and "La tienda" not in page and "¿Algo más?" not in page
    v2 = _questions(questionnaire)
    assert [q.kind for q in v2] == ["single", "scale", "multiple"]
    client.post(answer_url(other), {f"q-{v2[0].pk}": "1", f"q-{v2[1].pk}": "10"})
    assert SurveyResponse.objects.get(invitation=other).questions_version == 2
    # The survey page shows the current version's distributions, and an earlier one on request.
    client.force_login(manager)
    detail = reverse("surveys:detail", args=[questionnaire.pk])
    assert "Prensa" in client.get(detail).content.decode()
    assert "La tienda" in client.get(detail + "?version=1").content.decode()


def test_results_count_each_choice_and_value(manager, questionnaire):
    from cartera.customers.services import customer_create

    def make_customer(name):
        return customer_create(actor=manager, fields={"first_name": name})

    q = _questions(questionnaire)
    given = [("0", ["0", "1"], "10"), ("0", ["1"], "6"), ("2", [], "8")]
    for i, (single, multiple, scale) in enumerate(given):
        invitation = invitation_create(actor=None, survey=questionnaire, customer=make_customer(f"Cli{i}"))
        response_record(
            invitation=invitation, score=None, answers={q[0].pk: single, q[1].pk: multiple, q[2].pk: scale}
        )
    blocks = question_results(user=manager, survey=questionnaire)["questions"]
    assert [r["count"] for r in blocks[0]["rows"]] == [2, 0, 1]
    assert blocks[1]["n"] == 2 and [r["count"] for r in blocks[1]["rows"]] == [1, 2, 0]
    assert blocks[1]["rows"][1]["share"] == 100.0
    assert blocks[2]["mean"] == 8.0 and blocks[2]["rows"][6]["count"] == 1  # the 6 on a 0-10 scale
    assert blocks[3]["n"] == 0 and blocks[3]["texts"] == []


def test_the_api_gives_questions_and_answers(client, owner, customer, questionnaire):
    q = _questions(questionnaire)
    response_record(
        invitation=invitation_create(actor=None, survey=questionnaire, customer=customer),
        score=None,
        answers={q[0].pk: "1", q[2].pk: "7", q[3].pk: "Bien"},
    )
    client.force_login(owner)
    questions = client.get(f"/api/surveys/{questionnaire.pk}/questions").json()
    assert [x["kind"] for x in questions] == ["single", "multiple", "scale", "text"]
    assert questions[0]["choices_en"] == ["A friend", "The internet", "The shop"]
    assert questions[1]["choices_en"] == ["Ropa", "Calzado", "Accesorios"]
    assert (questions[2]["scale_min"], questions[2]["scale_max"]) == (0, 10)
    answers = client.get(f"/api/surveys/responses?survey_id={questionnaire.pk}").json()
    assert answers[0]["questions_version"] == 1
    by_question = {a["question_id"]: a for a in answers[0]["answers"]}
    assert by_question[q[0].pk]["choices"] == [1] and by_question[q[2].pk]["value"] == 7
    assert by_question[q[3].pk]["text"] == "Bien"
    assert client.get("/api/surveys/999999/questions").status_code == 404
    assert client.get(f"/api/surveys/{questionnaire.pk}/questions?version=9").json() == []


def test_anonymous_questionnaires_keep_no_customer_and_erasure_redacts_the_words(
    manager, customer, questionnaire
):
    from cartera.privacy.services import customer_erase, erase_confirmation

    q = _questions(questionnaire)
    response_record(
        invitation=invitation_create(actor=None, survey=questionnaire, customer=customer),
        score=None,
        answers={q[0].pk: "0", q[2].pk: "5", q[3].pk: "Me llamo Lucía y vivo en Soria"},
    )
    customer_erase(actor=manager, customer=customer, confirmation=erase_confirmation(customer))
    words = QuestionAnswer.objects.get(question=q[3])
    assert words.text == "[redacted]" and QuestionAnswer.objects.get(question=q[0]).choices == [0]
    anonymous = survey_create(actor=manager, fields={"name": "Anónima", "kind": "custom", "anonymous": True})
    question = question_add(actor=manager, survey=anonymous, fields=_fields(kind="text", text_es="¿Qué tal?"))
    response_record(
        invitation=invitation_create(actor=None, survey=anonymous, customer=customer),
        score=None,
        answers={question.pk: "Bien"},
    )
    assert QuestionAnswer.objects.get(question=question).customer is None
