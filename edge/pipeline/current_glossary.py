"""The glossary the running box corrects and prompts with: read from the store once, re-read when a
person changes it, and handed to whoever follows it (the postprocessors, the ASR prompt)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from edge.store import Store
from edge.text.glossary import Glossary


class CurrentGlossary:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._glossary = store.glossary()
        self._followers: list[Callable[[Glossary], None]] = []

    @property
    def glossary(self) -> Glossary:
        with self._lock:
            return self._glossary

    def terms(self) -> list[str]:
        """The spellings to protect and to prompt with."""
        return [term.term for term in self.glossary.terms]

    def follow(self, follower: Callable[[Glossary], None]) -> None:
        """`follower(glossary)` is called with each new glossary after a change."""
        self._followers.append(follower)

    def reload(self) -> None:
        """The glossary in the store changed: re-read it and hand it on."""
        glossary = self._store.glossary()
        with self._lock:
            self._glossary = glossary
        for follower in self._followers:
            follower(glossary)
