"""Recommendation quality on the real Online Retail data: temporal hold-out, ours vs baselines, two variants.

Variant A (``any``): any product may be recommended, relevant = every product the customer buys after the
cut-off (most of it re-orders). Ours: ``MIXED`` (the API's default: :func:`api.blend.mix` of the
``BUY_AGAIN`` list of :func:`algorithms.pipeline.compute_buy_again` and the discoveries below, in one order
of probability) and ``BUY_AGAIN`` alone,
against most-popular, repeat-buy (the customer's own products by number of orders, most recent first,
filled with popularity), and ``implicit`` ALS / BM25 allowed to recommend bought products. hit-rate@10,
NDCG@10, recall@20, coverage@10, and a paired bootstrap 95% interval of ours minus the best baseline
(NDCG@10, customers resampled). The buy-again model is trained inside the training data only (its last
90 days as labels), like an algorithms run; its features and ``api.blend.DISCOVERY_PROBABILITY`` were
chosen on the validation window; ``MIN_DISCOVER_SHARE`` (one discovery in 10 at least) is a product choice
whose cost ``--discovery 0.08:0`` measures. ``--ceiling`` adds buy again's features with a classifier trained on the
hold-out itself, out of fold by customer (:func:`buy_again_ceiling`): what no model of these features can beat.

Variant B (``new``), as before: train on every order before 2011-09-01 (guest orders included for the product affinities), then for
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

from algorithms.features import Interactions, build_interactions  # noqa: E402
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


def split(lines: pd.DataFrame, cutoff_date: str, end_date: str) -> tuple[pd.DataFrame, Interactions, pd.DataFrame]:
    """The training lines (before ``cutoff_date``), their interactions, and the distinct (customer ``c``,
    product ``p``) codes bought by known customers in ``[cutoff_date, end_date)``."""
    cutoff = pd.Timestamp(cutoff_date, tz="UTC").timestamp()
    end = pd.Timestamp(end_date, tz="UTC").timestamp()
    train = lines[lines["at"] < cutoff]
    test = lines[(lines["at"] >= cutoff) & (lines["at"] < end) & lines.customerId.notna()]
    products = (train.drop_duplicates("sku")[["sku", "description"]].rename(columns={"description": "name"})
                .sort_values("sku").reset_index(drop=True))
    data = build_interactions(train.customerId.dropna(), products, pd.Series([], dtype=str), train,
                              pd.DataFrame(columns=["sessionId", "customerId", "sku", "type", "at"]),
                              pd.DataFrame(columns=["customerId", "storeId", "at"]))
    pairs = pd.DataFrame({"c": data.customers.get_indexer(test.customerId.astype(str)),
                          "p": data.products.get_indexer(test.sku)})
    return train, data, pairs[(pairs.c >= 0) & (pairs.p >= 0)].drop_duplicates()


def ndcg_per_customer(recommended: np.ndarray, truth: list[set[int]]) -> np.ndarray:
    """NDCG@K of each customer's list (binary relevance)."""
    discounts = 1.0 / np.log2(np.arange(2, K + 2))
    out = np.zeros(len(truth))
    for i, (row, relevant) in enumerate(zip(recommended, truth, strict=True)):
        gains = np.array([1.0 if p in relevant else 0.0 for p in row[:K]])
        out[i] = (gains * discounts[:gains.size]).sum() / discounts[:min(len(relevant), K)].sum()
    return out


def recall_at(recommended: np.ndarray, truth: list[set[int]], n: int = 20) -> float:
    """Mean share of each customer's relevant products found in the first ``n``."""
    return float(np.mean([len(set(row[:n].tolist()) & relevant) / len(relevant)
                          for row, relevant in zip(recommended, truth, strict=True)]))


def paired_bootstrap(ours: np.ndarray, theirs: np.ndarray, seed: int, rounds: int = 2000) -> tuple[float, float]:
    """95% interval of ``mean(ours - theirs)`` over customers resampled with replacement."""
    rng = np.random.default_rng(seed)
    difference = ours - theirs
    means = np.array([difference[rng.integers(0, difference.size, difference.size)].mean() for _ in range(rounds)])
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


CEILING = "ceiling: BUY_AGAIN on hold-out"


