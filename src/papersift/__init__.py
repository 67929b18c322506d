"""papersift: a local, daily arXiv recommender."""

__version__ = "0.1.0"
