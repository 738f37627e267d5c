"""Names that Python 3.11 added, for 3.10."""

from __future__ import annotations

import sys
from enum import Enum

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:

    class StrEnum(str, Enum):
        """enum.StrEnum of 3.11: members are their values in str() and format()."""

        __str__ = str.__str__


__all__ = ["StrEnum"]
