"""Serves the SPA build's files (``{base path}assets/…`` and other files at its root).

WhiteNoise does the serving (ETags, ranges, pre-compressed variants); content-hashed files
under ``assets/`` are cached for a year as immutable. ``index.html`` is never served from
here: the shell view answers for it, with the runtime configuration inlined. A file that is
not there falls through to the shell view, which answers 404 for anything under ``assets/``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from whitenoise.base import WhiteNoise
from whitenoise.middleware import WhiteNoiseMiddleware

from frontend_config.runtime import base_path
from frontend_config.shell import dist_dir

ASSETS_DIR = "assets/"


class SpaAssetsMiddleware(WhiteNoise):
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        super().__init__(
            application=None,
            autorefresh=settings.DEBUG,  # a rebuild shows up without a restart
            max_age=0 if settings.DEBUG else 60,
            allow_all_origins=False,
        )
        self.mount = base_path()
        self.shell_paths = {self.mount, f"{self.mount}index.html"}
        dist = dist_dir()
        if self.autorefresh or dist.is_dir():
            self.add_files(str(dist), prefix=self.mount)

    def immutable_file_test(self, path: str, url: str) -> bool:
        return url.startswith(self.mount + ASSETS_DIR)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith(self.mount) and path not in self.shell_paths:
            found = self.find_file(path) if self.autorefresh else self.files.get(path)
            if found is not None:
                return WhiteNoiseMiddleware.serve(found, request)
        return self.get_response(request)
