"""movierec-client as a person or a script uses it."""

import json

import pytest

from movierec.client.cli import main

pytestmark = pytest.mark.integration


def test_similar_prints_a_table_of_ten(server, capsys):
    assert main(["--target", server.target, "similar", "--tmdb", "100001"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Movies like Synthetic Movie 2")
    assert len(lines) == 3 + 10  # heading, column names, rule, ten rows


def test_similar_json_is_machine_readable(server, capsys):
    assert main(["--target", server.target, "--json", "similar", "--tmdb", "100001", "-k", "3"]) == 0
    response = json.loads(capsys.readouterr().out)
    assert len(response["results"]) == 3


def test_movie_shows_metadata(server, capsys):
    assert main(["--target", server.target, "movie", "--movielens", "2"]) == 0
    assert "Synthetic Movie 2" in capsys.readouterr().out


def test_errors_go_to_stderr_with_nonzero_exit(server, capsys):
    assert main(["--target", server.target, "similar", "--tmdb", "1", "-k", "0"]) == 1
    assert "INVALID_ARGUMENT" in capsys.readouterr().err
