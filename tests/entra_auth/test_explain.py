"""The token explainer and ``manage.py explain_token``: each refusal is told at the step the
validator refused it, in words that name the values and the fix; the token is never logged."""

from __future__ import annotations

import io
import logging
import time
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.entra_auth.exceptions import INVALID_TOKEN_REASONS
from apps.entra_auth.explain import Status, explain_token
from apps.entra_auth.explain_reasons import EXPLAINERS
from apps.entra_auth.validation import STEPS
from apps.rbac import resolution
from apps.rbac.models import MappingRule, SourceKind
from tests.conftest import portico_settings_for
from tests.entra_auth.explain_cases import CASES

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rules():
    resolution.bump_version()
    yield
    resolution.bump_version()


def run_command(monkeypatch: pytest.MonkeyPatch, token: str, *args: str) -> str:
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    out = io.StringIO()
    call_command("explain_token", *args, stdout=out)
    return out.getvalue()


def rule(value: str, *perms: str, **fields: Any) -> MappingRule:
    created = MappingRule.objects.create(
        source_kind=SourceKind.APP_ROLE, source_value=value, label=f"role {value}", **fields
    )
    for dotted in perms:
        app_label, codename = dotted.split(".")
        created.permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    resolution.bump_version()
    return created


def test_every_refusal_reason_has_an_explanation():
    assert set(INVALID_TOKEN_REASONS) | {"keys_unavailable"} == set(EXPLAINERS)


@pytest.mark.parametrize(("build", "reason", "step", "words"), CASES)
def test_each_refusal_is_explained_at_the_step_that_refused_it(
    entra, token_factory, build, reason, step, words
):
    explanation = explain_token(build(token_factory, entra))

    assert explanation.reason == reason
    statuses = {s.name: s.status for s in explanation.steps}
    failed = [s for s in explanation.steps if s.status is Status.FAILED]
    assert [s.name for s in failed] == [step]
    assert words in failed[0].detail
    assert failed[0].fix
    before, after = STEPS[: STEPS.index(step)], STEPS[STEPS.index(step) + 1 :]
    assert all(statuses[name] is Status.PASSED for name in before)
    assert all(statuses[name] is Status.NOT_RUN for name in after)


@pytest.mark.parametrize(("build", "reason", "step", "words"), CASES)
def test_the_command_prints_the_verdict_the_words_and_the_fix(
    entra, token_factory, monkeypatch, build, reason, step, words
):
    token = build(token_factory, entra)
    output = run_command(monkeypatch, token)

    assert output.startswith(f"Token REFUSED ({reason})")
    assert words in output
    assert "Fix: " in output
    assert token not in output


def test_a_valid_token_passes_every_step_and_shows_what_the_mapping_grants(
    entra, token_factory, monkeypatch
):
    rule("Portico.Reader", "projects.view_project")
    token = token_factory(claims={"roles": ["Portico.Reader", "Unmapped.Role"]})

    explanation = explain_token(token)
    assert explanation.valid
    assert [s.name for s in explanation.steps if s.status is Status.PASSED] == list(STEPS)
    assert explanation.simulation.grant.permissions == {"projects.view_project"}

    output = run_command(monkeypatch, f"Bearer {token}")
    assert output.startswith("Token ACCEPTED")
    assert "[FAIL]" not in output
    assert "requestedAccessTokenVersion 2" in output
    assert "Mapping: 1 rule(s) match." in output
    assert "rule #" in output
    assert "'Portico.Reader'" in output
    assert "permissions: projects.view_project" in output
    assert "no active rule for app_role 'Unmapped.Role'" in output


def test_a_refused_token_still_shows_what_the_mapping_would_grant(
    entra, token_factory, monkeypatch
):
    rule("Portico.Admin", grants_staff=True)
    token = token_factory(claims={"roles": ["Portico.Admin"], "aud": "api://someone-else"})
    output = run_command(monkeypatch, token)
    assert "Mapping (if the token were valid): 1 rule(s) match." in output
    assert "is_staff: True" in output


