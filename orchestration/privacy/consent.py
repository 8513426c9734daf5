"""Consent as the Python side reads it. Consent is never coerced from text: only a real boolean
``true`` is consent, so a quoted ``"false"`` (truthy as a Python or Jinja string) can never count as
consent. The SQL side is macros/customer_rules.sql::unknown_consent_is_consent."""

from __future__ import annotations

from orchestration.settings import dbt_var


def is_consent(value: object) -> bool:
    """True only for the boolean ``True``: ``"false"``, ``"true"``, ``1``, ``None`` are not consent."""
    return value is True


def unknown_consent_is_consent() -> bool:
    """Whether an unknown (null) opt-in counts as consent: var activation_unknown_consent_is_consent,
    and only when it is the boolean true."""
    return is_consent(dbt_var("activation_unknown_consent_is_consent"))
