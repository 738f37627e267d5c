"""Adding one import statement to a script where isort (and ruff) would put it."""

from __future__ import annotations

from dataclasses import dataclass

from dfx.scaffold.script import Script


@dataclass(frozen=True)
class NewImport:
    """An import to add: its statement text and what it sorts by."""

    statement: str
    module: str
    section: int
    from_import: bool = False

    @property
    def sort_key(self) -> tuple[bool, str]:
        return self.from_import, self.module.lower()


def add_import(script: Script, new: NewImport) -> str:
    """``script``'s text with ``new`` in its section of the leading import block (sorted, blank lines between).

    Straight ``import x`` statements go before ``from x import y`` ones within a section, as isort does by default.
    """
    lines = script.text.splitlines(keepends=True)
    line = new.statement + "\n"
    same = [i for i in script.imports if i.section == new.section]
    if same:
        later = next((i for i in same if i.sort_key > new.sort_key), None)
        at = later.line - 1 if later else same[-1].end_line
        return _join(lines, at, [line])
    earlier = [i for i in script.imports if i.section < new.section]
    if earlier:
        return _new_section(lines, earlier[-1].end_line, line)
    if script.imports:
        return _new_section(lines, script.imports[0].line - 1, line)
    return _new_section(lines, script.docstring_end, line)


def _new_section(lines: list[str], at: int, line: str) -> str:
    """Insert ``line`` at index ``at`` as a section of its own: a blank line on each side where code touches it."""
    before = lines[at - 1] if at > 0 else ""
    after = lines[at] if at < len(lines) else ""
    block = [line]
    if before.strip() and not before.lstrip().startswith("#"):
        block.insert(0, "\n")
    if after.strip():
        block.append("\n")
    return _join(lines, at, block)


def _join(lines: list[str], at: int, block: list[str]) -> str:
    return "".join([*lines[:at], *block, *lines[at:]])
