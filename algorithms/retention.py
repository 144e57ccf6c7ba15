"""Retention: BG/NBD buy-till-you-die models, fitted by maximum likelihood.

Two variants share the code: BG/NBD (Fader, Hardie and Lee, 2005) and the modified MBG/NBD (Batislam,
Denizel and Filiztekin, 2007), where a customer may also drop out right after the first purchase. Under
BG/NBD a one-time buyer is "alive" with probability 1 whatever their age, which makes ``churnRisk`` useless
for exactly the customers a retailer most wants to win back; MBG/NBD fixes that and is the default.

Each customer is summarised by ``x`` (repeat purchases: purchase occasions after the first), ``t_x``
(time from the first to the last purchase) and ``T`` (time from the first purchase to the end of the
observation), all in the same unit (weeks here). While alive a customer buys as a Poisson process with
rate ``lambda ~ Gamma(r, alpha)``; after each purchase they drop out with probability ``p ~ Beta(a, b)``.
The log-likelihood below is vectorised over customers (and over unique ``(x, t_x, T)`` triples), and
fitted on log-parameters with ``scipy.optimize.minimize`` (L-BFGS-B).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

from graph_model.errors import CustomerGraphError

__all__ = ["BGNBD", "RetentionError", "expected_purchases", "fit_bgnbd", "fitting_summary", "p_alive", "rfm_summary"]


class RetentionError(CustomerGraphError):
    """The retention model could not be fitted (no repeat buyers, or the optimiser failed)."""


@dataclass(frozen=True)
class BGNBD:
    """Fitted BG/NBD parameters (time unit as in the data the model was fitted on)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    modified: bool = False

    @property
    def name(self) -> str:
        """``"mbgnbd"`` or ``"bgnbd"``."""
        return "mbgnbd" if self.modified else "bgnbd"


def log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                   weights: np.ndarray | None = None, *, modified: bool = False) -> float:
    """Total (MBG/NBD when ``modified``, else BG/NBD) log-likelihood of ``params = (r, alpha, a, b)``."""
    r, alpha, a, b = params
    x = np.asarray(x, dtype=np.float64)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    if modified:
        a2 = betaln(a, b + x + 1) - betaln(a, b) - (r + x) * np.log(alpha + T)
        a3 = betaln(a + 1, b + x) - betaln(a, b) - (r + x) * np.log(alpha + t_x)
        return float(np.sum((a1 + np.logaddexp(a2, a3)) * (1 if weights is None else weights)))
    a2 = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a3 = np.where(x > 0, betaln(a + 1, np.maximum(b + x - 1, 1e-12)) - betaln(a, b)
                      - (r + x) * np.log(alpha + t_x), -np.inf)
    ll = a1 + np.logaddexp(a2, a3)
    return float(np.sum(ll if weights is None else ll * weights))


