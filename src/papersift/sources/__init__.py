"""Where papers come from: arXiv bulk-metadata dumps, OAI-PMH, the daily feed, the API."""
