import dataclasses

import numpy as np
import pandas as pd
import pytest

from movierec.artifacts.text import project_text
from movierec.trainer.config import ContentConfig
from movierec.trainer.features import build_soups, fit_content_model
from movierec.trainer.synthetic import synthetic_catalog

SMALL = dataclasses.replace(ContentConfig(), svd_components=8, tfidf_min_df=1, tfidf_max_df=1.0)


def movie(**overrides):
    """One TMDB-backed catalog row; tests override what they vary."""
    row = {"title": "A Movie", "genres": ["Drama"], "overview": "", "tagline": "", "keywords": [],
           "cast": [], "directors": [], "tags": [], "has_tmdb": True,
           "budget": np.nan, "revenue": np.nan, "popularity": np.nan, "runtime": np.nan}
    return {**row, **overrides}


@pytest.fixture(scope="module")
def synthetic_model():
    catalog = synthetic_catalog(60, seed=3)
    return catalog, fit_content_model(catalog, SMALL)


def test_vectors_are_unit_float32_rows_of_the_expected_shape(synthetic_model):
    catalog, model = synthetic_model
    dims = model.report["block_dims"]
    assert model.vectors.shape == (len(catalog), dims["text"] + len(model.genre_vocabulary) + 4)
    assert model.vectors.dtype == np.float32 and model.vectors.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(model.vectors, axis=1), 1.0, atol=1e-5)


def test_report_records_shapes_and_explained_variance(synthetic_model):
    catalog, model = synthetic_model
    report = model.report
    assert report["matrix_shape"] == list(model.vectors.shape)
    assert report["tfidf_shape"] == [len(catalog), len(model.vocabulary)]
    assert 0.0 < report["svd_explained_variance"] <= 1.0
    assert model.svd_components.shape == (report["svd_components"], len(model.vocabulary))


def test_stored_arrays_reproduce_a_movies_text_block(synthetic_model):
    catalog, model = synthetic_model
    soup = build_soups(catalog.iloc[:1], SMALL)[0]
    projected = project_text(soup, model.vocabulary_index(), model.idf, model.svd_components,
                             match_names=False)
    start, stop = model.blocks["text"]
    stored = model.vectors[0, start:stop]
    cosine = projected @ stored / (np.linalg.norm(projected) * np.linalg.norm(stored))
    assert cosine == pytest.approx(1.0, abs=1e-5)


def test_greater_genre_weight_brings_movies_sharing_genres_closer():
    catalog = pd.DataFrame([
        movie(genres=["Western"], overview="cowboy sheriff outlaw saloon"),
        movie(genres=["Western"], overview="astronaut rocket galaxy orbit"),
        movie(genres=["Sci-Fi"], overview="astronaut rocket galaxy nebula"),
        movie(genres=["Sci-Fi"], overview="cowboy sheriff horse canyon"),
    ])

    def similarity(genre_weight):
        config = dataclasses.replace(SMALL, svd_components=3, genre_weight=genre_weight)
        vectors = fit_content_model(catalog, config).vectors
        return float(vectors[0] @ vectors[1])

    assert similarity(4.0) > similarity(0.5) + 0.2


def test_movie_without_tmdb_gets_a_vector_from_title_genres_and_tags():
    catalog = pd.DataFrame([
        movie(overview="astronaut rocket galaxy orbit alien", genres=["Sci-Fi"]),
        movie(overview="wedding love kiss bride", genres=["Romance"]),
        movie(overview="cowboy sheriff outlaw saloon", genres=["Western"]),
        movie(has_tmdb=False, title="Rocket Galaxy (1999)", genres=["Sci-Fi"], tags=["alien", "orbit"]),
    ])
    assert build_soups(catalog.iloc[3:], SMALL) == ["Rocket Galaxy scifi alien orbit"]
    model = fit_content_model(catalog, dataclasses.replace(SMALL, svd_components=3))
    start, stop = model.blocks["text"]
    assert np.linalg.norm(model.vectors[3, start:stop]) > 0
    assert int(np.argmax(model.vectors[:3] @ model.vectors[3])) == 0


def test_missing_numerics_give_a_zero_numeric_block():
    catalog = pd.DataFrame([
        movie(overview="alpha beta", budget=1e6, revenue=2e6, popularity=3.0, runtime=90.0),
        movie(overview="beta gamma", budget=5e7, revenue=9e7, popularity=30.0, runtime=130.0),
        movie(overview="gamma alpha", budget=0.0),  # TMDB's 0 means unknown
    ])
    model = fit_content_model(catalog, dataclasses.replace(SMALL, svd_components=2))
    start, stop = model.blocks["numeric"]
    assert not model.vectors[2, start:stop].any()
    assert model.vectors[1, start:stop].any()
