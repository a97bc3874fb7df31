"""Writes of imports and exports: upload, mapping, dry run, commit (batch by batch), rollback, export log.

The commit reads the file in batches of ``BATCH_SIZE`` rows (customers; ``LINKED_BATCH_SIZE`` for
orders and interactions). Every row is read and checked fully
before anything is written, so a bad row is never half-written; each batch is written in one
transaction together with the job's progress counter, so a job killed half way has written whole
batches only and resumes after the last one (or is rolled back through its ``ImportRecord`` rows).

The parts, in the order a row goes through them:

- :mod:`.jobs`: upload, column mapping and saved mappings, the queue, the stored file;
- :mod:`.reading`: the file's rows read and checked, by worker processes for big files;
- :mod:`.matching`: what each row is the same as, and so what it will do;
- :mod:`.writing`: the batch written with plain multi-row SQL, each record linked to its job;
- :mod:`.running`: the dry run and the commit that drive those steps batch by batch;
- :mod:`.rollback`: undoing a job as far as the person rolling back may, now;
- :mod:`.exports`: the log of exports, and export jobs written by the worker.

Everything public is importable from here, as before the split.
"""

from cartera.imports.selectors import check_columns, ignored_columns
from cartera.imports.services.common import CUSTOMER_FIELDS, FUZZY_THRESHOLD, ORDER_SOURCE, Progress
from cartera.imports.services.exports import (
    PROGRESS_EVERY,
    export_abandoned_sweep,
    export_allowed,
    export_dir,
    export_files_delete,
    export_files_expired,
    export_files_next_expiry,
    export_files_sweep,
    export_filters_clean,
    export_job_create,
    export_job_download,
    export_job_file_name,
    export_job_run,
    export_record,
    export_source,
)
from cartera.imports.services.jobs import (
    STALE_AFTER,
    import_job_abandon,
    import_job_claim,
    import_job_configurable,
    import_job_configure,
    import_job_create,
    import_job_create_from_path,
    import_job_discard_file,
    import_job_enqueue,
    import_job_failed_dry_run,
    import_job_is_alive,
    import_job_require,
    import_mapping_apply,
    import_mapping_save,
    upload_dir,
)
from cartera.imports.services.reading import PARALLEL_AFTER_ROWS, READ_AHEAD, WORKER_TIMEOUT, read_rows
from cartera.imports.services.rollback import (
    ROLLBACK_CHUNK,
    import_job_rollback,
    import_job_rollback_enqueue,
    import_job_rollback_fail,
)
from cartera.imports.services.running import (
    BATCH_SIZE,
    DRY_RUN_INLINE_BYTES,
    import_job_check,
    import_job_check_in_worker,
    import_job_fail,
    import_job_run,
)
from cartera.imports.services.writing import WAL_CHECKPOINT_PAGES, fast_insert

__all__ = [
    "BATCH_SIZE",
    "DRY_RUN_INLINE_BYTES",
    "CUSTOMER_FIELDS",
    "FUZZY_THRESHOLD",
    "ORDER_SOURCE",
    "PARALLEL_AFTER_ROWS",
    "READ_AHEAD",
    "ROLLBACK_CHUNK",
    "STALE_AFTER",
    "WAL_CHECKPOINT_PAGES",
    "WORKER_TIMEOUT",
    "Progress",
    "check_columns",
    "ignored_columns",
    "PROGRESS_EVERY",
    "export_allowed",
    "export_dir",
    "export_files_delete",
    "export_files_expired",
    "export_abandoned_sweep",
    "export_files_next_expiry",
    "export_files_sweep",
    "export_filters_clean",
    "export_job_create",
    "export_job_download",
    "export_job_file_name",
    "export_job_run",
    "export_record",
    "export_source",
    "import_job_abandon",
    "fast_insert",
    "import_job_check",
    "import_job_check_in_worker",
    "import_job_claim",
    "import_job_configurable",
    "import_job_configure",
    "import_job_create",
    "import_job_create_from_path",
    "import_job_discard_file",
    "import_job_enqueue",
    "import_job_fail",
    "import_job_failed_dry_run",
    "import_job_is_alive",
    "import_job_require",
    "import_job_rollback",
    "import_job_rollback_enqueue",
    "import_job_rollback_fail",
    "import_job_run",
    "import_mapping_apply",
    "import_mapping_save",
    "read_rows",
    "upload_dir",
]
