"""Issue 19 experiment: one learned ranker over the customer's past products and the top-K discoveries.

Not what the product runs (nothing here was kept; see docs/algorithms.md, "Measured"): it reproduces the
figures of the two-stage approach tried against ``bench_recommend.py``'s variant A (any product,
relevant = everything bought after the cut-off) and variant B (new products only), on the same windows.

Candidates per customer: every product bought before (the features of :mod:`algorithms.buy_again`) and
the top ``--k`` discoveries of :func:`algorithms.pipeline.compute_recommendations` (its score, rank, and
weighted parts), with, for both kinds, the customer's rhythm, the product's repeat nature and trend,
``new_share`` (the share of the (product, day) entries of the customer's later shopping days that were
first purchases), ``customer_age`` (days since the first purchase) and, in the ``parts`` experiments, the
normalised EASE / affinity / similar-shopper / popularity parts computed for every candidate, bought
before or not (:func:`pair_parts`). Label: bought in the next 90 days. Training: the same candidates
built on :meth:`algorithms.features.Interactions.before` snapshots of the training data, for the
buy-again model's windows (``algorithms._learning.learning_windows``: features as of ``end - horizon``,
label in ``[end - horizon, end)``, windows ending at the cut-off and one and two months before), a
``HistGradientBoostingClassifier`` as buy again's (300 trees of 4 leaves), on a seeded sample of at most
300,000 rows. Lists: candidates by predicted probability, filled with the most popular products like the
benchmark's; ``B:`` lists hold the discoveries only. The baselines (``BUY_AGAIN``, ``MIXED``,
``B:discover``) are the product's, as ``bench_recommend.py`` computes them.

Experiments (``--exp``, comma-separated): ``joint`` (one ranker, no parts), ``joint_parts``,
``joint_parts_age``, ``joint_parts@SEED`` (150,000 rows sampled with SEED), ``joint_parts_small`` (100
trees, rate 0.1), ``joint_parts_newest`` (newest window only), ``stack`` (joint plus the buy-again model's
probability as a feature), ``split`` (buy-again probability for past products, a ranker trained on
discoveries only for the others, one order of probability), ``split_parts``, ``past_only`` /
``past_parts`` (re-orders and discoveries each by its own ranker; ``BA[...]`` is the re-order list
alone), ``new_parts_age`` (a ranker trained on discoveries only; its ``B:`` list is variant B),
``new_parts_age@SEED``, ``new_parts_age_w0`` (newest window only).

Run: ``.venv/bin/python benchmarks/bench_rank_candidates.py --windows early,validation --k 50 --exp joint``
(``--windows main`` evaluates the main window; ``--cache DIR`` keeps the candidate frames between runs).
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from algorithms import buy_again  # noqa: E402
from algorithms.features import Interactions  # noqa: E402
from algorithms.pipeline import Params, compute_buy_again, compute_recommendations  # noqa: E402
from api.blend import Blended, mix  # noqa: E402
from benchmarks._retail import load_online_retail  # noqa: E402
from benchmarks.bench_recommend import K, metrics, split  # noqa: E402

CUSTOMER_COLS = ["customer_days", "customer_since", "customer_cycle", "recent_days", "customer_products", "basket"]
PART_COLS = ["p_ease", "p_aff", "p_neigh", "p_pop"]
DISCOVERY_COLS = ["d_score", "d_rank", "d_item", "d_neighbour", "d_pop"]


def new_share(own: pd.DataFrame) -> pd.Series:
    """Per customer: share of (product, day) entries on later shopping days that were first-time products."""
    frame = own.assign(day=np.floor(own.day)).drop_duplicates(["customer", "product", "day"])
    first_c = frame.groupby("customer").day.transform("min")
    first_p = frame.groupby(["customer", "product"]).day.transform("min")
    later = frame[frame.day > first_c]
    is_new = (later.day == first_p[later.index])
    return is_new.groupby(later.customer).mean()


def candidates(data: Interactions, k: int, seed: int = 42) -> pd.DataFrame:
    """Past pairs (buy-again features) + top-k discoveries, one frame."""
    own = data.known_purchases()
    aggregates = (own.customer.to_numpy(), own["product"].to_numpy(), own.day.to_numpy())
    past = buy_again.repurchase_features(*aggregates, data.as_of_day, quantity=own.quantity.to_numpy(),
                                         value=own["value"].to_numpy(), aggregates=aggregates)
    past["past"] = 1.0
    disc = compute_recommendations(data, Params(recommend_n=k), explain=False)
    disc = disc.rename(columns={"score": "d_score", "rank": "d_rank", "item_part": "d_item",
                                "neighbour_part": "d_neighbour"})
    disc["d_pop"] = disc.d_score - disc.d_item - disc.d_neighbour
    disc = disc[["customer", "product", *DISCOVERY_COLS]]
    disc["past"] = 0.0
    customers = past.groupby("customer")[CUSTOMER_COLS].first()
    customers["new_share"] = new_share(own)
    products = buy_again.product_features(aggregates, data.as_of_day)
    disc = disc.join(customers, on="customer").join(products, on="product")
    for column in ("recent_buyers", "product_buyers", "product_trend"):
        disc[column] = disc[column].fillna(0.0)
    past = past.join(customers[["new_share"]], on="customer")
    out = pd.concat([past.drop(columns=["last"]), disc], ignore_index=True)
    out["customer_age"] = data.as_of_day - out.customer.map(own.groupby("customer").day.min()).to_numpy()
    parts = pair_parts(data, out.customer.to_numpy(np.int64), out["product"].to_numpy(np.int64))
    return pd.concat([out, parts], axis=1)


def pair_parts(data: Interactions, cust: np.ndarray, prod: np.ndarray, params: Params | None = None) -> pd.DataFrame:
    """The normalised EASE, affinity, similar-shopper parts and popularity of given (customer, product) pairs."""
    import scipy.sparse as sp

    from algorithms import recommend
    from algorithms.pipeline import (
        compute_similarity,
        recent_popularity,
        recommendation_item_similarity,
        similarity_matrix,
    )
    from algorithms.recommend import _row_peak
    params = params or Params()
    aggregates, own = data.for_aggregates, data.for_personalisation
    _, item_similarity = recommendation_item_similarity(aggregates, params)
    edges = compute_similarity(data, params, k=params.neighbours_for_recommend)
    customer_similarity = similarity_matrix(edges, data.n_customers).astype(np.float32)
    bought = own.bought().astype(np.float32)
    history = own.history(half_life_days=params.half_life_days).astype(np.float32)
    buyers = np.asarray(bought.sum(axis=0)).ravel()
    pop = recent_popularity(aggregates.known_purchases(), data.n_products, data.as_of_day, params)
    pop = pop / pop.max()
    model_items = np.sort(np.argsort(-buyers, kind="stable")[:min(params.ease_max_products, int((buyers > 0).sum()))])
    fitted_on = aggregates.recency(half_life_days=params.ease_half_life_days, purchases_only=True)
    model = recommend.ease(sp.csr_array(fitted_on[:, model_items]), params.ease_l2)
    model_history = sp.csr_array(own.recency(half_life_days=params.ease_half_life_days)[:, model_items],
                                 dtype=np.float32)
    out = np.zeros((len(cust), 3))
    order = np.argsort(cust, kind="stable")
    cust_s, prod_s = cust[order], prod[order]
    pos = np.full(data.n_products, -1)
    pos[model_items] = np.arange(model_items.size)
    uniq = np.unique(cust_s)
    for start in range(0, uniq.size, 1024):
        rows = uniq[start:start + 1024]
        lo, hi = np.searchsorted(cust_s, [rows[0], rows[-1] + 1])
        local = np.searchsorted(rows, cust_s[lo:hi])
        pp = prod_s[lo:hi]
        raw = sp.csr_array(history[rows] @ item_similarity).toarray()
        aff = raw[local, pp] / _row_peak(raw)[local, 0]
        raw = np.asarray(model_history[rows] @ model, dtype=np.float32)
        inside = pos[pp] >= 0
        ease_part = np.zeros(hi - lo)
        ease_part[inside] = raw[local[inside], pos[pp[inside]]] / _row_peak(raw)[local[inside], 0]
        raw = sp.csr_array(customer_similarity[rows] @ bought).toarray()
        neigh = raw[local, pp] / _row_peak(raw)[local, 0]
        out[order[lo:hi]] = np.column_stack([ease_part, aff, neigh])
    return pd.DataFrame({"p_ease": out[:, 0], "p_aff": out[:, 1], "p_neigh": out[:, 2], "p_pop": pop[prod]})


def label(data: Interactions, frame: pd.DataFrame, start: float, end: float) -> np.ndarray:
    p = data.known_purchases()
    p = p[(p.day >= start) & (p.day < end)]
    bought = pd.MultiIndex.from_arrays([p.customer.to_numpy(np.int64), p["product"].to_numpy(np.int64)])
    pairs = pd.MultiIndex.from_arrays([frame.customer.to_numpy(np.int64), frame["product"].to_numpy(np.int64)])
    return pairs.isin(bought)


def window_data(lines: pd.DataFrame | None, cutoff: str, end: str, k: int, shifts: tuple[float, ...],
                cache: Path | None, horizon: float = 90.0) -> dict:
    """Training and test candidates of one window, the product's own lists, and what evaluation needs."""
    key = cache / f"{cutoff}_{k}_{'-'.join(str(int(s)) for s in shifts)}.pkl" if cache else None
    if key is not None and key.exists():
        return pickle.loads(key.read_bytes())
    assert lines is not None
    _, data, pairs = split(lines, cutoff, end)
    t = time.perf_counter()
    train = []
    from algorithms._learning import learning_windows
    horizon, ends = learning_windows(data.known_purchases().day.to_numpy(), as_of=data.as_of_day, horizon=horizon)
    ends = [e for e in ends if data.as_of_day - e in shifts]
    for stop in ends:
        shift = data.as_of_day - stop
        cut = float(np.ceil(stop - horizon))
        earlier = data.before(cut)
        frame = candidates(earlier, k)
        frame["y"] = label(data, frame, cut, float(np.ceil(stop)))
        frame["window"] = shift
        train.append(frame)
    train_frame = pd.concat(train, ignore_index=True)
    t_train = time.perf_counter() - t
    t = time.perf_counter()
    test = candidates(data, k)
    t_test = time.perf_counter() - t
    again, model = compute_buy_again(data, Params(buy_again_n=20))
    for frame in (train_frame, test):
        frame["ba"] = np.nan
        is_past = (frame.past == 1).to_numpy()
        frame.loc[is_past, "ba"] = buy_again.predict(model, frame[is_past])
    disc20 = compute_recommendations(data, Params(recommend_n=20), explain=False)
    popular = np.argsort(-np.asarray(data.bought().sum(axis=0)).ravel(), kind="stable")[:60]
    result = dict(train=train_frame, test=test, pairs=pairs, again=again, disc20=disc20, popular=popular,
                  bought=data.bought(), n_products=data.n_products, t_train=t_train, t_test=t_test)
    if key is not None:
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_bytes(pickle.dumps(result))
    return result


