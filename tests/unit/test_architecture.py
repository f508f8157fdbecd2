"""The dependency directions docs/architecture.md promises, checked on the source: the
tiers (cli -> kiosk and fleet -> domain packages -> wire -> foundations), vision imports
nothing of the rest, the display never sees the audience, telemetry never sees vision,
the fleet knows the kiosk only through the MQTT contract (wire/), and each outside world
(argparse, pygame, cv2, paho, SQL, YAML) is imported only in its homes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.source import imports

PACKAGE = Path(__file__).resolve().parents[2] / "signage"

ABOVE_DOMAIN = ("signage.kiosk", "signage.fleet", "signage.cli")
FORBIDDEN = {
    "vision": ("signage.playlist", "signage.display", "signage.telemetry", "signage.wire", *ABOVE_DOMAIN),
    "display": ("signage.vision", "signage.audience", "signage.playlist", "signage.telemetry", "signage.wire",
                *ABOVE_DOMAIN),
    "telemetry": ("signage.vision", "signage.display", "signage.playlist", *ABOVE_DOMAIN),
    "playlist": ("signage.vision", "signage.display", "signage.telemetry", "signage.wire", *ABOVE_DOMAIN),
    "kiosk": ("signage.fleet", "signage.cli"),
    # Releases: the playlist checks (their decoder injected) and the contract, nothing of the running parts.
    "content": ("signage.vision", "signage.display", "signage.telemetry", *ABOVE_DOMAIN),
}
FOUNDATIONS = {"audience", "contributors", "clock", "config", "fields", "patterns", "yamlread", "validation",
               "modelfiles", "contentconfig", "errors", "faults", "threads", "imageinfo", "build"}
# What a package may import of signage, when that is shorter said than what it may not.
# The fleet runs on another machine and knows the kiosks only by what they publish: the
# contract (wire/) and the foundations, never the kiosk, its uplink, vision, display or
# playlists. The contract sits just above the foundations: kiosk, fleet and telemetry
# import it, it imports none of them.
ONLY = {
    "fleet": ("signage.fleet", "signage.wire"),
    "wire": ("signage.wire",),
}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependencies_point_one_way(package):
    for path in (PACKAGE / package).rglob("*.py"):
        for name in imports(path):
            assert not name.startswith(FORBIDDEN[package]), f"{path.relative_to(PACKAGE)} imports {name}"


@pytest.mark.parametrize("package", sorted(ONLY))
def test_the_fleet_and_the_contract_import_only_what_is_below_them(package):
    allowed = (*ONLY[package], *(f"signage.{name}" for name in FOUNDATIONS))
    for path in (PACKAGE / package).rglob("*.py"):
        for name in imports(path):
            if name.startswith("signage."):  # `from signage import __version__` is the package's own
                assert inside(name, allowed), f"{path.relative_to(PACKAGE)} imports {name}"


def inside(name: str, modules: tuple[str, ...]) -> bool:
    return any(name == module or name.startswith(module + ".") for module in modules)


def test_nothing_outside_vision_and_display_writes_or_encodes_pixels():
    for path in PACKAGE.rglob("*.py"):
        if {"vision", "display"} & set(path.relative_to(PACKAGE).parts):
            continue
        text = path.read_text()
        for call in ("imwrite", "imencode", "VideoWriter", "image.save", ".tofile("):
            assert call not in text, f"{path.relative_to(PACKAGE)} uses {call}"


def test_vision_writes_no_pixels_at_all():
    for path in (PACKAGE / "vision").rglob("*.py"):
        text = path.read_text()
        for call in ("imwrite", "imencode", "VideoWriter", ".tofile(", "pickle"):
            assert call not in text, f"{path.relative_to(PACKAGE)} uses {call}"


def test_foundations_import_only_foundations():
    for name in sorted(FOUNDATIONS):
        path = PACKAGE / f"{name}.py"
        for imported in imports(path):
            parts = imported.split(".")
            if parts[0] != "signage" or len(parts) == 1:
                continue
            assert parts[1] in FOUNDATIONS, f"{name}.py imports {imported}: foundations import no tier above them"


def test_no_module_is_left_loose_at_the_top():
    loose = {p.stem for p in PACKAGE.glob("*.py")} - FOUNDATIONS - {"__init__"}
    assert not loose, f"put these in cli/, kiosk/ or a domain package: {sorted(loose)}"


# Each outside world's home, as glob patterns relative to signage/. cv2 has two: vision
# reads camera frames and runs the models' image maths; display decodes the creatives'
# images and videos (and says how long a video is, display/videoinfo.py, so that the
# playlist checks need no decoder of their own). The benches prepare real frames and media
# as a camera or a creative would deliver them, so cli/bench_*.py may use it too.
# paho has one home, wire/client.py, checked here like the others (issue 10's rework).
HOMES = {
    "argparse": ("cli/*",),
    "pygame": ("display/*",),
    "cv2": ("vision/*", "vision/sources/*", "display/*", "cli/bench_*.py"),
    # Every MQTT client, of the kiosk, its tools and the fleet dashboard, is made in wire/client.py.
    "paho": ("wire/client.py",),
    # Signing and checking commands (the fleet's key, the kiosks' checks) in one module.
    "cryptography": ("wire/envelope.py", "content/signing.py"),  # content: the release key and its seal
    # The kiosk's spool is its only SQLite file; the fleet speaks SQL through SQLAlchemy.
    "sqlite3": ("telemetry/spool/*",),
    # The fleet's database, in fleet/ (its store, its pages' readers, migrations). The fleet
    # bench checks that the database it is given is empty and measures its size on disk.
    "sqlalchemy": ("fleet/*", "fleet/store/*", "fleet/web/*", "fleet/migrations/*", "fleet/migrations/versions/*",
                   "cli/bench_fleet.py"),
    # YAML is read with positions, bounded and without duplicate keys, and written, in one module.
    "yaml": ("yamlread.py",),
}


@pytest.mark.parametrize("library", sorted(HOMES))
def test_each_outside_world_has_its_homes(library):
    homes = HOMES[library]
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if any(name == library or name.startswith(library + ".") for name in imports(path)):
            assert any(relative.match(home) for home in homes), f"{relative} imports {library}; only {homes} may"


def test_the_playlist_package_needs_no_decoder():
    """A video's length is the display's to say (injected), not OpenCV's inside playlist/."""
    for path in (PACKAGE / "playlist").glob("*.py"):
        assert not {"cv2", "pygame"} & {name.split(".")[0] for name in imports(path)}, path.name


