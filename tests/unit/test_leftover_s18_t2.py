"""`shipper.sources.leftover.Leftovers`: two bugs the eighteenth session's second tester found in the
hand-over's matching by first bytes (its scripts: a real daemon, an input renamed while stopped).

1. A checkpoint entry that lists its own file among its copies (a copytruncate's copy, `ct.log-1`,
   whose entry has its inode in ``copies``) was listed twice under that file: taking it removed it
   twice and `shipper run` crashed at every start (``list.remove(x): x not in list``).
2. A new plain file that begins like a removed input's content whose file is gone (an application
   that writes the same banner at each start, into a new file) was taken for that content: read
   on from the old offset, its lines (up to the whole file) were never shipped."""

from __future__ import annotations

from shipper.sources.fileid import fingerprint
from shipper.sources.leftover import Left, Leftovers

OLD = b"=== app 1.2 starting ===\n"
HEAD = OLD + b"Aug 30 15:00:00 gorp app[1]: line 1\n"


def _left(offset: int = len(OLD)) -> Left:
    return Left(fingerprint(OLD), len(OLD), offset, False, "file-A", offset, "1:app.log")


def test_an_entry_listing_its_own_file_among_its_copies_is_taken_once() -> None:
    left = _left()
    leftovers = Leftovers()
    leftovers.add({(1, 10): [left, left]})  # (its plain file, and again as a copy)
    taken, handed = leftovers.take((1, 10), HEAD, False, lambda ident: False)
    assert taken == [left] and handed == [("file-A", (1, 10))]
    assert leftovers.take((1, 10), HEAD, False, lambda ident: False) == ([], [])


def test_a_new_file_beginning_like_a_gone_one_is_not_taken_for_it() -> None:
    leftovers = Leftovers()
    leftovers.add({(1, 10): [_left()]})  # (inode 10 is gone: the application wrote a new file)
    assert leftovers.take((1, 11), HEAD, False, lambda ident: False) == ([], [])


def test_the_copy_of_a_file_found_emptied_is_taken_as_its_content() -> None:
    left = _left()
    leftovers = Leftovers()
    leftovers.add({(1, 10): [left]})
    assert leftovers.take((1, 10), b"Aug 30 16:00:00 gorp app[1]: new\n", False, lambda ident: True) == (
        [], [("file-A", (1, 10))])  # (app.log emptied by copytruncate and written again)
    assert leftovers.take((1, 11), HEAD, False, lambda ident: ident == (1, 10)) == ([left], [])  # (app.log.1)


def test_an_archive_is_taken_as_the_content_whose_file_is_gone() -> None:
    left = _left()
    leftovers = Leftovers()
    leftovers.add({(1, 10): [left]})
    assert leftovers.take((1, 12), HEAD, True, lambda ident: False) == ([left], [("file-A", (1, 10))])
