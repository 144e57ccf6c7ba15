"""Recommendation quality on the real Online Retail data: temporal hold-out, ours vs two baselines.

Train on every order before 2011-09-01 (guest orders included for the product affinities), then for
each customer with a training history who buys after the cut-off (to the end of the data), recommend 10 products they had not
bought before and compare with the products they newly buy after it (products bought before the cut-off
are excluded from the truth and from every recommender, since the project never recommends them).

Reported for our recommender (``algorithms.pipeline.compute_recommendations``, the same code the
pipeline runs), most-popular, and the ``implicit`` library (ALS, and its BM25 item-item model):
hit-rate@10, NDCG@10, catalogue coverage@10, fit+predict time.

The parameters of ours (``algorithms.pipeline.Params``: EASE penalty and recency half-life, the weights
of the EASE / affinity / similar-shopper / recent-popularity parts, the popularity window) were chosen
on an earlier window only (train before 2011-06-01, hold-out 2011-06-01..2011-09-01), which
``--validation`` evaluates too; ``--early`` adds a second, still earlier window (train before 2011-03-01,
hold-out 2011-03-01..2011-06-01) that served as a check against fitting the first one's noise. The main
window (hold-out from 2011-09-01) was evaluated only once the choice was made. The baselines run with
their usual configuration and, for fairness, with the configuration that did best on the validation
window in a grid search ("val-tuned": ALS factors 32-256, regularisation 0.01-5, alpha 1-20; BM25 K
50-400, K1 0.6-2, B 0.25-1).

Run: ``.venv/bin/python benchmarks/bench_recommend.py`` (needs the ``bench`` extra: ``implicit``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from algorithms.features import build_interactions  # noqa: E402
from algorithms.pipeline import Params, compute_recommendations  # noqa: E402
from benchmarks._retail import load_online_retail  # noqa: E402

K = 10


def metrics(recommended: np.ndarray, truth: list[set[int]], n_products: int) -> dict[str, float]:
    """hit-rate@K, NDCG@K (binary relevance) and catalogue coverage of a (customers x K) array (-1 = none)."""
    discounts = 1.0 / np.log2(np.arange(2, K + 2))
    hits = np.zeros(len(truth))
    ndcg = np.zeros(len(truth))
    for i, (row, relevant) in enumerate(zip(recommended, truth, strict=True)):
        gains = np.array([1.0 if p in relevant else 0.0 for p in row[:K]])
        hits[i] = gains.any()
        ideal = discounts[:min(len(relevant), K)].sum()
        ndcg[i] = (gains * discounts[:gains.size]).sum() / ideal
    shown = np.unique(recommended[recommended >= 0])
    return {"hit_rate@10": hits.mean(), "ndcg@10": ndcg.mean(), "coverage@10": shown.size / n_products}


def to_matrix(recs: pd.DataFrame, customers: np.ndarray) -> np.ndarray:
    """A (len(customers) x K) array of product codes from ``customer, product, rank`` rows."""
    out = np.full((len(customers), K), -1, dtype=np.int64)
    position = pd.Series(np.arange(len(customers)), index=customers)
    top = recs[(recs["rank"] <= K) & recs.customer.isin(customers)]
    out[position[top.customer].to_numpy(), top["rank"].to_numpy() - 1] = top["product"].to_numpy()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cutoff", default="2011-09-01")
    parser.add_argument("--end", default="2012-01-01", help="end of the hold-out (exclusive)")
    parser.add_argument("--validation", action="store_true",
                        help="also evaluate the window the parameters were chosen on (2011-06-01..2011-09-01)")
    parser.add_argument("--early", action="store_true",
                        help="also evaluate the earlier check window (train before 2011-03-01, hold-out to 2011-06-01)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    lines = load_online_retail()
    if args.early:
        evaluate(lines, "2011-03-01", "2011-06-01", args.seed)
        print()
    if args.validation:
        evaluate(lines, "2011-06-01", "2011-09-01", args.seed)
        print()
    evaluate(lines, args.cutoff, args.end, args.seed)


def evaluate(lines: pd.DataFrame, cutoff_date: str, end_date: str, seed: int) -> None:
    """Train before ``cutoff_date``, evaluate on ``[cutoff_date, end_date)``; print the table."""
    t0 = time.perf_counter()
    cutoff = pd.Timestamp(cutoff_date, tz="UTC").timestamp()
    end = pd.Timestamp(end_date, tz="UTC").timestamp()
    train = lines[lines["at"] < cutoff]
    test = lines[(lines["at"] >= cutoff) & (lines["at"] < end) & lines.customerId.notna()]
    products = (train.drop_duplicates("sku")[["sku", "description"]].rename(columns={"description": "name"})
                .sort_values("sku").reset_index(drop=True))
    empty_events = pd.DataFrame(columns=["sessionId", "customerId", "sku", "type", "at"])
    empty_visits = pd.DataFrame(columns=["customerId", "storeId", "at"])
    data = build_interactions(train.customerId.dropna(), products, pd.Series([], dtype=str), train,
                              empty_events, empty_visits)
    bought = data.bought()
    cust_code = data.customers.get_indexer(test.customerId.astype(str))
    prod_code = data.products.get_indexer(test.sku)
    pairs = pd.DataFrame({"c": cust_code, "p": prod_code})
    pairs = pairs[(pairs.c >= 0) & (pairs.p >= 0)].drop_duplicates()
    pairs = pairs[bought[pairs.c.to_numpy(), pairs.p.to_numpy()] == 0]
    truth_by_customer = pairs.groupby("c")["p"].apply(set)
    customers = truth_by_customer.index.to_numpy()
    truth = list(truth_by_customer)
    print(f"Online Retail, train before {cutoff_date}, hold-out to {end_date}: train {len(train):,} lines, {data.n_customers:,} customers, "
          f"{data.n_products:,} products; evaluated customers {len(customers):,} "
          f"(with history, buying something new after the cut-off); {time.perf_counter() - t0:.1f} s to load")

    results: dict[str, dict[str, float]] = {}

    start = time.perf_counter()
    ours = compute_recommendations(data, Params(recommend_n=K), explain=False)
    results["customer-graph (ours)"] = {**metrics(to_matrix(ours, customers), truth, data.n_products),
                                        "seconds": time.perf_counter() - start}

    start = time.perf_counter()
    popularity = np.asarray(bought.sum(axis=0)).ravel()
    order = np.argsort(-popularity, kind="stable")
    pop = np.full((len(customers), K), -1, dtype=np.int64)
    for i, c in enumerate(customers):
        seen = set(bought.indices[bought.indptr[c]:bought.indptr[c + 1]].tolist())
        pop[i] = [p for p in order[:K + len(seen)] if p not in seen][:K]
    results["most popular"] = {**metrics(pop, truth, data.n_products), "seconds": time.perf_counter() - start}

    try:
        import implicit  # noqa: F401
        from implicit.als import AlternatingLeastSquares
        from implicit.nearest_neighbours import BM25Recommender
    except ImportError:
        print("implicit is not installed (pip install -e '.[bench]'): library baselines skipped")
    else:
        counts = sp.csr_matrix(bought)  # implicit wants scipy sparse matrices
        for name, model in (
            ("implicit ALS (64 factors)", AlternatingLeastSquares(factors=64, regularization=0.05, alpha=2.0,
                                                                   iterations=20, random_state=seed)),
            # the best of a grid on the validation window (factors 32-256, reg 0.01-5, alpha 1-20)
            ("implicit ALS (val-tuned)", AlternatingLeastSquares(factors=128, regularization=5.0, alpha=1.0,
                                                                  iterations=20, random_state=seed)),
            ("implicit item-item BM25", BM25Recommender(K=100)),
            # the best of a grid on the validation window (K 50-400, K1 0.6-2, B 0.25-1)
            ("implicit BM25 (val-tuned)", BM25Recommender(K=50, K1=0.6, B=0.75)),
        ):
            start = time.perf_counter()
            model.fit(counts, show_progress=False)
            ids, _ = model.recommend(customers, sp.csr_matrix(counts[customers]), N=K, filter_already_liked_items=True)
            results[name] = {**metrics(np.asarray(ids, dtype=np.int64), truth, data.n_products),
                             "seconds": time.perf_counter() - start}

    print(f"\n{'recommender':<28} {'hit-rate@10':>12} {'NDCG@10':>9} {'coverage':>9} {'seconds':>8}")
    for name, m in results.items():
        print(f"{name:<28} {m['hit_rate@10']:>12.4f} {m['ndcg@10']:>9.4f} {m['coverage@10']:>9.3f} {m['seconds']:>8.1f}")
    base = results["customer-graph (ours)"]
    for name, m in results.items():
        if name != "customer-graph (ours)":
            print(f"ours / {name}: hit-rate x{base['hit_rate@10'] / m['hit_rate@10']:.2f}, "
                  f"NDCG x{base['ndcg@10'] / m['ndcg@10']:.2f}")


if __name__ == "__main__":
    main()
