"""Retention: the Pareto/NBD model (Schmittlein, Morrison and Colombo, 1987), fitted by maximum likelihood.

Each customer is summarised as for BG/NBD (:func:`algorithms.retention.rfm_summary`): ``x`` repeat
purchases, ``t_x`` time of the last one, ``T`` length of observation, from the first purchase. While
alive a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``; their lifetime is
exponential with rate ``mu ~ Gamma(s, beta)`` (dropping out may happen at any time, not only right after a
purchase as in BG/NBD). With ``rsx = r + s + x`` the likelihood (Fader, Hardie and Lee, "A note on
deriving the Pareto/NBD model and related expressions", 2005) is::

    L = Γ(r+x) α^r β^s / Γ(r) · [ 1 / ((α+T)^(r+x) (β+T)^s) + s / rsx · A0 ]
    A0 = F(t_x) - F(T),   F(t) = 2F1(rsx, k; rsx+1; |α-β| / (m+t)) / (m+t)^rsx

with ``m = max(α, β)`` and ``k = s+1`` when ``α >= β``, else ``k = r+x``. Then::

    P(alive) = 1 / (1 + s / rsx · (α+T)^(r+x) (β+T)^s · A0)
    E[X(t)]  = P(alive) · (r+x)(β+T) / ((α+T)(s-1)) · (1 - ((β+T)/(β+T+t))^(s-1))

``A0`` is taken in logs (a difference of two positive terms), as the ``lifetimes`` library does;
``benchmarks/bench_retention.py`` compares the fit with ``lifetimes``' on CDNOW.

>>> m = ParetoNBD(r=0.55, alpha=10.58, s=0.61, beta=11.67, log_likelihood=0.0)
>>> x, t_x, T = np.array([0.0, 2.0, 2.0]), np.array([0.0, 30.0, 2.0]), np.array([38.0, 38.0, 38.0])
>>> p_alive(m, x, t_x, T).round(3).tolist()
[0.299, 0.874, 0.074]
>>> expected_purchases(m, 39.0, x, t_x, T).round(3).tolist()
[0.109, 1.482, 0.126]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1, logsumexp

from algorithms.retention import RetentionError, fitting_summary

__all__ = ["ParetoNBD", "expected_purchases", "fit_pareto_nbd", "log_likelihood", "p_alive"]


LOG_BOUNDS = (-7.0, 7.0)  # parameters within e^±7 of the unit where T is ~10 (a flat drop-out surface stays finite)


@dataclass(frozen=True)
class ParetoNBD:
    """Fitted Pareto/NBD parameters (time unit as in the data the model was fitted on)."""

    r: float
    alpha: float
    s: float
    beta: float
    log_likelihood: float

    name = "paretonbd"


def _log_a0(r: float, alpha: float, s: float, beta: float, x: np.ndarray, t_x: np.ndarray,
            T: np.ndarray) -> np.ndarray:
    """``log A0`` (see the module doc), vectorised over customers."""
    if alpha >= beta:
        high, low, k = alpha, beta, s + 1.0
    else:
        high, low, k = beta, alpha, r + x
    rsx = r + s + x
    q1, q2 = high + t_x, high + T
    p1 = hyp2f1(rsx, k, rsx + 1.0, (high - low) / q1)
    p2 = hyp2f1(rsx, k, rsx + 1.0, (high - low) / q2)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.stack([np.log(p1) + rsx * np.log(q2), np.log(p2) + rsx * np.log(q1)])
        signs = np.stack([np.ones_like(rsx * q1), -np.ones_like(rsx * q1)])
        return logsumexp(terms, axis=0, b=signs) - rsx * np.log(q1 * q2)


def log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                   weights: np.ndarray | None = None) -> float:
    """Total log-likelihood of ``params = (r, alpha, s, beta)``."""
    r, alpha, s, beta = params
    x = np.asarray(x, dtype=np.float64)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive_all_along = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    dropped = np.log(s) - np.log(r + s + x) + _log_a0(r, alpha, s, beta, x, t_x, T)
    with np.errstate(invalid="ignore"):  # the optimiser may try parameters where a term is not finite
        ll = a1 + np.logaddexp(alive_all_along, dropped)
    return float(np.sum(ll if weights is None else ll * weights))


def fit_pareto_nbd(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, *, seed: int = 0) -> ParetoNBD:
    """Fit Pareto/NBD by maximum likelihood (L-BFGS-B on log-parameters, unique ``(x, t_x, T)`` weighted).

    >>> rng = np.random.default_rng(3)
    >>> lam, mu = rng.gamma(1.0, 1 / 4.0, 3000), rng.gamma(1.0, 1 / 20.0, 3000)
    >>> T = np.full(3000, 40.0); life = np.minimum(rng.exponential(1 / mu), T)
    >>> x = rng.poisson(lam * life); t_x = np.where(x > 0, life * rng.uniform(0.5, 1, 3000), 0.0)
    >>> model = fit_pareto_nbd(x, t_x, T)
    >>> bool(model.r > 0 and model.s > 0 and np.isfinite(model.log_likelihood))
    True
    """
    gx, gt, gT, gw, scale = fitting_summary(x, t_x, T, "Pareto/NBD")  # alpha and beta scale back afterwards
    n = gw.sum()

    def objective(log_params: np.ndarray) -> float:
        value = -log_likelihood(np.exp(log_params), gx, gt * scale, gT * scale, gw) / n
        return value if np.isfinite(value) else 1e12

    rng = np.random.default_rng(seed)
    best = None
    for start in (np.zeros(4), rng.normal(0, 0.5, 4)):
        # ftol 1e-10: on a flat drop-out surface (s and beta growing together) a tighter tolerance bought
        # thousands of evaluations (19 s on 16,000 customers) for a likelihood change in the 8th digit
        result = minimize(objective, start, method="L-BFGS-B", bounds=[LOG_BOUNDS] * 4,
                          options={"ftol": 1e-10, "gtol": 1e-7, "maxiter": 500})
        if best is None or result.fun < best.fun:
            best = result
        if result.success:
            break  # the second start is a fallback, not a second opinion
    assert best is not None
    if best.fun >= 1e12:
        raise RetentionError(f"Pareto/NBD fit failed: {best.message}")
    r, alpha, s, beta = np.exp(best.x)
    alpha, beta = alpha / scale, beta / scale
    ll = log_likelihood(np.array([r, alpha, s, beta]), gx, gt, gT, gw)
    return ParetoNBD(r=float(r), alpha=float(alpha), s=float(s), beta=float(beta), log_likelihood=ll)


def p_alive(model: ParetoNBD, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Probability that each customer is still active at ``T``."""
    r, alpha, s, beta = model.r, model.alpha, model.s, model.beta
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    log_odds = (np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + T) + s * np.log(beta + T)
                + _log_a0(r, alpha, s, beta, x, t_x, T))
    return 1.0 / (1.0 + np.exp(np.minimum(log_odds, 700.0)))


def expected_purchases(model: ParetoNBD, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Expected number of purchases in the next ``t`` time units, given each customer's history."""
    r, alpha, s, beta = model.r, model.alpha, model.s, model.beta
    x, T = np.asarray(x, dtype=np.float64), np.asarray(T, dtype=np.float64)
    rate = (r + x) * (beta + T) / ((alpha + T) * (s - 1.0))
    horizon = 1.0 - np.power((beta + T) / (beta + T + t), s - 1.0)
    return np.nan_to_num(rate * horizon * p_alive(model, x, t_x, T), nan=0.0, posinf=0.0)