def ranked_lists(frame: pd.DataFrame, score: np.ndarray, width: int = 20) -> pd.Series:
    f = frame[["customer", "product"]].assign(s=score).sort_values(["customer", "s"], ascending=[True, False],
                                                                 kind="stable")
    f = f.groupby("customer").head(width)
    return f.groupby("customer")["product"].apply(list)


def filled(own: list[int], popular: np.ndarray, width: int = 20, exclude: set[int] | None = None) -> list[int]:
    out = list(dict.fromkeys(own))[:width]
    for p in popular:
        if len(out) >= width:
            break
        if p not in out and (exclude is None or p not in exclude):
            out.append(int(p))
    return out + [-1] * (width - len(out))


def evaluate(w: dict, lists: dict[str, pd.Series], label_text: str) -> None:
    pairs, popular, bought = w["pairs"], w["popular"], w["bought"]
    truth_a = pairs.groupby("c")["p"].apply(set)
    customers = truth_a.index.to_numpy()
    newpairs = pairs[bought[pairs.c.to_numpy(), pairs.p.to_numpy()] == 0]
    truth_b = newpairs.groupby("c")["p"].apply(set)
    for name, by in lists.items():
        if name.startswith("B:"):
            rec = np.array([filled(by.get(c, []), popular, exclude=set(bought.indices[bought.indptr[c]:
                                                                                      bought.indptr[c + 1]].tolist()))
                            for c in truth_b.index])
            m = metrics(rec[:, :K], list(truth_b), w["n_products"])
        else:
            rec = np.array([filled(by.get(c, []), popular) for c in customers])
            m = metrics(rec[:, :K], list(truth_a), w["n_products"])
        print(f"{label_text} {name:<40} hit@10 {m['hit_rate@10']:.4f} NDCG@10 {m['ndcg@10']:.4f}", flush=True)


