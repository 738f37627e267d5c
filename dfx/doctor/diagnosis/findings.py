"""Findings: what a rule concludes, how severe it is, and the fix."""

from __future__ import annotations

from dataclasses import dataclass

from dfx._compat import StrEnum


class Severity(StrEnum):
    """How bad a finding is: any error makes ``dfx doctor`` exit 1."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}[self]


@dataclass(frozen=True)
class Finding:
    """One conclusion: a one-line title, the evidence behind it, and the command or setting that fixes it."""

    severity: Severity
    code: str
    title: str
    detail: str = ""
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "severity": self.severity.value,
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
            "fix": self.fix,
        }


def error(code: str, title: str, detail: str = "", fix: str = "") -> Finding:
    return Finding(Severity.ERROR, code, title, detail, fix)


def warning(code: str, title: str, detail: str = "", fix: str = "") -> Finding:
    return Finding(Severity.WARNING, code, title, detail, fix)


def info(code: str, title: str, detail: str = "", fix: str = "") -> Finding:
    return Finding(Severity.INFO, code, title, detail, fix)
