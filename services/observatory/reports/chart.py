"""The forecast chart of a report: recent daily actuals, the forecast and its band, as PNG bytes."""

from __future__ import annotations

import io

import pandas as pd


def forecast_png(metric: str, history: pd.DataFrame, forecast: pd.DataFrame | None, title: str) -> bytes:
    """history: ds, y. forecast: ds, yhat, yhat_lower, yhat_upper (future rows only) or None."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure  # no pyplot: no global state, thread-safe

    fig = Figure(figsize=(8, 3.2), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    if len(history):
        ax.plot(history["ds"], history["y"], color="#1f77b4", marker="o", markersize=3, linewidth=1.5, label="actual")
    if forecast is not None and len(forecast):
        ax.fill_between(
            forecast["ds"],
            forecast["yhat_lower"],
            forecast["yhat_upper"],
            color="#ff7f0e",
            alpha=0.2,
            label="forecast band",
        )
        ax.plot(forecast["ds"], forecast["yhat"], color="#ff7f0e", linestyle="--", linewidth=1.5, label="forecast")
    ax.set_title(title, fontsize=11)
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    ax.legend(loc="upper left", fontsize=8)
    ax.set_ylim(bottom=0)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def bars_png(
    labels: list[str], series: dict[str, list[float]], title: str, ylabel: str, size: tuple[float, float] = (8, 3.2)
) -> bytes:
    """Grouped bars: one group per label, one bar per series (e.g. this year and last year)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / max(1, len(series))
    colors = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd")
    for i, (name, values) in enumerate(series.items()):
        ax.bar([x + i * width for x in range(len(labels))], values, width, label=name, color=colors[i % len(colors)])
    ax.set_xticks([x + width * (len(series) - 1) / 2 for x in range(len(labels))])
    ax.set_xticklabels(labels, fontsize=8, rotation=30 if len(labels) > 8 else 0)
    ax.set_title(title, fontsize=11)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")
    if len(series) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
