import numpy as np
import pytest
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from movierec.artifacts.text import analyze, name_token, name_tokens, project_text, query_terms

CORPUS = [
    "A young wizard attends a school of magic and fights a dark lord.",
    "Wizards and witches duel; magic schools close. danielradcliffe",
    "A detective hunts a serial killer through the rainy city.",
    "The detective and the killer meet again in the city of rain.",
    "Astronauts travel through a wormhole to save humanity. tomhanks",
    "A space station crew fights an alien on a distant planet; tomhanks tomhanks",
]


def test_analyze_lowercases_stems_and_drops_stop_words():
    assert analyze("The Dogs are RUNNING in the Park") == ["dog", "run", "park"]


def test_analyze_folds_accents_to_ascii():
    assert analyze("Amélie's CAFÉ") == analyze("Amelie's cafe") == ["ameli", "cafe"]


def test_name_token_makes_one_term_of_a_name():
    assert name_token("Tom Hanks") == "tomhanks"
    assert name_token("Penélope Cruz") == "penelopecruz"
    assert analyze(name_tokens(["Tom Hanks", "Samuel L. Jackson"])) == ["tomhank", "samuelljackson"]


def test_typed_name_in_a_query_meets_the_name_term():
    vocabulary = {"tomhank": 0, "samuelljackson": 1, "tom": 2}
    terms = query_terms("films with Tom Hanks or samuel l jackson", vocabulary)
    assert terms == ["film", "samuelljackson", "tomhank"]


def test_known_words_give_the_stemmer_s_terms():
    vocabulary = {"film": 0, "dog": 1, "run": 2, "park": 3}
    known = {"films": "film", "dogs": "dog", "running": "run"}  # "park" and "runs" are not known: stemmed
    for text in ("Films about dogs running in the park", "the dog runs", "zzz"):
        assert query_terms(text, vocabulary, known) == query_terms(text, vocabulary)


def test_with_known_words_a_run_is_joined_when_the_joined_word_is_known():
    vocabulary = {"tomhank": 0, "tom": 1, "hank": 2}
    known = {"tomhanks": "tomhank", "tom": "tom", "hanks": "hank"}
    assert query_terms("tom hanks", vocabulary, known) == ["tomhank"]
    # "tomhank" stems to a vocabulary term but is not a word of the catalog: two words
    assert query_terms("tom hank", vocabulary, known) == ["tom", "hank"]
    assert query_terms("tom hank", vocabulary) == ["tomhank"]


@pytest.fixture(scope="module")
def fitted():
    vectorizer = TfidfVectorizer(analyzer=analyze, sublinear_tf=True, dtype=np.float32)
    tfidf = vectorizer.fit_transform(CORPUS)
    svd = TruncatedSVD(n_components=3, random_state=0).fit(tfidf)
    vocabulary = {t: i for i, t in enumerate(vectorizer.get_feature_names_out())}
    return vectorizer, svd, vocabulary


@pytest.mark.parametrize("text", CORPUS[:3] + ["magic detective magic magic", "Tom Hanks in space"])
def test_project_text_matches_the_sklearn_pipeline(fitted, text):
    vectorizer, svd, vocabulary = fitted
    expected = svd.transform(vectorizer.transform([text]))[0]
    got = project_text(text, vocabulary, vectorizer.idf_.astype(np.float32),
                       svd.components_.astype(np.float32), match_names=False)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_project_text_of_unknown_words_is_zero(fitted):
    vectorizer, svd, vocabulary = fitted
    got = project_text("zzz qqq", vocabulary, vectorizer.idf_, svd.components_)
    assert got.shape == (3,) and not got.any()


def test_stop_words_equal_sklearns_list():
    from sklearn.feature_extraction import text as sklearn_text

    from movierec.artifacts.text import ENGLISH_STOP_WORDS
    assert ENGLISH_STOP_WORDS == frozenset(sklearn_text.ENGLISH_STOP_WORDS)
