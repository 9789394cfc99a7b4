import pytest

from movierec.artifacts.titles import fold, split_year, title_key


@pytest.mark.parametrize("raw", ["The Matrix", "Matrix, The", "the matrix", "  THE   Matrix "])
def test_movielens_and_display_titles_share_a_key(raw):
    assert title_key(raw) == "the matrix"


def test_apostrophe_articles_join_without_space():
    assert title_key("Armée des ombres, L'") == "l'armee des ombres"


def test_accents_and_case_are_folded():
    assert fold("Amélie") == "amelie"


@pytest.mark.parametrize(("raw", "expected"), [
    ("Heat (1995)", ("Heat", 1995)),
    ("Heat", ("Heat", None)),
    ("Fawlty Towers (1975-1979)", ("Fawlty Towers", 1975)),
])
def test_trailing_year_is_split_off(raw, expected):
    assert split_year(raw) == expected


def test_every_article_the_catalog_moves_is_moved_back_in_lookups():
    assert title_key("Chien andalou, Un") == "un chien andalou"
    assert title_key("Hip Hop Witch, Da") == "da hip hop witch"


def test_ascii_fast_path_folds_like_the_unicode_path():
    import random
    import re
    import string
    import unicodedata

    def unicode_path(text: str) -> str:
        stripped = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
        return re.sub(r"\s+", " ", stripped.casefold()).strip()

    rng = random.Random(3)
    texts = ["".join(rng.choice(string.printable) for _ in range(rng.randint(0, 40))) for _ in range(5000)]
    assert [fold(t) for t in texts] == [unicode_path(t) for t in texts]
    assert fold("Amélie  POULAIN") == "amelie poulain"  # not ASCII: the unicode path
