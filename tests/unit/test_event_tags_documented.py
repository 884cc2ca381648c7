"""Every tag that shipper.event defines is documented where the tags are (docs/fields.md, the row
of ``tags``): ``damaged`` (journal entries read without some of their fields) and
``nul_bytes_skipped`` were not."""

from __future__ import annotations

from pathlib import Path

from shipper import event

FIELDS = Path(__file__).resolve().parents[2] / "docs" / "fields.md"


def test_every_tag_of_shipper_event_is_documented_in_the_tags_row() -> None:
    (row,) = [line for line in FIELDS.read_text().splitlines() if line.startswith("| `tags` |")]
    tags = {name: value for name, value in vars(event).items() if name.startswith("TAG_")}
    assert len(tags) >= 8 and "TAG_DAMAGED" in tags
    assert [name for name, value in tags.items() if f"`{value}`" not in row] == []