def test_vision_takes_plain_settings_and_model_files_not_the_config_tree_or_the_manifest():
    """Vision is told what it needs (vision/settings.py) and given its model files as
    paths: it never reads the kiosk's config tree or the model manifest (signage.modelfiles,
    which its callers use to resolve and verify the files)."""
    allowed = ("signage.audience", "signage.errors", "signage.faults", "signage.fields", "signage.threads",
               "signage.vision")
    for path in (PACKAGE / "vision").rglob("*.py"):
        for name in imports(path):
            if name.startswith("signage"):
                assert name.startswith(allowed), f"{path.relative_to(PACKAGE)} imports {name}"


def module_imports(path: Path) -> set[str]:
    """What a module imports when it is imported (not inside functions: those are lazy)."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}  # `from package import module`
    return found


def test_no_import_loops():
    modules = {".".join(("signage", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__"): path
               for path in PACKAGE.rglob("*.py") if "migrations" not in path.parts}
    graph = {name: {m for m in module_imports(path) if m in modules and m != name} for name, path in modules.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for imported in sorted(graph[name]):
            if state.get(imported) == 1:
                loop = path[path.index(imported):] + [imported] if imported in path else [name, imported]
                raise AssertionError(f"import loop: {' -> '.join(loop)}")
            if imported not in state:
                visit(imported, path + [imported])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_the_fleet_routes_build_no_sql():
    """A route asks queries.py or web/present.py for what it shows; SQL lives in the queries,
    the store and the operator's writes."""
    routes = list((PACKAGE / "fleet" / "web" / "routes").glob("*.py"))
    assert len(routes) > 5
    for path in routes:
        for name in imports(path):
            assert name.split(".")[0] != "sqlalchemy", f"fleet/web/routes/{path.name} imports {name}"
