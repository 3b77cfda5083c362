"""The render layer: every operator command's table and JSON, built from the core's dataclasses.

Commands (``cli/commands/``) parse, call the core and hand its report to one module here: a
``table(report)`` (Rich renderables) and an ``as_json(report)`` (plain data for ``emit_json``).
``units`` says how figures read (bytes, durations, counts, plurals); ``tables`` builds tables
that fit the terminal (80 columns when piped) without cutting a number, a TTL or a header.
"""
