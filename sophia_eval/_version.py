"""The installed package version (one place; `run.json` and `sophia-eval version` read it)."""

from __future__ import annotations


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sophia-eval")
    except PackageNotFoundError:  # running from a source tree without installing
        return "0.0.0+unknown"
