"""The labelled evaluation set of bench/detection_eval.py: big enough, varied
enough, and labelled right (each positive's value is in its file as written)."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "detection_eval.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("detection_eval", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["detection_eval"] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules["detection_eval"]


@pytest.fixture(scope="module")
def samplers(bench):
    return bench.provider_samplers()


@pytest.fixture(scope="module")
def cases(bench, samplers):
    rng = random.Random(14)
    return [*bench.positives(rng, 20, samplers), *bench.negatives(rng, 20, samplers)]


def test_the_set_is_as_large_and_varied_as_documented(samplers, cases):
    positives = [c for c in cases if c.expected is not None]
    assert len(positives) >= 2000
    assert len(cases) - len(positives) >= 500
    assert len({c.kind for c in cases}) >= 20
    assert len({c.path for c in cases}) == len(cases)
    assert len(samplers) >= 100
    labels = {c.label for c in cases}
    assert {"command", "provider-rules", "provider-listed", "json-dotenv", "xml"} <= labels
    assert {"neg-sops", "neg-substitution", "neg-base64-prefix", "neg-test-data"} <= labels


def test_each_positive_holds_its_value_and_each_negative_none_of_them(cases):
    values = {c.expected for c in cases if c.expected is not None}
    for case in cases:
        if case.expected is not None:
            assert case.expected in case.text, case.path
    negatives = "\n".join(c.text for c in cases if c.expected is None)
    assert not [v for v in values if len(v) >= 12 and v in negatives]


def test_sampled_provider_values_match_their_rule(samplers):
    from leakguard.rules import builtin_rules

    rules = builtin_rules().by_id
    rng = random.Random(3)
    for sampler in samplers:
        value = sampler.sample(rng)
        m = rules[sampler.rule_id].regex.search(f'primary_setting = "{value}"\n'.encode())
        assert m is not None and m.group("secret") == value.encode(), sampler.rule_id
