"""gc_tuning.tune: what exists is frozen, the young generation's threshold is the setting's."""

from __future__ import annotations

import gc

from observatory import gc_tuning
from observatory.settings import CommonSettings


def test_tune_freezes_startup_objects_and_sets_the_threshold(monkeypatch):
    before = gc.get_threshold()
    try:
        assert gc_tuning.tune(12_345) == (12_345, before[1], before[2])
        assert gc.get_freeze_count() > 0
        gc_tuning.tune(0)  # 0 keeps the threshold in force
        assert gc.get_threshold()[0] == 12_345
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
    monkeypatch.delenv("OBS_GC_GEN0_THRESHOLD", raising=False)
    assert CommonSettings().gc_gen0_threshold == gc_tuning.DEFAULT_GEN0
    monkeypatch.setenv("OBS_GC_GEN0_THRESHOLD", "0")
    assert CommonSettings().gc_gen0_threshold == 0
