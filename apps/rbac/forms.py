"""Forms of the RBAC admin pages: they turn pasted or uploaded text into documents.

Every way the input can be wrong ends as a form error that says what to fix, never a 500.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms

from apps.rbac.simulation import SimulationInputError, untrusted_payload

MAX_INPUT_CHARS = 200_000  # far above a real token or manifest; bounds the parsing work
MAX_UPLOAD_BYTES = 1024 * 1024


def parse_json(text: str, *, what: str) -> Any:
    """``text`` as JSON, or a ValidationError naming the line and column of the fault."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise forms.ValidationError(
            f"{what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from exc
    except RecursionError as exc:
        raise forms.ValidationError(f"{what} is nested too deeply.") from exc


class SimulationForm(forms.Form):
    """A claims JSON object, or a compact JWT whose payload is read without verification."""

    source = forms.CharField(
        label="Claims JSON or token",
        max_length=MAX_INPUT_CHARS,
        strip=True,
        widget=forms.Textarea(
            attrs={"rows": 12, "cols": 100, "spellcheck": "false", "class": "vLargeTextField"}
        ),
        help_text=(
            'Paste a claims object such as {"roles": ["Orders.Read"], "scp": "access_as_user"} '
            "or an access token (with or without the Bearer prefix)."
        ),
    )

    def clean_source(self) -> str:
        source: str = self.cleaned_data["source"]
        if source.startswith("{"):
            document = parse_json(source, what="The claims")
            self.input_kind = "claims JSON"
        else:
            try:
                document = untrusted_payload(source)
            except SimulationInputError as exc:
                raise forms.ValidationError(
                    f"This is neither a JSON object nor a token: {exc}"
                ) from exc
            self.input_kind = "token (payload decoded without verification)"
        if not isinstance(document, dict):
            raise forms.ValidationError("The claims must be a JSON object.")
        self.document = document
        return source


class ManifestForm(forms.Form):
    """An app manifest, uploaded as a file or pasted; exactly one of the two."""

    manifest_file = forms.FileField(label="Manifest file", required=False)
    manifest_text = forms.CharField(
        label="…or paste the manifest JSON",
        required=False,
        max_length=MAX_INPUT_CHARS,
        widget=forms.Textarea(
            attrs={"rows": 14, "cols": 100, "spellcheck": "false", "class": "vLargeTextField"}
        ),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        upload = cleaned.get("manifest_file")
        text = (cleaned.get("manifest_text") or "").strip()
        if bool(upload) == bool(text):
            raise forms.ValidationError("Upload a manifest file or paste its JSON (one of them).")
        if upload:
            text = self._read_upload(upload)
        self.document = parse_json(text, what="The manifest")
        return cleaned

    @staticmethod
    def _read_upload(upload: Any) -> str:
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The manifest file is larger than 1 MiB.")
        try:
            # utf-8-sig: manifests downloaded from the Azure portal may start with a BOM.
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError("The manifest file is not UTF-8 text.") from exc