def buy_again_ceiling(data: Interactions, pairs: pd.DataFrame, seed: int, folds: int = 5) -> pd.DataFrame:
    """``customer, product, probability``: buy again's classifier and features trained on the hold-out itself.

    The features are those of every past (customer, product) pair as of the cut-off, as ``compute_buy_again``
    scores them (``pipeline.buy_again_pairs``); the label is whether the pair is bought in the hold-out
    (``pairs``).
    Out of fold, customers split into ``folds`` groups: each customer is scored by a model that learnt from
    the other customers' futures in the very period it predicts, which no real model can. What this
    ranks is an upper bound for any model of these features (a better model can only learn the same).
    """
    from sklearn.model_selection import GroupKFold

    from algorithms import buy_again
    from algorithms._learning import shallow_classifier
    from algorithms.pipeline import buy_again_pairs

    features = buy_again_pairs(data)
    keys = pd.MultiIndex.from_arrays([features.customer.to_numpy(np.int64), features["product"].to_numpy(np.int64)])
    label = keys.isin(pd.MultiIndex.from_arrays([pairs.c.to_numpy(np.int64), pairs.p.to_numpy(np.int64)]))
    X = features[buy_again.FEATURES].to_numpy(np.float64)
    probability = np.zeros(len(features))
    for train, test in GroupKFold(folds).split(X, label, features.customer):
        model = shallow_classifier(len(train), seed, early_stopping=False).fit(X[train], label[train])
        probability[test] = model.predict_proba(X[test])[:, 1]
    return features[["customer", "product"]].assign(probability=probability)


