# Types of the C extension shipper/parse/_journaldoc.c (built by setup.py where it can be).
from typing import Any, Callable, Sequence

def docs(
    entries: Sequence[Any],
    last: str,
    journal_doc: Callable[[Any, str], dict[str, Any]],
    severity_of: dict[str | None, tuple[int, str]],
    facility_of: dict[str | None, tuple[int, str]],
    /,
) -> tuple[list[dict[str, Any]], str]: ...
