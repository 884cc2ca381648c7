(function () {
  'use strict';
  // The data: shipper.report.html.pack(to_json + lines). Strings starting with "~" refer to the
  // string table ("~a.b" joins parts with " \u2014 "), object keys too; ["~T", keys, rows...] is a list of objects.
  var raw = JSON.parse(document.getElementById('shipper-data').textContent);
  var S = raw.strings, SEP = ' \u2014 ', BATCH = 40;
  // Objects keyed by log text (hosts, processes) have no prototype: a host named "constructor" or a
  // process named "__proto__" is a key like any other. Tallies keyed by log text are Maps.
  function dict() { return Object.create(null); }

  function ref(s) {
    if (s.charAt(0) !== '~') return s;
    var ids = s.slice(1).split('.');
    for (var i = 0; i < ids.length; i++) ids[i] = S[parseInt(ids[i], 36)];
    return ids.join(SEP);
  }
  function unpack(v) {
    var i, k, out;
    if (typeof v === 'string') return ref(v);
    if (Array.isArray(v)) {
      if (v[0] === '~T') {
        out = [];
        for (i = 2; i < v.length; i++) {
          var o = dict();
          for (k = 0; k < v[1].length; k++) o[v[1][k]] = unpack(v[i][k]);
          out.push(o);
        }
        return out;
      }
      return v.map(unpack);
    }
    if (v !== null && typeof v === 'object') {
      out = dict();
      for (k in v) if (Object.prototype.hasOwnProperty.call(v, k)) out[ref(k)] = unpack(v[k]);
      return out;
    }
    return v;
  }

  function keys(v) {  // an object with its keys resolved, its values left packed (unpacked when used)
    var out = dict();
    for (var k in v) if (Object.prototype.hasOwnProperty.call(v, k)) out[ref(k)] = v[k];
    return out;
  }

  var top = keys(raw.data), meta = unpack(top.meta), report = unpack(top.report), packedLines = keys(top.lines);
  var incidents = report.incidents, counts = report.counts || dict();
  var $ = function (id) { return document.getElementById(id); };
  window.shipperReport = { data: function () { return unpack(raw.data); }, incidents: incidents };

  // ------------------------------------------------------------ small helpers
  // Bidirectional controls (Unicode's Bidi_Control) in log text would reorder what follows them
  // ("evil" shown as "live"): every text the page shows has them as a visible mark, such as <U+202E>.
  var BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
  function visible(text) {
    return String(text).replace(BIDI, function (c) {
      return '\u27e8U+' + ('000' + c.charCodeAt(0).toString(16).toUpperCase()).slice(-4) + '\u27e9';
    });
  }
  function el(tag, cls, children) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    (children || []).forEach(function (c) {
      if (c === null || c === undefined || c === '') return;
      node.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(visible(c)) : c);
    });
    return node;
  }
  function rich(text) {  // `code` spans become <code>, everything else stays text
    var parts = String(text || '').split('`'), frag = document.createDocumentFragment();
    parts.forEach(function (p, i) {
      if (!p) return;
      frag.appendChild(i % 2 && i < parts.length - 1 ? el('code', '', [p]) : document.createTextNode(visible(p)));
    });
    return frag;
  }
  function when(ts) { return ts ? ts.slice(0, 10) + ' ' + ts.slice(11, 19) + 'Z' : ''; }
  function clock(ts) { return ts.slice(11, 19); }
  function span(a, b) {
    if (a === b) return clock(a);
    return a.slice(0, 10) === b.slice(0, 10) ? clock(a) + '\u2013' + clock(b) : when(a) + ' \u2013 ' + when(b);
  }
  function plural(n, word) { return n.toLocaleString('en') + ' ' + word + (n === 1 ? '' : 's'); }
  function hostOf(inc) { return inc.host === null || inc.host === undefined ? '(no host)' : inc.host; }
  function unitOf(inc) { return inc.unit === null || inc.unit === undefined ? '(no unit)' : inc.unit; }
  function signatures(inc) {
    var out = inc.failure ? inc.failure.signatures.slice() : [];
    inc.causes.forEach(function (c) { if (out.indexOf(c.signature) < 0) out.push(c.signature); });
    return out;
  }
  function consequences(inc) { return inc.consequences || []; }  // the dependency failures it caused (causes.py)
  function searchable(inc) {
    if (inc._text === undefined) {
      inc._text = [inc.headline, inc.hint, inc.remediation, inc.summary_hint || '', inc.failure ? inc.failure.title : '']
        .concat(inc.causes.map(function (c) { return c.title + ' ' + c.message; }), consequences(inc)).join(' ').toLowerCase();
    }
    return inc._text;
  }

  // ------------------------------------------------------------ header, summary, counts
  function header() {
    var range = meta.since || meta.until
      ? 'events ' + (meta.since ? 'from ' + when(meta.since) + ' ' : '') + (meta.until ? 'until ' + when(meta.until) : '')
      : 'all events';
    $('source').textContent = visible('Store ' + meta.store + ' \u00b7 ' + range + ' \u00b7 generated ' + when(meta.generated) +
      ' by shipper ' + meta.version + ' \u00b7 times are UTC');
    document.title = plural(incidents.length, 'incident') + ' \u2014 shipper report';
  }
  function stat(value, one, many, warn) {
    return el('div', 'stat' + (warn ? ' warn' : ''), [el('b', '', [value.toLocaleString('en')]), value === 1 ? one : many]);
  }
  function distinct(field) {
    var seen = new Set();
    incidents.forEach(function (inc) { if (inc[field] !== null && inc[field] !== undefined) seen.add(inc[field]); });
    return seen.size;
  }
  function summary() {
    var box = $('summary');
    box.appendChild(stat(incidents.length, 'incident', 'incidents'));
    box.appendChild(stat(distinct('host'), 'host affected', 'hosts affected'));
    box.appendChild(stat(distinct('unit'), 'unit affected', 'units affected'));
    box.appendChild(stat(counts.total || 0, 'event stored', 'events stored'));
    box.appendChild(stat(counts.recognised || 0, 'recognised', 'recognised'));
    box.appendChild(stat(counts.unparsed || 0, 'unparsed line', 'unparsed lines', counts.unparsed > 0));
  }
  // Names with numbers in them in the order a person counts: host2 before host10.
  var collator = new Intl.Collator('en', { numeric: true });
  function natural(a, b) { return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0); }
  function table(title, items) {  // most events first, as the store counts them (an object lists keys like "42" first)
    items = items || dict();
    var rows = Object.keys(items).sort(function (a, b) { return items[b] - items[a] || natural(a, b); }).map(function (k) {
      return el('tr', '', [el('td', '', [k === '-' ? '(none)' : k]), el('td', 'n', [items[k].toLocaleString('en')])]);
    });
    return el('div', '', [el('table', '', [el('thead', '', [el('tr', '', [el('th', '', [title]), el('th', 'n', ['events'])])]),
      el('tbody', '', rows)])]);
  }
  function countsPanel() {
    var box = $('counts'), unparsed = counts.unparsed || 0;
    box.appendChild(el('p', 'note', [plural(counts.total || 0, 'event') + ' stored in this time range, ' +
      (counts.recognised || 0).toLocaleString('en') + ' recognised by a signature.']));
    box.appendChild(el('p', 'note' + (unparsed ? ' warn' : ''), [unparsed
      ? plural(unparsed, 'line') + ' could not be parsed. They are kept in the store, whole, with the tag \u201cunparsed\u201d, ' +
        'but no signature looked at them: a failure written there is not in this report.'
      : 'Every line was parsed.']));
    box.appendChild(el('div', 'counts', [table('host', counts.by_host), table('process', counts.by_process)]));
  }

  // ------------------------------------------------------------ filters
  var filters = { host: '', unit: '', signature: '', text: '' }, shown = [], rendered = 0;
  function tally(fn) {  // the distinct keys fn gives the incidents (one or a list each), most frequent first, and their counts
    var n = new Map(), add = function (k) { n.set(k, (n.get(k) || 0) + 1); };
    incidents.forEach(function (inc) { var k = fn(inc); if (Array.isArray(k)) k.forEach(add); else add(k); });
    var order = Array.from(n.keys()).sort(function (a, b) { return n.get(b) - n.get(a) || natural(a, b); });
    return { order: order, n: n };
  }
  function options(select, label, fn) {
    var t = tally(fn);
    select.appendChild(el('option', '', ['all ' + label]));
    select.firstChild.value = '';
    t.order.forEach(function (k) {
      var o = el('option', '', [k + ' (' + t.n.get(k) + ')']);
      o.value = k;
      select.appendChild(o);
    });
  }
  function matches(inc) {
    if (filters.host && hostOf(inc) !== filters.host) return false;
    if (filters.unit && unitOf(inc) !== filters.unit) return false;
    if (filters.signature && signatures(inc).indexOf(filters.signature) < 0) return false;
    return !filters.text || searchable(inc).indexOf(filters.text) >= 0;
  }
  function apply() {
    shown = incidents.filter(matches);
    rendered = 0;
    $('incidents').textContent = '';
    $('shown').textContent = shown.length === incidents.length
      ? plural(incidents.length, 'incident') : shown.length.toLocaleString('en') + ' of ' + plural(incidents.length, 'incident');
    if (!shown.length) {
      $('incidents').appendChild(el('div', 'empty', [incidents.length
        ? 'No incident matches these filters.' : 'No incidents: no recognised failure or cause in this time range.']));
    }
    more();
    timeline.draw();
    var top = $('incidents').getBoundingClientRect().top + window.scrollY - document.querySelector('.filters').offsetHeight - 16;
    if (window.scrollY > top) window.scrollTo(0, top);  // a new selection starts at its first card
  }
  function setFilter(name, value) {
    filters[name] = value;
    var input = $('f-' + name);
    if (input.value !== value) input.value = value;
    apply();
  }
  function wireFilters() {
    options($('f-host'), 'hosts', hostOf);
    options($('f-unit'), 'units', unitOf);
    options($('f-signature'), 'signatures', signatures);
    ['host', 'unit', 'signature'].forEach(function (name) {
      $('f-' + name).addEventListener('change', function (e) { setFilter(name, e.target.value); });
    });
    var pending = null;
    $('f-text').addEventListener('input', function (e) {
      clearTimeout(pending);
      pending = setTimeout(function () { filters.text = e.target.value.trim().toLowerCase(); apply(); }, 150);
    });
    $('f-clear').addEventListener('click', function () {
      filters = { host: '', unit: '', signature: '', text: '' };
      ['host', 'unit', 'signature', 'text'].forEach(function (n) { $('f-' + n).value = ''; });
      apply();
    });
  }

  // ------------------------------------------------------------ incident cards (rendered in batches)
  function more() {
    var box = $('incidents'), end = Math.min(shown.length, rendered + BATCH), frag = document.createDocumentFragment();
    for (; rendered < end; rendered++) frag.appendChild(card(shown[rendered]));
    box.appendChild(frag);
    $('more-wrap').style.display = rendered < shown.length ? '' : 'none';
    $('more').textContent = 'Show more incidents (' + (shown.length - rendered).toLocaleString('en') + ' more)';
  }
  function row(label, content) { return content ? [el('dt', '', [label]), el('dd', '', [content])] : []; }
  function title(inc) {
    var unit = inc.subject || inc.unit || 'a unit';
    if (inc.failure) return unit + ' failed' + (inc.failure.label ? ' (' + inc.failure.label + ')' : '');
    if (inc.summary) return unit + ': ' + inc.summary;
    return unit + ': errors, no failure seen';
  }
  function causeBlock(c) {
    return el('div', '', [el('span', 'cause-title', [c.title]), ' ',
      el('span', 'times', ['\u00d7' + c.count + ', ' + span(c.first, c.last)]), el('div', '', [el('code', '', [c.message])])]);
  }
  function consequenceList(inc) {  // as `shipper causes` prints them ("consequences: ..."), one a line
    var list = consequences(inc);
    return list.length ? el('ul', 'also consequences', list.map(function (t) { return el('li', '', [t]); })) : null;
  }
  function runningAgain(inc) {  // as `shipper causes` says it: the unit's start that ended the incident
    if (!inc.recovered) return null;
    return 'at ' + (inc.recovered.slice(0, 10) === inc.when.slice(0, 10) ? clock(inc.recovered) : when(inc.recovered));
  }
  function exitStatus(f) {
    if (!f) return null;
    var parts = [];
    if (f.exit_explained) parts.push(f.exit_explained);
    else if (f.exit_code !== null && f.exit_code !== undefined) parts.push('status ' + f.exit_code);
    if (f.result) parts.push("systemd result '" + f.result + "'");
    return parts.join('; ');
  }
  function docs(list) {
    if (!list || !list.length) return null;
    return el('div', 'docs', list.map(function (d) {
      if (!/^https?:\/\//.test(d)) return el('span', '', [d + '  ']);
      var a = el('a', '', [d]);
      a.href = d;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      return a;
    }));
  }
  function lines(inc) {
    var rows = unpack(packedLines[inc.id] || []);
    if (!rows.length) return null;
    var pre = el('pre', '', rows.map(function (r) {
      if (!Array.isArray(r)) return el('span', 'l skipped', ['        \u2026 ' + plural(r.skipped, 'line') + ' not shown']);
      var ts = r[0].slice(11, 26).replace(/\.0+$/, ''), who = (r[1] ? r[1] + ' ' : '') + (r[2] || '') +
        (r[3] !== null && r[3] !== undefined ? '[' + r[3] + ']' : '');
      return el('span', 'l ' + r[5], [el('span', 'mark', [r[5]]), ts + ' ' + who + (who ? ': ' : '') + r[4]]);
    }));
    var details = el('details', 'lines', [el('summary', '', ['the lines around it (' + plural(rows.filter(Array.isArray).length, 'line') +
      ', host ' + hostOf(inc) + ', UTC)']), pre]);
    details.open = true;
    return details;
  }
  function card(inc) {
    var f = inc.failure, cause = inc.causes[0];
    var kind = f ? '' : (inc.summary ? ' summary-only' : ' no-failure');
    var also = inc.causes.slice(1).map(function (c) {
      return el('li', '', [c.title + ' ', el('span', 'times', ['\u00d7' + c.count + ', ' + span(c.first, c.last)])]);
    });
    var dl = el('dl', '', [].concat(
      row('Failure', f ? f.title : null),
      row('Exit status', exitStatus(f)),
      row('Cause', cause ? causeBlock(cause) : 'no cause found among the recognised lines'),
      row('Also seen', also.length ? el('ul', 'also', also) : null),
      row('Consequences', consequenceList(inc)),
      row('Running again', runningAgain(inc)),
      row('Hint', inc.hint ? el('div', 'hint', [rich(inc.hint)]) : null),
      row('Remediation', inc.remediation ? el('div', '', [rich(inc.remediation)]) : null),
      row('Overall', inc.summary_hint ? el('div', 'hint', [rich(inc.summary_hint)].concat(
        inc.summary_remediation ? [el('div', '', [rich(inc.summary_remediation)])] : [])) : null),
      row('Docs', docs(inc.docs)),
      row('Lines', lines(inc))));
    var node = el('article', 'incident' + kind, [
      el('header', '', [el('h3', '', [title(inc)]), el('span', 'when', [when(inc.when) + ' \u00b7 ' + hostOf(inc)])]),
      dl,
      el('footer', '', ['incident ' + inc.id + ' \u00b7 ' + plural(inc.events, 'event') + ' \u00b7 ' + span(inc.first, inc.last)])]);
    node.id = 'incident-' + inc.id;
    return node;
  }

  // ------------------------------------------------------------ timeline (one canvas, any number of incidents)
  var timeline = (function () {
    var ROW = 22, LEFT = 230, AXIS = 24, MAX_ROWS = 14, box = $('timeline'), canvas = el('canvas'), keys = [], t0, t1;
    function key(inc) { return hostOf(inc) + ' \u00b7 ' + unitOf(inc); }
    function ms(ts) { return Date.parse(ts); }
    function init() {
      keys = tally(key).order;
      if (keys.length > MAX_ROWS) keys = keys.slice(0, MAX_ROWS - 1).concat(['other hosts and units']);
      t0 = Infinity; t1 = -Infinity;
      incidents.forEach(function (inc) { var t = ms(inc.when); if (t < t0) t0 = t; if (t > t1) t1 = t; });
      if (!incidents.length) { box.appendChild(el('p', 'muted', ['Nothing to draw.'])); return; }
      if (t1 - t0 < 60000) { t0 -= 1800000; t1 += 1800000; }
      var pad = (t1 - t0) * 0.02; t0 -= pad; t1 += pad;
      box.appendChild(canvas);
      canvas.addEventListener('click', function (e) {
        var i = Math.floor((e.offsetY) / ROW);
        if (e.offsetX < LEFT && i < keys.length && keys[i].indexOf(' \u00b7 ') > 0) {
          var hu = keys[i].split(' \u00b7 ');
          filters.host = hu[0]; filters.unit = hu[1];
          $('f-host').value = hu[0]; $('f-unit').value = hu[1];
          apply();
        }
      });
      window.addEventListener('resize', draw);
    }
    function label(t, long) {
      var iso = new Date(t).toISOString();
      return long ? iso.slice(0, 10) : iso.slice(5, 10) + ' ' + iso.slice(11, 16);
    }
    function draw() {
      if (!incidents.length) return;
      var ratio = window.devicePixelRatio || 1, width = Math.max(box.clientWidth, 400), height = keys.length * ROW + AXIS;
      canvas.width = width * ratio; canvas.height = height * ratio; canvas.style.height = height + 'px';
      var g = canvas.getContext('2d'), plot = width - LEFT - 10;
      g.setTransform(ratio, 0, 0, ratio, 0, 0);
      g.clearRect(0, 0, width, height);
      g.font = '12px system-ui, sans-serif'; g.textBaseline = 'middle';
      keys.forEach(function (k, i) {
        g.fillStyle = i % 2 ? '#ffffff' : '#f6f8fa'; g.fillRect(0, i * ROW, width, ROW);
        g.fillStyle = '#1d2430'; g.fillText(visible(k.length > 34 ? k.slice(0, 33) + '\u2026' : k), 6, i * ROW + ROW / 2);
      });
      var index = new Map(); keys.forEach(function (k, i) { index.set(k, i); });
      var other = keys.length - 1;
      shown.forEach(function (inc) {
        var i = index.get(key(inc)); if (i === undefined) i = other;
        var x = LEFT + (ms(inc.when) - t0) / (t1 - t0) * plot;
        g.fillStyle = inc.failure ? 'rgba(196,48,43,.8)' : 'rgba(183,121,31,.85)';
        g.fillRect(x - 1.5, i * ROW + 4, 3, ROW - 8);
      });
      var long = t1 - t0 > 4 * 86400000, ticks = Math.max(2, Math.floor(plot / 140));
      g.fillStyle = '#5d6877'; g.strokeStyle = '#d9dee5';
      for (var n = 0; n <= ticks; n++) {
        var tx = LEFT + n * plot / ticks, y = keys.length * ROW;
        g.beginPath(); g.moveTo(tx, 0); g.lineTo(tx, y + 4); g.stroke();
        g.textAlign = n === 0 ? 'left' : (n === ticks ? 'right' : 'center');
        g.fillText(label(t0 + n * (t1 - t0) / ticks, long), tx, y + AXIS / 2 + 2);
      }
      g.textAlign = 'left';
    }
    return { init: init, draw: draw };
  })();

  // ------------------------------------------------------------ start
  header();
  summary();
  countsPanel();
  wireFilters();
  timeline.init();
  $('more').addEventListener('click', more);
  if ('IntersectionObserver' in window) {  // render the next batch as the end of the list comes near
    var observer = new IntersectionObserver(function (entries) {
      if (!entries[0].isIntersecting || rendered >= shown.length) return;
      more();
      observer.unobserve($('more-wrap'));
      observer.observe($('more-wrap'));  // fires again at once if the end is still near
    }, { rootMargin: '600px' });
    observer.observe($('more-wrap'));
  }
  apply();
  document.documentElement.setAttribute('data-ready', '1');
})();
