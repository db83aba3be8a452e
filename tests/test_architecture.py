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
_METRICS = {"Counter", "Gauge", "Histogram", "Summary", "Info", "Enum"}


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
            # a Prometheus metric joins the process-wide registry when made, unless told not to
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in _METRICS and "registry" not in {k.arg for k in node.keywords}:
                found.append(f"{path.name}:{node.lineno} {node.func.id}(...)")
    return found


def test_nothing_registers_itself_at_import_time() -> None:
    """README "Architecture": the composition root registers every blueprint, command group,
    error handler and Prometheus metric from explicit lists (regression: `erx-gateway users`
    added itself to the command line, and the national views their error handlers, when
    imported; the metrics joined prometheus_client's default registry)."""
    found = [item for path in _modules("gateway")
             if not path.relative_to(ROOT).as_posix().startswith(_REGISTERS_AT_IMPORT)
             for item in _import_time_registrations(path)]
    assert found == []


def test_the_registration_scan_sees_both_forms(tmp_path: Path) -> None:
    sample = tmp_path / "registration-sample.py"
    sample.write_text("from x import main, PROBLEMS\nfrom y import blp\n\n@main.group()\ndef users():\n"
                      "    pass\n\nfor handled in PROBLEMS:\n    blp.register_error_handler(handled, f)\n"
                      "SENT = Counter('sent', 'd')\nKEPT = Counter('kept', 'd', registry=None)\n")
    assert [item.split(" ", 1)[1] for item in _import_time_registrations(sample)] == [
        "@main.group", ".register_error_handler(...)", "Counter(...)"]


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
    assert crossing == []


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
_OPERATOR = re.compile(r"\$\$?[A-Za-z_][\w.]*")
# an update's positional operators inside a path: ``deliveries.$.state``, ``deliveries.$[d]``
_POSITIONAL = re.compile(r"\.\$(\[\w*\])?(\.|$)")


def _is_store(relative: str) -> bool:
    name = relative.rsplit("/", 1)[-1]
    return name == "store.py" or name.endswith("_store.py") or relative in STORE_PLUMBING


def _operators(source: str) -> list[tuple[int, str]]:
    """Every string constant (dict keys included) or f-string that is a MongoDB operator or a
    ``$field`` path: ``"$set"``, ``"$lines.dispensed"``, ``f"${name}"``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if ((_OPERATOR.fullmatch(node.value) and node.value not in NOT_MONGODB)
                    or _POSITIONAL.search(node.value)):
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
              'v = {"deliveries.$[d].state": 1, "lines.$.n": 2, "x": "$$d.state", "e": "a.$"}\n'
              'ok = {"$ref": "#/x", "link": "$response.body#/id", "hash": "$erx-hmac$", "s": "$"}\n')
    assert sorted(_operators(source)) == sorted([(1, "$in"), (1, "$or"), (2, "$set"),
                                                 (3, "$group"), (3, "$lines.ma_thuoc"),
                                                 (3, "${...}"), (4, "deliveries.$[d].state"),
                                                 (4, "lines.$.n"), (4, "$$d.state"), (4, "a.$")])


def test_no_mongodb_operator_outside_the_stores() -> None:
    """Services, views and everything else ask a store by name (``record_dispense``,
    ``release``); none writes a MongoDB query or update itself."""
    outside, scanned, in_stores = [], set(), 0
    for path in _modules(*PACKAGES):
        relative = path.relative_to(ROOT).as_posix()
        operators = _operators(path.read_text(encoding="utf-8"))
        if _is_store(relative):
            in_stores += len(operators)
            continue
        scanned.add(path.parent.relative_to(ROOT).as_posix())
        outside += [f"{relative}:{line}: {word}" for line, word in operators]
    assert outside == []
    # not vacuous: every capability package's modules were read, and the stores' operators
    # (where they belong) are found by the same finder
    packages = {path.parent.name for path in (ROOT / "gateway").glob("*/__init__.py")}
    assert {f"gateway/{name}" for name in packages} <= scanned
    assert {"schemas", "signing", "drug_catalog", "gateway/fhir", "gateway/national"} <= scanned
    assert in_stores > 50


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


# --- no HTTP word in the services ---------------------------------------------------------
# A module outside the HTTP edge (setup.cfg, contract http-at-the-edge: its allowed importers)
# is a model, a store or a service: it raises domain errors with domain data, and what they
# become in an answer (status, slug, title, headers) is said by the faces' tables alone. The
# import contract keeps Flask and Werkzeug out; this scan keeps out the words themselves.
# Exempt: the clients and the simulator of other systems' HTTP APIs (the registry, pharmacy
# webhooks and their egress, a remote audit log, a published JWK Set), whose statuses are what
# those systems answered.
HTTP_PEERS = frozenset({"gateway.forwarding.registry", "gateway.forwarding.webhooks",
                        "gateway.forwarding.egress", "gateway.forwarding.simulator",
                        "gateway.audit.verify", "gateway.signatures.offline"})
HTTP_NAMES = frozenset({"abort", "HTTPStatus", "status_code", "slug", "jsonify",
                        "make_response", "HTTPException", "problem_type", "particulars"})
HTTP_MODULES = ("flask", "werkzeug", "http", "gateway.web", "requests", "httpx")


def _edge_patterns() -> list[str]:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg", encoding="utf-8")
    return parser["importlinter:contract:http-at-the-edge"]["allowed_importers"].split()


def _http_words(source: str) -> list[tuple[int, str]]:
    """Names, attributes and keywords of HTTP, imports of an HTTP library, and a status code
    (400-599) given to a raised error."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and node.id in HTTP_NAMES:
            found.append((node.lineno, node.id))
        elif isinstance(node, ast.Attribute) and node.attr in HTTP_NAMES:
            found.append((node.lineno, "." + node.attr))
        elif isinstance(node, ast.keyword) and node.arg in HTTP_NAMES | {"status_code", "headers"}:
            found.append((node.value.lineno, node.arg + "="))
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [alias.name for alias in node.names]
            found += [(node.lineno, "import " + name) for name in names
                      if name.split(".")[0] in HTTP_MODULES or name.startswith(HTTP_MODULES)]
            if isinstance(node, ast.ImportFrom):
                found += [(node.lineno, alias.name) for alias in node.names
                          if alias.name in HTTP_NAMES]
        elif isinstance(node, ast.Raise) and node.exc is not None:
            found += [(inner.lineno, str(inner.value)) for inner in ast.walk(node.exc)
                      if isinstance(inner, ast.Constant) and type(inner.value) is int
                      and 400 <= inner.value < 600]
    return sorted(set(found))


