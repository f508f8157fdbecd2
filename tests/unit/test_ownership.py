"""State lives with its owner: no module assigns the attributes of an object it was
handed (a parameter, or a part of one) or of another module. An object changes through
its own methods, so a reader finds every change to its state in its class.

The few exceptions are APIs that are set up by assigning attributes, each with why."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "signage"

# (where, under signage/; the name the assignment starts from): why it may.
ALLOWED = {
    ("cli/bench_vision.py", "model"): "the bench times its own pipeline's model by wrapping that instance's run",
    ("display/pictures.py", "showing"): "the stage's own record of a creative, handed over to be given its picture",
    ("display/stage.py", "showing"): "the stage's own record of a creative on screen, passed to its helpers",
    ("display/textures.py", "texture"): "pygame's Texture takes its blend mode and alpha as attributes",
    ("fleet/", "dbapi_connection"): "SQLAlchemy's connect event hands over the driver's connection to set up",
    ("fleet/", "request"): "Starlette keeps per-request values on request.state",
    ("telemetry/spool/salvage.py", "found"): "one salvage's findings, filled in by the readers of that salvage",
    ("vision/quantize.py", "graph"): "the flatbuffer model being rewritten is built by assigning its fields",
    ("vision/quantize.py", "sub"): "a subgraph of that model",
}


def _parameters(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> set[str]:
    args = function.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    return {arg.arg for arg in every if arg is not None} - {"self", "cls"}


def _root(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _targets(node: ast.stmt) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        found = node.targets
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        found = [node.target]
    else:
        return []
    return [element for target in found
            for element in (target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target])]


def foreign_assignments(source: str) -> list[tuple[int, str, str]]:
    """(line, target, root) of each assignment to an attribute of a parameter, of a local
    name bound to a part of one, or of an imported module."""
    tree = ast.parse(source)
    modules = {alias.asname or alias.name.split(".")[0] for node in ast.walk(tree)
               if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    found = []

    def visit(node: ast.AST, foreign: set[str]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, (foreign | _parameters(child)) - {"self", "cls"})
                continue
            if isinstance(child, ast.Assign) and len(child.targets) == 1 and isinstance(child.targets[0], ast.Name):
                name = child.targets[0].id
                if isinstance(child.value, (ast.Attribute, ast.Subscript)) and _root(child.value) in foreign:
                    foreign = foreign | {name}  # an alias of another object's part
                else:
                    foreign = foreign - {name}  # bound anew: a value of this function's own
            for target in _targets(child):
                root = _root(target)
                if isinstance(target, ast.Attribute) and (root in foreign or root in modules):
                    found.append((child.lineno, ast.unparse(target), root))
            visit(child, foreign)

    visit(tree, set())
    return found


def test_no_module_assigns_another_objects_attributes():
    offences = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        for line, target, root in foreign_assignments(path.read_text()):
            if not any(relative.startswith(where) and root == name for where, name in ALLOWED):
                offences.append(f"signage/{relative}:{line}: {target} = ...")
    assert not offences, "change another object through its methods:\n" + "\n".join(offences)


def test_every_exception_is_still_needed():
    used = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        used |= {(where, name) for where, name in ALLOWED for _, _, root in foreign_assignments(path.read_text())
                 if relative.startswith(where) and root == name}
    assert used == set(ALLOWED), f"no longer needed: {sorted(set(ALLOWED) - used)}"


def test_the_scan_finds_each_kind_of_foreign_assignment():
    source = '''
import signage.kiosk.uplink as uplink
from signage.kiosk import privacy


def step(kiosk, player):
    kiosk.telemetry = None                      # a parameter's attribute
    kiosk.privacy.on, other = True, 1           # a part of one, in a tuple
    player.records += []                        # augmented
    link = kiosk.telemetry
    link.retry_at = 0                           # through an alias of a part
    uplink.RETRY_S = 1                          # a module's attribute
    privacy.switch = None                       # another module's function

    def later():
        kiosk.config = None                     # a closure over a parameter


class Own:
    def method(self, value):
        self.value = value                      # its own state
        record = Record()
        record.count = 1                        # a value it made itself
        link = value.link
        link = Link()
        link.ready = True                       # bound anew: its own
'''
    found = [target for _, target, _ in foreign_assignments(source)]
    assert found == ["kiosk.telemetry", "kiosk.privacy.on", "player.records", "link.retry_at", "uplink.RETRY_S",
                     "privacy.switch", "kiosk.config"]
