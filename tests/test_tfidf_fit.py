"""`fit_tfidf` fits the period's TF-IDF exactly as sklearn's `fit` does (same terms, same
order, same idf, same transform), on real abstracts, with and without a max_features cut."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from papersift.rank.tfidf_fit import fit_tfidf


def _vectorizer(**kw: object) -> TfidfVectorizer:
    opts = dict(ngram_range=(1, 2), max_features=50000, min_df=3, max_df=0.1,
                sublinear_tf=True, stop_words="english", strip_accents="unicode",
                dtype=np.float32, token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b")
    return TfidfVectorizer(**(opts | kw))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def texts(shared_day_dump: Path) -> list[str]:
    with open(shared_day_dump) as f:
        records = [json.loads(line) for line in f]
    return [f"{r['title']} | {r['authors']} | {r['abstract']}" for r in records[:3000]]


@pytest.mark.parametrize("kw", [{}, {"max_features": 3000}, {"min_df": 0.002, "max_df": 40},
                                {"ngram_range": (1, 1), "max_features": 500}])
def test_same_model_as_sklearn(texts: list[str], kw: dict) -> None:
    theirs, ours = _vectorizer(**kw), _vectorizer(**kw)
    x = theirs.fit_transform(texts)
    counts = fit_tfidf(ours, texts)
    assert ours.vocabulary_ == theirs.vocabulary_
    assert np.array_equal(ours.idf_, theirs.idf_) and ours.idf_.dtype == theirs.idf_.dtype
    assert (ours.transform(texts[:500]) != theirs.transform(texts[:500])).nnz == 0
    # the counts have the TF-IDF's non-zeros: the background's document frequencies
    assert counts.shape == x.shape and (counts.astype(bool) != x.astype(bool)).nnz == 0


def test_fails_where_sklearn_fails(texts: list[str]) -> None:
    for docs, kw in ((["the and of", "to be or not"], {}),  # stop words only
                     (texts[:5], {}),  # nothing in 3 of 5 documents and at most 10 % of them
                     (texts[:50], {"min_df": 30, "max_df": 10})):
        with pytest.raises(ValueError):
            _vectorizer(**kw).fit(docs)
        with pytest.raises(ValueError):
            fit_tfidf(_vectorizer(**kw), docs)
