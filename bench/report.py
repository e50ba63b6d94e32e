"""Plots and the docs page, made from the JSON results of ``bench.run``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench import page

DOCS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
MODES = ("full", "quick")


def load(out_dir: Path) -> dict[str, dict[str, Any]]:
    """Return the results of each mode found in ``out_dir``, by mode."""
    found = {}
    for mode in MODES:
        path = out_dir / f"{mode}.json"
        if path.exists():
            found[mode] = json.loads(path.read_text())
    return found


def _percentile(summary: dict[str, Any], key: str) -> float:
    """Return one percentile in ms, or NaN (a gap in the plot) when nothing was measured."""
    value = summary.get(key)
    return math.nan if value is None else float(value)


def plot_latency_vs_size(results: dict[str, Any], path: Path) -> None:
    sizes = [entry["size"] for entry in results["sizes"]]
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for outcome, colour in (("allowed", "tab:green"), ("denied", "tab:red")):
        for key, style in (("p50_ms", "-o"), ("p99_ms", "--^")):
            values = [
                _percentile(entry["check"][outcome], key) for entry in results["sizes"]
            ]
            axes.plot(sizes, values, style, color=colour, label=f"{outcome} {key[:3]}")
    axes.set_xscale("log")
    axes.set_xlabel("delegation and grant edges")
    axes.set_ylabel("engine check latency (ms)")
    axes.set_title(f"Engine check latency vs graph size ({results['mode']} run)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_latency_vs_depth(results: dict[str, Any], path: Path) -> None:
    largest = results["sizes"][-1]
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for outcome, colour in (("allowed", "tab:green"), ("denied", "tab:red")):
        by_depth = largest["check"][f"{outcome}_by_depth"]
        depths = sorted(by_depth, key=int)
        for key, style in (("p50_ms", "-o"), ("p99_ms", "--^")):
            values = [_percentile(by_depth[d], key) for d in depths]
            axes.plot(
                [int(d) for d in depths],
                values,
                style,
                color=colour,
                label=f"{outcome} {key[:3]}",
            )
    axes.set_xlabel("chain length (allowed) or subject depth (denied)")
    axes.set_ylabel("engine check latency (ms)")
    axes.set_title(f"Engine check latency vs depth at {largest['size']:,} edges")
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_throughput_vs_concurrency(results: dict[str, Any], path: Path) -> bool:
    """Plot HTTP single-check throughput by concurrency; False if HTTP was not measured."""
    levels = results.get("http", {}).get("single", [])
    if not levels:
        return False
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for workers in sorted({level.get("workers", 1) for level in levels}):
        line = [level for level in levels if level.get("workers", 1) == workers]
        axes.plot(
            [level["concurrency"] for level in line],
            [level["requests_per_s"] for level in line],
            "-o",
            label=f"{workers} uvicorn worker(s)",
        )
    axes.legend()
    axes.set_xscale("log", base=2)
    axes.set_xlabel("concurrent clients")
    axes.set_ylabel("single-check requests per second")
    axes.set_ylim(bottom=0)
    size = results["sizes"][-1]["size"]
    axes.set_title(
        f"HTTP /v1/check throughput vs concurrency ({results['mode']} run, {size:,} edges)"
    )
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True


def write_all(out_dir: Path, docs_page: Path | None = DOCS_PAGE) -> None:
    """Draw the plots of the most complete results and rewrite the docs page."""
    found = load(out_dir)
    if not found:
        return
    main = found.get("full") or found["quick"]
    plots = {
        "latency_vs_size": out_dir / "latency-vs-size.png",
        "latency_vs_depth": out_dir / "latency-vs-depth.png",
        "throughput_vs_concurrency": out_dir / "throughput-vs-concurrency.png",
    }
    plot_latency_vs_size(main, plots["latency_vs_size"])
    plot_latency_vs_depth(main, plots["latency_vs_depth"])
    if not plot_throughput_vs_concurrency(main, plots["throughput_vs_concurrency"]):
        del plots["throughput_vs_concurrency"]
    if docs_page is not None:
        docs_page.write_text(page.render(found, plots, docs_page.parent))
