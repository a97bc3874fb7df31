"""Benchmarks. Each module measures one issue's speed goals and writes its own section of
``docs/benchmarks.md`` (between ``<!-- bench:issueN:start -->`` and ``<!-- bench:issueN:end -->``).

* ``python -m bench.run`` (``make bench``): issue 2, customer list, search and detail through the web
  and the API with a million customers, on SQLite and PostgreSQL.
* ``python -m bench.analytics``, ``bench.imports``, ``bench.segments``: the later issues (see each
  module's docstring).
* ``python -m bench.optimiser``: customerbase's former hand-written BFGS against scipy's L-BFGS-B
  (section "Optimiser: hand-written BFGS vs scipy L-BFGS-B").
"""
