"""docs/architecture.md is true: its layers, one home per library, no import cycle;
and every error Puente defines derives from PuenteError.

The rules are import-linter contracts (``[tool.importlinter]`` in pyproject.toml);
these tests run them, and check that the architecture page's tables name the same
modules in the same layers as the contracts.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

import bot
from bot.exceptions import PuenteError

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = ROOT / "docs" / "architecture.md"
# The bot-wide contract's layers, top first.
LAYER_NAMES = ("top", "app", "partners", "data", "edge", "pure")


def contract(contract_id: str) -> dict:
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return next(c for c in settings["contracts"] if c.get("id") == contract_id)


def contract_layers(contract_id: str) -> list[set[str]]:
    """Each layer's modules, top first."""
    return [set(re.split(r"\s*[:|]\s*", layer)) for layer in contract(contract_id)["layers"]]


def table_rows(heading: str) -> list[list[str]]:
    """The cells of the first table under ``heading`` (header row left out)."""
    text = ARCHITECTURE.read_text()
    lines = text[text.index(heading) :].splitlines()
    first = next(n for n, line in enumerate(lines) if line.startswith("|"))
    table = []
    for line in lines[first + 2 :]:
        if not line.startswith("|"):
            break
        table.append([cell.strip() for cell in line.strip("|").split("|")])
    return table


def modules_named(cell: str, package: str = "bot") -> list[str]:
    """The modules a cell names as `bot/x.py` or `bot/x/` (the first part below ``package``)."""
    prefix = package.replace(".", "/") + "/"
    names = []
    for path in re.findall(r"`([^`]+)`", cell):
        if not path.startswith(prefix):
            continue
        name = path[len(prefix) :].split("/")[0].removesuffix(".py")
        module = ROOT / prefix / name
        if name != "__init__" and (module.with_suffix(".py").exists() or module.is_dir()):
            names.append(name)
    return names


def test_the_import_contracts_hold():
    """Layers, each library in its one module, the sending engine's order, no cycle."""
    lint_imports = Path(sys.executable).parent / "lint-imports"
    run = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_no_module_of_bot_imports_itself_back():
    """Module by module: no chain of imports leads back to where it started."""
    graph = grimp.build_graph("bot", cache_dir=None)
    cycles = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                cycles.append(" -> ".join((importer, *back)))
    assert cycles == []


def test_the_modules_table_gives_each_module_the_contracts_layer():
    in_table: dict[str, str] = {}
    for layer, modules, _what in table_rows("## Modules"):
        for name in modules_named(modules):
            in_table[name] = layer
    in_contract = {
        name: LAYER_NAMES[i] for i, layer in enumerate(contract_layers("layers")) for name in layer
    }
    assert in_table == in_contract


def test_the_sending_table_lists_the_engine_in_the_contracts_order():
    in_table = [
        set(modules_named(modules, "bot.sending"))
        for modules, _what in table_rows("### The sending engine")
    ]
    assert in_table == contract_layers("sending")


def test_every_error_puente_defines_derives_from_puente_error():
    defined = []
    for found in pkgutil.walk_packages(bot.__path__, "bot."):
        module = importlib.import_module(found.name)
        defined += [
            cls
            for _name, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, BaseException) and cls.__module__ == module.__name__
        ]
    assert len(defined) >= 8
    assert [cls.__qualname__ for cls in defined if not issubclass(cls, PuenteError)] == []