def test_the_http_word_finder_finds_them() -> None:
    source = ("from flask import abort\nfrom gateway.web.problems import particulars\nimport requests\n"
              "def f(r):\n    if r.status_code == 1:\n        abort(404)\n"
              "    raise Conflict('x', slug='rx-exists', headers={})\n"
              "    raise Invalid(status=422)\n"
              "    return {'status': 'issued', 'limit': 500}\n")
    assert _http_words(source) == [
        (1, "abort"), (1, "import flask"), (2, "import gateway.web.problems"), (2, "particulars"),
        (3, "import requests"), (5, ".status_code"), (6, "abort"), (7, "headers="),
        (7, "slug="), (8, "422")]


def test_no_http_word_in_services() -> None:
    """The models, stores and services (every module of gateway/ outside the edge) say no
    status, slug, title or header, and import no HTTP library (issue 26)."""
    edge = _edge_patterns()
    services, said = [], []
    for path in _modules("gateway"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        if module in HTTP_PEERS or any(_matches(module, pattern) for pattern in edge):
            continue
        services.append(module)
        said += [f"{module}:{line}: {word}"
                 for line, word in _http_words(path.read_text(encoding="utf-8"))]
    assert said == []
    # not vacuous: the services of every capability are read, and the edge is not all of them
    assert {module.split(".")[1] for module in services} >= {
        "audit", "auth", "catalog", "console", "core", "fhir", "forwarding", "parties",
        "prescriptions", "runtime", "signatures"}
    assert "gateway.prescriptions.dispensing" in services and "gateway.national.views" not in services


# --- the model's words are its enums --------------------------------------------------------
def _enum_aliases(sources: dict[str, str]) -> list[str]:
    """Module-level names bound to one member of a ``StrEnum`` of the packages
    (``PENDING = DeliveryState.PENDING``): a second spelling of the enum's word."""
    trees = {name: ast.parse(source) for name, source in sources.items()}
    enums = {node.name for tree in trees.values() for node in ast.walk(tree)
             if isinstance(node, ast.ClassDef)
             and any(getattr(base, "id", getattr(base, "attr", "")) == "StrEnum"
                     for base in node.bases)}
    return [f"{name}:{statement.lineno}" for name, tree in trees.items()
            for statement in tree.body
            if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None
            and isinstance(statement.value, ast.Attribute)
            and isinstance(statement.value.value, ast.Name) and statement.value.value.id in enums]


def test_the_alias_finder_finds_aliases() -> None:
    sources = {"m.py": "from enum import StrEnum\nclass State(StrEnum):\n    A = 'a'\n",
               "n.py": "from m import State\nA = State.A\nB: str = State.A\nC = (State.A,)\n"
                       "D = other.A\n"}
    assert _enum_aliases(sources) == ["n.py:2", "n.py:3"]


def test_statuses_roles_and_states_are_spelt_once() -> None:
    """Statuses, roles, delivery states and events are their ``StrEnum`` members everywhere
    (``Status.CANCELLED``), with no module-level alias beside them (issue 26, item 1)."""
    sources = {path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
               for path in _modules(*SOURCE_DIRS)}
    assert _enum_aliases(sources) == []
