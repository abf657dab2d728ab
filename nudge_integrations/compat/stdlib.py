"""Private attributes of the standard library's objects, one function per read, each with
the Python versions it was checked against."""

from __future__ import annotations

import argparse


def parser_options(parser: argparse.ArgumentParser) -> list[str]:
    """Every option string ``parser`` takes (argparse keeps them only in a private
    mapping). Checked: Python 3.11.7."""
    return list(parser._option_string_actions)
