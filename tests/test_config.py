"""Tests of settings: config files, environment variables and their precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from costkit import ConfigurationError
from costkit._config import DEFAULT_MIDDLEWARE, load_settings


def test_defaults() -> None:
    """Without files or variables the defaults apply."""
    settings = load_settings()
    assert settings.middleware == DEFAULT_MIDDLEWARE
    assert settings.price_policy == "raise"
    assert settings.database_url is None
    assert settings.source is None


def test_costkit_toml(tmp_path: Path) -> None:
    """costkit.toml in the working directory is read."""
    (tmp_path / "costkit.toml").write_text(
        'database_url = "sqlite:///from-file.db"\nmiddleware = ["cost-tracking"]\n'
        '[providers.openai]\nbase_url = "http://127.0.0.1:8080/v1"\n[budget]\ndefault_max_output_tokens = 512\n'
    )
    settings = load_settings()
    assert settings.database_url == "sqlite:///from-file.db"
    assert settings.middleware == ("cost-tracking",)
    assert settings.providers["openai"]["base_url"] == "http://127.0.0.1:8080/v1"
    assert settings.budget.default_max_output_tokens == 512


def test_pyproject_table(tmp_path: Path) -> None:
    """[tool.costkit] in pyproject.toml is read when there is no costkit.toml."""
    (tmp_path / "pyproject.toml").write_text('[tool.costkit]\nprice_policy = "warn"\n')
    settings = load_settings()
    assert settings.price_policy == "warn"
    assert settings.source is not None
    assert settings.source.endswith("[tool.costkit]")


def test_costkit_toml_wins_over_pyproject(tmp_path: Path) -> None:
    """costkit.toml is preferred to pyproject.toml."""
    (tmp_path / "pyproject.toml").write_text('[tool.costkit]\nprice_policy = "warn"\n')
    (tmp_path / "costkit.toml").write_text('price_policy = "raise"\n')
    assert load_settings().price_policy == "raise"


def test_costkit_config_variable_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """COSTKIT_CONFIG names the file to read, over the working directory's."""
    (tmp_path / "costkit.toml").write_text('price_policy = "raise"\n')
    other = tmp_path / "other.toml"
    other.write_text('price_policy = "warn"\n')
    monkeypatch.setenv("COSTKIT_CONFIG", str(other))
    assert load_settings().price_policy == "warn"


def test_missing_costkit_config_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """A COSTKIT_CONFIG that names no file is an error naming the path."""
    monkeypatch.setenv("COSTKIT_CONFIG", "/nonexistent/costkit.toml")
    with pytest.raises(ConfigurationError, match=r"/nonexistent/costkit.toml"):
        load_settings()


def test_environment_wins_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Environment variables override the config file."""
    (tmp_path / "costkit.toml").write_text('database_url = "sqlite:///file.db"\nmiddleware = ["cost-tracking"]\n')
    monkeypatch.setenv("COSTKIT_DATABASE_URL", "sqlite:///env.db")
    monkeypatch.setenv("COSTKIT_MIDDLEWARE", "budget-enforcement, cost-tracking")
    settings = load_settings()
    assert settings.database_url == "sqlite:///env.db"
    assert settings.middleware == ("budget-enforcement", "cost-tracking")


def test_arguments_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Arguments override environment variables."""
    monkeypatch.setenv("COSTKIT_DATABASE_URL", "sqlite:///env.db")
    assert load_settings(database_url="sqlite:///arg.db").database_url == "sqlite:///arg.db"


def test_unknown_setting_lists_known(tmp_path: Path) -> None:
    """An unknown key in the file is an error that names it and lists the known ones."""
    (tmp_path / "costkit.toml").write_text('databse_url = "x"\n')
    with pytest.raises(ConfigurationError, match=r"'databse_url'.*known: budget, database_url"):
        load_settings()


def test_unknown_budget_setting(tmp_path: Path) -> None:
    """An unknown key in [budget] is an error too."""
    (tmp_path / "costkit.toml").write_text("[budget]\nmax_tokens = 5\n")
    with pytest.raises(ConfigurationError, match="'max_tokens'"):
        load_settings()


def test_invalid_policy_value(tmp_path: Path) -> None:
    """A setting with a value outside its choices names the choices."""
    (tmp_path / "costkit.toml").write_text('price_policy = "ignore"\n')
    with pytest.raises(ConfigurationError, match="raise, warn"):
        load_settings()


def test_invalid_toml_names_file(tmp_path: Path) -> None:
    """A file that is not TOML is reported with its path."""
    (tmp_path / "costkit.toml").write_text("price_policy = \n")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_settings()


def test_empty_middleware_variable_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blank COSTKIT_MIDDLEWARE keeps the defaults instead of turning every middleware off."""
    monkeypatch.setenv("COSTKIT_MIDDLEWARE", " , ")
    assert load_settings().middleware == DEFAULT_MIDDLEWARE


def test_repeated_middleware_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    """A middleware listed twice is an error naming it."""
    monkeypatch.setenv("COSTKIT_MIDDLEWARE", "cost-tracking,cost-tracking")
    with pytest.raises(ConfigurationError, match="'cost-tracking' more than once"):
        load_settings()


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("database_url = 5", "database_url must be a string"),
        ("price_cache_seconds = -1", "price_cache_seconds"),
        ('providers = { openai = "x" }', "providers must be a table of tables"),
    ],
)
def test_wrongly_typed_setting(tmp_path: Path, line: str, name: str) -> None:
    """A setting of the wrong type is reported with its value."""
    (tmp_path / "costkit.toml").write_text(line + "\n")
    with pytest.raises(ConfigurationError, match=name):
        load_settings()
