"""`papersift profile show`: what papersift believes about a user."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from papersift.config import Settings
from papersift.profile.config_source import ProfileSpec
from papersift.profile.user import user_spec
from papersift.store import Store
from papersift.store.profiles import SourceRow

MAX_CLUSTERS = 6


@dataclass
class Cluster:
    terms: list[str]
    size: int
    titles: list[str]  # the papers closest to the cluster's centre
    members: list[int] = field(default_factory=list)  # indices into the texts clustered


@dataclass
class Beliefs:
    spec: ProfileSpec
    by_source: dict[str, int]
    sources: list[SourceRow]
    liked: int
    negatives: int
    not_in_store: int
    clusters: list[Cluster] = field(default_factory=list)


def beliefs(settings: Settings, store: Store, user: str) -> Beliefs:
    spec = user_spec(settings, store, user)
    library = store.library(user)
    liked = [e.paper_id for e in library if e.label > 0]
    papers = store.get_papers(liked)
    out = Beliefs(spec, store.library_by_source(user), store.sources(user), len(liked),
                  sum(e.label < 0 for e in library), len(liked) - len(papers))
    out.clusters = clusters([papers[i].title + ". " + papers[i].abstract for i in liked
                             if i in papers], [papers[i].title for i in liked if i in papers])
    return out


def clusters(texts: list[str], titles: list[str], per: int = 3) -> list[Cluster]:
    """Interest clusters of the liked papers: TF-IDF + k-means, named by their top terms
    (cheap and readable; the embedding model is not needed to show a profile)."""
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not texts:
        return []
    tfidf = TfidfVectorizer(ngram_range=(1, 2), stop_words="english", sublinear_tf=True,
                            max_df=0.5 if len(texts) > 10 else 1.0,
                            token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z0-9\-]+\b")
    try:
        x = tfidf.fit_transform(texts)
    except ValueError:  # no usable words
        return [Cluster([], len(texts), titles[:per], list(range(len(texts))))]
    vocab = np.array(tfidf.get_feature_names_out())
    k = int(min(MAX_CLUSTERS, max(1, round(np.sqrt(len(texts) / 2)))))
    labels = KMeans(k, n_init=4, random_state=0).fit_predict(x) if k > 1 else \
        np.zeros(len(texts), dtype=int)
    out = []
    for c in range(k):
        rows = np.flatnonzero(labels == c)
        centre = np.asarray(x[rows].mean(axis=0)).ravel()
        sims = np.asarray(x[rows] @ centre).ravel()
        out.append(Cluster([str(t) for t in vocab[np.argsort(-centre)[:4]]], len(rows),
                           [titles[rows[i]] for i in np.argsort(-sims)[:per]],
                           [int(r) for r in rows]))
    return sorted(out, key=lambda c: -c.size)