def evaluate_any(lines: pd.DataFrame, cutoff_date: str, end_date: str, seed: int,
                 discoveries: tuple[tuple[float, float], ...] = (), ceiling: bool = False) -> None:
    """Variant A: train before ``cutoff_date``; relevant = every product bought in ``[cutoff_date, end_date)``.
    ``discoveries``: ``(first-discovery probability, minimum share of discoveries)`` of MIXED evaluated
    besides the API's own; ``ceiling``: also :func:`buy_again_ceiling`'s lists."""
    from algorithms.pipeline import compute_buy_again
    from api.blend import DISCOVERY_PROBABILITY, MIN_DISCOVER_SHARE, Blended, mix

    default = (DISCOVERY_PROBABILITY, MIN_DISCOVER_SHARE)
    discoveries = tuple(dict.fromkeys((default, *discoveries)))

    width = 20
    t0 = time.perf_counter()
    _, data, pairs = split(lines, cutoff_date, end_date)
    truth_by_customer = pairs.groupby("c")["p"].apply(set)
    customers = truth_by_customer.index.to_numpy()
    truth = list(truth_by_customer)
    print(f"Variant A (any product; relevant = every product bought), train before {cutoff_date}, hold-out to "
          f"{end_date}: evaluated customers {len(customers):,}; {time.perf_counter() - t0:.1f} s to load")

    bought = data.bought()
    order = np.argsort(-np.asarray(bought.sum(axis=0)).ravel(), kind="stable")

    def filled(own: list[int]) -> list[int]:
        out = list(dict.fromkeys(own))[:width]
        for p in order[:width * 2]:
            if len(out) >= width:
                break
            if p not in out:
                out.append(int(p))
        return out

    lists: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    lists["most popular"] = np.array([filled([]) for _ in customers])
    seconds["most popular"] = time.perf_counter() - start

    start = time.perf_counter()
    known = data.known_purchases()
    counts = (known.drop_duplicates(["customer", "product", "order"]).groupby(["customer", "product"])
              .agg(orders=("order", "size"), last=("day", "max")).reset_index()
              .sort_values(["customer", "orders", "last"], ascending=[True, False, False]))
    own_by = counts.groupby("customer")["product"].apply(list)
    lists["repeat-buy"] = np.array([filled(own_by.get(c, [])) for c in customers])
    seconds["repeat-buy"] = time.perf_counter() - start

    start = time.perf_counter()
    scored, _ = compute_buy_again(data, Params(buy_again_n=width, seed=seed))  # what an algorithms run writes
    again_by = scored.groupby("customer")["product"].apply(list)
    probability_by = scored.groupby("customer")["probability"].apply(list)
    lists["ours: BUY_AGAIN"] = np.array([filled(again_by.get(c, [])[:width]) for c in customers])
    seconds["ours: BUY_AGAIN"] = time.perf_counter() - start

    start = time.perf_counter()
    discover = compute_recommendations(data, Params(recommend_n=width), explain=False)
    discover_by = discover.sort_values(["customer", "rank"]).groupby("customer")["product"].apply(list)

    def items(codes: list[int], scores: list[float]) -> list[Blended]:
        return [Blended(sku=str(code), product={}, score=score) for code, score in zip(codes, scores, strict=True)]

    def mixed(c: int, discovery: float, share: float) -> list[int]:
        """The API's MIXED list of 10 (what a page of 10 shows), then the rest of its list of 20."""
        again = items(again_by.get(c, []), probability_by.get(c, []))
        new = items(discover_by.get(c, []), [0.0] * len(discover_by.get(c, [])))
        ten = [int(item.sku) for item in mix(again, new, first=K, discovery=discovery, min_discover_share=share)]
        return filled(ten + [int(item.sku) for item in mix(again, new, first=width, discovery=discovery,
                                                               min_discover_share=share)])

    for discovery, share in discoveries:
        name = "ours: MIXED (default)" if (discovery, share) == default else f"ours: MIXED {discovery:g}, {share:g}"
        lists[name] = np.array([mixed(c, discovery, share) for c in customers])
        seconds[name] = time.perf_counter() - start + seconds["ours: BUY_AGAIN"]

    if ceiling:
        start = time.perf_counter()
        probability = buy_again_ceiling(data, pairs, seed)
        ceiling_by = probability.sort_values(["customer", "probability"], ascending=[True, False], kind="stable")
        ceiling_by = ceiling_by.groupby("customer")["product"].apply(list)
        lists[CEILING] = np.array([filled(ceiling_by.get(c, [])[:width]) for c in customers])
        seconds[CEILING] = time.perf_counter() - start

    try:
        from implicit.als import AlternatingLeastSquares
        from implicit.nearest_neighbours import BM25Recommender
    except ImportError:
        print("implicit is not installed (pip install -e '.[bench]'): library baselines skipped")
    else:
        matrix = sp.csr_matrix(bought)
        for name, library_model in (
            ("implicit ALS (val-tuned)", AlternatingLeastSquares(factors=128, regularization=5.0, alpha=1.0,
                                                                  iterations=20, random_state=seed)),
            ("implicit BM25 (val-tuned)", BM25Recommender(K=50, K1=0.6, B=0.75)),
        ):
            start = time.perf_counter()
            library_model.fit(matrix, show_progress=False)
            ids, _ = library_model.recommend(customers, sp.csr_matrix(matrix[customers]), N=width,
                                             filter_already_liked_items=False)
            lists[name] = np.asarray(ids, dtype=np.int64)
            seconds[name] = time.perf_counter() - start

    print(f"\n{'recommender':<28} {'hit-rate@10':>12} {'NDCG@10':>9} {'recall@20':>10} {'coverage':>9} {'seconds':>8}")
    ndcg = {}
    for name, recommended in lists.items():
        m = metrics(recommended[:, :K], truth, data.n_products)
        ndcg[name] = ndcg_per_customer(recommended, truth)
        print(f"{name:<28} {m['hit_rate@10']:>12.4f} {m['ndcg@10']:>9.4f} {recall_at(recommended, truth):>10.4f} "
              f"{m['coverage@10']:>9.3f} {seconds[name]:>8.1f}")
    baselines = [name for name in lists if not name.startswith("ours") and name != CEILING]
    best = max(baselines, key=lambda name: ndcg[name].mean())
    for ours in [name for name in lists if name.startswith("ours")]:
        low, high = paired_bootstrap(ndcg[ours], ndcg[best], seed)
        print(f"{ours} - {best} (best baseline): NDCG@10 {ndcg[ours].mean() - ndcg[best].mean():+.4f}, "
              f"95% interval [{low:+.4f}, {high:+.4f}]")


