"""The cost-savings simulation behind ``llmcache simulate`` (docs/simulate.md).

- ``scenario``: what to simulate (``Scenario``), validated; ``workload``: the request grid on
  the market calendar; ``inputs``: the modelled prices, news and earnings, and what counts as a
  significant change; ``ttls``: per-session TTL tables from the library's policy;
  ``prepare``: all of it built once for a scenario (``SimContext``).
- The cache rule: ``reference_engine`` (one request at a time, a dict standing in for Redis:
  the statement) and ``miss_chains`` (the same rule in vector form, for keys that do not depend
  on the inputs; ``lockstep_engine`` steps through the instants for those that do). Engines, all
  filling a ``tally.Tally``: ``reference_engine``; the fast ones, ``chain_engine`` (``symbol``
  and ``time-bucket`` keys, with ``miss_chains``) and ``lockstep_engine`` (``conditional`` and
  ``data-hash``: the keys depend on the inputs), sharing ``fast_plan``; ``replay`` (a library
  trace, with ``miss_chains``, read by ``trace_parse``: numpy on the raw bytes for the lines
  the library writes (``trace_layout``, ``trace_bytes``), ``json`` per line for the others, as
  ``trace_lines`` defines a line; ``trace_columns`` holds the columns and the plain reader).
- ``summary``: frozen dataclasses and the JSON form; ``compare``: strategies x policies;
  ``populate``: the end state written into Redis through the library.

Entry points: ``run.simulate(Scenario(...), settings)``, ``replay.replay_file(path, settings, ...)``,
``compare.compare(scenario, settings)``. Nothing here imports Typer or Rich.
"""
