"""A spy on the dense lane's Chroma queries: the collection's and its language shadows' (kb/shadows.py)."""

from __future__ import annotations

from typing import Any


class Spy:
    """Installed on a retriever: records each query's target and ``where``, and every chunk id Chroma returned."""

    def __init__(self, retriever: Any) -> None:
        self.asked: list[tuple[str, Any]] = []
        self.returned: set[str] = set()
        retriever.collection = _Recorder(retriever.collection, self, "collection")
        facts = retriever._facts
        opened = facts.shadow

        def shadow(collection: Any, lang: str) -> Any:
            found = opened(collection, lang)
            return found and _Recorder(found, self, f"lang.{lang}")

        facts.shadow = shadow

    @property
    def wheres(self) -> list[Any]:
        return [where for _, where in self.asked]

    def clear(self) -> None:
        self.asked.clear()
        self.returned.clear()


class _Recorder:
    def __init__(self, inner: Any, spy: Spy, target: str) -> None:
        self._inner, self._spy, self._target = inner, spy, target

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name != "query":
            return attr

        def query(*args: Any, **kwargs: Any) -> Any:
            result = attr(*args, **kwargs)
            self._spy.asked.append((self._target, kwargs.get("where")))
            self._spy.returned.update(result["ids"][0])
            return result

        return query
