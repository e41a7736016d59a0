"""Optuna's TPESampler on the benchmark's test functions: the anchor of `npm run bench -- search`.

Usage: optuna_search.py TRIALS SEED[,SEED...] [univariate]
Prints JSON: {"optuna": version, "results": {function: {"best": [per seed], "seconds": total}}}.
The functions are those of bench/lib/test-functions.ts (same bounds, same constants).
"""
import json
import math
import sys
import time

import optuna

ALPHA = [1.0, 1.2, 3.0, 3.2]
A = [
    [10, 3, 17, 3.5, 1.7, 8],
    [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8],
    [17, 8, 0.05, 10, 0.1, 14],
]
P = [[p * 1e-4 for p in row] for row in [
    [1312, 1696, 5569, 124, 8283, 5886],
    [2329, 4135, 8307, 3736, 1004, 9991],
    [2348, 1451, 3522, 2883, 3047, 6650],
    [4047, 8828, 8732, 5743, 1091, 381],
]]


def branin(trial):
    x1 = trial.suggest_float("x1", -5, 10)
    x2 = trial.suggest_float("x2", 0, 15)
    b, c, r, s, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 6, 10, 1 / (8 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


def hartmann6(trial):
    x = [trial.suggest_float(f"x{i + 1}", 0, 1) for i in range(6)]
    total = 0.0
    for i in range(4):
        inner = sum(A[i][j] * (x[j] - P[i][j]) ** 2 for j in range(6))
        total += ALPHA[i] * math.exp(-inner)
    return -total


def main():
    trials = int(sys.argv[1])
    seeds = [int(s) for s in sys.argv[2].split(",")]
    univariate = len(sys.argv) > 3 and sys.argv[3] == "univariate"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    results = {}
    for name, objective in (("branin", branin), ("hartmann6", hartmann6)):
        best, start = [], time.perf_counter()
        for seed in seeds:
            # Default settings; the univariate run only turns multivariate off (Optuna <= 4's default).
            sampler = optuna.samplers.TPESampler(seed=seed, multivariate=False) if univariate else optuna.samplers.TPESampler(seed=seed)
            study = optuna.create_study(direction="minimize", sampler=sampler)
            study.optimize(objective, n_trials=trials)
            best.append(study.best_value)
        results[name] = {"best": best, "seconds": time.perf_counter() - start}
    json.dump({"optuna": optuna.__version__, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
