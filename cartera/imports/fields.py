"""What an import can fill, how column names map to it, and how each cell is read and checked.

Column suggestions come from header names in Spanish and English and from the export formats of
common CRMs (HubSpot, Salesforce, Pipedrive) and of vCard. Cell readers turn a cell into the value
that will be stored, or raise ``ValueError`` with a reason for the user.
"""

from __future__ import annotations

import datetime
import functools
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cartera.core.contact import normalize_email, normalize_phone
from cartera.core.money import read_currency
from cartera.core.text import fold


@dataclass(frozen=True)
class FieldDef:
    """One thing a column can hold."""

    key: str
    label: Promise | str
    kind: str  # text, email, phone, date, datetime, amount, currency, choice, stage, tags, country
    aliases: tuple[str, ...] = ()
    max_length: int = 0
    choices: str = ""  # "app.Model.field" whose choices the value must be one of


_CUSTOMER_REF = (
    FieldDef("customer_email", gettext_lazy("Customer email"), "email",
             ("correo electronico", "correo", "email", "e-mail", "email address", "correo cliente",
              "email cliente", "customer email", "person - email", "contact email", "email del cliente",
              "correo electronico del cliente")),
    FieldDef("customer_phone", gettext_lazy("Customer phone"), "phone",
             ("telefono", "movil", "phone", "mobile", "telefono cliente", "customer phone", "person - phone",
              "telefono del cliente")),
    FieldDef("customer_external_id", gettext_lazy("Customer id in the other system"), "text",
             ("id cliente", "customer id", "contact id", "record id", "person - id", "id externo cliente",
              "account id", "cliente", "codigo cliente", "codigo de cliente", "cod cliente", "cod. cliente",
              "no cliente", "n cliente", "num cliente", "numero cliente", "numero de cliente", "id del cliente",
              "ref cliente", "referencia cliente", "customer", "customer code", "customer number", "client",
              "client id", "contact"), 100),
)  # fmt: skip

