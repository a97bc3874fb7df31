"""The audit log is append-only, enforced by the database: a trigger refuses UPDATE and DELETE on it
unless a row exists in ``privacy_auditunlock`` — which only ``privacy.services.audit_unlocked`` writes,
inserting and removing it in the same transaction (erasure and retention use it). See docs/privacy.md.
"""

from django.db import migrations

SQLITE = [
    """CREATE TRIGGER privacy_audit_no_update BEFORE UPDATE ON privacy_auditentry
       WHEN NOT EXISTS (SELECT 1 FROM privacy_auditunlock)
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    """CREATE TRIGGER privacy_audit_no_delete BEFORE DELETE ON privacy_auditentry
       WHEN NOT EXISTS (SELECT 1 FROM privacy_auditunlock)
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS privacy_audit_no_update",
    "DROP TRIGGER IF EXISTS privacy_audit_no_delete",
]

POSTGRES = [
    """CREATE FUNCTION privacy_audit_guard() RETURNS trigger AS $$
       BEGIN
         IF NOT EXISTS (SELECT 1 FROM privacy_auditunlock) THEN
           RAISE EXCEPTION 'the audit log is append-only';
         END IF;
         IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
         RETURN NEW;
       END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER privacy_audit_guard BEFORE UPDATE OR DELETE ON privacy_auditentry
       FOR EACH ROW EXECUTE FUNCTION privacy_audit_guard()""",
]
POSTGRES_REVERSE = [
    "DROP TRIGGER IF EXISTS privacy_audit_guard ON privacy_auditentry",
    "DROP FUNCTION IF EXISTS privacy_audit_guard()",
]


def _run(statements):
    def run(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        for sql in statements.get(vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("privacy", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRES}),
            _run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRES_REVERSE}),
        )
    ]
