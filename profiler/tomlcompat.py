"""tomllib on Python >= 3.11, the tomli backport on 3.10; one reader for TOML data files."""

from pathlib import Path
from typing import Any

from profiler.errors import UserError

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = ["read_toml_file", "tomllib"]


def read_toml_file(source: Path, noun: str, hint: str) -> tuple[dict[str, Any], bytes]:
    """Parse a user-editable TOML data file (lexicon, prompt bank); returns the data and the raw
    bytes (for the content hash stamped into results). Mistakes are one-line UserErrors."""
    try:
        raw = source.read_bytes()
        return tomllib.loads(raw.decode("utf-8")), raw
    except FileNotFoundError:
        raise UserError(f"{noun} not found: {source} ({hint})") from None
    except IsADirectoryError:
        raise UserError(f"{noun} {source} is a folder: give a .toml file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{noun} {source} is not valid TOML: {error}") from None
