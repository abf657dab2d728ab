"""``nudge --help`` says what the tool does, in plain text, and names every command."""

from __future__ import annotations

import pytest

from nudge_integrations.cli import main

COMMANDS = ("demo", "finetune", "evaluate", "status", "revert", "finish", "rollback")


def test_help_says_what_nudge_does(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "``" not in text  # no raw reStructuredText markup
    words = " ".join(text.split())  # argparse wraps the paragraph
    assert "moves the stored document vectors" in words
    assert "the embedding model and the queries as they are" in words
    for command in COMMANDS:
        assert f"'{command}'" in words, command  # each named in the description
    assert "nudge COMMAND --help" in words
