"""The `Recognise` enricher: tag each document that matches a signature with its root-cause fields.

For a recognised document it sets ``rootcause.signature``, ``.role``, ``.title``, ``.hint``,
``.remediation``, ``.docs`` and ``.unit`` (the unit the event is about: ``UNIT=``, the text, or the
process -> unit mapping of the signature files), and the typed fields the signature names (only
where the parser left them absent: structured journal values win).

* Journal entries with a known ``MESSAGE_ID`` are matched by their fields first (`match_journal`).
* A multi-line record (an Elasticsearch entry with continuation lines, an 8.x JSON ``message``
  with ``\\n``, ``error.message``) is matched line by line: the record becomes the summary event
  (or its first hit) and every other recognised line becomes a document of its own, placed right
  after it, with ``event.id = derived_id(parent, "line<n>")``.
* A context (a ``systemctl status`` header, an ``[n] bootstrap checks failed`` line) stays open for
  the following lines of the same stream (file, host, process, pid) so that numbered check lines
  and status-block lines are read with it.
* What lines around a hit on the same host tell (the process the OOM killer killed, the unit whose
  failure a "Dependency failed" line follows) is added by `shipper.enrich.nearby`.
* Ordinary sendmail lines get their ``sendmail.*`` fields (`shipper.enrich.sendmail`) in the same
  pass: one loop over the batch touches each document once.
* A document that names no process but a unit (``journalctl -o with-unit``: ``sendmail.service[123]``)
  is matched as the process the signature files' ``units`` table gives that unit first
  (`UnitMap.process`), as its lines in any other form are.
"""

from __future__ import annotations

import copy
from typing import Any

from shipper.enrich import hints, nearby, sendmail
from shipper.enrich.nearby import Facts, Nearby, Reads
from shipper.event import Doc, get_path, set_path
from shipper.ids import derived_id
from shipper.recognise.matcher import Context, Hit, Matcher
from shipper.recognise.rules import Rules, Signature, load_rules
from shipper.recognise.units import is_unit_name

# A context no line of its stream has touched for this many documents (of any stream) is dropped.
_CONTEXT_IDLE_DOCS = 4096
_RENDERED_MAX = 1024  # rendered texts kept (`Recognise._texts`)

_StreamKey = tuple[Any, Any, Any, Any]
# What decides how the next lines are read: the open contexts and their clock, `Nearby`'s facts.
State = tuple[dict[_StreamKey, tuple[Context, int]], int, Facts]


def _stream_key(doc: Doc) -> _StreamKey:
    log = doc.get("log")
    host = doc.get("host")
    proc = doc.get("process")
    return (
        log.get("file", {}).get("path") if log else None,
        host.get("name") if host else None,
        proc.get("name") if proc else None,
        proc.get("pid") if proc else None,
    )


class UnitMap:
    """Which unit an event is about, when the event does not say (the signature files' ``units``)."""

    def __init__(self, rules: Rules) -> None:
        self.by_process = {p: u.unit for u in rules.units for p in u.processes}
        # unit -> the process its lines are matched as when they name none (the first listed; of a
        # unit two files list, the first file's)
        self.process_of = {u.unit: u.processes[0] for u in reversed(rules.units) if u.processes}
        self.by_dataset = {d: u.unit for u in rules.units for d in u.datasets}
        self.look_at = {u.unit: u.look_at for u in rules.units if u.look_at}
        self.defaults = {f.name: f.default_unit for f in rules.families}

    def process(self, doc: Doc) -> str | None:
        """The process a document that names none is matched as: the one the ``units`` table
        gives its unit (``journalctl -o with-unit`` writes ``sendmail.service[123]``, not the
        ident: sendmail); the user unit, where there is one, is the sender's. The document's
        ``process.name`` stays unset (a unit may run another program: `parse.syslog_journalctl`)."""
        sd = doc.get("systemd")
        if not sd:
            return None
        return self.process_of.get(sd.get("user_unit") or sd.get("unit"))

    def resolve(self, doc: Doc, sig: Signature, values: dict[str, str]) -> str | None:
        """The text's unit, else the journal's, else by process name, dataset, family default.
        (A systemd family line names its unit in the text; that family has no default.)
        Only a valid unit name is taken (`is_unit_name`): ``rootcause.unit`` goes into the commands
        an incident's hint suggests, and the journal's ``UNIT=`` is the sender's to choose."""
        unit = values.get("unit")
        if unit and is_unit_name(unit):
            return unit
        sd = doc.get("systemd")
        if sd:
            for name in (sd.get("user_unit"), sd.get("unit")):
                if name and is_unit_name(str(name)):
                    return str(name)
        proc = doc.get("process")
        name = proc.get("name") if proc else None
        if name in self.by_process:
            return self.by_process[name]
        dataset = get_path(doc, "event.dataset")
        if dataset in self.by_dataset:
            return self.by_dataset[dataset]
        return self.defaults.get(sig.family)


