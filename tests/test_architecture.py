"""The structure README "Architecture" describes, held by tests beside import-linter's
contracts (setup.cfg): no import cycle at all, imports inside functions only in the composition
root, small modules, a flat top of ``gateway/`` with everything else in capability packages."""

from __future__ import annotations

import ast
import configparser
import re
from pathlib import Path

import grimp
import pytest

from tests.support.layout import PACKAGES, ROOT, SOURCE_DIRS

MAX_LINES = 600
# The composition root may import lazily (each such import carries a comment saying why).
LAZY_IMPORTS_ALLOWED = ("gateway/__init__.py", "gateway/container.py", "gateway/cli/")


def _modules(*dirs: str) -> list[Path]:
    return sorted(path for name in dirs for path in (ROOT / name).rglob("*.py"))


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: every component of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, ())))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_no_import_cycle_counting_imports_inside_functions() -> None:
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)
    edges = {module: graph.find_modules_directly_imported_by(module)
             for module in graph.modules}
    # A package's __init__ is the package: an import of gateway.x by gateway is no cycle
    # unless gateway.x imports the package back, which the graph shows as an edge too.
    assert _strongly_connected(edges) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        ["a", "b", "c"]]


@pytest.mark.parametrize("path", _modules(*SOURCE_DIRS), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_source_module_exceeds_the_limit(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES


def test_imports_inside_functions_only_in_the_composition_root() -> None:
    lazy = []
    for path in _modules(*PACKAGES):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(LAZY_IMPORTS_ALLOWED):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lazy += [f"{relative}:{inner.lineno}" for inner in ast.walk(node)
                         if isinstance(inner, (ast.Import, ast.ImportFrom))]
    assert lazy == []


def test_gateway_holds_only_a_handful_of_modules_directly() -> None:
    top = sorted(path.name for path in (ROOT / "gateway").glob("*.py"))
    assert top == ["__init__.py", "container.py"]
    packages = sorted(path.parent.name for path in (ROOT / "gateway").glob("*/__init__.py"))
    assert packages == ["audit", "auth", "catalog", "cli", "console", "core", "fhir",
                        "forwarding", "national", "parties", "prescriptions", "runtime", "signatures", "web"]


# Calls that attach a module's handlers, commands or blueprints to something: at a module's top
# level they would run on import, so only the composition root's modules may make them there.
_REGISTERING = {"register_error_handler", "register_blueprint", "add_command", "errorhandler",
                "app_errorhandler", "before_request", "after_request", "before_app_request",
                "after_app_request", "add_url_rule"}
_REGISTERS_AT_IMPORT = ("gateway/__init__.py", "gateway/cli/__init__.py")


def _import_time_registrations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {alias.asname or alias.name for node in tree.body if isinstance(node, ast.ImportFrom)
                for alias in node.names}
    found = []
    for statement in tree.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            # A function's body runs when called; its decorators run on import.
            for decorator in statement.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                # Decorating with the module's own blueprint (a route, its before_request) is
                # how it is defined; decorating with another module's object registers into it.
                if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) \
                        and target.value.id in imported:
                    found.append(f"{path.name}:{decorator.lineno} @{target.value.id}.{target.attr}")
            continue
        for node in ast.walk(statement):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in _REGISTERING:
                found.append(f"{path.name}:{node.lineno} .{node.func.attr}(...)")
    return found


def test_nothing_registers_itself_at_import_time() -> None:
    """README "Architecture": the composition root registers every blueprint, command group and
    error handler from explicit lists (regression: `erx-gateway users` added itself to the
    command line, and the national views their error handlers, when imported)."""
    found = [item for path in _modules("gateway")
             if not path.relative_to(ROOT).as_posix().startswith(_REGISTERS_AT_IMPORT)
             for item in _import_time_registrations(path)]
    assert found == []


def test_the_registration_scan_sees_both_forms(tmp_path: Path) -> None:
    sample = tmp_path / "registration-sample.py"
    sample.write_text("from x import main, PROBLEMS\nfrom y import blp\n\n@main.group()\ndef users():\n"
                      "    pass\n\nfor handled in PROBLEMS:\n    blp.register_error_handler(handled, f)\n")
    assert [item.split(" ", 1)[1] for item in _import_time_registrations(sample)] == [
        "@main.group", ".register_error_handler(...)"]


def test_tests_share_code_through_tests_support_only() -> None:
    """A test module importing another test module (or a conftest) runs its imported fixtures
    under a lint exemption and couples the two; shared helpers live in tests/support, shared
    fixtures in a conftest.py."""
    crossing = []
    for path in sorted((ROOT / "tests").rglob("*.py")) + _modules("bench", "tools"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module \
                    and (node.module == "tests" or node.module.startswith("tests.")) \
                    and not (node.module == "tests.support" or node.module.startswith("tests.support.")):
                crossing.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.module}")
            elif isinstance(node, ast.Import):
                crossing += [f"{path.relative_to(ROOT)}:{node.lineno} {alias.name}"
                             for alias in node.names if alias.name.startswith("tests.")
                             and not alias.name.startswith("tests.support")]
    # The one exception, to remove: the FHIR cost test measures beside the native round-trip
    # test with that module's own `app` override (a registry double and a command counter),
    # which a conftest.py would impose on every test of its folder.
    allowed = {"tests/gateway/fhir/test_costs.py:10 tests.gateway.prescriptions.test_round_trips"}
    assert sorted(set(crossing) - allowed) == []


def _mypy_sections() -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg", encoding="utf-8")
    return {name.removeprefix("mypy-"): dict(parser[name]) for name in parser.sections()
            if name.startswith("mypy-")}


def _matches(module: str, pattern: str) -> bool:
    # mypy's per-module patterns: `a.*` is a and below it, a `*` inside stands for components.
    regex = re.escape(pattern).replace(r"\.\*", r"(\.[^.]+)+")
    regex = regex[: -len(r"(\.[^.]+)+")] + r"(\.[^.]+)*" if pattern.endswith(".*") else regex
    return re.fullmatch(regex, module) is not None


def test_the_domain_the_core_and_every_model_and_store_are_type_checked_strictly() -> None:
    strict = [patterns for patterns, options in _mypy_sections().items()
              if options.get("disallow_untyped_defs") == "True"
              and options.get("disallow_any_generics") == "True"]
    assert len(strict) == 1
    patterns = [item.strip() for item in strict[0].split(",")]
    wanted = [path for path in _modules("schemas", "signing", "drug_catalog", "gateway/core")
              if path.name != "__init__.py"]
    wanted += [path for path in _modules("gateway") if path.name in ("model.py", "store.py")
               or path.name.endswith("_store.py")]
    modules = [".".join(path.relative_to(ROOT).with_suffix("").parts) for path in wanted]
    assert "gateway.prescriptions.outbox_store" in modules and "signing.jws" in modules
    assert [module for module in modules
            if not any(_matches(module, pattern) for pattern in patterns)] == []


def test_the_pattern_reader_reads_as_mypy_does() -> None:
    assert _matches("gateway.parties.store", "gateway.*.store")
    assert not _matches("gateway.parties.store_x", "gateway.*.store")
    assert _matches("schemas", "schemas.*") and _matches("schemas.data.x", "schemas.*")
    assert not _matches("schemasx.y", "schemas.*")
# --- MongoDB queries and updates live in the stores -------------------------------------------
# A store module is one named ``store.py`` or ``*_store.py``: the owner of its collections,
# the only code that writes a query, an update, a pipeline or an index filter for them. Two
# modules of the core's database plumbing own no collection of the domain and are stores in
# that sense too: the change feed (its $match over the change streams of every subscribed
# collection) and the field encryption (the key vault's index).
STORE_PLUMBING = ("gateway/core/changes.py", "gateway/core/encryption.py")
# ``$`` words that are not MongoDB's: JSON Schema and OpenAPI keywords.
NOT_MONGODB = frozenset({"$ref", "$schema", "$id", "$defs"})
_OPERATOR = re.compile(r"\$[A-Za-z_][\w.]*")


def _is_store(relative: str) -> bool:
    name = relative.rsplit("/", 1)[-1]
    return name == "store.py" or name.endswith("_store.py") or relative in STORE_PLUMBING


def _operators(source: str) -> list[tuple[int, str]]:
    """Every string constant (dict keys included) or f-string that is a MongoDB operator or a
    ``$field`` path: ``"$set"``, ``"$lines.dispensed"``, ``f"${name}"``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _OPERATOR.fullmatch(node.value) and node.value not in NOT_MONGODB:
                found.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr) and node.values:
            first = node.values[0]
            if (isinstance(first, ast.Constant) and isinstance(first.value, str)
                    and first.value.startswith("$")):
                found.append((node.lineno, first.value + "{...}"))
    return found


def test_the_operator_finder_finds_operators() -> None:
    source = ('q = {"status": {"$in": ["a"]}, "$or": []}\n'
              'u = {"$set": {"x": 1}}\n'
              'p = [{"$group": {"_id": "$lines.ma_thuoc"}}, f"${name}"]\n'
              'ok = {"$ref": "#/x", "link": "$response.body#/id", "hash": "$erx-hmac$", "s": "$"}\n')
    assert sorted(_operators(source)) == sorted([(1, "$in"), (1, "$or"), (2, "$set"),
                                                 (3, "$group"), (3, "$lines.ma_thuoc"),
                                                 (3, "${...}")])


def test_no_mongodb_operator_outside_the_stores() -> None:
    """Services, views and everything else ask a store by name (``record_dispense``,
    ``release``); none writes a MongoDB query or update itself."""
    outside = []
    for path in _modules(*PACKAGES):
        relative = path.relative_to(ROOT).as_posix()
        if _is_store(relative):
            continue
        outside += [f"{relative}:{line}: {word}"
                    for line, word in _operators(path.read_text(encoding="utf-8"))]
    assert outside == []


# pymongo's collection methods (``find`` is left out: strings have one too).
COLLECTION_METHODS = frozenset({
    "find_one", "insert_one", "insert_many", "update_one", "update_many", "replace_one",
    "delete_one", "delete_many", "aggregate", "count_documents", "bulk_write", "distinct",
    "find_one_and_update", "find_one_and_replace", "find_one_and_delete", "watch"})


def test_no_collection_is_read_or_written_outside_the_stores() -> None:
    """Besides operators, a plain ``find_one({"_id": ...})`` or ``insert_one`` belongs to the
    store of its collection too (the change feed's ``watch`` is the core's plumbing)."""
    outside = []
    for path in _modules(*PACKAGES):
        relative = path.relative_to(ROOT).as_posix()
        if _is_store(relative):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        outside += [f"{relative}:{node.lineno}: {node.func.attr}" for node in ast.walk(tree)
                    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in COLLECTION_METHODS]
    assert outside == []
