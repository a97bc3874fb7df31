"""Before the ledger, consent was four yes/no flags on the customer. Every flag set becomes the first
ledger row of its channel (purpose marketing, source "migration"), so that the flags and the ledger
agree from the start. One INSERT ... SELECT per flag: fast on a million customers."""

from django.db import migrations
from django.utils import timezone

FLAGS = {"email": "opt_in_email", "phone": "opt_in_phone", "sms": "opt_in_sms", "post": "opt_in_mail"}
WORDING = "Consent flag set before the consent ledger existed (date and wording unknown)."


def forward(apps, schema_editor):
    connection = schema_editor.connection
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        for channel, flag in FLAGS.items():
            cursor.execute(
                f"INSERT INTO {q('privacy_consentevent')} "  # noqa: S608 - fixed names
                "(customer_id, channel, purpose, granted, source, wording, version, recorded_at, recorded_by_id) "
                f"SELECT id, %s, 'marketing', %s, 'migration', %s, 'v0', %s, NULL FROM {q('customers_customer')} "
                f"WHERE {q(flag)} = %s",
                [channel, True, WORDING, now, True],
            )


def backward(apps, schema_editor):
    apps.get_model("privacy", "ConsentEvent").objects.filter(source="migration").delete()


class Migration(migrations.Migration):
    dependencies = [("privacy", "0002_audit_append_only"), ("customers", "0005_search_indexes_include_id")]

    operations = [migrations.RunPython(forward, backward)]
