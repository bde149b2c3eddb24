"""Latency against throughput: single-event POSTs paced at increasing offered rates until the
server saturates (it no longer reaches what is offered), p50 and p99 per step, as a PNG."""

from __future__ import annotations

from pathlib import Path

STEPS = (1_000, 2_000, 4_000, 6_000, 8_000, 10_000, 12_000, 15_000, 20_000)


def sweep(
    paced,
    url: str,
    work: Path,
    body: str,
    seconds: int = 5,
    connections: int = 64,
    steps=STEPS,
    on_step=None,
    min_steps: int = 4,
) -> list[dict]:
    """paced(url, script, body, rate, connections, seconds) -> wrk result. Stops, after at least
    `min_steps` steps, at the first step that reached under 90% of the offered rate (saturation)
    or got non-2xx answers."""
    points = []
    for rate in steps:
        r = paced(url, work / "sweep.lua", body, rate, connections, seconds)
        points.append({"offered": rate, "achieved": r["rps"], "p50": r["p50"], "p99": r["p99"], "non2xx": r["non2xx"]})
        if on_step:
            on_step()
        if len(points) >= min_steps and (r["rps"] < 0.9 * rate or r["non2xx"]):
            break
    return points


def chart(points: list[dict], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    x = [p["offered"] for p in points]
    ax.plot(x, [p["p50"] for p in points], "o-", label="p50")
    ax.plot(x, [p["p99"] for p in points], "s-", label="p99")
    for p in points:
        ax.annotate(
            f"{p['achieved']:,.0f}/s",
            (p["offered"], p["p99"]),
            textcoords="offset points",
            xytext=(0, 6),
            ha="center",
            fontsize=7,
            color="grey",
        )
    ax.axhline(50, color="red", linestyle=":", linewidth=1, label="p99 target (50 ms)")
    ax.set_yscale("log")
    ax.set_xlabel("offered single-event POSTs per second (labels: achieved; saturated where they fall short)")
    ax.set_ylabel("latency (ms)")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
