"""benchmarks/load.py's pure helpers: where the throwaway database goes, which asset it loads.
(The benchmark itself needs wrk, PostgreSQL and minutes: it is run by hand, not in CI.)"""

from __future__ import annotations

from pathlib import Path

from benchmarks.load import LUA, TARGETS, asset_paths, with_database


def test_the_throwaway_database_replaces_only_the_database_name() -> None:
    admin = "postgres://portico:portico@127.0.0.1:5432/portico?sslmode=disable"
    assert with_database(admin, "portico_load_1a2b") == (
        "postgres://portico:portico@127.0.0.1:5432/portico_load_1a2b?sslmode=disable"
    )


def test_asset_paths_reads_vites_relative_references() -> None:
    shell = (
        '<link rel="icon" href="./assets/favicon-Xx.svg" />'
        '<script type="module" crossorigin src="./assets/index-BJ.js"></script>'
        '<link rel="stylesheet" href="/assets/index-YQ.css">'
        '<a href="/api/me">'
    )
    assert asset_paths(shell) == [
        "/assets/favicon-Xx.svg",
        "/assets/index-BJ.js",
        "/assets/index-YQ.css",
    ]


def test_the_targets_are_the_issues() -> None:
    assert set(TARGETS) == {
        ("me", "health", 0.70),
        ("me_redis_down", "me", 0.80),
        ("shell", "health", 0.80),
        ("config", "health", 0.80),
    }


def test_the_lua_script_reads_the_token_from_the_environment_only() -> None:
    script = Path(LUA).read_text()
    assert 'os.getenv("PORTICO_LOAD_TOKEN")' in script
    assert 'wrk.headers["X-Forwarded-Proto"] = "https"' in script
    assert "Bearer ey" not in script
