"""``cartera export``: customers, orders or interactions to CSV, XLSX or vCard (recorded like web exports)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Export customers (csv, xlsx, vcf), orders or interactions (csv, xlsx) as a user with the export permission."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("what", choices=["customers", "orders", "interactions"])
        parser.add_argument("--user", required=True)
        parser.add_argument("--format", default="csv", choices=["csv", "xlsx", "vcf"])
        parser.add_argument("--excel-es", action="store_true", help="';' and decimal comma for Spanish Excel")
        parser.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        from cartera.accounts.models import User
        from cartera.customers.selectors import CustomerFilters
        from cartera.imports import exporting, selectors, services

        user = User.objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {options['user']!r}.")
        what, fmt = options["what"], options["format"]
        row: Any
        if what == "customers":
            qs: Any = selectors.customers_for_export(user=user, filters=CustomerFilters())
            header, row = exporting.customer_export()
        elif what == "orders":
            qs, header, row = (
                selectors.orders_for_export(user=user),
                exporting.order_columns(),
                exporting.order_row,
            )
        else:
            qs = selectors.interactions_for_export(user=user)
            header, row = exporting.interaction_columns(), exporting.interaction_row
        perm = {"customers": "customers.export_customer", "orders": "sales.export_order",
                "interactions": "activity.export_interaction"}[what]  # fmt: skip
        if not user.has_perm(perm):
            raise CommandError(f"{user} may not export {what}.")
        if fmt == "vcf" and what != "customers":
            raise CommandError("vCard is for customers only.")
        count = qs.count()
        services.export_record(user=user, what=what, file_format=fmt, filters={"cli": True}, row_count=count)
        out = options["output"].open("wb") if options["output"] else sys.stdout.buffer
        try:
            if fmt == "xlsx":
                with exporting.xlsx_file(header, (row(o) for o in exporting.export_objects(qs))) as handle:
                    shutil.copyfileobj(handle, out)
            else:
                chunks = (
                    exporting.vcard_stream(exporting.export_objects(qs))
                    if fmt == "vcf"
                    else exporting.csv_stream(
                        header, (row(o) for o in exporting.export_objects(qs)), options["excel_es"]
                    )
                )
                for chunk in chunks:
                    out.write(chunk)
        finally:
            if options["output"]:
                out.close()
        self.stderr.write(f"{count} {what} exported.")
