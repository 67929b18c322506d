"""Profiles: what a user likes, from the config file today; importers and feedback later."""
