from django.db import migrations

# The tag-customer link table is created by Django for ``Customer.tags``; its own indexes are
# (customer, tag) and (tag). Listing a tag's customers newest first needs (tag, customer): the
# members then come out of the index already in customer order, with no sort of a big tag.


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_name_order_index")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX customer_tags_tag_customer ON customers_customer_tags (tag_id, customer_id)",
            reverse_sql="DROP INDEX customer_tags_tag_customer",
        )
    ]
