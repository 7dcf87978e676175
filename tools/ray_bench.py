"""The Ray backend's overhead: one sweep run on the local backend and on Ray, in one process.

    python -m tools.ray_bench [--epochs 10] [--seeds 2] [--hidden 64] [--cpus N] [--json]

The sweep is every rule of ``RULES`` × ``--seeds`` seeds (stacked per grid point) of a digits MLP.
The local backend trains one grid point after another with torch on ``--cpus`` cores; Ray runs a
task per grid point, each on one core, ``--cpus`` at once. With ``--cpus 1`` both do the same work
in the same order, and the ratio is Ray's overhead alone. Printed:
the local time, Ray's start-up (``ray.init`` of a local instance), the Ray sweep's time on that
instance twice (the first starts its worker processes, each importing torch; the second finds
them running, as a cluster's do), and the ratios Ray / local. Both sweeps go into
their own temporary store, as the command line's sweeps do, and the largest difference of their
final accuracies is printed (same configs and seeds; only the thread counts differ).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time

RULES = ("bp", "fa", "dfa", "sdfa")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.ray_bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--cpus", type=int, default=os.cpu_count(),
                   help="the cores both backends get (default: all): torch's threads on the local backend, the "
                        "local Ray instance's CPUs (tasks of one CPU each); with 1, both do the same work one run "
                        "at a time on one core, and the ratio is Ray's overhead alone")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)

    import ray
    import torch

    torch.set_num_threads(args.cpus)

    from explorer.runs.cluster import RayOptions, start_ray
    from explorer.runs.sweep import sweep

    base = {"model": {"hidden": [args.hidden, args.hidden]}, "train": {"epochs": args.epochs, "batch_size": 32},
            "device": "cpu"}
    grid = {"algorithm.name": list(RULES)}
    with tempfile.TemporaryDirectory() as folder:
        sweep(base, {"algorithm.name": ["bp"]}, 1, progress=False)  # loads the data and warms torch, as a worker's first task does
        start = time.perf_counter()
        local = sweep(base, grid, args.seeds, progress=False, store=os.path.join(folder, "local.sqlite"))
        local_s = time.perf_counter() - start

        start = time.perf_counter()
        start_ray(RayOptions(local_cpus=args.cpus))
        init_s = time.perf_counter() - start
        try:
            times = []
            for _ in range(2):  # the first on the fresh instance starts its worker processes
                start = time.perf_counter()
                on_ray = sweep(base, grid, args.seeds, progress=False, backend="ray",
                               store=os.path.join(folder, "ray.sqlite"), ray=RayOptions(cpus=1))
                times.append(time.perf_counter() - start)
            cold_s, ray_s = times
        finally:
            ray.shutdown()

    def finals(result) -> list[float]:
        t = result.table
        return t[(t["metric"] == "test_acc") & (t["epoch"] == args.epochs)]["value"].round(6).tolist()

    out = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (CPU), {args.cpus} used",
        "runs": len(RULES) * args.seeds, "epochs": args.epochs, "network": f"digits 64-{args.hidden}-{args.hidden}-10, batch 32",
        "local_s": round(local_s, 2), "ray_start_s": round(init_s, 2), "ray_first_sweep_s": round(cold_s, 2),
        "ray_sweep_s": round(ray_s, 2), "ray_over_local": round(ray_s / local_s, 3),
        "ray_first_with_start_over_local": round((cold_s + init_s) / local_s, 3),
        "final_acc_max_diff": max(abs(a - b) for a, b in zip(finals(local), finals(on_ray))),
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{out['runs']} runs ({len(RULES)} rules x {args.seeds} seeds), {args.epochs} epochs, {out['network']}; "
              f"{out['machine']}")
        print(f"local backend           {local_s:8.2f} s")
        print(f"Ray start (ray.init)    {init_s:8.2f} s")
        print(f"Ray backend, 1st sweep  {cold_s:8.2f} s   (starts the worker processes)")
        print(f"Ray backend, 2nd sweep  {ray_s:8.2f} s")
        print(f"Ray / local             {out['ray_over_local']:8.3f}x  (2nd sweep; the 1st with ray.init: "
              f"{out['ray_first_with_start_over_local']:.3f}x)")
        print(f"final test accuracies differ by at most {out['final_acc_max_diff']:.4f} (torch on {args.cpus} "
              f"thread(s) here, on 1 in each Ray task: sums can round apart)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