def baselines(w: dict) -> dict[str, pd.Series]:
    again, disc20 = w["again"], w["disc20"]
    again_by = again.groupby("customer")["product"].apply(list)
    prob_by = again.groupby("customer")["probability"].apply(list)
    disc_by = disc20.sort_values(["customer", "rank"]).groupby("customer")["product"].apply(list)
    customers = sorted(set(again_by.index) | set(disc_by.index))

    def items(codes, scores):
        return [Blended(sku=str(c), product={}, score=s) for c, s in zip(codes, scores, strict=True)]

    mixed = {}
    for c in customers:
        a = items(again_by.get(c, []), prob_by.get(c, []))
        d = items(disc_by.get(c, []), [0.0] * len(disc_by.get(c, [])))
        ten = [int(i.sku) for i in mix(a, d, first=K)]
        mixed[c] = list(dict.fromkeys(ten + [int(i.sku) for i in mix(a, d, first=20)]))
    return {"BUY_AGAIN": again_by, "MIXED": pd.Series(mixed), "B:discover": disc_by}


def fit_predict(train: pd.DataFrame, test: pd.DataFrame, features: list[str], seed: int = 42,
                max_rows: int = 300_000, leaves: int = 4, iters: int = 300, lr: float = 0.05,
                subset: pd.Series | None = None) -> np.ndarray:
    from sklearn.ensemble import HistGradientBoostingClassifier
    if subset is not None:
        train = train[subset]
    features = [f for f in features if train[f].notna().any()]
    if len(train) > max_rows:
        keep = np.sort(np.random.default_rng(seed).choice(len(train), max_rows, replace=False))
        train = train.iloc[keep]
    clf = HistGradientBoostingClassifier(max_iter=iters, learning_rate=lr, max_leaf_nodes=leaves,
                                         min_samples_leaf=40, l2_regularization=1.0, early_stopping=False,
                                         random_state=seed)
    clf.fit(train[features].to_numpy(np.float64), train["y"].to_numpy())
    return clf.predict_proba(test[features].to_numpy(np.float64))[:, 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--windows", default="early,validation")
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--shifts", default="0,30,60")
    parser.add_argument("--exp", default="joint")
    parser.add_argument("--cache", type=Path, default=None, help="keep the candidate frames in this folder")
    args = parser.parse_args()
    all_windows = {"early": ("2011-03-01", "2011-06-01"), "validation": ("2011-06-01", "2011-09-01"),
                   "main": ("2011-09-01", "2012-01-01")}
    shifts = tuple(float(s) for s in args.shifts.split(","))
    lines = None
    for name in args.windows.split(","):
        cutoff, end = all_windows[name]
        key = args.cache / f"{cutoff}_{args.k}_{'-'.join(str(int(s)) for s in shifts)}.pkl" if args.cache else None
        if (key is None or not key.exists()) and lines is None:
            lines = load_online_retail()
        t = time.perf_counter()
        w = window_data(lines, cutoff, end, args.k, shifts, args.cache)
        print(f"[{name}] data {time.perf_counter() - t:.1f}s (train cands {w['t_train']:.1f}s, test {w['t_test']:.1f}s)"
              f" train rows {len(w['train']):,} pos {w['train'].y.mean():.4f}, test rows {len(w['test']):,}",
              flush=True)
        train, test = w["train"], w["test"]
        base_feats = buy_again.FEATURES + ["past", "new_share"] + DISCOVERY_COLS
        lists = dict(baselines(w))
        exps = args.exp.split(",")
        for exp in exps:
            t = time.perf_counter()
            feats = list(base_feats)
            kwargs: dict = {}
            new_feats = [f for f in feats if f not in buy_again.FEATURES or f in CUSTOMER_COLS
                         or f in buy_again.PRODUCT_FEATURES]
            if exp == "joint":
                pass
            elif exp == "joint_parts":
                feats = feats + PART_COLS
            elif exp.startswith("joint_parts@"):
                feats = feats + PART_COLS
                kwargs = dict(seed=int(exp.split("@")[1]), max_rows=150_000)
            elif exp == "joint_parts_age":
                feats = feats + PART_COLS + ["customer_age"]
            elif exp == "joint_parts_small":
                feats = feats + PART_COLS
                kwargs = dict(iters=100, lr=0.1)
            elif exp == "joint_parts_newest":
                feats = feats + PART_COLS
                kwargs = dict(subset=train.window == train.window.min())
            elif exp == "stack":
                feats = feats + ["ba"]
            elif exp in ("split", "split_parts"):
                feats = new_feats + (PART_COLS if exp == "split_parts" else [])
                kwargs = dict(subset=train.past == 0)
            elif exp.startswith("new_parts_age"):
                feats = feats + PART_COLS + ["customer_age"]
                subset = train.past == 0
                if exp.endswith("_w0"):
                    subset &= train.window == 0
                kwargs = dict(subset=subset, seed=int(exp.split("@")[1]) if "@" in exp else 42)
            elif exp in ("past_parts", "past_only"):
                pf = buy_again.FEATURES + (PART_COLS if exp == "past_parts" else [])
                past_score = fit_predict(train, test, pf, subset=train.past == 1)
                new_score = fit_predict(train, test, new_feats + PART_COLS, subset=train.past == 0)
                score = np.where(test.past == 1, past_score, new_score)
                lists[f"rank[{exp}]"] = ranked_lists(test, score)
                is_past = (test.past == 1).to_numpy()
                lists[f"BA[{exp}]"] = ranked_lists(test[is_past], score[is_past])
                continue
            else:
                raise SystemExit(f"unknown experiment {exp}")
            score = fit_predict(train, test, feats, **kwargs)
            if exp.startswith("split"):
                score = np.where(test.past == 1, test.ba, score)
            lists[f"rank[{exp}]"] = ranked_lists(test, score)
            is_new = (test.past == 0).to_numpy()
            lists[f"B:rank[{exp}]"] = ranked_lists(test[is_new], score[is_new])
            print(f"  fit {exp} {time.perf_counter() - t:.1f}s", flush=True)
        evaluate(w, lists, f"[{name}]")


if __name__ == "__main__":
    main()
