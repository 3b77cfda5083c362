"""Safe invalidation (SPEC sections 2 and 6): delete exactly a symbol's, a glob's or an old
cache version's keys, with a preview of what goes (count, memory, $ to regenerate).

``selection`` says what to remove (SCAN patterns plus an exact test); ``engine`` finds it (SCAN
or the per-symbol index) and deletes as it goes; ``deletion`` deletes a confirmed preview and
words partial failures; ``results`` holds the frozen figures. The CLI (``llmcache invalidate``,
``llmcache purge-version``) only parses and renders.
"""

from llmcache_cli.invalidation.deletion import delete_previewed, unlink_groups
from llmcache_cli.invalidation.engine import SCAN_COUNT, plan, run
from llmcache_cli.invalidation.results import (
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
    pattern_target,
    symbol_targets,
    version_target,
)

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
    "is_catch_all",
    "pattern_target",
    "plan",
    "run",
    "symbol_targets",
    "unlink_groups",
    "version_target",
]
