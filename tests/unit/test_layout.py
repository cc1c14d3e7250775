"""The code layout's import rules (issue 27), read from the source with `ast`, nothing run.

- The /v2/ views and the manifest fast path reach the proxy cache only through
  services/pull.py, which decides hosted, proxy or group: they never import `proxy/`.
- The OCI grammar and error table (`registry_api/oci/`) and the small helpers of
  `registry_api/lib/` import no Django.
- No import loop between the modules of `registry_api/models/`, nor between those of
  `storage_backends/`, nor anywhere in the application's packages. Every import counts, a
  lazy one in a function or a TYPE_CHECKING one too: each still ties the two modules
  together, and a loop means two modules each build on the other.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
API = ROOT / "registry_api"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_statements(path: Path, root: Path = ROOT) -> list[tuple[str, list[str]]]:
    """(module, names) for every import statement of the file, relative ones resolved:
    `import a.b` is ("a.b", []), `from .x import y, z` is ("<package>.x", ["y", "z"])."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                target = f"{base}.{target}" if target else base
            found.append((target, [alias.name for alias in node.names]))
    return found


def imports(path: Path, root: Path = ROOT) -> set[str]:
    """Every dotted name the file's imports mention: `from a import b` gives a and a.b."""
    statements = import_statements(path, root)
    return {m for m, _ in statements} | {f"{m}.{n}" for m, names in statements for n in names}


def _edges(path: Path, root: Path, modules: set[str]) -> set[str]:
    """The modules among `modules` that importing `path` runs: `from package import name`
    runs the submodule package.name when there is one, else the package's __init__."""
    found = set()
    for target, names in import_statements(path, root):
        submodules = {f"{target}.{n}" for n in names} & modules
        if len(submodules) < len(names) or not names:
            found.add(target)
        found |= submodules
    return found & modules


def cycles(paths: list[Path], root: Path = ROOT) -> list[list[str]]:
    """The import loops among these modules: strongly connected components of the graph
    (Tarjan), each with more than one module or a module importing itself."""
    modules = {module_name(p, root): p for p in paths}
    graph = {m: sorted(_edges(p, root, set(modules))) for m, p in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def python_files(*places: Path) -> list[Path]:
    files = []
    for place in places:
        files += sorted(place.rglob("*.py")) if place.is_dir() else [place]
    assert files and all(f.is_file() for f in files), f"nothing to read at {places}"
    return files


def test_views_and_the_fast_path_reach_the_proxy_only_through_services():
    for path in python_files(API / "views", API / "edge" / "fastpath.py"):
        proxy = sorted(m for m in imports(path) if m == "registry_api.proxy" or m.startswith("registry_api.proxy."))
        assert not proxy, f"{path.relative_to(ROOT)} imports {proxy}: call registry_api.services.pull instead"


def test_the_oci_and_lib_packages_import_no_django():
    for path in python_files(API / "oci", API / "lib"):
        django = sorted(m for m in imports(path) if m == "django" or m.startswith("django."))
        assert not django, f"{path.relative_to(ROOT)} imports {django}"


def test_no_import_loop_between_model_modules():
    assert cycles(python_files(API / "models")) == []


def test_no_import_loop_between_storage_backends():
    assert cycles(python_files(ROOT / "storage_backends")) == []


def test_no_import_loop_in_the_application():
    packages = [API, ROOT / "storage_backends", ROOT / "webui", ROOT / "management_api", ROOT / "registry_project"]
    assert cycles(python_files(*packages)) == []


def test_the_loops_issue_27_removed_would_be_found(tmp_path):
    """On made-up modules, the kinds of loop the checks above must see: through a lazy
    import (models.py ⇄ proxy/models.py was one), through a TYPE_CHECKING one (s3.py ⇄
    s3_upload.py), and a module importing a name from its own package's __init__, which
    imports the module (what registry_api/models/ modules must not do)."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from .e import Z\n")
    (package / "a.py").write_text("from .b import X\n")
    (package / "b.py").write_text("def f():\n    from . import c\n")
    (package / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import Y\n")
    (package / "d.py").write_text("from . import a\n")  # a submodule, not the __init__: no loop
    (package / "e.py").write_text("from . import W\n")
    found = sorted(cycles(sorted(package.glob("*.py")), root=tmp_path))
    assert found == [["pkg", "pkg.e"], ["pkg.a", "pkg.b", "pkg.c"]]


def test_no_benchmark_script_hides_a_package_of_the_application():
    """A benchmark runs with bench/ first on sys.path: a bench/replication.py made
    `import replication.models` (Django's URLconf) fail for every other benchmark."""
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")}
    scripts = {path.stem for path in (ROOT / "bench").glob("*.py")}
    assert packages and scripts and not packages & scripts
