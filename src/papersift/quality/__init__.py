"""The quality signal: how likely a paper is worth reading, judged on its announcement day,
separately from how relevant it is to a user (features, models, scoring, training)."""
