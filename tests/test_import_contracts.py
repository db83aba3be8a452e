"""The import contracts of setup.cfg cover every module of gateway/, new ones included.

The contracts name modules with wildcards or whole packages; these tests check what that
promises: every capability package is a layer, every module holding a blueprint is a view under
the views contract, and a module nobody listed (a new service, a new core module) is held to
"no HTTP" the moment it imports Flask or an edge module.
"""

from __future__ import annotations

import ast
import configparser
from copy import deepcopy
from functools import cache
from pathlib import Path
from typing import Any

import grimp
import pytest
from importlinter import configuration
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.independence import IndependenceContract
from importlinter.contracts.layers import LayersContract
from importlinter.contracts.protected import ProtectedContract
from importlinter.domain.contract import Contract
from importlinter.domain.helpers import module_expressions_to_modules
from importlinter.domain.imports import ModuleExpression

ROOT = Path(__file__).resolve().parents[1]
configuration.configure()  # the timer and file system the contracts use, as lint-imports sets
TYPES: dict[str, type[Contract]] = {"forbidden": ForbiddenContract, "layers": LayersContract,
                                    "independence": IndependenceContract,
                                    "protected": ProtectedContract}


def _options(section: configparser.SectionProxy) -> dict[str, Any]:
    return {key: value.strip().split("\n") if "\n" in value else value
            for key, value in section.items()}


@cache
def _config() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg", encoding="utf-8")
    session = _options(parser["importlinter"])
    contracts = {name.split(":")[-1]: _options(parser[name])
                 for name in parser.sections() if name.startswith("importlinter:contract:")}
    return session, contracts


def _contract(contract_id: str) -> Contract:
    session, contracts = _config()
    options = contracts[contract_id]
    return TYPES[options["type"]](name=options["name"], session_options=session,
                                  contract_options=options)


@cache
def _graph() -> grimp.ImportGraph:
    session, _ = _config()
    return grimp.build_graph(*session["root_packages"], include_external_packages=True,
                             exclude_type_checking_imports=True)


def _kept(contract_id: str, graph: grimp.ImportGraph) -> bool:
    return _contract(contract_id).check(deepcopy(graph), verbose=False).kept


def _gateway_modules() -> list[str]:
    return sorted(module for module in _graph().modules
                  if module == "gateway" or module.startswith("gateway."))


def _expanded(expressions: list[str]) -> set[str]:
    found = module_expressions_to_modules(_graph(), [ModuleExpression(item) for item in expressions])
    return {module.name for module in found}


def test_every_contract_is_kept_as_the_code_stands() -> None:
    _, contracts = _config()
    assert [name for name in contracts if not _kept(name, _graph())] == []


def test_every_module_of_gateway_sits_in_a_layer() -> None:
    layers = [layer.strip() for line in _config()[1]["layers"]["layers"]
              for layer in line.split("|")]
    outside = [module for module in _gateway_modules()
               if module != "gateway" and not any(module == layer or module.startswith(layer + ".")
                                                  for layer in layers)]
    assert outside == []


def test_every_module_with_a_blueprint_is_a_view_under_the_views_contract() -> None:
    views = _expanded(_config()[1]["views"]["modules"])
    with_blueprint = []
    for module in _gateway_modules():
        path = ROOT / (module.replace(".", "/") + ".py")
        if not path.exists():
            path = ROOT / module.replace(".", "/") / "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(node, ast.Call) and getattr(node.func, "id", "").endswith("Blueprint")
               for node in ast.walk(tree)):
            with_blueprint.append(module)
    assert with_blueprint, "the scan found no blueprint at all"
    assert [module for module in with_blueprint
            if module not in views and module != "gateway.console.pages"] == []


def test_the_edge_names_only_modules_that_exist() -> None:
    protected = _config()[1]["http-at-the-edge"]
    named = [item for item in protected["allowed_importers"] + protected["protected_modules"]
             if "*" not in item and item.startswith("gateway")]
    assert sorted(set(named) - set(_gateway_modules())) == []


@pytest.mark.parametrize("service", ["gateway.forwarding.schedule", "gateway.parties.secrets",
                                     "gateway.prescriptions.audit_outbox",
                                     "gateway.prescriptions.store"])
@pytest.mark.parametrize("imported", ["flask", "werkzeug", "gateway.web.problems",
                                      "gateway.prescriptions.answers", "gateway.audit.views"])
def test_a_service_importing_http_breaks_a_contract(service: str, imported: str) -> None:
    graph = deepcopy(_graph())
    graph.add_import(importer=service, imported=imported)
    assert not _kept("http-at-the-edge", graph)


def test_a_new_module_is_held_to_the_contracts_without_being_listed() -> None:
    graph = deepcopy(_graph())
    graph.add_module("gateway.forwarding.novel")
    graph.add_import(importer="gateway.forwarding.novel", imported="flask")
    assert not _kept("http-at-the-edge", graph)
    graph = deepcopy(_graph())
    graph.add_module("gateway.core.novel")
    graph.add_import(importer="gateway.core.novel", imported="werkzeug")
    assert not _kept("core-without-http", graph)


def test_a_new_views_module_may_not_import_another_view() -> None:
    graph = deepcopy(_graph())
    graph.add_module("gateway.fhir")
    graph.add_module("gateway.fhir.views")
    graph.add_import(importer="gateway.fhir.views", imported="gateway.prescriptions.views")
    assert not _kept("views", graph)


def test_the_core_imports_no_flask() -> None:
    graph = _graph()
    core = [module for module in _gateway_modules() if module.startswith("gateway.core")]
    reaching = [(module, banned) for module in core for banned in ("flask", "werkzeug")
                if graph.find_shortest_chain(importer=module, imported=banned)]
    assert reaching == []


def test_every_edge_module_is_protected_as_well_as_allowed() -> None:
    """An edge module left unprotected could be imported by a service, and carry HTTP into it."""
    edge = _config()[1]["http-at-the-edge"]
    composition_root = {"gateway", "gateway.container", "gateway.cli", "gateway.cli.*"}
    assert set(edge["allowed_importers"]) - composition_root == {
        item for item in edge["protected_modules"] if item.startswith("gateway")}
