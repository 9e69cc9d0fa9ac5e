"""Configuration from the environment: defaults, and errors that name the variable."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib import wiring
from chalicelib.wiring import ConfigError, read_settings


def test_defaults_give_a_15_minute_window_and_90_day_retention():
    config = read_settings({})
    assert config.aggregation_window == timedelta(minutes=15)
    assert config.retention_days == 90
    assert config.log_level == "INFO"
    assert config.endpoint_url is None


def test_values_are_read_from_the_environment():
    config = read_settings(
        {
            "AGGREGATION_WINDOW_SECONDS": "60",
            "COLLECT_CACHE_TTL_SECONDS": "5",
            "LOG_LEVEL": "debug",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
        }
    )
    assert config.aggregation_window == timedelta(seconds=60)
    assert config.cache_ttl_seconds == 5
    assert config.log_level == "DEBUG"
    assert config.endpoint_url == "http://127.0.0.1:1"


@pytest.mark.parametrize("value", ["soon", "-5", "0"])
def test_bad_numbers_name_the_variable(value):
    with pytest.raises(ConfigError) as raised:
        read_settings({"AGGREGATION_WINDOW_SECONDS": value})
    assert raised.value.field_path == "AGGREGATION_WINDOW_SECONDS"


def test_missing_table_or_topic_names_the_variable(monkeypatch):
    monkeypatch.delenv("FINDINGS_TABLE_NAME", raising=False)
    monkeypatch.delenv("FINDINGS_TOPIC_ARN", raising=False)
    wiring.reset()
    try:
        with pytest.raises(ConfigError, match="FINDINGS_TABLE_NAME"):
            wiring.finding_store()
        with pytest.raises(ConfigError, match="FINDINGS_TOPIC_ARN"):
            wiring.finding_publisher()
    finally:
        wiring.reset()


def test_alert_detail_is_references_unless_full_is_asked_for():
    from chalicelib.diagnose.detail import Detail

    assert read_settings({}).alert_detail is Detail.REFERENCES
    assert read_settings({"ALERT_DETAIL": "FULL"}).alert_detail is Detail.FULL
    with pytest.raises(ConfigError) as raised:
        read_settings({"ALERT_DETAIL": "everything"})
    assert raised.value.field_path == "ALERT_DETAIL"
