"""The cost-savings simulation behind ``llmcache simulate`` (SPEC section 7).

- ``scenario``: what to simulate (``Scenario``), validated; ``workload``: the request grid on
  the market calendar; ``inputs``: the modelled prices, news and earnings, and what counts as a
  significant change; ``ttls``: per-session TTL tables from the library's policy.
- Engines, all filling a ``tally.Tally``: ``engine`` (the reference, one request at a time),
  ``fast`` and ``lockstep`` (closed forms and numpy), ``trace`` (replay of a library trace,
  read by ``trace_parse``; ``trace_reference`` is its one-request-at-a-time check).
- ``results``: frozen dataclasses and the JSON form; ``compare``: strategies x policies;
  ``populate``: the end state written into Redis through the library.

Entry points: ``run.simulate(Scenario(...), settings)``, ``trace.replay_file(path, settings, ...)``,
``compare.compare(scenario, settings)``. Nothing here imports Typer or Rich.
"""
