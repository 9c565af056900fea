"""The documentation: README links and the site's navigation point at files that exist, and the README's
tables are copies of tables on the site (a figure is changed in one place, never in two)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
# README sections that other pages do not (yet) hold: their tables are checked where they live.
README_ONLY = ("Bad input", "Reliability")


def test_readme_links_point_at_files():
    text = (REPO / "README.md").read_text()
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" not in target:
            assert (REPO / target).exists(), f"README links to {target}, which does not exist"


def test_every_page_in_the_nav_exists_and_every_page_is_in_the_nav():
    nav = set(re.findall(r":\s+([\w/-]+\.md)\s*$", (REPO / "mkdocs.yml").read_text(), re.M))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert nav - pages == set(), "mkdocs.yml lists pages that do not exist"
    assert pages - nav == set(), "pages missing from the nav of mkdocs.yml"


def test_readme_tables_are_copies_of_the_docs():
    docs = "\n".join(p.read_text() for p in DOCS.rglob("*.md"))
    section = ""
    for line in (REPO / "README.md").read_text().splitlines():
        if line.startswith("#"):
            section = line.lstrip("#").strip()
        elif line.startswith("|") and not section.startswith(README_ONLY):
            assert line in docs, f"README row not on any docs page (section {section!r}): {line}"


def test_changelog_names_the_version():
    from serkit.version import __version__

    text = (REPO / "CHANGELOG.md").read_text()
    assert f"## {__version__}" in text
    assert "--8<-- [start:changes]" in text and "--8<-- [end:changes]" in text  # docs/changelog.md includes it


# -- the API reference: every documented callable documents its parameters, returns and raises --------
_SECTION = re.compile(r"^(\s*)(Args|Arguments|Parameters|Attributes|Returns|Yields|Raises):\s*$")
_ENTRY = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:")
_RAISE = re.compile(r"^\s*raise (\w+Error)\(", re.M)


def _sections(doc: str) -> dict[str, list[str]]:
    """Google-style sections of a docstring -> the names of their entries (Args: x -> ["x"])."""
    found: dict[str, list[str]] = {}
    lines = inspect.cleandoc(doc).splitlines()
    current, indent = None, 0
    for line in lines:
        m = _SECTION.match(line)
        if m:
            current, indent = m.group(2), len(m.group(1))
            found.setdefault(current, [])
            continue
        if current is None or not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        if depth <= indent:
            current = None
        elif current in ("Args", "Arguments", "Parameters", "Attributes", "Raises"):
            entry = _ENTRY.match(line.strip())
            if entry and depth <= indent + 4:
                found[current].append(entry.group(1).lstrip("*"))
    return found


def _reference_objects() -> list[str]:
    return re.findall(r"^::: ([\w.]+)\s*$", (DOCS / "api.md").read_text(), re.M)


def _resolve(path: str):
    import importlib

    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(path)


def _callables(path: str):
    """(qualified name, object) for everything the reference shows at `path`: a module's public classes and
    functions, a class and its public methods and properties, a function."""
    obj = _resolve(path)
    if inspect.ismodule(obj):
        for name, member in vars(obj).items():
            if (
                not name.startswith("_")
                and getattr(member, "__module__", None) == obj.__name__
                and (inspect.isclass(member) or inspect.isfunction(member))
            ):
                yield from _callables(f"{path}.{name}")
        return
    yield path, obj
    if inspect.isclass(obj):
        for name, member in vars(obj).items():
            if name.startswith("_"):
                continue
            if isinstance(member, property):
                yield f"{path}.{name}", member
            elif isinstance(member, (classmethod, staticmethod)) or inspect.isfunction(member):
                yield f"{path}.{name}", getattr(obj, name)


def _signature(obj):
    """The signature whose parameters the docstring must document: a class's own `__init__` only."""
    if inspect.isclass(obj) and "__init__" not in vars(obj):
        return None
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        return None


def _problems(name: str, obj) -> list[str]:
    doc = obj.__doc__ if isinstance(obj, property) or inspect.isclass(obj) else inspect.getdoc(obj)
    if inspect.isclass(obj):
        # The reference merges __init__'s docstring into the class's (merge_init_into_class in mkdocs.yml).
        own = obj.__doc__ if "__doc__" in vars(obj) else None
        init = vars(obj).get("__init__")
        doc = "\n\n".join(inspect.cleandoc(d) for d in (own, getattr(init, "__doc__", None)) if d and d.strip())
    if not doc or not doc.strip():
        return [f"{name}: no docstring"]
    if isinstance(obj, property):
        return []
    sections = _sections(doc)
    problems = []
    sig = _signature(obj)
    if sig is not None:
        documented = {*sections.get("Args", []), *sections.get("Arguments", []), *sections.get("Parameters", [])}
        if inspect.isclass(obj):
            documented |= set(sections.get("Attributes", []))
        for p in sig.parameters.values():
            if p.name not in ("self", "cls") and p.name not in documented:
                problems.append(f"{name}: parameter {p.name!r} is not under Args:")
        returns = sig.return_annotation
        if (
            not inspect.isclass(obj)
            and returns is not inspect.Signature.empty
            and returns not in (None, "None")
            and "Returns" not in sections
            and "Yields" not in sections
        ):
            problems.append(f"{name}: returns {returns} but has no Returns: (or Yields:) section")
    if not inspect.isclass(obj):
        import serkit.errors

        try:
            source = inspect.getsource(obj)
        except (OSError, TypeError):
            source = ""
        raised = {e for e in _RAISE.findall(source) if isinstance(getattr(serkit.errors, e, None), type)}
        for error in sorted(raised - set(sections.get("Raises", []))):
            problems.append(f"{name}: raises {error} but does not say so under Raises:")
    return problems


def test_the_api_reference_documents_parameters_returns_and_raises():
    """Every parameter under Args: (a class's: its own __init__'s, or Attributes: for a dataclass), Returns: or
    Yields: unless it returns None, and Raises: for each serkit error its body raises directly."""
    assert len(_reference_objects()) > 20, "docs/api.md lists no `::: dotted.path` objects"
    problems = [p for path in _reference_objects() for name, obj in _callables(path) for p in _problems(name, obj)]
    assert not problems, "docstrings of the API reference (docs/api.md):\n" + "\n".join(problems)
