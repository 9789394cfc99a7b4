"""Every knob of a training run in one place.

The defaults reproduce the production model on the real MovieLens + TMDB data; a
test or the synthetic benchmark overrides only what it needs. The whole object is
recorded in the version's manifest, so a model can always be traced to its settings.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEED = 42


@dataclass(frozen=True)
class ContentConfig:
    """Text soup → TF-IDF → SVD, plus genres and numerics (ARCHITECTURE.md, Models)."""

    top_cast: int = 5                 # actors kept per movie in the soup
    max_keywords: int = 30
    tfidf_min_df: int = 2
    tfidf_max_df: float = 0.5
    tfidf_max_features: int = 50_000
    svd_components: int = 128
    text_weight: float = 1.5
    genre_weight: float = 2.0
    numeric_weight: float = 1.0
    numeric_columns: tuple[str, ...] = ("budget", "revenue", "popularity", "runtime")
    numeric_zero_is_missing: bool = True  # TMDB writes 0 for an unknown budget/revenue/runtime
    svd_iterations: int = 5               # randomized SVD power iterations
    seed: int = SEED


@dataclass(frozen=True)
class ClusterConfig:
    """Ward clustering with k chosen by silhouette; sub-quadratic via micro-clusters."""

    k_min: int = 8
    k_max: int = 40
    k_step: int = 4
    micro_clusters: int = 1000        # Ward runs over this many k-means centroids
    silhouette_sample: int = 12_000   # silhouette is O(n^2): sample above this size
    silhouette_metric: str = "euclidean"  # on L2-normalised vectors, the distance Ward minimises
    kmeans_iterations: int = 20       # Lloyd iterations of the micro-cluster k-means
    seed: int = SEED


@dataclass(frozen=True)
class IndexConfig:
    """FAISS search scopes and how their fidelity is measured."""

    default_probes: int = 3           # clusters visited by the multi-probe scope
    recall_k: int = 10
    recall_sample: int = 0            # 0 = every movie; >0 = a seeded sample (large catalogs)


@dataclass(frozen=True)
class SearchConfig:
    """Search structures the trainer adds to the name tables (trainer/text_groups.py)."""

    text_groups: int = 1024           # free text's groups of similar text vectors (~11 movies each here)
    min_group_rows: int = 4           # small catalogs: fewer groups, at least this many movies each on average
    group_iterations: int = 20        # k-means iterations that form the groups
    seed: int = SEED


@dataclass(frozen=True)
class PersonalConfig:
    """Personalisation (trainer/personal.py): MF, user clusters, item-item, XGBoost models, ranking."""

    factors: int = 16                 # matrix-factorisation rank (ALS)
    mf_reg: float = 8.0               # ALS ridge, also the request-time fold-in ridge
    mf_iterations: int = 8
    item_shrink: float = 10.0         # pseudo-ratings pulling an item's mean towards the global mean
    cluster_shrink: float = 5.0       # pseudo-ratings pulling a cluster's item mean towards the item mean
    rating_svd_components: int = 16   # TruncatedSVD of centred user rating vectors before KMeans
    cluster_k: tuple[int, ...] = (4, 6, 8, 12)  # KMeans k candidates, chosen by silhouette
    inner_folds: int = 3              # out-of-fold target statistics for training rows
    ease_lambdas: tuple[float, ...] = (250.0, 500.0)  # chosen on a time-split validation
    ease_min_count: int = 3           # items with fewer training ratings stay out of the item-item matrix
    ease_keep: int = 200              # item-item weights kept per item (largest)
    candidates_cf: int = 200
    candidates_content: int = 100
    candidates_cluster: int = 100
    negatives_per_user: int = 60      # ranker training: sampled non-relevant candidates per user
    boost_grid: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)
    trees: int = 100
    learning_rate: float = 0.1
    max_depth: int = 6
    holdout_metrics: bool = True      # fit classifier/regressor on 80%, measure on 20% (manifest metrics)
    threads: int = 2
    seed: int = SEED


@dataclass(frozen=True)
class GateConfig:
    """Promotion gate (trainer/gate.py): a new version reaches production only if every check passes.

    A check whose metric is missing from the manifest is skipped (and reported as skipped)."""

    min_silhouette: float = 0.05
    silhouette_metric: str = "silhouette"
    min_classifier_auc: float = 0.70
    auc_metric: str = "classifier_auc"
    max_ndcg_drop: float = 0.02       # absolute NDCG@10 the candidate may lose against current production
    ndcg_metric: str = "ranker_validation_ndcg@10"


@dataclass(frozen=True)
class TrainConfig:
    data_dir: Path = Path("data")
    registry_dir: Path = Path("registry")
    content: ContentConfig = field(default_factory=ContentConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    personal: PersonalConfig = field(default_factory=PersonalConfig)
    promote: bool = True              # point `production` at the new version when done
    gate: GateConfig = field(default_factory=GateConfig)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the manifest."""
        def convert(value: Any) -> Any:
            if isinstance(value, Path):
                return str(value)
            if isinstance(value, tuple):
                return list(value)
            if isinstance(value, dict):
                return {k: convert(v) for k, v in value.items()}
            return value
        return convert(dataclasses.asdict(self))
