"""The maths of each family on tiny inputs with known answers (no database)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from algorithms import affinity, recommend, retention, segments, similarity, trends
from algorithms._sparse import top_k_per_row
from algorithms.features import build_interactions
from algorithms.pipeline import (
    Params,
    compute_affinity,
    compute_recommendations,
    compute_retention,
    compute_segments,
    compute_similarity,
    compute_trends,
    recent_popularity,
)

# ---------------------------------------------------------------- affinity


def test_products_always_bought_together_get_the_top_affinity():
    # 6 orders: A+B always together (3 orders), C with A once, D and C together twice, B alone never
    orders = np.array([0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5])
    items = np.array([0, 1, 0, 1, 2, 0, 1, 2, 3, 2, 3, 0])
    baskets = affinity.basket_matrix(orders, items, 6, 4)
    out = affinity.product_affinity(baskets, k=3, min_count=1)
    top = out[out["rank"] == 1].set_index("source")["target"].to_dict()
    assert top[1] == 0 and top[0] == 1 and top[3] == 2
    ab = out[(out.source == 1) & (out.target == 0)].iloc[0]
    # B is in 3 baskets, all with A; A is in 4 of 6 baskets
    assert ab["count"] == 3
    assert ab["support"] == pytest.approx(3 / 6)
    assert ab["confidence"] == pytest.approx(1.0)
    assert ab["lift"] == pytest.approx(3 * 6 / (4 * 3))
    assert ab["score"] == pytest.approx(3 / np.sqrt(4 * 3))


def test_min_count_drops_pairs_seen_once():
    baskets = affinity.basket_matrix(np.array([0, 0]), np.array([0, 1]), 1, 2)
    assert affinity.product_affinity(baskets, min_count=2).empty
    assert len(affinity.product_affinity(baskets, min_count=1)) == 2


def test_top_k_per_row_is_deterministic_on_ties():
    m = sp.csr_array(np.array([[0, 0.5, 0.5, 0.2], [0.1, 0, 0, 0]]))
    out = top_k_per_row(m, 2)
    assert out[["row", "col", "rank"]].values.tolist() == [[0, 1, 1], [0, 2, 2], [1, 0, 1]]

# ---------------------------------------------------------------- similarity


def test_identical_histories_are_each_others_most_similar():
    rng = np.random.default_rng(0)
    x = (rng.random((50, 40)) < 0.15).astype(float)
    x[7] = x[31]  # customers 7 and 31 share a history
    x[7, 0] = x[31, 0] = 1
    out = similarity.similar_customers(sp.csr_array(x), k=3, min_score=0.0)
    best = out[out["rank"] == 1].set_index("source")
    assert best.loc[7, "target"] == 31 and best.loc[31, "target"] == 7
    assert best.loc[7, "score"] == pytest.approx(1.0, abs=1e-5)
    assert (out.source != out.target).all()


def test_similarity_blocks_give_the_same_answer():
    rng = np.random.default_rng(1)
    x = sp.csr_array((rng.random((300, 60)) < 0.1).astype(float))
    one = similarity.similar_customers(x, k=5, block_size=1000)
    many = similarity.similar_customers(x, k=5, block_size=7)
    pd.testing.assert_frame_equal(one, many)


def test_approximate_similarity_equals_exact_when_the_embedding_keeps_every_dimension():
    # 30 features < rank 48: the embedding is a rotation of the rows, so the approximate path's cosines
    # are the exact ones; empty customers (no feature) are nobody's neighbour and have none, in any block
    rng = np.random.default_rng(3)
    x = (rng.random((80, 30)) < 0.15).astype(float)
    x[[0, 5, 40, 41, 79]] = 0
    x = sp.csr_array(x)
    exact = similarity.similar_customers(x, k=3, min_score=0.05, method="exact")
    for block_size in (1000, 7):
        approx = similarity.similar_customers(x, k=3, min_score=0.05, method="approximate", block_size=block_size)
        assert approx[["source", "target", "rank"]].values.tolist() == exact[["source", "target", "rank"]].values.tolist()
        np.testing.assert_allclose(approx.score, exact.score, atol=1e-5)
    assert not set(exact.source) & {0, 5, 40, 41, 79} and not set(exact.target) & {0, 5, 40, 41, 79}
    small = sp.csr_array(np.array([[1, 1, 0, 0], [0, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 1]], dtype=float))
    out = similarity.similar_customers(small, k=1, min_score=0.05, method="approximate", block_size=2)
    assert out[["source", "target", "rank"]].values.tolist() == [[0, 2, 1], [2, 0, 1], [3, 0, 1]]
    assert out.score.round(6).tolist() == [1.0, 1.0, 0.25885]


def test_interaction_weights_favour_purchases_and_recent_ones():
    w = similarity.interaction_weight(np.array(["purchase", "product_view", "purchase", "visit"]),
                                      np.array([0.0, 0.0, 360.0, 0.0]), half_life_days=180)
    assert w.tolist() == pytest.approx([1.0, 0.2, 0.25, 0.3])
    # kinds not in the weights, and missing ones, weigh 0.1, wherever they come
    w = similarity.interaction_weight(np.array([None, "purchase", "unknown", np.nan, "add_to_cart", "purchase"],
                                               dtype=object), np.zeros(6), weights={"purchase": 1.0, "add_to_cart": 0.5})
    assert w.tolist() == [0.1, 1.0, 0.1, 0.1, 0.5, 1.0]

# ---------------------------------------------------------------- recommend


def _tiny_shop() -> tuple[sp.csr_array, sp.csr_array]:
    # products: 0 teapot, 1 cups, 2 sugar, 3 lamp; teapot and cups go together
    bought = sp.csr_array(np.array([
        [1, 1, 0, 0],
        [1, 1, 1, 0],
        [1, 0, 0, 0],  # customer 2 only has the teapot
        [0, 0, 0, 1],
    ], dtype=float))
    return bought, affinity.item_similarity(bought, min_count=1)


def test_already_bought_products_are_never_recommended():
    bought, sim = _tiny_shop()
    recs = recommend.recommend(bought, sim, exclude=bought, popularity=np.ones(4), n=4)
    assert not any(bought[c, p] for c, p in zip(recs.customer, recs["product"], strict=True))
    assert recs[recs.customer == 2].sort_values("rank")["product"].iloc[0] == 1  # cups for the teapot buyer


def test_customer_without_history_gets_no_personal_recommendations():
    bought, sim = _tiny_shop()
    history = sp.vstack([bought, sp.csr_array((1, 4))]).tocsr()
    recs = recommend.recommend(history, sim, n=3)
    assert 4 not in set(recs.customer)


def test_explanations_point_at_the_history_product_and_similar_shopper():
    bought, sim = _tiny_shop()
    neighbours = sp.csr_array(np.array([[0, .9, .1, 0], [.9, 0, .5, 0], [.4, .6, 0, 0], [0, 0, 0, 0]]))
    recs = recommend.recommend(bought, sim, customer_similarity=neighbours, n=2)
    out = recommend.explain(recs, bought, sim, customer_similarity=neighbours, neighbour_items=bought)
    row = out[(out.customer == 2) & (out["product"] == 1)].iloc[0]
    assert row.because_of == 0  # cups because of the teapot
    assert row.similar_customer == 1 and row.similar_buyers == 2  # both neighbours bought cups; 1 is closer
    reasons, evidence = recommend.reason_text(
        out.iloc[[row.name]], ["T1", "C1", "S1", "L1"], ["TEAPOT", "CUPS", "SUGAR", "LAMP"],
        np.array(["2011-05-03"]), np.array([True]))
    assert reasons == ["often bought with TEAPOT, which you bought on 2011-05-03"]
    assert evidence == [["affinity:T1", "similar_shoppers:2"]]  # counted, never named


def test_pipeline_recommendations_name_real_products_and_dates():
    day = 86_400
    orders = pd.DataFrame({
        "orderId": ["o1", "o1", "o2", "o2", "o3", "o4", "o4"], "customerId": ["a", "a", "b", "b", "c", "d", "d"],
        "storeId": None, "at": [10 * day, 10 * day, 20 * day, 20 * day, 30 * day, 40 * day, 40 * day],
        "cancelled": False, "sku": ["T", "C", "T", "C", "T", "T", "C"], "quantity": 1.0, "unitPrice": 2.0})
    products = pd.DataFrame({"sku": ["C", "T"], "name": ["CUPS", "TEAPOT"]})
    empty_e = pd.DataFrame(columns=["sessionId", "customerId", "sku", "type", "at"])
    empty_v = pd.DataFrame(columns=["customerId", "storeId", "at"])
    data = build_interactions(pd.Series(["a", "b", "c", "d", "e"]), products, pd.Series([], dtype=str), orders,
                              empty_e, empty_v)
    recs = compute_recommendations(data, Params())
    assert recs[["customerId", "sku"]].values.tolist() == [["c", "C"]]
    assert recs.reason.iloc[0] == "often bought with TEAPOT, which you bought on 1970-01-31"
    assert recs.evidence.iloc[0][0] == "affinity:T"


def test_interactions_before_is_the_data_as_it_stood_that_day():
    day = 86_400
    orders = pd.DataFrame({
        "orderId": ["o1", "o2", "o2", "o3"], "customerId": ["a", "b", "b", "a"], "storeId": None,
        "at": [10 * day, 20 * day, 20 * day, 30 * day], "cancelled": False, "sku": ["T", "T", "C", "C"],
        "quantity": 1.0, "unitPrice": 2.0})
    events = pd.DataFrame({"sessionId": ["s1", "s2"], "customerId": ["a", "b"], "sku": ["C", "T"],
                           "type": "product_view", "at": [5 * day, 25 * day]})
    visits = pd.DataFrame({"customerId": ["a", "b"], "storeId": [None, None], "at": [5 * day, 25 * day]})
    data = build_interactions(pd.Series(["a", "b"]), pd.DataFrame({"sku": ["C", "T"], "name": ["CUPS", "TEAPOT"]}),
                              pd.Series([], dtype=str), orders, events, visits)
    earlier = data.before(25.0)
    assert (data.as_of_day, earlier.as_of_day) == (30.0, 25.0)
    assert earlier.purchases[["customer", "product", "order", "day"]].values.tolist() == [
        [0, 1, 0, 10.0], [1, 1, 1, 20.0], [1, 0, 1, 20.0]]
    assert earlier.events[["customer", "session", "day"]].values.tolist() == [[0, 0, 5.0]]
    assert earlier.visits.day.tolist() == [5.0]
    assert earlier.bought().toarray().tolist() == [[0, 1], [1, 1]]
    assert earlier.order_baskets().shape == (2, 2) and earlier.session_baskets().shape == (1, 2)
    assert len(data.purchases) == 4  # the data itself is untouched


def test_ease_links_products_bought_together_and_nothing_else():
    # 0 and 1 always bought together, 2 and 3 always together, 4 alone
    x = sp.csr_array(np.array([[1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [0, 0, 1, 1, 0], [0, 0, 1, 1, 1],
                               [1, 1, 0, 0, 0], [0, 0, 0, 0, 1]], dtype=float))
    b = recommend.ease(x, l2=0.5)
    assert np.diag(b).tolist() == [0.0] * 5
    assert b[0, 1] > 0.5 and b[1, 0] > 0.5 and b[2, 3] > 0.4
    assert np.abs(b[0, 2:]).max() < 1e-6 and np.abs(b[2:, 0]).max() < 1e-6  # never together: no weight
    assert int(np.argmax(b[0])) == 1 and int(np.argmax(b[3])) == 2


def test_ease_matches_the_textbook_inverse_across_blocks():
    rng = np.random.default_rng(7)
    x = sp.csr_array((rng.random((400, 700)) < 0.02).astype(float))  # > 512 products: mirrored in blocks
    gram = (x.T @ x).toarray() + 30.0 * np.eye(700)
    p = np.linalg.inv(gram)
    expected = np.eye(700) - p / np.diag(p)[None, :]
    np.fill_diagonal(expected, 0.0)
    assert np.abs(recommend.ease(x, l2=30.0) - expected).max() < 1e-4


def test_model_part_ranks_and_explains_through_the_history_item_behind_it():
    # no affinities at all: only the model links product 0 -> 2 (strongly) and 1 -> 3 (weakly)
    model = np.zeros((4, 4), dtype=np.float32)
    model[0, 2], model[1, 3] = 0.9, 0.3
    history = sp.csr_array(np.array([[1.0, 1.0, 0, 0]]))
    no_affinity = sp.csr_array((4, 4))
    recs = recommend.recommend(history, no_affinity, model=model, n=4)
    assert recs.sort_values("rank")["product"].tolist() == [2, 3]
    out = recommend.explain(recs, history, no_affinity, model=model)
    assert dict(zip(out["product"], out.because_of, strict=True)) == {2: 0, 3: 1}
    # a model over a subset of products (codes 1 and 3) scores and explains in product codes
    sub = np.array([[0, 0.5], [0.5, 0]], dtype=np.float32)
    recs = recommend.recommend(history, no_affinity, model=sub, model_items=np.array([1, 3]), n=4)
    assert recs["product"].tolist() == [3]
    assert recommend.explain(recs, history, no_affinity, model=sub, model_items=np.array([1, 3])).because_of.tolist() == [1]


def test_explanation_names_the_item_contributing_most_to_the_blend():
    # affinity says 1 -> 2, the model says 0 -> 2 twice as strongly; with equal weights the model wins
    history = sp.csr_array(np.array([[1.0, 1.0, 0]]))
    affinity_sim = sp.csr_array(np.array([[0, 0, 0], [0, 0, 0.5], [0, 0, 0]]))
    model = np.array([[0, 0, 1.0], [0, 0, 0], [0, 0, 0]], dtype=np.float32)
    recs = recommend.recommend(history, affinity_sim, model=model, item_weight=1.0, model_weight=1.0, n=1)
    assert recommend.explain(recs, history, affinity_sim, model=model).because_of.tolist() == [0]
    recs = recommend.recommend(history, affinity_sim, model=model, item_weight=1.0, model_weight=0.1, n=1)
    assert recommend.explain(recs, history, affinity_sim, model=model).because_of.tolist() == [1]


def test_recency_keeps_the_latest_interaction_not_the_sum():
    day = 86_400
    orders = pd.DataFrame({"orderId": ["o1", "o2", "o3", "o4"], "customerId": ["a", "a", "a", "a"], "storeId": None,
                           "at": [0, 0, 0, 120 * day], "cancelled": False, "sku": ["T", "T", "T", "C"],
                           "quantity": 1.0, "unitPrice": 1.0})
    products = pd.DataFrame({"sku": ["C", "T"], "name": ["CUPS", "TEAPOT"]})
    views = pd.DataFrame({"sessionId": ["s1"], "customerId": ["a"], "sku": ["T"], "type": ["product_view"],
                          "at": [120 * day]})
    data = build_interactions(pd.Series(["a"]), products, pd.Series([], dtype=str), orders, views,
                              pd.DataFrame(columns=["customerId", "storeId", "at"]))
    bought = data.recency(half_life_days=60.0, purchases_only=True).toarray()
    assert bought[0].tolist() == pytest.approx([1.0, 0.25])  # C today; T three times, 120 days ago
    seen = data.recency(half_life_days=60.0).toarray()
    assert seen[0].tolist() == pytest.approx([1.0, 0.25])  # the view today weighs 0.2 < 0.25


def test_top_k_per_row_cuts_long_rows_with_ties_by_column():
    m = sp.csr_array(np.array([[0.5, 0.9, 0.5, 0.5, 0.1, 0.5], [0.3, 0, 0.3, 0.3, 0, 0]]))
    out = top_k_per_row(m, 3)
    assert out[["row", "col", "rank"]].values.tolist() == [[0, 1, 1], [0, 0, 2], [0, 2, 3],
                                                          [1, 0, 1], [1, 2, 2], [1, 3, 3]]


def test_reason_says_best_seller_when_popularity_outweighs_the_evidence():
    e = pd.DataFrame({"because_of": [0, 0], "similar_customer": [-1, -1], "similar_buyers": [0, 0],
                      "item_part": [0.5, 0.05], "neighbour_part": [0.0, 0.0], "score": [0.6, 0.25]})
    reasons, evidence = recommend.reason_text(e, ["T1"], ["TEAPOT"], np.array(["2011-05-03"] * 2),
                                              np.array([True, True]))
    assert reasons == ["often bought with TEAPOT, which you bought on 2011-05-03", "one of our best sellers"]
    assert evidence == [["affinity:T1"], ["affinity:T1", "popular"]]


# ---------------------------------------------------------------- segments


def test_louvain_finds_the_two_groups_and_is_seeded():
    rng = np.random.default_rng(3)
    src, dst = [], []
    for group in (range(0, 20), range(20, 40)):
        nodes = list(group)
        for i in nodes:
            for j in rng.choice(nodes, 5, replace=False):
                if i != j:
                    src.append(i)
                    dst.append(int(j))
    src.append(0)
    dst.append(20)
    w = np.ones(len(src))
    labels = segments.shopper_communities(np.array(src), np.array(dst), w, 41, seed=1)
    assert len(set(labels[:20])) == 1 and len(set(labels[20:40])) == 1 and labels[0] != labels[20]
    assert labels[40] == -1
    again = segments.shopper_communities(np.array(src), np.array(dst), w, 41, seed=1)
    assert (labels == again).all()


def test_communities_are_described_by_their_products():
    bought = sp.csr_array(np.array([[1, 1, 0], [1, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 1]]))
    out = segments.describe_communities(np.array([0, 0, 0, 1, 1]), bought, ["MUG", "TEA", "LAMP"])
    assert out.name.tolist() == ["Shoppers of MUG, TEA", "Shoppers of LAMP"]  # TEA: 1 of 2 is too few
    assert out["size"].tolist() == [3, 2]
    assert "MUG (100% of them" in out.description.iloc[0]


def test_rfm_champions_and_lost():
    out = segments.rfm_scores(np.arange(1, 101), np.arange(100, 0, -1), np.arange(100, 0, -1) * 10.0)
    assert out.rfmScore.iloc[0] == "555" and out.rfmSegment.iloc[0] == "Champions"
    assert out.rfmScore.iloc[-1] == "111" and out.rfmSegment.iloc[-1] == "Lost"

# ---------------------------------------------------------------- retention


def _simulate(n: int, r: float, alpha: float, a: float, b: float, T: float, modified: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    t = np.zeros(n)
    alive = rng.random(n) >= p if modified else np.ones(n, bool)
    for _ in range(500):
        t = t + rng.exponential(1 / lam)
        buys = alive & (t <= T)
        x[buys] += 1
        t_x[buys] = t[buys]
        alive = buys & (rng.random(n) >= p)
        if not alive.any():
            break
    return x, t_x, np.full(n, T)


@pytest.mark.parametrize("modified", [False, True])
def test_bgnbd_fit_recovers_simulated_parameters(modified):
    truth = dict(r=0.5, alpha=4.0, a=0.8, b=2.5)
    x, t_x, T = _simulate(30_000, **truth, T=52.0, modified=modified)
    model = retention.fit_bgnbd(x, t_x, T, modified=modified)
    assert model.r == pytest.approx(truth["r"], rel=0.15)
    assert model.alpha == pytest.approx(truth["alpha"], rel=0.2)
    assert model.a == pytest.approx(truth["a"], rel=0.3)
    assert model.b == pytest.approx(truth["b"], rel=0.35)
    expected = retention.expected_purchases(model, 52.0, x, t_x, T)
    assert expected.mean() == pytest.approx(x.mean() * 0.5, rel=1.0)  # sane order of magnitude


def test_p_alive_falls_with_time_since_last_purchase():
    model = retention.BGNBD(r=0.64, alpha=7.3, a=0.81, b=1.23, log_likelihood=0.0, modified=True)
    alive = retention.p_alive(model, np.array([4, 4, 4, 0, 0]), np.array([38.0, 20.0, 5.0, 0, 0]),
                              np.array([39.0, 39.0, 39.0, 5.0, 39.0]))
    assert alive[0] > alive[1] > alive[2]
    assert alive[3] > alive[4]  # a one-time buyer also fades under MBG/NBD
    assert ((alive > 0) & (alive <= 1)).all()


def test_bgnbd_one_time_buyers_are_alive_by_construction():
    model = retention.BGNBD(r=0.24, alpha=4.4, a=0.79, b=2.4, log_likelihood=0.0)
    assert retention.p_alive(model, np.array([0.0]), np.array([0.0]), np.array([39.0]))[0] == 1.0


def test_fit_without_repeat_buyers_raises_a_project_error():
    with pytest.raises(retention.RetentionError):
        retention.fit_bgnbd(np.zeros(3), np.zeros(3), np.ones(3))

# ---------------------------------------------------------------- trends


def test_rising_product_ranks_first_in_trends():
    rng = np.random.default_rng(0)
    # product 0: steady 2 buyers a week all year; product 1: nothing until the last 4 weeks, then 5 a week
    steady_days = np.repeat(np.arange(0, 364, 7), 2) + 0.5
    rising_days = np.repeat(np.arange(336, 364, 7), 5) + 0.5
    product = np.concatenate([np.zeros(steady_days.size, int), np.ones(rising_days.size, int)])
    day = np.concatenate([steady_days, rising_days])
    customer = rng.permutation(product.size)
    out = trends.product_trends(customer, product, day, 3, as_of_day=364.0)
    assert out.trendRank.tolist() == [0, 1, 0]  # steady demand is no trend
    assert out.popularityRank.tolist() == [1, 2, 0]


def test_popular_by_group_counts_distinct_buyers():
    out = trends.popular_by_group(np.array([0, 0, 0, 0]), np.array([1, 1, 1, 2]), np.array([5, 5, 5, 6]), 1, 7, k=2)
    assert out[["product", "buyers", "rank"]].values.tolist() == [[5, 1, 1], [6, 1, 2]]

# ---------------------------------------------------------------- consent


def _consent_shop(aggregates_without_analytics: bool = True, consent: bool = True):
    """a, b: teapot + cups, then sugar; c: teapot only; x (analytics withdrawn) and y (personalisation
    withdrawn): teapot + cups, like a and b."""
    day = 86_400
    rows = [("o1", "a", 10, ["T", "C"]), ("o2", "b", 20, ["T", "C"]), ("o3", "x", 30, ["T", "C"]),
            ("o4", "y", 40, ["T", "C"]), ("o5", "c", 50, ["T"]), ("o6", "a", 80, ["S"]), ("o7", "b", 100, ["S"])]
    orders = pd.DataFrame([{"orderId": o, "customerId": c, "storeId": None, "at": d * day, "cancelled": False,
                            "sku": sku, "quantity": 1.0, "unitPrice": 2.0} for o, c, d, skus in rows for sku in skus])
    products = pd.DataFrame({"sku": ["C", "S", "T"], "name": ["CUPS", "SUGAR", "TEAPOT"]})
    # a is missing from the consent frame: permitted, as the shipped defaults say
    decisions = pd.DataFrame({"personalisation": [True, True, True, False], "analytics": [True, True, False, True]},
                             index=["b", "c", "x", "y"])
    return build_interactions(pd.Series(["a", "b", "c", "x", "y"]), products, pd.Series([], dtype=str), orders,
                              pd.DataFrame(columns=["sessionId", "customerId", "sku", "type", "at"]),
                              pd.DataFrame(columns=["customerId", "storeId", "at"]),
                              consent=decisions if consent else None,
                              aggregates_without_analytics=aggregates_without_analytics)


def _named(frame: pd.DataFrame, data, *columns: str) -> pd.DataFrame:
    return frame.assign(**{c: data.customers[frame[c].to_numpy(np.int64)] for c in columns})


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")  # the retention fit on five customers
@pytest.mark.parametrize("consent", [False, True])
def test_withdrawn_customers_leave_the_customer_models_but_count_in_affinities(consent):
    data = _consent_shop(consent=consent)
    bought_together = compute_affinity(data).query("source == 'T' and target == 'C'")
    # all five teapot orders and four cups orders of the seven orders count, x's and y's included
    assert bought_together[["count", "support", "confidence", "lift", "score"]].values.tolist() == [
        [4, pytest.approx(4 / 7), pytest.approx(0.8), pytest.approx(4 * 7 / (5 * 4)), pytest.approx(4 / np.sqrt(20))]]
    assert compute_trends(data)["products"].set_index("sku").popularity.to_dict() == {"C": 4, "S": 2, "T": 5}

    edges = _named(compute_similarity(data), data, "source", "target")
    rfm = set(_named(compute_segments(data, compute_similarity(data))["rfm"], data, "customer").customer)
    scored = set(_named(compute_retention(data)[0], data, "customer").customer)  # pAlive, churn risk
    recs = compute_recommendations(data)
    cups_for_c = recs.query("customerId == 'c' and sku == 'C'").evidence.tolist()
    if not consent:  # what the consent changes: x and y are everyone's closest shoppers and get recommendations
        assert {"x", "y"} <= set(edges.source) & set(edges.target)
        assert rfm == scored == {"a", "b", "c", "x", "y"}
        assert set(recs.customerId) == {"c", "x", "y"}
        assert cups_for_c == [["affinity:T", "similar_shoppers:4"]]
        return
    assert edges[["source", "target", "rank"]].values.tolist() == [
        ["a", "b", 1], ["a", "c", 2], ["b", "a", 1], ["b", "c", 2], ["c", "a", 1], ["c", "b", 2]]
    assert rfm == scored == {"a", "b", "c", "y"}  # y withdrew personalisation only: still in the customer models
    # y gets nothing; x (analytics withdrawn) still gets recommendations from its own history, with no
    # similar shoppers; c's similar shoppers who bought cups are a and b, counted, never named
    assert set(recs.customerId) == {"c", "x"}
    assert cups_for_c == [["affinity:T", "similar_shoppers:2"]]
    assert not any(code.startswith("similar") for codes in recs.query("customerId == 'x'").evidence for code in codes)


def test_without_aggregates_the_analytics_withdrawn_leave_affinities_and_trends_too():
    data = _consent_shop(aggregates_without_analytics=False)
    bought_together = compute_affinity(data).query("source == 'T' and target == 'C'")
    # x's order is gone from the baskets: 3 of 6 orders hold both, 4 hold the teapot, 3 the cups
    assert bought_together[["count", "support", "confidence", "lift", "score"]].values.tolist() == [
        [3, pytest.approx(3 / 6), pytest.approx(0.75), pytest.approx(3 * 6 / (4 * 3)), pytest.approx(3 / np.sqrt(12))]]
    assert compute_trends(data)["products"].set_index("sku").popularity.to_dict() == {"C": 3, "S": 2, "T": 4}
    # x's own recommendations still come from x's own history (personalisation is granted)
    assert set(compute_recommendations(data).customerId) == {"c", "x"}


def test_segment_members_of_an_earlier_run_who_withdrew_analytics_are_not_counted_in_popular_in():
    data = _consent_shop()
    x = int(data.customers.get_loc("x"))
    members = pd.DataFrame({"customer": [x, int(data.customers.get_loc("c"))], "key": ["rfm-lost", "rfm-lost"]})
    popular = compute_trends(data, members)["popular_in"]
    assert popular.sku.tolist() == ["T"]  # c's teapot; x's cups do not count


def test_explanations_without_any_similar_shopper():
    # nobody may be anyone's similar shopper (e.g. everyone withdrew personalisation but one): no evidence
    bought, sim = _tiny_shop()
    nobody = sp.csr_array((4, 4))
    recs = recommend.recommend(bought, sim, customer_similarity=nobody, n=2)
    out = recommend.explain(recs, bought, sim, customer_similarity=nobody, neighbour_items=bought)
    assert (out.similar_customer == -1).all() and (out.similar_buyers == 0).all()


def test_recent_popularity_weighs_recent_buyers_by_their_trend() -> None:
    # product 0: 3 buyers in the last 28 days (one twice), none before; product 1: 1 recent, 3 in the 84 days
    # before (expected 1 in 28 days); product 2: only long ago
    known = pd.DataFrame({"customer": [0, 1, 2, 2, 3, 4, 5, 6, 7], "product": [0, 0, 0, 0, 1, 1, 1, 1, 2],
                          "day": [80.0, 90.0, 99.0, 99.5, 95.0, 30.0, 40.0, 60.0, 1.0]})
    square_root = Params(popularity_days=28.0, popularity_baseline_days=84.0, popularity_trend=0.5)
    trend = recent_popularity(known, 3, 100.0, square_root)
    assert trend.tolist() == pytest.approx([3.0 * np.sqrt(3.0), 1.0 * np.sqrt(1.0 / 2.0), 0.0])
    linear = recent_popularity(known, 3, 100.0, Params(popularity_days=28.0, popularity_baseline_days=84.0,
                                                       popularity_trend=1.0))
    assert linear.tolist() == pytest.approx([3.0 * 3.0, 1.0 * 1.0 / 2.0, 0.0])
    buyers_only = recent_popularity(known, 3, 100.0, Params(popularity_days=28.0, popularity_trend=0.0))
    assert buyers_only.tolist() == [3.0, 1.0, 0.0]