FIELDS: dict[str, tuple[FieldDef, ...]] = {
    "customers": (
        FieldDef("first_name", gettext_lazy("First name"), "text",
                 ("nombre", "nombre de pila", "first name", "firstname", "given name", "n.given",
                  "person - first name", "nome", "prenom"), 100),
        FieldDef("last_name", gettext_lazy("Last name"), "text",
                 ("apellidos", "apellido", "primer apellido", "last name", "lastname", "surname",
                  "family name", "n.family", "person - last name"), 150),
        FieldDef("full_name", gettext_lazy("Full name (split into first and last)"), "text",
                 ("nombre completo", "nombre y apellidos", "full name", "name", "contact name", "fn",
                  "person - name", "contacto", "cliente"), 250),
        FieldDef("email", gettext_lazy("Email"), "email",
                 ("correo electronico", "correo", "email", "e-mail", "e mail", "mail", "email address",
                  "direccion de correo", "person - email", "person - email - work", "email - work")),
        FieldDef("phone", gettext_lazy("Phone"), "phone",
                 ("telefono", "telefono fijo", "tel", "phone", "phone number", "business phone",
                  "person - phone", "person - phone - work", "phone - work", "tfno")),
        FieldDef("mobile", gettext_lazy("Mobile (used when there is no phone)"), "phone",
                 ("movil", "telefono movil", "celular", "mobile", "mobile phone", "mobilephone", "tel.cell",
                  "mobile phone number", "person - phone - mobile")),
        FieldDef("company_name", gettext_lazy("Company"), "text",
                 ("empresa", "compania", "company", "company name", "account name", "organization",
                  "organisation", "organization - name", "org", "razon social", "nombre de la empresa",
                  "associated company"), 200),
        FieldDef("tax_id", gettext_lazy("Company tax id (CIF/NIF)"), "text",
                 ("cif", "nif", "cif/nif", "nif/cif", "dni", "vat", "vat number", "tax id", "nif empresa"), 32),
        FieldDef("job_title", gettext_lazy("Job title"), "text",
                 ("cargo", "puesto", "job title", "title", "position", "person - job title"), 120),
        FieldDef("profession", gettext_lazy("Profession"), "text", ("profesion", "profession", "ocupacion"), 120),
        FieldDef("address", gettext_lazy("Address"), "text",
                 ("direccion", "domicilio", "address", "street address", "street", "mailing street",
                  "adr.street", "calle"), 255),
        FieldDef("city", gettext_lazy("City"), "text",
                 ("ciudad", "poblacion", "localidad", "municipio", "city", "mailing city", "adr.city", "town"), 100),
        FieldDef("region", gettext_lazy("Province / region"), "text",
                 ("provincia", "region", "comunidad autonoma", "state", "state/region", "mailing state/province",
                  "adr.region", "county"), 100),
        FieldDef("postal_code", gettext_lazy("Postal code"), "text",
                 ("codigo postal", "cp", "c.p.", "c p", "postal code", "zip", "zip code", "postcode",
                  "mailing zip/postal code", "adr.code", "postal code/zip"), 12),
        FieldDef("country", gettext_lazy("Country"), "country",
                 ("pais", "country", "country/region", "mailing country", "adr.country")),
        FieldDef("birth_date", gettext_lazy("Birth date"), "date",
                 ("fecha de nacimiento", "nacimiento", "f. nacimiento", "birth date", "birthdate",
                  "date of birth", "birthday", "bday", "cumpleanos")),
        FieldDef("sector", gettext_lazy("Sector"), "text", ("sector", "industry", "industria", "actividad"), 100),
        FieldDef("title", gettext_lazy("Title (Mr, Mrs, Ms...)"), "choice",
                 ("tratamiento", "saludo", "salutation", "prefijo", "prefix", "n.prefix", "person - title",
                  "titulo", "title"),
                 choices="customers.Customer.title"),
        FieldDef("stage", gettext_lazy("Stage"), "stage",
                 ("etapa", "fase", "stage", "lifecycle stage", "tipo de cliente", "estado", "lead status",
                  "account type", "etapa del ciclo de vida"), choices="customers.Customer.stage"),
        FieldDef("source", gettext_lazy("Source"), "choice",
                 ("origen", "fuente", "source", "lead source", "original source", "origen del contacto",
                  "fuente del contacto", "como nos conocio", "procedencia"), choices="customers.Customer.source"),
        FieldDef("notes", gettext_lazy("Notes"), "text",
                 ("notas", "nota", "observaciones", "comentarios", "notes", "description", "note", "descripcion")),
        FieldDef("tags", gettext_lazy("Tags (comma separated)"), "tags",
                 ("etiquetas", "etiqueta", "tags", "labels", "label", "person - labels")),
        FieldDef("external_id", gettext_lazy("Id in the other system"), "text",
                 ("id", "record id", "contact id", "id externo", "external id", "person - id", "uid",
                  "codigo cliente", "id cliente", "customer id"), 100),
    ),
    "orders": (
        *_CUSTOMER_REF,
        FieldDef("customer_name", gettext_lazy("Customer name (for customers the import creates)"), "text",
                 ("nombre cliente", "nombre del cliente", "customer name", "nombre", "nombre completo",
                  "nombre y apellidos", "name", "full name", "contact name", "razon social"), 250),
        FieldDef("ordered_on", gettext_lazy("Order date"), "date",
                 ("fecha", "fecha pedido", "fecha de compra", "fecha del pedido", "date", "order date",
                  "close date", "deal - won time", "purchase date")),
        FieldDef("amount", gettext_lazy("Amount"), "amount",
                 ("importe", "importe total", "total", "amount", "deal value", "deal - value", "value",
                  "precio", "price", "total amount")),
        FieldDef("currency", gettext_lazy("Currency"), "currency",
                 ("moneda", "divisa", "currency", "deal - currency", "currency code", "codigo de moneda")),
        FieldDef("channel", gettext_lazy("Channel"), "choice", ("canal", "canal de venta", "channel"),
                 choices="sales.Order.channel"),
        FieldDef("category", gettext_lazy("Purchase type"), "text",
                 ("categoria", "tipo de compra", "producto", "category", "product", "product name"), 100),
        FieldDef("external_ref", gettext_lazy("Order number"), "text",
                 ("pedido", "numero de pedido", "n pedido", "no pedido", "num pedido", "referencia", "order id",
                  "order number", "deal id", "deal - id", "invoice", "factura"), 100),
        FieldDef("promo_code", gettext_lazy("Promotion code"), "text",
                 ("codigo promocional", "codigo de promocion", "promocion", "cupon", "codigo cupon",
                  "codigo de descuento", "codigo descuento", "promo code", "promotion code", "promo",
                  "coupon", "coupon code", "discount code", "voucher", "voucher code"), 40),
    ),
    "interactions": (
        *_CUSTOMER_REF,
        FieldDef("kind", gettext_lazy("Kind"), "choice", ("tipo", "kind", "type", "activity type", "tipo de contacto"),
                 choices="activity.Interaction.kind"),
        FieldDef("occurred_at", gettext_lazy("When"), "datetime",
                 ("fecha", "fecha y hora", "cuando", "date", "when", "activity date", "done time", "due date")),
        FieldDef("subject", gettext_lazy("Subject"), "text", ("asunto", "titulo", "subject", "title"), 200),
        FieldDef("body", gettext_lazy("Text"), "text",
                 ("texto", "descripcion", "nota", "notas", "body", "note", "notes", "description", "comments")),
        FieldDef("direction", gettext_lazy("Direction"), "choice", ("direccion", "sentido", "direction"),
                 choices="activity.Interaction.direction"),
        FieldDef("outcome", gettext_lazy("Outcome"), "choice", ("resultado", "outcome", "result"),
                 choices="activity.Interaction.outcome"),
    ),
}  # fmt: skip

