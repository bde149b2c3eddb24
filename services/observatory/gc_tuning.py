"""The cyclic garbage collector, tuned for services that allocate many short-lived containers.

Every request or message turns into hundreds of dicts and lists (a 100-event batch: about 400)
that reference counting frees, but that still count towards the collector's allocation threshold:
with Python's default (a young collection every 700 net allocations) ingest spent 16% of its CPU
on 100-event batches in `gc_collect_main` (py-spy, `make bench`), traversing the objects of the
requests in flight again and again. So, once a service has started:

- `gc.freeze()` moves everything allocated at import and startup (the app, schemas, metrics) to a
  permanent generation that no collection traverses;
- the young generation's threshold is raised (OBS_GC_GEN0_THRESHOLD, default 50,000): collections
  are rarer, each traverses about the same live objects, and cyclic garbage still gets collected.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger("observatory.gc")
DEFAULT_GEN0 = 50_000


def tune(gen0: int = DEFAULT_GEN0) -> tuple[int, int, int]:
    """Freeze what exists now and set the young generation's threshold (0 keeps Python's own).
    Returns the thresholds in force."""
    gc.collect()  # what startup left as garbage is freed, not frozen
    gc.freeze()
    if gen0 > 0:
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(gen0, gen1, gen2)
    thresholds = gc.get_threshold()
    log.debug("gc tuned: %d objects frozen, thresholds %s", gc.get_freeze_count(), thresholds)
    return thresholds
