from pathlib import Path

import pytest
from click.testing import CliRunner

from papersift import config
from papersift.cli import main
from papersift.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


def test_init_writes_a_commented_config_that_loads_back(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["init"])
    assert res.exit_code == 0, res.output
    path = config.default_config_path()
    assert path.exists() and str(tmp_path) in str(path)
    text = path.read_text()
    assert "# Papers in a digest at most." in text and "PAPERSIFT_<SECTION>_<KEY>" in text
    s = config.load()
    assert s["digest.size"] == 20 and s["arxiv.categories"] == ["cs.CL", "cs.LG", "cs.AI"]
    again = CliRunner().invoke(main, ["init"])
    assert again.exit_code == 1 and "already exists" in again.output


def test_unknown_key_names_the_key_and_suggests_the_fix(tmp_path: Path) -> None:
    p = write(tmp_path, "[digest]\nsise = 10\n")
    with pytest.raises(ConfigError, match=r"unknown config key digest.sise .*did you mean 'size'"):
        config.load(p)


def test_unknown_section(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown config section \[digst\].*'digest'"):
        config.load(write(tmp_path, "[digst]\nsize = 1\n"))


@pytest.mark.parametrize("text,match", [
    ('[digest]\nsize = "ten"\n', "digest.size must be an integer"),
    ("[digest]\nsize = true\n", "digest.size must be an integer"),
    ('[arxiv]\ncategories = "cs.CL"\n', "arxiv.categories must be a list of strings"),
    ("[arxiv]\ncategories = [1, 2]\n", "arxiv.categories must be a list of strings"),
    ("[arxiv]\noffline = 1\n", "arxiv.offline must be true or false"),
    ("[digest\nsize = 1\n", "not valid TOML"),
    ("[digest]\nmin_level = 95\n", "digest.min_level must be between 0 and 1, got 95.0"),
])
def test_wrong_types_and_syntax_are_one_line_errors(tmp_path: Path, text: str,
                                                    match: str) -> None:
    with pytest.raises(ConfigError, match=match) as e:
        config.load(write(tmp_path, text))
    assert "\n" not in str(e.value)


def test_an_out_of_range_environment_value_is_a_one_line_error() -> None:
    with pytest.raises(ConfigError, match="digest.min_level must be between 0 and 1.*"
                       "PAPERSIFT_DIGEST_MIN_LEVEL"):
        config.load(None, env={"PAPERSIFT_DIGEST_MIN_LEVEL": "-0.5"})


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    p = write(tmp_path, "[digest]\nsize = 10\n")
    s = config.load(p, env={"PAPERSIFT_DIGEST_SIZE": "7", "PAPERSIFT_ARXIV_OFFLINE": "yes",
                            "PAPERSIFT_ARXIV_CATEGORIES": "cs.IR, cs.CL"})
    assert s["digest.size"] == 7 and s["arxiv.offline"] is True
    assert s["arxiv.categories"] == ["cs.IR", "cs.CL"]
    with pytest.raises(ConfigError, match="PAPERSIFT_DIGEST_SIZE='x' must be an integer"):
        config.load(p, env={"PAPERSIFT_DIGEST_SIZE": "x"})


def test_relative_paths_in_a_file_are_relative_to_it(tmp_path: Path) -> None:
    p = write(tmp_path, '[store]\nurl = "sqlite:///db/s.sqlite"\n[profile]\n'
                        'id_files = ["ids.txt"]\n[digest]\nout_dir = "out"\n')
    s = config.load(p, env={})
    assert s.store_url == f"sqlite:///{tmp_path}/db/s.sqlite"
    assert s["profile.id_files"] == [str(tmp_path / "ids.txt")]
    assert s.digest_dir == tmp_path / "out"


def test_missing_explicit_config_file(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["--config", str(tmp_path / "nope.toml"), "rankers"])
    assert res.exit_code == 0  # rankers needs no config
    res = CliRunner().invoke(main, ["--config", str(tmp_path / "nope.toml"), "daily"])
    assert res.exit_code == 1
    assert "does not exist: run `papersift init`" in res.output