_NON_WORD = re.compile(r"[^a-z0-9./\- ]+")


def header_key(header: str) -> str:
    """A header as compared with the aliases: folded, punctuation reduced, spaces single."""
    return " ".join(_NON_WORD.sub(" ", fold(header).replace("_", " ")).split())


CUSTOM_KIND = "custom:"  # + a custom field type: the cell is read by customers.fields.custom_value


def fields_for(kind: str) -> tuple[FieldDef, ...]:
    """What a file of ``kind`` can fill: :data:`FIELDS`, and for customers each admin-defined field
    (``cf:<key>``, from the customer field table) after them."""
    if kind != "customers":
        return FIELDS[kind]
    from cartera.customers.fields import custom_field_specs

    custom = tuple(
        FieldDef(spec.name, spec.label, CUSTOM_KIND + spec.kind, (spec.key.replace("_", " "),),
                 choices="\n".join(spec.choices))
        for spec in custom_field_specs()
    )  # fmt: skip
    return FIELDS[kind] + custom


def field_map(kind: str) -> dict[str, FieldDef]:
    return {f.key: f for f in fields_for(kind)}


def suggest_columns(headers: list[str], kind: str) -> dict[str, str]:
    """``{header: field key}`` for the headers that name a known field (each field used once).

    A header equal to a field's own label or key wins first (so our own exports, headed by the
    labels, map back as they were written: "Job title" is the job title, then "Title" the civility
    title); then the aliases, each to the first of its fields still free; then a close spelling."""
    from rapidfuzz import fuzz, process

    exact: dict[str, str] = {}
    alias_to_fields: dict[str, list[str]] = {}
    for definition in fields_for(kind):
        for name in (definition.key.replace("_", " "), str(definition.label)):
            exact.setdefault(header_key(name), definition.key)
            alias_to_fields.setdefault(header_key(name), []).append(definition.key)
        for alias in definition.aliases:
            candidates = alias_to_fields.setdefault(header_key(alias), [])
            if definition.key not in candidates:
                candidates.append(definition.key)
    result: dict[str, str] = {}
    used: set[str] = set()
    for header in headers:
        key = exact.get(header_key(header))
        if key and key not in used and header not in result:
            result[header] = key
            used.add(key)
    pending: list[str] = []
    for header in headers:
        if header in result:
            continue
        free = [k for k in alias_to_fields.get(header_key(header), []) if k not in used]
        if free:
            result[header] = free[0]
            used.add(free[0])
        else:
            pending.append(header)
    for header in pending:
        match = process.extractOne(
            header_key(header), list(alias_to_fields), scorer=fuzz.ratio, score_cutoff=88
        )
        free = [k for k in alias_to_fields[match[0]] if k not in used] if match else []
        if free:
            result[header] = free[0]
            used.add(free[0])
    return result


