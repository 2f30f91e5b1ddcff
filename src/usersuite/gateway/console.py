"""The browser console's files (built by `make web`), as routes that Envoy answers itself."""

from importlib import resources
from pathlib import Path
from typing import Any

CONSOLE_DIR_NAME = "console"
# The wheel carries the console beside this module; a source checkout has it where `make web`
# writes it (committed, so `make run` serves it without a TypeScript build).
SOURCE_TREE_CONSOLE = Path(__file__).resolve().parents[3] / "gen" / CONSOLE_DIR_NAME

# URL path -> the file and its content type; index.html loads the other two by these paths.
ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/console.js": ("console.js", "text/javascript; charset=utf-8"),
    "/console.css": ("console.css", "text/css; charset=utf-8"),
}
# Envoy refuses a direct response body over 4 KiB unless the route configuration allows more.
MAX_BODY_BYTES = 1024 * 1024
# The page loads only its own files and calls only its own origin (the gateway).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
NOT_BUILT = "the console at {dir} is not built (run `make web`), or set gateway.console = false"


def default_console_dir() -> Path:
    """The console of the installed package, or of the source tree."""
    packaged = resources.files("usersuite.gateway") / CONSOLE_DIR_NAME
    if packaged.is_dir():
        return Path(str(packaged))
    return SOURCE_TREE_CONSOLE


def _header(name: str, value: str) -> dict[str, Any]:
    return {"header": {"key": name, "value": value}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}


def console_routes(directory: Path) -> list[dict[str, Any]]:
    """A GET (or HEAD) of each file, answered from the file as Envoy read it at start; other
    methods on these paths fall through to the JSON NOT_FOUND."""
    missing = [name for name, _ in ASSETS.values() if not (directory / name).is_file()]
    if missing:
        raise ValueError(NOT_BUILT.format(dir=directory))
    return [
        {
            "match": {
                "path": path,
                "headers": [
                    {"name": ":method",
                     "string_match": {"safe_regex": {"regex": "^(GET|HEAD)$"}}},
                ],
            },
            "direct_response": {"status": 200, "body": {"filename": str(directory / name)}},
            "response_headers_to_add": [
                _header("content-type", content_type),
                # Revalidated on every load, so a new build shows at once.
                _header("cache-control", "no-cache"),
                _header("x-content-type-options", "nosniff"),
                _header("content-security-policy", CONTENT_SECURITY_POLICY),
            ],
        }
        for path, (name, content_type) in ASSETS.items()
    ]  # fmt: skip