def test_a_v1_token_is_refused_with_the_registration_setting_to_change(
    entra, token_factory, settings
):
    settings.PORTICO = portico_settings_for(entra.authority, ENTRA_ACCEPTED_TOKEN_VERSIONS=("2",))
    explanation = explain_token(token_factory(version="1.0"))

    assert explanation.reason == "v1_not_accepted"
    failed = next(s for s in explanation.steps if s.status is Status.FAILED)
    assert failed.name == "issuer"
    assert "ENTRA_ACCEPTED_TOKEN_VERSIONS does not include 1" in failed.detail
    assert "requestedAccessTokenVersion to 2" in failed.fix


def test_a_v2_token_is_refused_when_only_v1_is_accepted(entra, token_factory, settings):
    settings.PORTICO = portico_settings_for(entra.authority, ENTRA_ACCEPTED_TOKEN_VERSIONS=("1",))
    explanation = explain_token(token_factory())
    failed = next(s for s in explanation.steps if s.status is Status.FAILED)
    assert explanation.reason == "v2_not_accepted"
    assert "Add 2 to ENTRA_ACCEPTED_TOKEN_VERSIONS" in failed.fix


def test_an_accepted_v1_token_says_why_entra_issued_v1(entra, token_factory):
    explanation = explain_token(token_factory(version="1.0"))
    version = next(s for s in explanation.steps if s.name == "version")
    assert explanation.valid
    assert "requestedAccessTokenVersion is null or 1" in version.detail


def test_a_groups_overage_token_is_valid_with_a_note_on_what_it_means(entra, token_factory):
    overage = {"_claim_names": {"groups": "src1"}, "_claim_sources": {"src1": {"endpoint": "x"}}}
    explanation = explain_token(token_factory(claims=overage))
    note = next(s for s in explanation.steps if s.name == "overage")
    assert explanation.valid
    assert note.status is Status.NOTE
    assert "PORTICO_RBAC_GRAPH_GROUPS is off" in note.detail
    assert "Map app roles instead of groups" in note.fix


def test_unreachable_keys_are_told_as_our_outage_not_the_tokens_fault(entra, token_factory):
    entra.mode = "down"  # no key was ever fetched: the store is cold
    explanation = explain_token(token_factory())
    failed = next(s for s in explanation.steps if s.status is Status.FAILED)
    assert explanation.reason == "keys_unavailable"
    assert failed.name == "key"
    assert "not a fault of the token" in failed.detail


def test_the_command_exits_1_on_a_refused_token_when_asked(entra, monkeypatch):
    with pytest.raises(CommandError, match="refused: malformed") as raised:
        run_command(monkeypatch, "garbage", "--fail-on-invalid")
    assert raised.value.returncode == 1


def test_the_command_refuses_empty_input(monkeypatch):
    with pytest.raises(CommandError, match="No token on standard input"):
        run_command(monkeypatch, "   ")


def test_the_command_takes_no_token_argument():
    with pytest.raises(CommandError):
        call_command("explain_token", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln")


def test_the_command_logs_nothing_token_like(entra, token_factory, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    tokens = [token_factory(), token_factory(key="k2"), token_factory(claims={"aud": "x"})]
    for token in tokens:
        run_command(monkeypatch, token)
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "eyJ" not in logged
    for token in tokens:
        assert token.split(".")[2] not in logged


def test_a_token_expired_within_the_clock_skew_is_accepted_and_said_so(entra, token_factory):
    now = int(time.time())
    explanation = explain_token(token_factory(claims={"exp": now - 20}, now=now - 600))
    lifetime = next(s for s in explanation.steps if s.name == "lifetime")
    assert explanation.valid
    assert "within the allowed clock skew (ENTRA_CLOCK_SKEW_SECONDS=60)" in lifetime.detail