def discovery_variant(text: str) -> tuple[float, float]:
    """``"0.05"`` or ``"0.05:0.2"``: MIXED's first-discovery probability and minimum share of discoveries."""
    from api.blend import MIN_DISCOVER_SHARE

    probability, _, share = text.partition(":")
    return float(probability), float(share) if share else MIN_DISCOVER_SHARE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cutoff", default="2011-09-01")
    parser.add_argument("--end", default="2012-01-01", help="end of the hold-out (exclusive)")
    parser.add_argument("--validation", action="store_true",
                        help="also evaluate the window the parameters were chosen on (2011-06-01..2011-09-01)")
    parser.add_argument("--early", action="store_true",
                        help="also evaluate the earlier check window (train before 2011-03-01, hold-out to 2011-06-01)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--variant", choices=("A", "B", "both"), default="both",
                        help="A: any product, relevant = every product bought; B: new products only")
    parser.add_argument("--discovery", default="",
                        help="MIXED variants to compare (variant A): first-discovery probability, optionally "
                             "with ':' the minimum share of discoveries, e.g. 0.05,0.08:0,0.12:0.2")
    parser.add_argument("--ceiling", action="store_true",
                        help="variant A: also buy again's features with a classifier trained on the hold-out itself "
                             "(out of fold by customer): an upper bound for a model of these features")
    args = parser.parse_args()
    lines = load_online_retail()
    windows = [("2011-03-01", "2011-06-01")] if args.early else []
    windows += [("2011-06-01", "2011-09-01")] if args.validation else []
    for cutoff, end in [*windows, (args.cutoff, args.end)]:
        if args.variant in ("A", "both"):
            evaluate_any(lines, cutoff, end, args.seed,
                         tuple(discovery_variant(value) for value in args.discovery.split(",") if value), args.ceiling)
            print()
        if args.variant in ("B", "both"):
            evaluate(lines, cutoff, end, args.seed)
            print()


def evaluate(lines: pd.DataFrame, cutoff_date: str, end_date: str, seed: int) -> None:
    """Train before ``cutoff_date``, evaluate on ``[cutoff_date, end_date)``; print the table."""
    t0 = time.perf_counter()
    train, data, pairs = split(lines, cutoff_date, end_date)
    bought = data.bought()
    pairs = pairs[bought[pairs.c.to_numpy(), pairs.p.to_numpy()] == 0]
    truth_by_customer = pairs.groupby("c")["p"].apply(set)
    customers = truth_by_customer.index.to_numpy()
    truth = list(truth_by_customer)
    print(f"Online Retail, train before {cutoff_date}, hold-out to {end_date}: train {len(train):,} lines, {data.n_customers:,} customers, "
          f"{data.n_products:,} products; evaluated customers {len(customers):,} "
          f"(with history, buying something new after the cut-off); {time.perf_counter() - t0:.1f} s to load")

    results: dict[str, dict[str, float]] = {}
    per_customer: dict[str, np.ndarray] = {}  # NDCG@10 of each evaluated customer, for the paired bootstrap

    start = time.perf_counter()
    ours = to_matrix(compute_recommendations(data, Params(recommend_n=K), explain=False), customers)
    results["customer-graph (ours)"] = {**metrics(ours, truth, data.n_products),
                                        "seconds": time.perf_counter() - start}
    per_customer["customer-graph (ours)"] = ndcg_per_customer(ours, truth)

    start = time.perf_counter()
    popularity = np.asarray(bought.sum(axis=0)).ravel()
    order = np.argsort(-popularity, kind="stable")
    pop = np.full((len(customers), K), -1, dtype=np.int64)
    for i, c in enumerate(customers):
        seen = set(bought.indices[bought.indptr[c]:bought.indptr[c + 1]].tolist())
        pop[i] = [p for p in order[:K + len(seen)] if p not in seen][:K]
    results["most popular"] = {**metrics(pop, truth, data.n_products), "seconds": time.perf_counter() - start}
    per_customer["most popular"] = ndcg_per_customer(pop, truth)

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
            listed = np.asarray(ids, dtype=np.int64)
            results[name] = {**metrics(listed, truth, data.n_products), "seconds": time.perf_counter() - start}
            per_customer[name] = ndcg_per_customer(listed, truth)

    print(f"\n{'recommender':<28} {'hit-rate@10':>12} {'NDCG@10':>9} {'coverage':>9} {'seconds':>8}")
    for name, m in results.items():
        print(f"{name:<28} {m['hit_rate@10']:>12.4f} {m['ndcg@10']:>9.4f} {m['coverage@10']:>9.3f} {m['seconds']:>8.1f}")
    base = results["customer-graph (ours)"]
    for name, m in results.items():
        if name != "customer-graph (ours)":
            print(f"ours / {name}: hit-rate x{base['hit_rate@10'] / m['hit_rate@10']:.2f}, "
                  f"NDCG x{base['ndcg@10'] / m['ndcg@10']:.2f}")
    best = max((name for name in results if name != "customer-graph (ours)"), key=lambda name: results[name]["ndcg@10"])
    low, high = paired_bootstrap(per_customer["customer-graph (ours)"], per_customer[best], seed)
    print(f"ours - {best} (best baseline): NDCG@10 {base['ndcg@10'] - results[best]['ndcg@10']:+.4f}, "
          f"95% interval [{low:+.4f}, {high:+.4f}]")


if __name__ == "__main__":
    main()
