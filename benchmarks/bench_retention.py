"""Retention quality on the CDNOW history: calibration then hold-out, ours vs the ``lifetimes`` BG/NBD.

CDNOW (data/cdnow/): 23,570 customers' purchases, Jan 1997 - Jun 1998. Calibration up to 1997-09-30,
hold-out 1997-10-01 .. 1998-06-30 (39 weeks). Purchase occasions are distinct (customer, day) pairs.
Both models are fitted on the same calibration summary (``x, t_x, T`` in weeks, from
``algorithms.retention.rfm_summary``) and predict each customer's hold-out purchases; also reported: a
naive baseline (calibration purchase rate x 39 weeks).

Reported per model: MAE and RMSE of predicted vs actual hold-out purchases per customer, Pearson
correlation, total predicted vs actual, AUC of "buys again in the hold-out" ranked by the prediction
(and by P(alive)), fit time.

Then the same models on the real Online Retail history with a time split (``--online-retail``, on by
default): fitted on purchases before 2011-09-10, the 90 days after as the hold-out: AUC of "buys in the
next 90 days", MAE of the number of purchase days, and the share of the hold-out revenue held by the top
decile of predicted value (expected purchases x the customer's mean order value), next to RFM (the
``rfmScore`` of :mod:`algorithms.segments`, as a number) and "most recent buyers first".

Then, on CDNOW, a ceiling for any model of the calibration data (``--no-ceiling`` skips it): gradient-boosted
models trained on the hold-out itself, 5-fold out-of-fold over customers, so they learn from the very period,
horizon and population they predict, which no real model can. Features: ``x, t_x, T``, recency, CDs and
dollars in all and in the first purchase, purchase days in the last 4 and 13 weeks, the gaps' mean, spread,
minimum and maximum, purchase days per 4-week bucket, and Pareto/NBD's own ``E[x*]``. A goal above these
figures cannot be met from this data by a better model.

Run: ``.venv/bin/python benchmarks/bench_retention.py`` (the lifetimes column needs the ``bench`` extra).
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.stats import pearsonr, rankdata  # noqa: E402

from algorithms import churn, pareto_nbd, retention  # noqa: E402

CDNOW = Path(__file__).resolve().parent.parent / "data" / "cdnow" / "CDNOW_master.txt.xz"
CALIBRATION_END = pd.Timestamp("1997-09-30")
HOLDOUT_END = pd.Timestamp("1998-06-30")


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties averaged)."""
    ranks = rankdata(score)
    n_pos = positive.sum()
    n_neg = positive.size - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def report(name: str, predicted: np.ndarray, alive: np.ndarray | None, actual: np.ndarray, seconds: float) -> None:
    bought_again = actual > 0
    error = predicted - actual
    alive_auc = f"{auc(alive, bought_again):.4f}" if alive is not None else "-"
    print(f"{name:<32} {np.abs(error).mean():>7.4f} {np.sqrt((error ** 2).mean()):>7.4f} "
          f"{pearsonr(predicted, actual)[0]:>7.4f} {predicted.sum():>9.0f} {actual.sum():>7.0f} "
          f"{auc(predicted, bought_again):>8.4f} {alive_auc:>9} {seconds:>7.2f}")


ONLINE_RETAIL_CUTOFF = pd.Timestamp("2011-09-10", tz="UTC")
HORIZON_DAYS = 90.0


