import dataclasses

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.metrics import adjusted_rand_score, silhouette_score

from movierec.trainer.clustering import cluster_vectors, cut_tree, silhouette_scores, ward_merges
from movierec.trainer.config import ClusterConfig
from movierec.trainer.synthetic import synthetic_vectors

DIRECT = dataclasses.replace(ClusterConfig(), k_min=2, k_max=9, k_step=1, micro_clusters=1000)
MICRO = dataclasses.replace(DIRECT, micro_clusters=150, silhouette_sample=800)


@pytest.fixture(scope="module")
def blobs():
    return synthetic_vectors(600, 32, 6, seed=7, noise=0.3)


@pytest.fixture(scope="module")
def many_blobs():
    return synthetic_vectors(3000, 32, 6, seed=11, noise=0.3)


def test_recovers_well_separated_blobs(blobs):
    vectors, topics = blobs
    result = cluster_vectors(vectors, DIRECT)
    assert adjusted_rand_score(topics, result.labels) > 0.95


def test_k_chosen_by_silhouette_is_the_true_blob_count(many_blobs):
    vectors, _ = many_blobs
    result = cluster_vectors(vectors, MICRO)
    assert result.k == 6
    assert result.silhouette == max(result.silhouette_by_k.values())


def test_same_seed_gives_the_same_clustering(many_blobs):
    vectors, _ = many_blobs
    first, second = cluster_vectors(vectors, MICRO), cluster_vectors(vectors, MICRO)
    np.testing.assert_array_equal(first.labels, second.labels)
    assert first.silhouette_by_k == second.silhouette_by_k


def test_micro_clusters_are_used_only_when_n_exceeds_them(blobs, many_blobs):
    big = cluster_vectors(many_blobs[0], MICRO)
    assert big.used_micro_clusters and big.ward_leaves <= MICRO.micro_clusters
    small = cluster_vectors(blobs[0], DIRECT)
    assert not small.used_micro_clusters and small.ward_leaves == len(blobs[0])


def test_labels_are_numbered_by_size_with_unit_centroids(blobs):
    result = cluster_vectors(blobs[0], DIRECT)
    assert result.labels.dtype == np.int32
    assert result.sizes == sorted(result.sizes, reverse=True)
    assert result.sizes == np.bincount(result.labels).tolist()
    assert result.centroids.shape == (result.k, blobs[0].shape[1])
    np.testing.assert_allclose(np.linalg.norm(result.centroids, axis=1), 1.0, atol=1e-5)


def test_unit_weight_ward_matches_scipy():
    points = np.random.default_rng(0).standard_normal((120, 4))
    pairs, heights = ward_merges(points, np.ones(len(points)))
    reference = linkage(points, method="ward")
    np.testing.assert_allclose(heights, reference[:, 2], rtol=1e-9)
    for k, labels in cut_tree(pairs, len(points), [3, 10]).items():
        assert adjusted_rand_score(fcluster(reference, k, "maxclust"), labels) == 1.0


def test_weighted_ward_equals_ward_on_repeated_points():
    rng = np.random.default_rng(1)
    points, weights = rng.standard_normal((30, 3)), rng.integers(1, 5, size=30)
    weighted, _ = ward_merges(points, weights)
    repeated, _ = ward_merges(np.repeat(points, weights, axis=0), np.ones(weights.sum()))
    by_weight = cut_tree(weighted, 30, [4])[4]
    by_repetition = cut_tree(repeated, int(weights.sum()), [4])[4]
    assert adjusted_rand_score(np.repeat(by_weight, weights), by_repetition) == 1.0


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_silhouette_scores_match_sklearn(metric):
    rng = np.random.default_rng(2)
    vectors = rng.standard_normal((300, 8)).astype(np.float32)
    labelings = {k: rng.integers(0, k, size=300) for k in (2, 5)}
    scores = silhouette_scores(vectors, labelings, metric=metric)
    for k, labels in labelings.items():
        assert scores[k] == pytest.approx(silhouette_score(vectors, labels, metric=metric), abs=1e-5)
