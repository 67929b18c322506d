"""Ranking: embeddings (cached in the store), rankers behind one interface, explanations."""
