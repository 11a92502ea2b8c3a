"""Settings come from the environment and .env; log lines are structured, correlated and secret-free."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from monday_snowflake.logs import bind_correlation_id, configure_logging, get_logger
from monday_snowflake.settings import Settings


def test_settings_read_the_prefix_nested_parts_and_dotenv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "MONDAY_SNOWFLAKE_SNOWFLAKE__ACCOUNT=from-dotenv\nMONDAY_SNOWFLAKE_LOG_JSON=true\n"
    )
    monkeypatch.setenv("MONDAY_SNOWFLAKE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MONDAY_SNOWFLAKE_MONDAY__TOKEN", "tok-123")
    monkeypatch.setenv("MONDAY_SNOWFLAKE_SNOWFLAKE__MODE", "snowflake")
    settings = Settings()
    assert settings.data_dir == tmp_path / "data"
    assert settings.snowflake.account == "from-dotenv"
    assert settings.snowflake.mode == "snowflake"
    assert settings.log_json is True
    assert settings.monday.token is not None and settings.monday.token.get_secret_value() == "tok-123"
    assert "tok-123" not in repr(settings)
    assert settings.resolved_database_url() == f"sqlite:///{(tmp_path / 'data' / 'state.db').resolve()}"


def test_settings_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("MONDAY_SNOWFLAKE_"):
            monkeypatch.delenv(name)
    settings = Settings()
    assert settings.data_dir == Path(".monday-snowflake")
    assert settings.snowflake.mode == "embedded"
    assert settings.monday.api_version == "2026-10"
    assert settings.monday.page_size == 500


def test_json_logs_carry_the_correlation_id_and_mask_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=True, level="INFO")
    try:
        with bind_correlation_id("run-42"):
            get_logger("test").info("connected", token="s3cret", board_id=7)
            logging.getLogger("monday_snowflake.retry").warning("retrying in %ss", 2)
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    finally:
        configure_logging()
    ours, stdlib = lines
    assert ours["event"] == "connected" and ours["correlation_id"] == "run-42" and ours["board_id"] == 7
    assert ours["token"] == "***"
    assert stdlib["event"] == "retrying in 2s" and stdlib["correlation_id"] == "run-42"
    assert stdlib["level"] == "warning"
    assert "s3cret" not in json.dumps(lines)
