"""Leak-freedom and one-code-path properties of the personalisation features, on tiny random data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from movierec.artifacts import personal_features as pf
from movierec.trainer import personal as tp
from movierec.trainer.config import PersonalConfig

CONFIG = dataclasses.replace(PersonalConfig(), factors=4, mf_iterations=3, cluster_k=(2, 3), inner_folds=3,
                             rating_svd_components=3, trees=5, holdout_metrics=False, threads=1)


@pytest.fixture(scope="module")
def side() -> tp.CatalogSide:
    rng = np.random.default_rng(0)
    n = 40
    vectors = rng.normal(size=(n, 6)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    genres, popularity, year = pf.catalog_columns(rng.integers(1, 8, n), 3, rng.gamma(2, 2, n),
                                                  rng.integers(1970, 2010, n))
    return tp.CatalogSide(np.arange(1, n + 1), genres, vectors, popularity, year)


@pytest.fixture(scope="module")
def ratings(side) -> tp.Ratings:
    rng = np.random.default_rng(1)
    users, rows = [], []
    for user in range(1, 16):
        picked = rng.choice(side.n_items, 12, replace=False)
        users += [user] * len(picked)
        rows += picked.tolist()
    stars = rng.integers(1, 11, len(users)) / 2
    return tp.Ratings(np.array(users), np.array(rows), stars.astype(np.float32), np.arange(len(users)))


def split(ratings: tp.Ratings) -> tuple[tp.Ratings, tp.Ratings]:
    index = np.arange(len(ratings))
    return ratings.subset(index[index % 5 != 0]), ratings.subset(index[index % 5 == 0])


def flipped(test: tp.Ratings) -> tp.Ratings:
    return dataclasses.replace(test, ratings=(5.5 - test.ratings).astype(np.float32))


def test_changing_test_labels_changes_no_training_feature(ratings, side):
    train, test = split(ratings)
    original = tp.rating_fold(train, test, side, CONFIG)
    changed = tp.rating_fold(train, flipped(test), side, CONFIG)
    np.testing.assert_array_equal(original.train_features, changed.train_features)


def test_changing_test_labels_changes_no_test_feature(ratings, side):
    train, test = split(ratings)
    original = tp.rating_fold(train, test, side, CONFIG)
    changed = tp.rating_fold(train, flipped(test), side, CONFIG)
    np.testing.assert_array_equal(original.test_features, changed.test_features)


def test_a_training_rows_own_label_does_not_reach_its_features(ratings, side):
    """Out-of-fold: a row's features come from tables and profiles fitted without that row."""
    train, _ = split(ratings)
    changed = dataclasses.replace(train, ratings=train.ratings.copy())
    changed.ratings[0] = 5.5 - changed.ratings[0]
    before = tp.oof_features(train, side, CONFIG)
    after = tp.oof_features(changed, side, CONFIG)
    np.testing.assert_array_equal(before[0], after[0])
    assert not np.array_equal(before, after)  # the label does reach other folds' rows: the test can fail


def test_a_profile_does_not_depend_on_the_order_of_the_history(ratings, side):
    train, _ = split(ratings)
    tables = tp.fit_tables(train, side, CONFIG)
    mine = train.users == 1
    rows, stars = train.rows[mine], train.ratings[mine]
    forward = pf.pair_features(tables, pf.build_profile(tables, rows, stars), np.arange(side.n_items))
    backward = pf.pair_features(tables, pf.build_profile(tables, rows[::-1], stars[::-1]), np.arange(side.n_items))
    np.testing.assert_allclose(forward, backward, rtol=1e-5, atol=1e-5)
