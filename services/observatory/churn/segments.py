"""The churn scores summed up per segment for the gauges: `all`, then each segment's largest values."""

from __future__ import annotations

SEGMENTS = ("country", "device_type", "source", "plan")
MAX_VALUES = 15  # per segment in the gauges; the rest are summed up as `other`
AT_RISK = 0.5


def segment_summary(users: list[dict]) -> list[tuple[str, str, int, float, int]]:
    """(segment, value, users, mean probability, at risk): `all`, then the MAX_VALUES largest values
    of each segment and `other` for the rest ('' is shown as `unknown`)."""
    out = []
    if users:
        ps = [u["probability"] for u in users]
        out.append(("all", "all", len(ps), sum(ps) / len(ps), sum(p >= AT_RISK for p in ps)))
    for segment in SEGMENTS:
        groups: dict[str, list[float]] = {}
        for u in users:
            groups.setdefault(u[segment] or "unknown", []).append(u["probability"])
        ranked = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        keep, rest = ranked[:MAX_VALUES], [p for _, ps in ranked[MAX_VALUES:] for p in ps]
        if rest:
            keep.append(("other", rest))
        for value, ps in keep:
            out.append((segment, value, len(ps), sum(ps) / len(ps), sum(p >= AT_RISK for p in ps)))
    return out