def fitting_summary(x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                    model: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """The unique ``(x, t_x, T)`` triples with their counts (the likelihood is a weighted sum over them) and
    the scale that puts ``T`` near 10 for the optimiser, as ``lifetimes`` does; ``model`` names the model
    in the error raised when nobody bought twice.

    >>> gx, gt, gT, counts, scale = fitting_summary(np.array([1, 1, 0]), np.array([2, 2, 0]), np.array([5, 5, 5]), "BG/NBD")
    >>> gx.tolist(), counts.tolist(), scale
    ([1.0, 0.0], [2.0, 1.0], 2.0)
    """
    frame = pd.DataFrame({"x": np.asarray(x, float), "t_x": np.asarray(t_x, float), "T": np.asarray(T, float)})
    if not (frame.x > 0).any():
        raise RetentionError(f"{model} needs at least one customer with a repeat purchase")
    grouped = frame.groupby(["x", "t_x", "T"], sort=False).size().reset_index(name="n")
    gx, gt, gT, gw = (grouped[c].to_numpy(np.float64) for c in ("x", "t_x", "T", "n"))
    return gx, gt, gT, gw, 10.0 / max(float(gT.max()), 1e-9)


def fit_bgnbd(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, *, modified: bool = False, penalizer: float = 0.0,
              seed: int = 0) -> BGNBD:
    """Fit BG/NBD (or MBG/NBD when ``modified``) by maximum likelihood.

    Parameters
    ----------
    x, t_x, T : arrays
        Repeat purchases, time of the last purchase and length of observation, per customer.
    modified : bool
        Fit MBG/NBD instead of BG/NBD.
    penalizer : float
        L2 penalty on the parameters (0 = plain maximum likelihood).
    seed : int
        Seeds the jitter of the starting point.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> T = np.full(2000, 40.0); lam = rng.gamma(0.5, 1 / 5.0, 2000)
    >>> x = rng.poisson(lam * T * 0.6); t_x = np.where(x > 0, T * rng.uniform(0.3, 1, 2000), 0)
    >>> model = fit_bgnbd(x, t_x, T)
    >>> model.r > 0 and model.alpha > 0
    True
    """
    gx, gt, gT, gw, scale = fitting_summary(x, t_x, T, "BG/NBD")
    n = gw.sum()

    def objective(log_params: np.ndarray) -> float:
        params = np.exp(log_params)
        penalty = penalizer * float(np.sum(params ** 2))
        value = -log_likelihood(params, gx, gt * scale, gT * scale, gw, modified=modified) / n + penalty
        return value if np.isfinite(value) else 1e12

    rng = np.random.default_rng(seed)
    best = None
    for start in (np.zeros(4), rng.normal(0, 0.5, 4)):
        result = minimize(objective, start, method="L-BFGS-B", options={"ftol": 1e-12, "gtol": 1e-9})
        if best is None or result.fun < best.fun:
            best = result
    assert best is not None
    if not np.isfinite(best.fun):
        raise RetentionError(f"BG/NBD fit failed: {best.message}")
    r, alpha, a, b = np.exp(best.x)
    alpha /= scale
    ll = log_likelihood(np.array([r, alpha, a, b]), gx, gt, gT, gw, modified=modified)
    return BGNBD(r=float(r), alpha=float(alpha), a=float(a), b=float(b), log_likelihood=ll, modified=modified)


def _death_odds(model: BGNBD, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """``P(dropped out) / P(alive)`` given the history."""
    shift = 0.0 if model.modified else 1.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_ratio = np.log(model.a) - np.log(np.maximum(model.b + x - shift, 1e-12)) + (model.r + x) * (
            np.log(model.alpha + T) - np.log(model.alpha + t_x))
        odds = np.exp(np.minimum(log_ratio, 700))
    return odds if model.modified else np.where(x > 0, odds, 0.0)


def p_alive(model: BGNBD, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Probability that each customer is still active at ``T``.

    >>> m = BGNBD(r=0.24, alpha=4.41, a=0.79, b=2.43, log_likelihood=0.0)
    >>> p_alive(m, np.array([0, 5, 5]), np.array([0.0, 38.0, 5.0]), np.array([39.0, 39.0, 39.0])).round(3).tolist()
    [1.0, 0.878, 0.003]
    """
    x = np.asarray(x, dtype=np.float64)
    return 1.0 / (1.0 + _death_odds(model, x, np.asarray(t_x, np.float64), np.asarray(T, np.float64)))


def expected_purchases(model: BGNBD, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Expected number of purchases in the next ``t`` time units, given each customer's history.

    >>> m = BGNBD(r=0.24, alpha=4.41, a=0.79, b=2.43, log_likelihood=0.0)
    >>> expected_purchases(m, 39.0, np.array([0, 5]), np.array([0.0, 38.0]), np.array([39.0, 39.0])).round(2).tolist()
    [0.19, 3.34]
    """
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    x = np.asarray(x, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    z = t / (alpha + T + t)
    shift = 0.0 if model.modified else 1.0
    head = (a + b + x - shift) / (a - 1)
    tail = 1 - np.power((alpha + T) / (alpha + T + t), r + x) * hyp2f1(r + x, b + x + 1 - shift, a + b + x - shift, z)
    odds = _death_odds(model, x, np.asarray(t_x, np.float64), T)
    return np.nan_to_num(head * tail / (1 + odds), nan=0.0, posinf=0.0)


def rfm_summary(customer: np.ndarray, day: np.ndarray, as_of_day: float, *, unit_days: float = 7.0) -> pd.DataFrame:
    """``x, t_x, T`` per customer from purchase days (one purchase occasion per customer and day).

    ``day`` is a day number (e.g. days since 1970); times are returned in ``unit_days`` units.

    >>> rfm_summary(np.array(["a", "a", "a", "b"]), np.array([0, 0, 14, 7]), 28).values.tolist()
    [[1.0, 2.0, 4.0], [0.0, 0.0, 3.0]]
    """
    frame = pd.DataFrame({"customer": customer, "day": np.floor(np.asarray(day, dtype=np.float64))})
    frame = frame.drop_duplicates()
    grouped = frame.groupby("customer")["day"].agg(["min", "max", "count"])
    return pd.DataFrame({
        "x": (grouped["count"] - 1).astype(np.float64),
        "t_x": (grouped["max"] - grouped["min"]) / unit_days,
        "T": (as_of_day - grouped["min"]) / unit_days,
    }, index=grouped.index)
