"""One registry pattern for everything serkit finds by name: corpus readers, feature sets and models.

A `Registry` maps a name (and its aliases) to an entry. An entry may be registered as a loader, a
function called the first time the entry is needed, so registering costs nothing at import time: the
feature sets' modules (numpy, torch) load only when one is used. Unknown names are one `UnknownNameError`
listing the valid ones.

Adding a corpus, a feature set or a model is one call in the module that defines it
(`serkit.corpora.register_corpus`, `serkit.features.register`, `serkit.models.register_model`);
`tests/plugin_example.py` does all three from one module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from serkit.errors import ConfigError, UnknownNameError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries of one kind by name.

    Args:
        kind: what the entries are, as error messages name them ("corpus", "feature set", "model").
        fold_case: names and aliases match in any case (corpus names on the command line: `RAVDESS=...`).

    Attributes:
        kind: What the entries are.
        fold_case: Whether names match in any case.
    """

    def __init__(self, kind: str, *, fold_case: bool = False) -> None:
        self.kind = kind
        self.fold_case = fold_case
        self._loaders: dict[str, Callable[[], T]] = {}
        self._loaded: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def add(self, name: str, entry: T, *, aliases: Iterable[str] = (), replace: bool = False) -> None:
        """Register a ready entry under `name` (and its aliases).

        Args:
            name: The entry's name.
            entry: The entry itself.
            aliases: Other names it answers to.
            replace: Replace an entry that has the name or an alias.

        Raises:
            ConfigError: the name or an alias is taken and `replace` is False; two plug-ins registering one
                name would otherwise shadow each other silently.
        """
        self._claim(name, aliases, replace=replace)
        self._loaded[self._key(name)] = entry

    def add_lazy(
        self, name: str, loader: Callable[[], T], *, aliases: Iterable[str] = (), replace: bool = False
    ) -> None:
        """Register an entry that `loader()` makes the first time it is asked for (no import until then).

        Args:
            name: The entry's name.
            loader: Called with no argument the first time the entry is needed; returns it.
            aliases: Other names it answers to.
            replace: Replace an entry that has the name or an alias.

        Raises:
            ConfigError: the name or an alias is taken and `replace` is False.
        """
        self._claim(name, aliases, replace=replace)
        self._loaders[self._key(name)] = loader

    def _key(self, name: str) -> str:
        return name.strip().lower() if self.fold_case else name.strip()

    def _claim(self, name: str, aliases: Iterable[str], *, replace: bool) -> None:
        key = self._key(name)
        taken = [n for n in (key, *map(self._key, aliases)) if n in self._aliases or n in self]
        if taken and not replace:
            raise ConfigError(f"{self.kind} name {taken[0]!r} is already registered")
        self.remove(key)
        for alias in aliases:
            self._aliases[self._key(alias)] = key

    def remove(self, name: str) -> None:
        """Forget an entry and its aliases (tests register throwaway ones).

        Args:
            name: The entry's name or an alias; an unknown one is ignored.
        """
        key = self._aliases.get(self._key(name), self._key(name))
        self._loaders.pop(key, None)
        self._loaded.pop(key, None)
        for alias in [a for a, k in self._aliases.items() if k == key]:
            del self._aliases[alias]

    def canonical(self, name: str) -> str:
        """The registered name `name` (an alias, any case) stands for.

        Args:
            name: A name or an alias.

        Returns:
            The registered name.

        Raises:
            UnknownNameError: no entry has that name or alias; the message lists the valid names.
        """
        key = self._aliases.get(self._key(name), self._key(name))
        if key not in self:
            raise UnknownNameError(self.kind, name, self.names())
        return key

    def get(self, name: str) -> T:
        """The entry of `name` (an alias, any case), loading it on first use.

        Args:
            name: A name or an alias.

        Returns:
            The entry.

        Raises:
            UnknownNameError: no entry has that name or alias; the message lists the valid names.
        """
        key = self.canonical(name)
        if key not in self._loaded:
            self._loaded[key] = self._loaders[key]()
        return self._loaded[key]

    def names(self) -> list[str]:
        """The registered names, in registration order.

        Returns:
            The names (not the aliases).
        """
        return list(dict.fromkeys([*self._loaders, *self._loaded]))

    def values(self) -> Iterator[T]:
        """Every entry, in registration order, loading each.

        Yields:
            The entries.
        """
        for name in self.names():
            yield self.get(name)

    def items(self) -> Iterator[tuple[str, T]]:
        """(name, entry) for every entry, loading each.

        Yields:
            (name, entry) pairs.
        """
        for name in self.names():
            yield name, self.get(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (self._key(name) in self._loaders or self._key(name) in self._loaded)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())
