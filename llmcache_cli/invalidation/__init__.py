"""The one invalidation core: delete exactly a symbol's, a glob's or an old cache version's
keys, with a preview of what goes (count, memory, $ to regenerate). The CLI runs it through
``sweep`` (node by node, with previews); the library (``cache.invalidator``) uses the same
selection, exact test and deletion commands through its async client.

``selection`` says what to remove (SCAN patterns plus an exact test); ``sweep`` finds it (SCAN
or the per-symbol index) and deletes as it goes; ``deletion`` deletes a confirmed preview and
words partial failures; ``outcome`` holds the frozen figures. The CLI (``llmcache invalidate``,
``llmcache purge-version``) only parses and renders.
"""

from llmcache_cli.invalidation.deletion import delete_previewed, deletion_commands, unlink_groups
from llmcache_cli.invalidation.outcome import (
    Invalidation,
    InvalidationInterrupted,
    Plan,
    PlannedTarget,
    TargetResult,
)
from llmcache_cli.invalidation.selection import (
    EVENT_DATA_TYPES,
    Target,
    data_type_filter,
    is_catch_all,
    known_data_types,
    pattern_target,
    symbol_targets,
    version_target,
)
from llmcache_cli.invalidation.sweep import SCAN_COUNT, plan, run

__all__ = [
    "EVENT_DATA_TYPES",
    "SCAN_COUNT",
    "Invalidation",
    "InvalidationInterrupted",
    "Plan",
    "PlannedTarget",
    "Target",
    "TargetResult",
    "data_type_filter",
    "delete_previewed",
    "deletion_commands",
    "is_catch_all",
    "known_data_types",
    "pattern_target",
    "plan",
    "run",
    "symbol_targets",
    "unlink_groups",
    "version_target",
]
