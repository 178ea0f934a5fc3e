"""Probes: what a vendor's answer says of a setting, the setting that explains a step's
differences, and the configuration the evidence allows (read from the vendors' schemas)."""

from __future__ import annotations

from emulator.parity import cases, settings
from emulator.parity.compare import Difference
from emulator.parity.settings import Evidence

LOYALTY = {
    "extendedData": {"dataSizeLimitKb": 5, "topLevelKeysLimit": 20},
    "validSources": ["MARKETING", "PARTNERSHIP", "PPN"],
    "mandatoryFields": ["firstName", "lastName", "email"],
}


def step(probe: dict) -> cases.Step:
    doc = {
        "name": "c",
        "api": "loyalty",
        "steps": [
            {
                "name": "s",
                "operation": "updateProfile",
                "method": "PUT",
                "path": "/p",
                "probe": probe,
            }
        ],
    }
    return cases.from_doc(doc, "test").steps[0]


def test_an_answer_is_evidence_by_its_status() -> None:
    probe = step(
        {"setting": "validSources", "ok": {"includes": "PPN"}, "refused": {"excludes": "PPN"}}
    )
    assert settings.evidence(probe, {"status": 200}, "w") == Evidence(
        "validSources", "includes", "PPN", "w"
    )
    assert settings.evidence(probe, {"status": 400}, "w") == Evidence(
        "validSources", "excludes", "PPN", "w"
    )
    assert settings.evidence(probe, {"status": 503}, "w") is None  # an outage says nothing
    value = step({"setting": "tokenLifetimeSeconds", "value": "body.expires_in"})
    assert settings.evidence(value, {"status": 200, "body": {"expires_in": 900}}, "w").value == 900  # type: ignore[union-attr]
    assert settings.evidence(value, {"status": 200, "body": {}}, "w") is None


def test_bounds_move_a_number_the_least_they_must() -> None:
    found = [
        Evidence("extendedData.dataSizeLimitKb", kind, value, f"w{value}")
        for kind, value in (("atLeast", 1), ("atLeast", 2), ("atMost", 2), ("atMost", 3))
    ]
    config, said = settings.infer("loyalty", LOYALTY, found)
    assert config["extendedData"] == {"dataSizeLimitKb": 2, "topLevelKeysLimit": 20}
    assert said == ["extendedData.dataSizeLimitKb: 5 -> 2 (w2: is at most 2; w3: is at most 3)"]
    kept, said = settings.infer(
        "loyalty", LOYALTY, [Evidence("extendedData.dataSizeLimitKb", "atLeast", 4, "w")]
    )
    assert kept == LOYALTY and said == []


def test_lists_lose_what_was_refused_and_gain_what_was_taken() -> None:
    found = [
        Evidence("validSources", "excludes", "PPN", "a"),
        Evidence("validSources", "includes", "MARKETING", "b"),
        Evidence("validSources", "includes", "LOYALTY_APP", "c"),
    ]
    config, _ = settings.infer("loyalty", LOYALTY, found)
    assert config["validSources"] == ["MARKETING", "PARTNERSHIP", "LOYALTY_APP"]


def test_evidence_that_contradicts_itself_leaves_the_setting_alone() -> None:
    found = [
        Evidence("tokenLifetimeSeconds", "equals", 300, "a"),
        Evidence("tokenLifetimeSeconds", "equals", 900, "b"),
    ]
    config, said = settings.infer(
        "commerce", {"authEnabled": True, "tokenLifetimeSeconds": 300}, found
    )
    assert config["tokenLifetimeSeconds"] == 300
    assert said == ["tokenLifetimeSeconds: the vendor answered 300, 900; left at 300"]
    bounds = [
        Evidence("extendedData.dataSizeLimitKb", "atLeast", 6, "a"),
        Evidence("extendedData.dataSizeLimitKb", "atMost", 2, "b"),
    ]
    config, said = settings.infer("loyalty", LOYALTY, bounds)
    assert config == LOYALTY and "at least 6 and at most 2" in said[0]


def test_a_setting_the_emulator_lacks_or_a_value_it_refuses_changes_nothing() -> None:
    config, said = settings.infer("loyalty", LOYALTY, [Evidence("locales", "includes", "fr", "w")])
    assert config == LOYALTY and said == [
        "locales: not a setting of this emulator's loyalty configuration; left out"
    ]
    config, said = settings.infer(
        "loyalty", LOYALTY, [Evidence("extendedData.dataSizeLimitKb", "atMost", 0, "w")]
    )
    assert config == LOYALTY and "not a valid configuration" in said[-1]


def test_a_step_is_explained_when_the_vendor_and_the_emulator_disagree_on_its_acceptance() -> None:
    probe = step(
        {"setting": "validSources", "ok": {"includes": "PPN"}, "refused": {"excludes": "PPN"}}
    )
    differs = [Difference("status", 400, 200)]
    said = settings.explain("loyalty", probe, {"status": 400}, {"status": 200}, differs, "w")
    assert (
        said
        == "loyalty setting validSources: the vendor's leaves out PPN; `profile-emulator parity config` writes it"
    )
    assert (
        settings.explain("loyalty", probe, {"status": 400}, {"status": 404}, differs, "w") is None
    )