class Recognise:
    name = "recognise"

    def __init__(self, rules: Rules | None = None) -> None:
        self.rules = rules or load_rules()
        self.matcher = Matcher(self.rules, hints.computed_vars)
        self.units = UnitMap(self.rules)
        self.sendmail_idents = sendmail.sendmail_idents(self.rules)
        self.nearby = Nearby()
        self._contexts: dict[_StreamKey, tuple[Context, int]] = {}
        self._seen = 0
        # (family, context id) -> the rule and its family's bit (`Matcher` gives family n the bit 1 << n)
        self._context_rules = {(rule.family, rule.id): (rule, 1 << n)
                               for n, family in enumerate(self.rules.families) for rule in family.contexts}
        self._rendered: dict[tuple[str, int, tuple[tuple[str, str], ...]], tuple[str, str, str, tuple[str, ...]]] = {}

    def enrich(self, docs: list[Doc]) -> list[Doc]:
        # The hot loop: for most lines a few `in` checks and dict lookups, no call.
        matcher = self.matcher
        gates, proc_filters, message_ids = matcher.gates, matcher.proc_filters, matcher.message_ids
        sendmail_idents, units = self.sendmail_idents, self.units
        contexts = self._contexts
        extra: list[tuple[int, list[Doc]]] = []
        for i, doc in enumerate(docs):
            text = doc.get("message")
            if not text:
                continue
            bits = 0
            for gate, bit in gates:
                if gate in text:
                    bits |= bit
            proc = doc.get("process")
            pname = proc.get("name") if proc is not None else None
            if pname is None and "systemd" in doc:
                pname = units.process(doc)
            if pname in sendmail_idents:
                sendmail.add_fields(doc, text)
            if pname in proc_filters:  # systemd's lines: only those with one of its prefilters
                filters, fam_bits = proc_filters[pname]
                for pf in filters:
                    if pf in text:
                        bits |= fam_bits
                        break
            journal = doc.get("journald")
            if journal is not None and journal.get("message_id") in message_ids:
                hit = matcher.match_journal(doc, text, journal["message_id"])
                if hit is not None:
                    self.apply(doc, hit)
                    continue
            err = doc.get("error")
            if err is not None and err.get("message"):  # 8.x: the check details may be in error.message
                text = f"{text}\n{err['message']}"
                bits |= matcher.families_for(text, pname)
            if bits or contexts:
                derived = self._slow(doc, text, pname, bits)
                if derived:
                    extra.append((i, derived))
        self.nearby.end_batch()
        if not extra:
            return docs
        out: list[Doc] = []
        start = 0
        for i, derived in extra:
            out += docs[start : i + 1]
            out += derived
            start = i + 1
        out += docs[start:]
        return out

    def flush(self) -> list[Doc]:
        return []

    def quiet(self) -> bool:
        """No context is open: a line none of the gates and prefilters passes is left as it is."""
        return not self._contexts

    def _slow(self, doc: Doc, text: str, pname: str | None, bits: int) -> list[Doc]:
        """A line that passed a gate, or any line while a context is open on some stream."""
        contexts = self._contexts
        key: _StreamKey | None = None
        active: Context | None = None
        if contexts:
            self._seen += 1
            key = _stream_key(doc)
            held = contexts.get(key)
            active = held[0] if held else None
            if not bits and active is None:
                self._expire()
                return []
        derived: list[Doc] = []
        if "\n" not in text and "\\n" in text:  # JSON escapes never decoded (a message copied from Kibana)
            text = text.replace("\\n", "\n")
        if "\n" in text:
            opened = self._record(doc, text, pname, active, derived)
        else:
            hit, opened = self.matcher.match(doc, text, pname, bits, active)
            if hit is not None:
                self.apply(doc, hit)
        if opened is not None:
            self._seen += 1
            contexts[key if key is not None else _stream_key(doc)] = (opened, self._seen)
        elif active is not None and key is not None:
            active.remaining -= 1
            if active.remaining <= 0:
                del contexts[key]
            else:
                contexts[key] = (active, self._seen)
        self._expire()
        return derived

    def _expire(self) -> None:
        if self._contexts and self._seen % 256 == 0:
            idle = self._seen - _CONTEXT_IDLE_DOCS
            for key in [k for k, (_, last) in self._contexts.items() if last < idle]:
                del self._contexts[key]
        if not self._contexts:
            self._seen = 0  # the clock only ages open contexts: with none, it starts again

    def state(self) -> State:
        """The open contexts, their clock and what lines told of their host (`Nearby.facts`), a
        copy: what decides how the next lines are read (between batches)."""
        return copy.deepcopy(self._contexts), self._seen, self.nearby.facts()

    def restore(self, state: State) -> None:
        self._contexts, self._seen = copy.deepcopy(state[0]), state[1]
        self.nearby.restore(state[2])

    def contexts_json(self) -> dict[str, Any]:
        """The open contexts and their clock, as JSON (linking's state: `shipper.state.linkstate`)."""
        return {"seen": self._seen, "open": [[*key, ctx.rule.family, ctx.rule.id, ctx.vars, ctx.remaining, last]
                                             for key, (ctx, last) in self._contexts.items()]}

    def contexts_from(self, data: dict[str, Any]) -> tuple[dict[_StreamKey, tuple[Context, int]], int]:
        """`contexts_json`'s value back, for `restore` (a context of a rule the signature files no
        longer have is dropped); KeyError, TypeError, ValueError when it is not one."""
        contexts: dict[_StreamKey, tuple[Context, int]] = {}
        for path, host, process, pid, family, rule_id, values, remaining, last in data["open"]:
            key = (_optional(path, str), _optional(host, str), _optional(process, str), _optional(pid, (int, str)))
            if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
                raise TypeError(f"a context's variables are {values!r}")
            known = self._context_rules.get((family, rule_id))
            if known is not None:
                contexts[key] = (Context(known[0], known[1], {str(k): v for k, v in values.items()},
                                         _whole(remaining)), _whole(last))
        return contexts, _whole(data["seen"])

    def reset(self) -> None:
        """Forget what earlier lines told: the next line is read as if it were the first."""
        self.restore(({}, 0, Facts({}, {})))

    def _record(self, doc: Doc, text: str, pname: str | None, active: Context | None, derived: list[Doc]) -> Context | None:
        """A multi-line record: one event per recognised line; the summary (or first hit) is the record."""
        hits: list[tuple[str, Hit]] = []
        opened: Context | None = None
        context = active
        for line in text.split("\n"):
            if not line.strip():
                continue
            bits = self.matcher.families_for(line, pname)
            if not bits and context is None:
                continue
            hit, new = self.matcher.match(doc, line, pname, bits, context)
            if new is not None:
                opened = context = new
            if hit is not None:
                hits.append((line, hit))
        if not hits:
            return opened
        summaries = [h for _, h in hits if h.signature.role == "summary"]
        primary = summaries[0] if summaries else hits[0][1]
        for other in summaries[1:]:
            for var, value in other.vars.items():
                primary.vars.setdefault(var, value)
        self.apply(doc, primary)
        parent_id = get_path(doc, "event.id") or ""
        for n, (line, hit) in enumerate(hits):
            if hit is primary or any(hit is s for s in summaries):
                continue
            child = _child(doc, line, derived_id(parent_id, f"line{n}"))
            self.apply(child, hit)
            derived.append(child)
        return opened

    def apply(self, doc: Doc, hit: Hit) -> None:
        """Write the root-cause fields and the signature's typed fields onto ``doc`` (and again onto
        the earlier documents of the batch that ``doc`` completes: `Nearby`)."""
        sig = hit.signature
        if not self.nearby.before(doc, hit):
            return  # a start of a unit that did not fail just before: nothing to tell
        title, hint, remediation, docs = self._texts(hit)
        rootcause: dict[str, Any] = {
            "signature": sig.id,
            "role": sig.role,
            "title": title,
            "hint": hint,
            "remediation": remediation,
            "docs": list(docs),
        }
        unit = self.units.resolve(doc, sig, hit.vars)
        if unit:
            rootcause["unit"] = unit
        doc["rootcause"] = rootcause
        for rule in sig.fields:
            value: Any = hit.vars.get(rule.var, rule.default) if rule.var else rule.value
            if value is None or get_path(doc, rule.field) is not None:
                continue
            if rule.type == "int":
                try:
                    value = int(value)
                except ValueError:
                    continue
            set_path(doc, rule.field, value)
        for earlier, completed in self.nearby.after(doc, hit, rootcause):
            self.apply(earlier, completed)

    def _texts(self, hit: Hit) -> tuple[str, str, str, tuple[str, ...]]:
        """Title, hint and remediation rendered, and the docs: the same for the same signature,
        pattern and variables, so a burst of one failure (a SYSERR every 5 seconds, a unit in a
        restart loop) renders them once."""
        key = (hit.signature.id, id(hit.pattern), tuple(sorted(hit.vars.items())))
        texts = self._rendered.get(key)
        if texts is None:
            title, hint, remediation, docs = hit.texts()
            values, defaults = hit.vars, hit.signature.defaults  # read from the log / the signature's own text
            texts = (
                hints.render(title, values, defaults),
                hints.render(hint, values, defaults),
                hints.render(remediation, values, defaults),
                docs,
            )
            if len(self._rendered) >= _RENDERED_MAX:
                self._rendered.clear()
            self._rendered[key] = texts
        return texts


