"""SYNTHETIC data generators — never real movies.

Used by unit tests (a catalog small enough to run the whole content model) and by the
scale benchmarks (100k+ vectors, far beyond the real catalog's ~10k). Everything made
here is marked: catalog titles read "Synthetic Movie <n>", people "Synthetic Actor <n>",
the frame has a `synthetic` column set to True and `DataFrame.attrs["synthetic"] = True`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Topic-specific vocabularies: movies of one topic draw their words, genres and people
# from that topic, so a working content model must group them.
TOPICS: dict[str, dict[str, list[str]]] = {
    "space": {
        "words": ["spaceship", "galaxy", "planet", "astronaut", "orbit", "alien", "starship",
                  "nebula", "asteroid", "rocket", "cosmos", "station", "gravity", "launch"],
        "genres": ["Sci-Fi", "Adventure"],
        "keywords": ["space travel", "first contact", "alien invasion", "space station"],
    },
    "romance": {
        "words": ["love", "wedding", "heart", "kiss", "romance", "couple", "bride", "letter",
                  "dance", "paris", "summer", "affair", "promise", "reunion"],
        "genres": ["Romance", "Drama"],
        "keywords": ["love at first sight", "wedding day", "long distance relationship"],
    },
    "crime": {
        "words": ["detective", "murder", "heist", "gangster", "police", "robbery", "killer",
                  "evidence", "prison", "mafia", "corrupt", "witness", "smuggler", "alibi"],
        "genres": ["Crime", "Thriller"],
        "keywords": ["bank robbery", "serial killer", "undercover cop", "organized crime"],
    },
    "western": {
        "words": ["cowboy", "sheriff", "outlaw", "saloon", "frontier", "horse", "desert",
                  "ranch", "gunslinger", "cattle", "bounty", "canyon", "wagon", "duel"],
        "genres": ["Western", "Action"],
        "keywords": ["wild west", "bounty hunter", "train robbery", "gold rush"],
    },
}
NOISE_WORDS = ["story", "life", "world", "young", "man", "woman", "family", "friend", "city",
               "journey", "secret", "past", "future", "home"]
PEOPLE_PER_TOPIC = 6
NUMERIC_MEANS = {"budget": 2e7, "revenue": 6e7, "popularity": 10.0, "runtime": 105.0}


def synthetic_vectors(n: int, d: int, n_topics: int, seed: int,
                      noise: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """A gaussian mixture on the unit sphere: (n × d float32 unit rows, int32 topic per row).

    Topic centres are random unit vectors; each item is its centre plus isotropic noise
    of expected norm `noise`, re-normalised. Topics are assigned uniformly at random.
    """
    rng = np.random.default_rng(seed)
    centres = _unit_rows(rng.standard_normal((n_topics, d), dtype=np.float32))
    topics = rng.integers(0, n_topics, size=n).astype(np.int32)
    vectors = rng.standard_normal((n, d), dtype=np.float32)
    vectors *= np.float32(noise / np.sqrt(d))
    vectors += centres[topics]
    return np.ascontiguousarray(_unit_rows(vectors)), topics


def synthetic_catalog(n: int, seed: int, tmdb_share: float = 0.8) -> pd.DataFrame:
    """A SYNTHETIC catalog frame with the columns the content model reads.

    Each movie belongs to one topic (column `topic`) and draws its overview, keywords,
    cast, director and genres mostly from that topic. A `1 - tmdb_share` fraction has no
    TMDB data: empty TMDB fields, NaN numerics, and MovieLens-style user tags instead.
    """
    rng = np.random.default_rng(seed)
    names = list(TOPICS)
    rows = []
    for i in range(n):
        topic = names[i % len(names)]
        rows.append(_synthetic_movie(i, topic, rng, has_tmdb=bool(rng.random() < tmdb_share)))
    frame = pd.DataFrame(rows)
    frame.attrs["synthetic"] = True
    return frame


def _synthetic_movie(i: int, topic: str, rng: np.random.Generator, has_tmdb: bool) -> dict:
    """One synthetic movie row of `topic`."""
    vocab = TOPICS[topic]
    topic_index = list(TOPICS).index(topic)
    people = [f"Synthetic Actor {topic_index * PEOPLE_PER_TOPIC + k}" for k in range(PEOPLE_PER_TOPIC)]
    overview = " ".join(_pick(rng, vocab["words"], 12) + _pick(rng, NOISE_WORDS, 4))
    movie = {
        "movieId": i + 1,
        "title": f"Synthetic Movie {i + 1} (2000)",
        "genres": list(vocab["genres"][: 1 + int(rng.integers(0, len(vocab["genres"])))]),
        "overview": overview if has_tmdb else "",
        "tagline": " ".join(_pick(rng, vocab["words"], 3)) if has_tmdb else "",
        "keywords": _pick(rng, vocab["keywords"], 2) if has_tmdb else [],
        "cast": _pick(rng, people, 3) if has_tmdb else [],
        "directors": _pick(rng, [f"Synthetic Director {topic_index}"], 1) if has_tmdb else [],
        "tags": [] if has_tmdb else _pick(rng, vocab["words"], 3),
        "has_tmdb": has_tmdb,
        "topic": topic,
        "synthetic": True,
    }
    for column, mean in NUMERIC_MEANS.items():
        movie[column] = float(mean * rng.lognormal(0.0, 0.5)) if has_tmdb else float("nan")
    return movie


def _pick(rng: np.random.Generator, pool: list[str], count: int) -> list[str]:
    """`count` items of `pool` (with replacement), as plain str."""
    return [pool[j] for j in rng.integers(0, len(pool), size=count)]


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (in place for float32 input)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix /= np.maximum(norms, np.float32(1e-12))
    return matrix
