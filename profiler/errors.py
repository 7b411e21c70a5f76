"""Errors that are the user's to fix: the CLI prints them as one line and exits 2."""


class UserError(Exception):
    """A mistake in what the user asked for (bad path, bad config); the message says the fix."""