def continued(expected: State, start: State, end: State, reads: Reads) -> State | None:
    """The state after a block read from ``start`` (a worker's restored state and warm-up; ``end``
    after it, ``reads`` what its lines asked of `Nearby`'s facts) were it read from ``expected``
    (the exact state before it): None where it may read otherwise (a context differs, a question
    has another answer: `nearby.continued`); else ``end`` with the facts it did not write from
    ``expected``."""
    if start[:2] != expected[:2]:
        return None
    facts = nearby.continued(expected[2], start[2], end[2], reads)
    return None if facts is None else (end[0], end[1], facts)


def _optional(value: Any, kind: type | tuple[type, ...]) -> Any:
    """``value`` if it is None or of ``kind`` (a bool is no int), else TypeError."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, kind)):
        raise TypeError(f"{value!r} is not a {kind}")
    return value


def _whole(value: Any) -> int:
    """``value`` if it is a whole number not below 0, else ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{value!r} is not a count")
    return value


def _child(parent: Doc, line: str, event_id: str) -> Doc:
    """A document for one line of a multi-line record: the parent's origin, its own text and id."""
    child = copy.deepcopy({k: v for k, v in parent.items() if k not in ("message", "rootcause", "error", "event")})
    child["event"] = {**parent.get("event", {}), "id": event_id}
    child["message"] = line
    bootstrap = get_path(child, "elasticsearch.bootstrap")
    if bootstrap is not None:
        del child["elasticsearch"]["bootstrap"]
    return child
