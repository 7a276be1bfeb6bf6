"""The gate's settings: defaults that carry a p95, bounds, and the non-interactive fallbacks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from o2v.config import Settings
from o2v.config_sections import LoadTestSettings, StoreSettings, ThresholdSettings
from tasks.approval import Decision, ask, in_flow_run


def test_the_default_minimum_is_the_least_sample_with_a_distribution_free_interval_for_the_p95():
    # With n samples the largest one lies above the true p95 with probability 1 - 0.95**n; a two-sided 95 %
    # interval [X(r), X(n)] needs that to be at least 97.5 %.
    n = ThresholdSettings().min_samples
    assert 0.95**n <= 0.025 < 0.95 ** (n - 1)
    assert LoadTestSettings().requests_per_level >= 2 * n


def test_gate_defaults():
    th = ThresholdSettings()
    assert (th.ratio_tolerance, th.confidence, th.bootstrap_resamples, th.bootstrap_seed) == (0.1, 0.95, 1000, 0)
    assert (th.max_error_rate_increase, th.on_inconclusive) == (0.01, "pause")
    assert StoreSettings().data_docs_base_url is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("confidence", 1.0), ("confidence", 0.5), ("bootstrap_resamples", 100), ("ratio_tolerance", -0.1),
     ("max_error_rate_increase", 2), ("on_inconclusive", "ask-later")],
)  # fmt: skip
def test_gate_bounds(field, value):
    with pytest.raises(ValidationError):
        ThresholdSettings.model_validate({field: value})


def test_settings_carry_the_gate_fields_from_yaml_shaped_data():
    settings = Settings.model_validate(
        {"thresholds": {"on_inconclusive": "accept"}, "store": {"data_docs_base_url": "https://ci.example/docs/"}}
    )
    assert settings.thresholds.on_inconclusive == "accept"
    assert settings.store.data_docs_base_url == "https://ci.example/docs/"


def test_outside_a_flow_run_there_is_nobody_to_ask():
    assert not in_flow_run()
    assert ask(Decision, "evidence", timeout_s=1, key="k") is None