# --- reading cells ------------------------------------------------------------------------------------------


def text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).strip()


_DATE_SPLIT = re.compile(r"[/.\-\s]+")
_EXCEL_EPOCH = datetime.date(1899, 12, 30)


def parse_date(value: Any, order: str = "dmy") -> datetime.date:
    """A date from a date cell, an ISO string or ``dd/mm/yyyy`` (``mm/dd/yyyy`` with ``order="mdy"``)."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 1 < value < 80000:
        return _EXCEL_EPOCH + datetime.timedelta(days=int(value))
    text = text_of(value).split("T")[0].split(" ")[0]
    parts = [p for p in _DATE_SPLIT.split(text) if p]
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(_("not a date (expected e.g. 31/12/2024 or 2024-12-31)"))
    numbers = [int(p) for p in parts]
    if len(parts[0]) == 4:
        year, month, day = numbers
    elif order == "mdy":
        month, day, year = numbers
    else:
        day, month, year = numbers
    if year < 100:
        year += 2000 if year < 50 else 1900
    try:
        result = datetime.date(year, month, day)
    except ValueError as exc:
        raise ValueError(_("not a real date")) from exc
    if not 1850 <= result.year <= 2200:
        raise ValueError(_("the year is out of range"))
    return result


def parse_datetime(value: Any, order: str = "dmy") -> datetime.datetime:
    """A date and optional ``HH:MM[:SS]`` time, in the current time zone."""
    from django.utils import timezone

    if isinstance(value, datetime.datetime):
        moment = value
    else:
        day = parse_date(value, order)
        text = text_of(value).replace("T", " ")
        time = datetime.time(0)
        match = re.search(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", text.split(" ", 1)[1] if " " in text else "")
        if match:
            try:
                time = datetime.time(int(match[1]), int(match[2]), int(match[3] or 0))
            except ValueError as exc:
                raise ValueError(_("not a real time of day")) from exc
        moment = datetime.datetime.combine(day, time)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


# "1234.56" or "-5.5": a point followed by one or two digits, and no comma, is a decimal point even
# where a comma is the decimal mark (a thousands point is followed by three digits: "1.234").
_POINT_DECIMALS = re.compile(r"^[-+]?\d*\.\d{1,2}$")
_AMOUNT_JUNK = re.compile(r"[€$£\s\u00a0]|EUR|USD|GBP", re.IGNORECASE)


def parse_amount(value: Any, decimal_comma: bool = True) -> Decimal:
    """An amount from a number cell or text such as ``1.234,56 €`` (``1,234.56`` without decimal comma;
    ``1234.56`` either way, as an English export writes it)."""
    if isinstance(value, bool):
        raise ValueError(_("not an amount"))
    if isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(str(value))
    else:
        text = _AMOUNT_JUNK.sub("", text_of(value)).replace("'", "")
        if decimal_comma and not _POINT_DECIMALS.search(text):
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
        try:
            result = Decimal(text)
        except InvalidOperation as exc:
            raise ValueError(_("not an amount (expected e.g. 1.234,56)")) from exc
    if not result.is_finite():
        raise ValueError(_("not an amount (expected e.g. 1.234,56)"))
    if result < 0:
        raise ValueError(_("the amount cannot be negative"))
    if result >= Decimal("1e10"):
        raise ValueError(_("the amount is too large"))
    return result.quantize(Decimal("0.01"))


_COUNTRIES = {
    "espana": "ES", "spain": "ES", "portugal": "PT", "francia": "FR", "france": "FR", "alemania": "DE",
    "germany": "DE", "italia": "IT", "italy": "IT", "reino unido": "GB", "united kingdom": "GB", "uk": "GB",
    "estados unidos": "US", "united states": "US", "usa": "US", "mexico": "MX", "argentina": "AR",
    "andorra": "AD", "colombia": "CO", "chile": "CL", "peru": "PE",
}  # fmt: skip


def parse_country(value: Any) -> str:
    text = text_of(value)
    if len(text) == 2 and text.isalpha():
        return text.upper()
    code = _COUNTRIES.get(fold(text))
    if code is None:
        raise ValueError(_("unknown country (use a two-letter code such as ES)"))
    return code


_CHOICE_CACHE: dict[tuple[str, str], dict[str, str]] = {}
_CHOICE_SYNONYMS = {
    # Spanish forms of address, with or without the dot ("Sr.", "Sra", "Srta.", "D.", "Dña.", "Dra.").
    "sr": "mr", "sr.": "mr", "d.": "mr", "don": "mr", "sra": "mrs", "sra.": "mrs", "dna": "mrs", "dna.": "mrs",
    "dona": "mrs", "srta": "ms", "srta.": "ms", "dr.": "dr", "dra": "dr", "dra.": "dr", "mr.": "mr",
    "mrs.": "mrs", "ms.": "ms", "miss": "ms",
    "llamada": "call", "telefono": "call", "correo": "email", "e-mail": "email", "reunion": "meeting",
    "visita": "visit", "nota": "note", "cliente": "customer", "prospecto": "prospect", "lead": "prospect",
    "ex cliente": "former", "entrante": "inbound", "saliente": "outbound", "tienda": "store",
}  # fmt: skip


def _choice_lookup(spec: str) -> dict[str, str]:
    language = translation.get_language() or "es"
    cached = _CHOICE_CACHE.get((spec, language))
    if cached is not None:
        return cached
    from django.apps import apps

    app_label, model_name, field_name = spec.split(".")
    model_field = apps.get_model(app_label, model_name)._meta.get_field(field_name)
    lookup: dict[str, str] = {}
    for value, label in model_field.choices or ():
        lookup[fold(str(value))] = str(value)
        for lang in ("en", "es"):
            with translation.override(lang):
                lookup.setdefault(fold(str(label)), str(value))
    for word, value in _CHOICE_SYNONYMS.items():
        if value in lookup.values():
            lookup.setdefault(word, value)
    _CHOICE_CACHE[(spec, language)] = lookup
    return lookup


def parse_choice(value: Any, spec: str) -> str:
    lookup = _choice_lookup(spec)
    found = lookup.get(fold(text_of(value)))
    if found is None:
        from django.apps import apps

        app_label, model_name, field_name = spec.split(".")
        model_field = apps.get_model(app_label, model_name)._meta.get_field(field_name)
        allowed = ", ".join(str(label) for _value, label in model_field.choices or ())
        raise ValueError(_("not one of the allowed values: %(allowed)s") % {"allowed": allowed})
    return found


# Stage words of other systems and of people, folded (see docs/import-export.md, "Stages"). HubSpot's
# lifecycle stages, Salesforce's lead status and account type, Pipedrive's labels, and Spanish and
# English words. An empty value means "says nothing about the stage": the stage is left as it is.
STAGE_WORDS: dict[str, str] = {
    # suspect: someone we know of, who has shown no interest yet
    "suspect": "suspect", "sospechoso": "suspect", "subscriber": "suspect", "suscriptor": "suspect",
    "suscrito": "suspect", "contacto": "suspect", "open - not contacted": "suspect", "open": "suspect",
    "unqualified": "suspect", "no cualificado": "suspect", "closed - not converted": "suspect",
    # prospect: has shown interest, is being worked
    "prospect": "prospect", "prospecto": "prospect", "potencial": "prospect", "cliente potencial": "prospect",
    "lead": "prospect", "marketingqualifiedlead": "prospect", "marketing qualified lead": "prospect",
    "mql": "prospect", "salesqualifiedlead": "prospect", "sales qualified lead": "prospect", "sql": "prospect",
    "opportunity": "prospect", "oportunidad": "prospect", "interesado": "prospect", "cualificado": "prospect",
    "working - contacted": "prospect", "working": "prospect", "qualified": "prospect",
    # customer: has bought
    "customer": "customer", "cliente": "customer", "evangelist": "customer", "evangelista": "customer",
    "promotor": "customer", "embajador": "customer", "closed - converted": "customer",
    "customer - direct": "customer", "customer - channel": "customer", "cliente activo": "customer",
    "won": "customer", "ganado": "customer",
    # former customer: bought, and no longer does
    "former": "former", "former customer": "former", "ex-cliente": "former", "ex cliente": "former",
    "excliente": "former", "antiguo cliente": "former", "cliente perdido": "former", "perdido": "former",
    "cliente inactivo": "former", "baja": "former", "churned": "former", "lost customer": "former",
    "lost": "former",
    # says nothing: the stage is left as it is (a new customer gets the default, prospect)
    "other": "", "otro": "", "otros": "", "none": "", "ninguno": "",
}  # fmt: skip


def parse_stage(value: Any) -> str:
    """A Cartera stage from a stage word of any system (``STAGE_WORDS``, the stage's own value or label
    in Spanish or English); ``""`` for words that say nothing about the stage."""
    text = fold(text_of(value))
    found = STAGE_WORDS.get(text)
    if found is None:
        found = STAGE_WORDS.get(" ".join(text.replace("_", " ").split()))
    if found is None:
        found = _choice_lookup("customers.Customer.stage").get(text)
    if found is None:
        from cartera.customers.models import Stage

        examples = {
            "suspect": "subscriber, sospechoso",
            "prospect": "lead, MQL, SQL, opportunity, oportunidad",
            "customer": "customer, evangelist, cliente",
            "former": "ex-cliente, antiguo cliente, former customer",
        }
        allowed = "; ".join(f"{stage.label} ({examples[stage.value]})" for stage in Stage)
        raise ValueError(
            _("not a stage Cartera knows, so the stage was left as it was. Allowed: %(allowed)s")
            % {"allowed": allowed}
        )
    return found


_SIMPLE_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


@functools.lru_cache(maxsize=8192)
def _email_domain(domain: str) -> str | None:
    """The normalised domain when email-validator accepts it (files repeat a few domains many times)."""
    import email_validator

    try:
        return str(email_validator.validate_email("a@" + domain, check_deliverability=False).domain)
    except email_validator.EmailNotValidError:
        return None


def read_email(text: str) -> str | None:
    """Same result as :func:`normalize_email`, faster for plain ASCII addresses: the domain check of
    email-validator is cached per domain; anything unusual goes through ``normalize_email`` itself."""
    local, at, domain = text.rpartition("@")
    if at and len(local) <= 64 and len(text) <= 254 and _SIMPLE_LOCAL.match(local):
        checked = _email_domain(domain)
        if checked is not None:
            return f"{local}@{checked}".lower()
    return normalize_email(text)


_PLAIN_PHONE = re.compile(r"\+?[0-9]+(?:[ .\-][0-9]+)*")


@functools.lru_cache(maxsize=64)
def _plain_phone_region(region: str) -> tuple[int, str, re.Pattern[str] | None] | None:
    """Country code, its digits and the international-call prefix of ``region`` when a number written
    there with digits only needs none of phonenumbers' parsing rules: no national (trunk) prefix to
    strip and one region for the country code. ``None`` otherwise (e.g. GB, FR, US)."""
    import phonenumbers
    from phonenumbers.phonemetadata import PhoneMetadata

    metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
    if metadata is None or metadata.national_prefix or metadata.national_prefix_for_parsing:
        return None
    code = int(metadata.country_code or 0)
    if tuple(phonenumbers.region_codes_for_country_code(code)) != (region.upper(),):
        return None
    idd = re.compile(metadata.international_prefix) if metadata.international_prefix else None
    return code, str(code), idd


def read_phone(text: str, region: str | None = None) -> str:
    """Same result as :func:`normalize_phone`, faster for numbers written as digits (with spaces, dots
    or dashes, and ``+`` and the region's country code or none) in a region without a trunk prefix,
    such as Spain: the number is built directly and checked with ``phonenumbers.is_valid_number``,
    skipping the general parser. Anything else, and every number that is not valid, goes through
    ``normalize_phone`` itself (so the messages are its own)."""
    region = region or settings.CARTERA_DEFAULT_PHONE_REGION
    facts = _plain_phone_region(region) if len(text) <= 40 and _PLAIN_PHONE.fullmatch(text) else None
    if facts is not None:
        import phonenumbers

        code, code_digits, idd = facts
        digits = text.replace(" ", "").replace(".", "").replace("-", "")
        national = ""
        if digits.startswith("+"):
            # Country codes are prefix-free, so "+34..." can only be country code 34.
            if digits.startswith(code_digits, 1):
                national = digits[1 + len(code_digits) :]
        elif not digits.startswith(code_digits) and not (idd and idd.match(digits)):
            # (A number starting with the country code or an international prefix is left to the
            # parser, which may read it as international.)
            national = digits
        if 2 <= len(national) <= 17 and national[0] != "0":
            number = phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
            if phonenumbers.is_valid_number(number):
                return f"+{code}{national}"
    return normalize_phone(text, region)


@functools.lru_cache(maxsize=32768)
def _date_from_text(text: str, order: str) -> datetime.date:
    """``parse_date`` of a text cell, cached: a file repeats the same dates (only good ones are kept)."""
    return parse_date(text, order)


def read_cell(definition: FieldDef, value: Any, options: dict[str, Any]) -> Any:
    """The stored form of ``value`` for ``definition``; ``None`` for a blank cell."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    kind = definition.kind
    try:
        if kind == "email":
            return read_email(text_of(value))
        if kind == "phone":
            return read_phone(text_of(value), options.get("phone_region") or None)
    except ValidationError as exc:
        raise ValueError(exc.messages[0]) from exc
    if kind == "date":
        if isinstance(value, str):
            return _date_from_text(value, options.get("date_order", "dmy"))
        return parse_date(value, options.get("date_order", "dmy"))
    if kind == "datetime":
        return parse_datetime(value, options.get("date_order", "dmy"))
    if kind == "amount":
        return parse_amount(value, bool(options.get("decimal_comma", True)))
    if kind == "currency":
        return read_currency(value)
    if kind == "choice":
        return parse_choice(value, definition.choices)
    if kind == "stage":
        return parse_stage(value) or None
    if kind == "country":
        return parse_country(value)
    if kind.startswith(CUSTOM_KIND):
        from cartera.customers.fields import custom_value

        custom_type = kind.removeprefix(CUSTOM_KIND)
        if custom_type == "date":
            value = parse_date(value, options.get("date_order", "dmy"))
        try:
            return custom_value(custom_type, definition.choices.split("\n"), value)
        except (ValueError, ArithmeticError) as exc:
            if custom_type == "choice":
                raise ValueError(_("not one of the allowed values")) from exc
            raise ValueError(_("not valid for this field")) from exc
    if kind == "tags":
        return [t.strip() for t in re.split(r"[,;|]", text_of(value)) if t.strip()]
    text = text_of(value)
    if definition.max_length and len(text) > definition.max_length:
        raise ValueError(_("longer than %(n)s characters") % {"n": definition.max_length})
    return text
