"""The committed OOD-seasons study (experiments/ood_seasons/results) restated with navlnn.analysis.

Those results keep each seed's success count (per_seed.csv) and each layout's success summed over
the seeds (layouts.csv), not the seed x layout outcomes. For 0/1 outcomes with one flight per seed
and layout, the two-way analysis of variance depends on those margins alone, so any 0/1 matrix
with the same margins (built here greedily) gives the rate intervals exactly. The same holds for a
difference's ``seed_t_*`` (per-seed differences), ``layouts_*`` and ``newcombe_*`` columns; its
seeds+layouts interval needs the joint outcomes of both heads, which the committed results lack.

    python experiments/analysis_coverage/ood_seasons_example.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from navlnn.analysis import differences, markdown, rates

RESULTS = Path(__file__).resolve().parents[1] / "ood_seasons" / "results"
COMPARISONS = [("urban", "ncp_cfc", "cnn"), ("fall", "ncp_cfc", "ncp_ltc"), ("winter+dusk", "ncp_cfc", "cnn")]


def margins_matrix(seed_counts: list[int], layout_counts: list[int]) -> np.ndarray:
    """A 0/1 seeds x layouts matrix with these row and column sums (Gale-Ryser greedy fill)."""
    left = np.array(seed_counts, int)
    y = np.zeros((len(seed_counts), len(layout_counts)))
    for j in np.argsort(layout_counts)[::-1]:
        rows = np.argsort(-left, kind="stable")[: layout_counts[j]]
        y[rows, j] = 1.0
        left[rows] -= 1
    if left.any() or (y.sum(axis=0) != np.asarray(layout_counts)).any():
        raise ValueError("no 0/1 matrix has these margins")
    return y


def flights(results: Path = RESULTS) -> pd.DataFrame:
    """A flights table with the committed margins (see the module's docstring)."""
    seeds = pd.read_csv(results / "per_seed.csv")
    layouts = pd.read_csv(results / "layouts.csv")
    rows = []
    for (model, scene), cell in seeds.groupby(["model", "scene"], sort=False):
        lay = layouts[(layouts["model"] == model) & (layouts["scene"] == scene)].sort_values("episode")
        seed_counts = [int(round(r * n)) for r, n in zip(cell["success_rate"], cell["episodes"])]
        layout_counts = [int(round(s * k)) for s, k in zip(lay["success"], lay["seeds"])]
        y = margins_matrix(seed_counts, layout_counts)
        for (i, j), value in np.ndenumerate(y):
            rows.append({"head": model, "scene": scene, "seed": int(cell["seed"].iloc[i]),
                         "layout": int(lay["episode"].iloc[j]), "success": bool(value)})
    return pd.DataFrame(rows)


def pct(table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = table.copy()
    out[columns] = (100 * out[columns]).round(0)
    return out


def main() -> None:
    data = flights()
    table = rates(data)
    shown = table[table["scene"].isin(["fall", "urban", "winter+dusk"])]
    columns = ["rate", "ci_low", "ci_high", "wilson_low", "wilson_high", "layouts_low", "layouts_high"]
    print("Success (%) per head, 3 seeds x 17 layouts: seeds+layouts interval (ci), and the labelled "
          "pooled Wilson and layouts-only intervals:\n")
    print(markdown(pct(shown[["scene", "head", *columns]], columns), digits=0))
    rows = []
    for scene, head, reference in COMPARISONS:
        d = differences(data[data["scene"] == scene], reference=reference)
        rows.append(d[d["head"] == head])
    diff = pd.concat(rows)
    columns = ["difference", "seed_t_low", "seed_t_high", "layouts_low", "layouts_high", "newcombe_low",
               "newcombe_high"]
    print("\n`ncp_cfc` minus another head (points), paired by seed: seed-as-unit t (seed_t), and the older "
          "layouts-only and pooled Newcombe intervals:\n")
    print(markdown(pct(diff[["scene", "head", "reference", *columns]], columns), digits=0))


if __name__ == "__main__":
    main()
