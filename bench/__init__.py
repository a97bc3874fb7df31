"""Benchmarks. Each writes its own section of ``docs/benchmarks.md``.

* ``python -m bench.run`` (``make bench``): issue 2, customer list, search and detail through the web
  and the API with a million customers, on SQLite and PostgreSQL.
* ``python -m bench.analytics``: issue 3, the analytics against ``lifetimes``.
"""