def top_decile_share(score: np.ndarray, revenue: np.ndarray) -> float:
    """Share of ``revenue`` held by the 10% of customers with the highest ``score``."""
    top = np.argsort(-score, kind="stable")[:max(1, score.size // 10)]
    return float(revenue[top].sum() / max(revenue.sum(), 1e-12))


def online_retail() -> None:
    """Retention models on the real Online Retail history, 90-day hold-out after 2011-09-10."""
    from algorithms.segments import rfm_scores
    from benchmarks._retail import load_online_retail

    lines = load_online_retail()
    lines = lines[lines.customerId.notna()].assign(day=lambda f: f["at"] // 86_400,
                                                   value=lambda f: f.quantity * f.unitPrice)
    cut = ONLINE_RETAIL_CUTOFF.timestamp() // 86_400
    before, after = lines[lines.day < cut], lines[(lines.day >= cut) & (lines.day < cut + HORIZON_DAYS)]
    summary = retention.rfm_summary(before.customerId.to_numpy(), before.day.to_numpy(), cut)
    x, t_x, T = (summary[c].to_numpy(np.float64) for c in ("x", "t_x", "T"))
    index = summary.index
    actual = after.drop_duplicates(["customerId", "day"]).groupby("customerId").size().reindex(index, fill_value=0)
    actual = actual.to_numpy(np.float64)
    revenue = after.groupby("customerId").value.sum().reindex(index, fill_value=0.0).to_numpy(np.float64)
    orders = before.groupby("customerId").agg(orders=("orderId", "nunique"), spent=("value", "sum"),
                                              last=("day", "max")).reindex(index)
    order_value = (orders.spent / orders.orders).to_numpy(np.float64)
    recency = (cut - orders["last"]).to_numpy(np.float64)
    weeks = HORIZON_DAYS / 7.0
    print(f"\nOnline Retail: {len(index):,} customers with purchases before {ONLINE_RETAIL_CUTOFF:%Y-%m-%d}; "
          f"{int((actual > 0).sum()):,} buy in the next {HORIZON_DAYS:g} days")
    print(f"{'model':<32} {'AUC':>7} {'MAE':>7} {'top-decile revenue':>19}")
    predictions: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    for modified, label in ((True, "MBG/NBD"), (False, "BG/NBD")):
        model = retention.fit_bgnbd(x, t_x, T, modified=modified)
        predictions[f"ours {label}"] = (retention.expected_purchases(model, weeks, x, t_x, T), None)
    pareto = pareto_nbd.fit_pareto_nbd(x, t_x, T)
    predictions["ours Pareto/NBD"] = (pareto_nbd.expected_purchases(pareto, weeks, x, t_x, T), None)
    codes = pd.Index(index).get_indexer(before.customerId)
    risk = churn.predict(churn.fit(codes, before.day.to_numpy(), before.value.to_numpy(), cut, horizon=HORIZON_DAYS),
                         churn.customer_features(codes, before.day.to_numpy(), before.value.to_numpy(), cut))
    if risk is not None:
        predictions["ours churn classifier (1 - risk)"] = (1.0 - risk, None)
    scores = rfm_scores(recency, orders.orders.to_numpy(np.float64), orders.spent.to_numpy(np.float64))
    predictions["RFM score"] = (scores.rfmScore.astype(int).to_numpy(np.float64), None)
    predictions["most recent buyers first"] = (-recency, None)
    for name, (score, _) in predictions.items():
        count_model = not name.startswith(("RFM", "most recent", "ours churn"))
        mae = f"{np.abs(score - actual).mean():>7.4f}" if count_model else f"{'-':>7}"
        value = score * order_value if count_model else score
        print(f"{name:<32} {auc(score, actual > 0):>7.4f} {mae} {top_decile_share(value, revenue):>19.3f}")


def calibration_features(calibration: pd.DataFrame, index: pd.Index, end_day: int,
                         summary: pd.DataFrame) -> pd.DataFrame:
    """One row per customer of ``index``: what the calibration period says about them (see the docstring)."""
    daily = (calibration.groupby(["customer_id", "day"])
             .agg(cds=("number_of_cds", "sum"), dollars=("dollar_value", "sum")).reset_index()
             .sort_values(["customer_id", "day"]))
    by_customer = daily.groupby("customer_id")
    first = by_customer.first().reindex(index)
    gaps = daily.assign(gap=by_customer.day.diff()).groupby("customer_id").gap.agg(["mean", "std", "min", "max"])

    def days_since(days: int) -> np.ndarray:
        return daily[daily.day > end_day - days].groupby("customer_id").size().reindex(index, fill_value=0).to_numpy()

    buckets = pd.crosstab(daily.customer_id, ((end_day - daily.day) // 28).clip(upper=9)).reindex(index, fill_value=0)
    frame = pd.DataFrame({
        "x": summary.x, "t_x": summary.t_x, "T": summary["T"], "recency": summary["T"] - summary.t_x,
        "cds": by_customer.cds.sum().reindex(index), "dollars": by_customer.dollars.sum().reindex(index),
        "first_cds": first.cds, "first_dollars": first.dollars,
        "days_last_13_weeks": days_since(91), "days_last_4_weeks": days_since(28),
    }, index=index)
    frame[["gap_mean", "gap_std", "gap_min", "gap_max"]] = gaps.reindex(index).to_numpy()
    frame[[f"days_bucket_{b}" for b in buckets.columns]] = buckets.to_numpy()
    return frame


def hold_out_ceiling(features: pd.DataFrame, actual: np.ndarray, folds: int = 5) -> None:
    """Models trained on the hold-out itself, out of fold: an upper bound for a model of these features."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.model_selection import KFold

    X, bought = features.to_numpy(np.float64), actual > 0
    settings = {"max_iter": 300, "learning_rate": 0.05, "max_leaf_nodes": 8}
    buys, expected, median = (np.zeros(actual.size) for _ in range(3))
    for train, test in KFold(folds, shuffle=True, random_state=0).split(X):
        buys[test] = HistGradientBoostingClassifier(**settings).fit(X[train], bought[train]).predict_proba(X[test])[:, 1]
        expected[test] = HistGradientBoostingRegressor(loss="poisson", **settings).fit(X[train], actual[train]).predict(X[test])
        median[test] = (HistGradientBoostingRegressor(loss="absolute_error", **settings)
                        .fit(X[train], actual[train]).predict(X[test]))
    print(f"\nCeiling: trained on the hold-out itself ({folds}-fold, out of fold; {features.shape[1]} features incl. "
          "Pareto/NBD's E[x*])")
    print(f"{'model':<44} {'MAE':>7} {'AUC':>7}")
    print(f"{'classifier P(buys in the hold-out)':<44} {'-':>7} {auc(buys, bought):>7.4f}")
    print(f"{'Poisson regression (an expectation, as E[x*])':<44} {np.abs(expected - actual).mean():>7.4f} "
          f"{auc(expected, bought):>7.4f}")
    print(f"{'absolute-error regression (a median)':<44} {np.abs(median - actual).mean():>7.4f} {'-':>7}")


def main() -> None:
    raw = pd.read_csv(CDNOW, sep=r"\s+", compression="xz", dtype={"customer_id": str, "date": str})
    raw["day"] = (pd.to_datetime(raw["date"], format="%Y%m%d") - pd.Timestamp("1970-01-01")).dt.days
    end_day = (CALIBRATION_END - pd.Timestamp("1970-01-01")).days
    holdout_end_day = (HOLDOUT_END - pd.Timestamp("1970-01-01")).days
    calibration = raw[raw.day <= end_day]
    holdout = raw[(raw.day > end_day) & (raw.day <= holdout_end_day)]
    summary = retention.rfm_summary(calibration.customer_id.to_numpy(), calibration.day.to_numpy(), end_day)
    actual = (holdout.drop_duplicates(["customer_id", "day"]).groupby("customer_id").size()
              .reindex(summary.index, fill_value=0).to_numpy(np.float64))
    weeks = (holdout_end_day - end_day) / 7.0
    x, t_x, T = (summary[c].to_numpy(np.float64) for c in ("x", "t_x", "T"))
    print(f"CDNOW: {len(summary):,} customers, {len(raw):,} transactions; calibration to {CALIBRATION_END:%Y-%m-%d}, "
          f"hold-out {weeks:.1f} weeks; {int((actual > 0).sum()):,} customers buy again in the hold-out")

    rows = []
    params = {}
    try:
        from lifetimes import BetaGeoFitter, ModifiedBetaGeoFitter
    except ImportError:
        print("lifetimes is not installed (pip install -e '.[bench]'): reference skipped")
        references = {}
    else:
        references = {False: BetaGeoFitter, True: ModifiedBetaGeoFitter}
    for modified, label in ((False, "BG/NBD"), (True, "MBG/NBD")):
        start = time.perf_counter()
        ours = retention.fit_bgnbd(x, t_x, T, modified=modified)
        pred = retention.expected_purchases(ours, weeks, x, t_x, T)
        alive = retention.p_alive(ours, x, t_x, T)
        rows.append((f"ours {label}", pred, alive, time.perf_counter() - start))
        params[f"ours {label}"] = (ours.r, ours.alpha, ours.a, ours.b, ours.log_likelihood)
        if modified in references:
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                reference = references[modified](penalizer_coef=0.0).fit(x, t_x, T)
                ref_pred = np.asarray(reference.conditional_expected_number_of_purchases_up_to_time(weeks, x, t_x, T))
                ref_alive = np.asarray(reference.conditional_probability_alive(x, t_x, T))
            rows.append((f"lifetimes 0.11.3 {label}", ref_pred, ref_alive, time.perf_counter() - start))
            p = reference.params_
            ll = retention.log_likelihood(np.array([p["r"], p["alpha"], p["a"], p["b"]]), x, t_x, T, modified=modified)
            params[f"lifetimes 0.11.3 {label}"] = (p["r"], p["alpha"], p["a"], p["b"], ll)
            print(f"{label}: largest per-customer difference ours vs lifetimes: "
                  f"{np.abs(pred - ref_pred).max():.2e} purchases, {np.abs(alive - ref_alive).max():.2e} P(alive)")

    start = time.perf_counter()
    pareto = pareto_nbd.fit_pareto_nbd(x, t_x, T)
    rows.append(("ours Pareto/NBD", pareto_nbd.expected_purchases(pareto, weeks, x, t_x, T),
                 pareto_nbd.p_alive(pareto, x, t_x, T), time.perf_counter() - start))
    params["ours Pareto/NBD"] = (pareto.r, pareto.alpha, pareto.s, pareto.beta, pareto.log_likelihood)
    if references:
        from lifetimes import ParetoNBDFitter

        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference = ParetoNBDFitter(penalizer_coef=0.0).fit(x, t_x, T)
            ref_pred = np.asarray(reference.conditional_expected_number_of_purchases_up_to_time(weeks, x, t_x, T))
            ref_alive = np.asarray(reference.conditional_probability_alive(x, t_x, T))
        rows.append(("lifetimes 0.11.3 Pareto/NBD", ref_pred, ref_alive, time.perf_counter() - start))
        p = reference.params_
        params["lifetimes 0.11.3 Pareto/NBD"] = (p["r"], p["alpha"], p["s"], p["beta"], pareto_nbd.log_likelihood(
            np.array([p["r"], p["alpha"], p["s"], p["beta"]]), x, t_x, T))

    rate = np.where(T > 0, x / np.maximum(T, 1e-9), 0.0)
    rows.append(("naive: calibration rate x 39 wk", rate * weeks, None, 0.0))

    print(f"\n{'model':<32} {'MAE':>7} {'RMSE':>7} {'corr':>7} {'predicted':>9} {'actual':>7} {'AUC(E)':>8} "
          f"{'AUC(P)':>9} {'fit s':>7}")
    for name, predicted, p_alive, seconds in rows:
        report(name, predicted, p_alive, actual, seconds)
    print()
    for name, (r, alpha, a, b, ll) in params.items():
        shape = "s, beta" if "Pareto" in name else "a, b"
        print(f"{name:<32} r={r:.4f} alpha={alpha:.4f} {shape}={a:.4f}, {b:.4f} log-likelihood={ll:.2f}")

    if "--no-ceiling" not in sys.argv:
        features = calibration_features(calibration, summary.index, end_day, summary)
        features["pareto_nbd"] = pareto_nbd.expected_purchases(pareto, weeks, x, t_x, T)
        hold_out_ceiling(features, actual)


if __name__ == "__main__":
    main()
    if "--no-online-retail" not in sys.argv:
        online_retail()
