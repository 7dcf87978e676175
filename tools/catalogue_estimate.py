"""On paper: the full-scale reproduction catalogue's work, and its wall time on N GPUs.

    python -m tools.catalogue_estimate [--seeds 1] [--gpus 1 8 32] [--floor-ms 2.5] [--tmacs 10] [--json]

For every run of every entry at ``full`` scale (`reproduce.plan`): optimiser steps (epochs ×
training samples // batch, from `data.shape_of`, nothing loaded) and multiply-adds (steps × batch
× the rule's multiply-adds per sample, `engine.cost.operation_counts`). A step's time on one GPU is
modelled as the larger of a floor (``--floor-ms``: Python and kernel launches; 2–3 ms is what a
small MLP's step took on an H200, README "Benchmark") and its arithmetic at ``--tmacs`` tera
multiply-adds a second (10: eager fp32 PyTorch, a fraction of an H100's peak). Runs are
independent, so N GPUs (the Ray backend, one run per GPU) take the total over N, but never less
than the longest run. These are estimates, not measurements: no GPU was lent to this task.
"""

from __future__ import annotations

import argparse
import json
import sys


def estimate(seeds: int = 1, floor_ms: float = 2.5, tmacs: float = 10.0, ids=None) -> list[dict]:
    """One row per full-scale run of the catalogue (or of the entries ``ids``): entry, label,
    steps, multiply-adds, modelled GPU seconds.

    Example (Thakkar's ANN: 5 epochs of MNIST's 60,000 in batches of 64, 784-50-10):
        >>> bp = estimate(ids=["thakkar-ann"])[0]
        >>> bp["steps"] == 5 * (60_000 // 64), bp["macs"] == bp["steps"] * 64 * (2 * (784 * 50 + 50 * 10) + 50 * 10)
        (True, True)
        >>> bp["gpu_s"] == bp["steps"] * 0.0025   # a step this small is bound by the floor
        True
    """
    from explorer.data.shapes import shape_of
    from explorer.engine.cost import operation_counts
    from explorer.experiments import reproduce as rp
    from explorer.experiments.catalogue import CATALOGUE

    rows = []
    for p in rp.plan([CATALOGUE[i] for i in ids] if ids else CATALOGUE.values(), "full", seeds=seeds):
        cfg = p.config
        batch = cfg.train.batch_size
        steps = cfg.train.epochs * (shape_of(cfg.data).train // batch)
        macs = steps * batch * operation_counts(cfg).total
        step_s = max(floor_ms / 1000, batch * operation_counts(cfg).total / (tmacs * 1e12))
        rows.append({"entry": p.entry_id, "label": p.label, "dataset": cfg.data.name, "model": cfg.model.name,
                     "steps": steps, "macs": macs, "gpu_s": steps * step_s})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.catalogue_estimate", description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--gpus", type=int, nargs="+", default=[1, 8, 32])
    p.add_argument("--floor-ms", type=float, default=2.5)
    p.add_argument("--tmacs", type=float, default=10.0)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    rows = estimate(args.seeds, args.floor_ms, args.tmacs)
    total = sum(r["gpu_s"] for r in rows)
    longest = max(rows, key=lambda r: r["gpu_s"])
    by_model: dict[str, list[float]] = {}
    for r in rows:
        by_model.setdefault(f"{r['model']} on {r['dataset']}", []).append(r["gpu_s"])
    out = {"runs": len(rows), "entries": len({r["entry"] for r in rows}), "steps": sum(r["steps"] for r in rows),
           "macs": sum(r["macs"] for r in rows), "gpu_hours": total / 3600,
           "longest_run": {"entry": longest["entry"], "label": longest["label"], "hours": longest["gpu_s"] / 3600},
           "wall_hours": {n: max(total / n, longest["gpu_s"]) / 3600 for n in args.gpus},
           "by_model_hours": {k: sum(v) / 3600 for k, v in sorted(by_model.items(), key=lambda kv: -sum(kv[1]))}}
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"{out['entries']} entries, {out['runs']} runs ({args.seeds} seed(s)): {out['steps'] / 1e6:.2f} M steps, "
          f"{out['macs'] / 1e15:.1f} P multiply-adds; {out['gpu_hours']:.1f} GPU-hours "
          f"(step = max({args.floor_ms:g} ms, arithmetic at {args.tmacs:g} TMAC/s))")
    for model, hours in out["by_model_hours"].items():
        print(f"  {model:<28}{hours:8.1f} GPU-h")
    print(f"longest run: {longest['entry']} {longest['label']}, {out['longest_run']['hours']:.1f} h")
    for n, hours in out["wall_hours"].items():
        print(f"on {n:>3} GPU(s): {hours:6.1f} h")
    return 0


if __name__ == "__main__":
    sys.exit(main())
