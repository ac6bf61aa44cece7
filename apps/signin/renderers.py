"""DRF's browsable API, with links to sign in with Entra, paste a token, or sign out."""

from rest_framework import renderers


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    template = "signin/browsable_api.html"
