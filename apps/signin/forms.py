"""Forms of the sign-in pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm

from apps.core.conf import portico_settings, variable_for
from apps.entra_auth.validation import MAX_TOKEN_LENGTH

LOCAL_LOGIN_OFF = (
    "Password sign-in is switched off here ({variable}=0): use Sign in with Microsoft Entra."
)


class _BlankTextarea(forms.Textarea):
    """Never renders its value back into the page: a refused token is not echoed."""

    def format_value(self, value: Any) -> None:
        return None


class PasteTokenForm(forms.Form):
    token = forms.CharField(
        label="Access token",
        max_length=MAX_TOKEN_LENGTH + len("Bearer "),
        strip=True,
        widget=_BlankTextarea(
            attrs={"rows": 8, "cols": 90, "spellcheck": "false", "autocomplete": "off"}
        ),
        help_text="An access token for this API, with or without the Bearer prefix.",
    )

    def clean_token(self) -> str:
        return self.cleaned_data["token"].removeprefix("Bearer ").strip()


class ExplainTokenForm(forms.Form):
    """The token explainer's input; oversize tokens are explained, not cut off."""

    token = forms.CharField(
        label="Access token",
        max_length=MAX_TOKEN_LENGTH * 4,
        strip=True,
        widget=_BlankTextarea(
            attrs={"rows": 8, "cols": 100, "spellcheck": "false", "autocomplete": "off"}
        ),
        help_text="With or without the Bearer prefix. It is not stored, logged or shown again.",
    )


class AdminPasswordLoginForm(AdminAuthenticationForm):
    """The admin's password form, refusing every attempt while password login is off."""

    def clean(self) -> dict[str, Any]:
        if not portico_settings().admin_password_login:
            raise forms.ValidationError(
                LOCAL_LOGIN_OFF.format(variable=variable_for("ADMIN_PASSWORD_LOGIN")),
                code="password_login_off",
            )
        return super().clean()
