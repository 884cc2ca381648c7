"""Replay on several cores.

The main process reads an input in blocks of whole lines (`shipper.sources.files.TextBlock`) and
hands each block to a worker process, which splits, decodes, parses, assigns ids, recognises and
encodes it for the sinks (`work`). The main process takes the results back in order (`replay`),
links the few recognised events into incidents (`Incidents` needs them all, in order), encodes
those, and writes every batch to the sinks (`output`). Into Elasticsearch the workers send the
other items themselves, once the main process has taken their result (`direct`).

Parsing, ids and recognition keep state from line to line (a multi-line record, the year of
RFC 3164 stamps, the contents seen in the latest seconds, an open ``systemctl status`` context).
A worker rebuilds that state by first reading the last lines of the previous block (the warm-up)
from the most recent state the main process knows, and reports the state it started from. The
main process compares it with the state the previous block ended in; they are equal in nearly
every case, and when they are not the block is done again from the exact state (so is a
journal segment of which the worker read fewer entries than it holds: `sources.journal_segments.read_in_full`).
Ids start afresh in a worker; they hold unless twins of the previous block's lines come early in
the block (`shipper.ids.joined`), else the block is done again too. So the output is
the same, batch for batch, as the one-process `shipper.pipeline.Pipeline`'s. Several inputs (groups)
each keep such a chain of their own, side by side (`replay`).

Within a worker, the common line or document takes a shortcut in C (`express`): the express lane
turns an ordinary syslog line into its items in one pass, and the tail does the stages after
parsing for other documents. They take turns with the Python stages, which remain the
specification, and give the same bytes.
"""
