"""A MetricProvider for unit tests, with canned answers instead of a metrics backend."""

from __future__ import annotations

from analysis.providers.base import NoValues


class FakeProvider:
    """Answers each query by the first key found in it; remembers what it was asked."""

    dialect = "promql"

    def __init__(self, answers: dict[str, float | Exception], online: bool = True) -> None:
        self.answers = answers
        self.online = online
        self.asked: list[str] = []

    def query(self, text: str) -> float:
        self.asked.append(text)
        for key, answer in self.answers.items():
            if key in text:
                if isinstance(answer, Exception):
                    raise answer
                return answer
        raise NoValues(f"no values found for query {text!r}")

    def is_online(self) -> bool:
        return self.online
