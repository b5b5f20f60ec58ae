"""Switching the whole interface between languages.

Every component that shows words is registered here with the label keys (or
functions of the language) for each of its properties. Switching language is
then one event whose outputs are all registered components and whose result
is one ``gr.update`` per component, so no label can be forgotten: a component
that is not registered keeps no text of its own.
"""

from __future__ import annotations

from typing import Any, Callable

import gradio as gr

from webapp.labels import DEFAULT_UI_LANG, t

PropValue = str | Callable[[str], Any]


class Localizer:
    def __init__(self) -> None:
        self._items: list[tuple[Any, dict[str, PropValue]]] = []

    def add(self, component: Any, **props: PropValue) -> Any:
        """Register ``component``; each prop is a label key or ``fn(lang) -> value``."""
        self._items.append((component, props))
        return component

    @staticmethod
    def value(prop: PropValue, lang: str) -> Any:
        return prop(lang) if callable(prop) else t(prop, lang)

    def initial(self, key: str, lang: str = DEFAULT_UI_LANG) -> str:
        """A label for a constructor, in the language the page first renders in."""
        return t(key, lang)

    @property
    def components(self) -> list[Any]:
        return [component for component, _ in self._items]

    def updates(self, lang: str) -> list[Any]:
        return [gr.update(**{name: self.value(p, lang) for name, p in props.items()}) for _, props in self._items]

    def keys(self) -> set[str]:
        """The label keys in use (a test checks each has every language)."""
        return {p for _, props in self._items for p in props.values() if isinstance(p, str)}
