"""Package data: lexicons (TOML). Load through `profiler.taggers.lexicon`."""

from importlib.resources import files
from pathlib import Path


def resource_path(*parts: str) -> Path:
    """Path of a bundled resource file, e.g. resource_path("lexicons", "identity.toml")."""
    return Path(str(files(__package__).joinpath(*parts)))
