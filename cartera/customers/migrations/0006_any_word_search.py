"""Any-word search: a full-text index of each customer's names and e-mail, kept by the database.

SQLite: an FTS5 table (``customers_customer_search``, rowid = customer id) filled by triggers on
every insert, update and delete of ``customers_customer``. PostgreSQL: a generated ``tsvector``
column ``search_document`` (the immutable function ``customers_search_document``) with a GIN index,
both kept by PostgreSQL itself. Either way every write path (services, the import's bulk inserts,
the demo's COPY, merges, raw SQL) keeps search right with no code of its own. The model does not
declare the column: Django never reads or writes it.

On an existing database the migration indexes every customer once (see docs/benchmarks.md): about
50 s per million customers on SQLite; about 85 s on PostgreSQL, where adding the column rewrites the
table and every query on it waits meanwhile.

Later migrations, beware: on SQLite, an operation that makes Django rebuild the customer table
drops the triggers (tests/customers/test_search.py fails then: create them again); on PostgreSQL,
changing the type of first_name, last_name or email needs the column dropped and added again.
"""

from django.db import migrations

# SQLite --------------------------------------------------------------------------------------------
SQLITE_FORWARD = [
    # unicode61 with remove_diacritics 2 folds case and accents ("Jiménez" = "jimenez"); the prefix
    # indexes (2 to 8 letters) answer "berm"* or "maria"* from one list instead of merging the
    # lists of every word that starts so (20,000 e-mail words start with "maria": 113 ms -> 17 ms at 1M).
    "CREATE VIRTUAL TABLE customers_customer_search USING fts5("
    "document, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3 4 5 6 7 8')",
    "CREATE TRIGGER customers_customer_search_insert AFTER INSERT ON customers_customer BEGIN "
    "INSERT INTO customers_customer_search (rowid, document) "
    "VALUES (new.id, new.first_name || ' ' || new.last_name || ' ' || coalesce(new.email, '')); END",
    "CREATE TRIGGER customers_customer_search_update AFTER UPDATE OF id, first_name, last_name, email "
    "ON customers_customer BEGIN "
    "DELETE FROM customers_customer_search WHERE rowid = old.id; "
    "INSERT INTO customers_customer_search (rowid, document) "
    "VALUES (new.id, new.first_name || ' ' || new.last_name || ' ' || coalesce(new.email, '')); END",
    "CREATE TRIGGER customers_customer_search_delete AFTER DELETE ON customers_customer BEGIN "
    "DELETE FROM customers_customer_search WHERE rowid = old.id; END",
    "INSERT INTO customers_customer_search (rowid, document) "
    "SELECT id, first_name || ' ' || last_name || ' ' || coalesce(email, '') FROM customers_customer",
    "INSERT INTO customers_customer_search (customers_customer_search) VALUES ('optimize')",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS customers_customer_search_insert",
    "DROP TRIGGER IF EXISTS customers_customer_search_update",
    "DROP TRIGGER IF EXISTS customers_customer_search_delete",
    "DROP TABLE IF EXISTS customers_customer_search",
]

# PostgreSQL ----------------------------------------------------------------------------------------
# unaccent() folds accents (as the query side does in cartera.core.search); it is not IMMUTABLE, so
# the index goes through an IMMUTABLE function naming the dictionary and its schema explicitly (the
# usual, safe way: the rules file does not change under a running database). unaccent is a trusted
# extension: the database's owner may create it. The '@' and '.' of an e-mail become spaces so that
# the parser sees words, not one e-mail "token". 'simple': no stemming, no stop words (names are not
# prose). The function costs more than the planner assumes, which keeps it on the index.
PG_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    """DO $do$
    DECLARE schema_name text := (
        SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'unaccent'
    );
    BEGIN
    EXECUTE format($f$
        CREATE FUNCTION customers_search_document(first_name text, last_name text, email text)
        RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE COST 1000 AS $body$
        SELECT to_tsvector('pg_catalog.simple'::regconfig, %1$I.unaccent(%2$L::regdictionary,
            translate(lower(coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' '
                || coalesce(email, '')), '@._', '   ')))
        $body$$f$, schema_name, quote_ident(schema_name) || '.unaccent');
    END
    $do$""",
    # A stored column, not only an expression index: a broad search ("molina", 7,000 matches) walks
    # the customers in list order and tests each one; recomputing the tsvector there cost 15 µs a
    # row (125 ms a page), reading it costs under 1 µs (7 ms). Adding it rewrites the table once.
    "ALTER TABLE customers_customer ADD COLUMN search_document tsvector GENERATED ALWAYS AS "
    "(customers_search_document(first_name, last_name, email)) STORED",
    "SET LOCAL maintenance_work_mem = '256MB'",
    "CREATE INDEX customers_customer_search ON customers_customer USING gin (search_document)",
    "ANALYZE customers_customer",
]
PG_BACKWARD = [
    "DROP INDEX IF EXISTS customers_customer_search",
    "ALTER TABLE customers_customer DROP COLUMN IF EXISTS search_document",
    "DROP FUNCTION IF EXISTS customers_search_document(text, text, text)",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor, [])
        with schema_editor.connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("customers", "0005_search_indexes_include_id")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": PG_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": PG_BACKWARD}),
            elidable=False,
        )
    ]
