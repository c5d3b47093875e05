// The dashboard: pages drawn from the module's JSON (the registry, the
// stats zone) and kept current by its server-sent events. Every string
// from the registry goes into the page as text (textContent), never as
// markup, and the Content-Security-Policy forbids inline scripts.

'use strict';

const body = document.body;
const base = body.dataset.base;
const rpc = body.dataset.rpc;
const apps = body.dataset.apps;
const webNamespace = body.dataset.namespace;
const view = body.dataset.view;
const main = document.getElementById('main');

// el('p', {class: 'x'}, 'text', child, ...): strings become text nodes
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on')) {
      e.addEventListener(k.slice(2), v);
    } else {
      e.setAttribute(k, v);
    }
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) {
      e.append(typeof c === 'string' || typeof c === 'number'
               ? document.createTextNode(String(c)) : c);
    }
  }
  return e;
}

async function getJSON(path) {
  const r = await fetch(base + path, {headers: {Accept: 'application/json'}});
  if (!r.ok) {
    throw new Error(path + ': HTTP ' + r.status);
  }
  return r.json();
}

// "go.micro.api.customer" -> "go.micro.api"; no dot: "others"
function namespaceOf(name) {
  const i = name.lastIndexOf('.');
  return i > 0 ? name.slice(0, i) : 'others';
}

function fields(value) {
  if (!value || !value.values || value.values.length === 0) {
    return null;
  }
  return el('ul', {}, value.values.map((v) =>
    el('li', {}, el('code', {}, v.name), ' ', el('span', {class: 'muted'},
       v.type), fields(v))));
}

// A request skeleton from the registry's value tree.
function skeleton(value) {
  if (!value || !value.values || value.values.length === 0) {
    const t = (value && value.type) || '';
    if (/^(u?int|sint|fixed|sfixed)(32|64)$|^(float|double)$/.test(t)) {
      return 0;
    }
    return t === 'bool' ? false : t === 'string' ? '' : {};
  }
  const o = {};
  for (const v of value.values) {
    o[v.name] = v.values && v.values.length ? skeleton(v)
                                             : skeleton({type: v.type});
  }
  return o;
}

function metadata(md) {
  const keys = Object.keys(md || {});
  return keys.length === 0 ? null
    : el('span', {class: 'muted'}, ' ', keys.map((k) => k + '=' + md[k])
         .join(' '));
}

function endpointItem(e) {
  return el('li', {class: 'endpoint'}, el('code', {}, e.name),
    metadata(e.metadata),
    e.request ? el('div', {class: 'muted'}, 'request') : null,
    fields(e.request),
    e.response ? el('div', {class: 'muted'}, 'response') : null,
    fields(e.response));
}

function serviceCard(s) {
  return el('div', {class: 'card service', 'data-name': s.name},
    el('h3', {}, s.name, ' ', el('span', {class: 'muted'}, s.version || '')),
    metadata(s.metadata),
    el('div', {}, 'Nodes'),
    el('ul', {}, (s.nodes || []).map((n) =>
      el('li', {class: 'node'}, el('code', {}, n.address), ' ',
         el('span', {class: 'muted'}, n.id), metadata(n.metadata)))),
    (s.endpoints || []).length === 0 ? null
      : el('div', {}, 'Endpoints', el('ul', {}, s.endpoints.map(endpointItem))));
}

// --- the pages --------------------------------------------------------------

let query = '';

const pages = {
  async index() {
    const {services} = await getJSON('registry');
    const web = services.filter((s) => s.name.startsWith(webNamespace + '.'));
    const names = [...new Set(web.map((s) => s.name))].sort();
    main.replaceChildren(el('h1', {}, 'Web apps'),
      names.length === 0
        ? el('p', {class: 'muted'}, 'No web service is registered under ',
             el('code', {}, webNamespace), '.')
        : el('ul', {id: 'apps'}, names.map((n) => {
            const short = n.slice(webNamespace.length + 1);
            return el('li', {}, el('a', {href: apps + short + '/'}, short),
                      ' ', el('span', {class: 'muted'}, n));
          })));
  },

  async registry() {
    const {services} = await getJSON('registry');
    const search = el('input', {type: 'search', id: 'search',
                                placeholder: 'Search services'});
    search.value = query;           // kept when the page is drawn again
    const list = el('div', {id: 'services'});
    const draw = () => {
      const q = search.value.toLowerCase();
      const groups = new Map();
      for (const s of services) {
        if (q && !s.name.toLowerCase().includes(q)) {
          continue;
        }
        const ns = namespaceOf(s.name);
        groups.set(ns, (groups.get(ns) || []).concat([s]));
      }
      list.replaceChildren(...[...groups.keys()].sort().map((ns) =>
        el('section', {}, el('h2', {}, ns), groups.get(ns).map(serviceCard))));
    };
    search.addEventListener('input', () => {
      query = search.value;
      draw();
    });
    main.replaceChildren(el('h1', {}, 'Registry'), search, list);
    draw();
  },

  async call() {
    const {services} = await getJSON('registry');
    const byName = new Map();
    for (const s of services) {
      byName.set(s.name, (byName.get(s.name) || []).concat(s.endpoints || []));
    }
    if (!rpc) {
      main.replaceChildren(el('h1', {}, 'Call'), el('p', {class: 'error',
        id: 'not-allowed'}, 'Calls are not allowed here: the dashboard has '
        + 'no rpc= location (micro_web_dashboard rpc=/rpc).'));
      return;
    }
    const service = el('select', {id: 'service'},
      [...byName.keys()].sort().map((n) => el('option', {value: n}, n)));
    const endpoint = el('select', {id: 'endpoint'});
    const request = el('textarea', {id: 'request'});
    const result = el('div', {id: 'result'});
    const fill = () => {
      const eps = byName.get(service.value) || [];
      endpoint.replaceChildren(...eps.map((e) =>
        el('option', {value: e.name}, e.name)));
      fillRequest();
    };
    const fillRequest = () => {
      const e = (byName.get(service.value) || [])
        .find((x) => x.name === endpoint.value);
      request.value = JSON.stringify(skeleton(e && e.request), null, 2);
    };
    service.addEventListener('change', fill);
    endpoint.addEventListener('change', fillRequest);
    const send = el('button', {id: 'send', type: 'submit'}, 'Send');
    const form = el('form', {id: 'call'}, el('div', {}, service, endpoint),
                    request, send);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      let req;
      try {
        req = JSON.parse(request.value);
      } catch (e) {
        result.replaceChildren(el('p', {class: 'error'},
                                  'Not JSON: ' + e.message));
        return;
      }
      const t0 = performance.now();
      const r = await fetch(rpc, {method: 'POST',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({service: service.value,
                              endpoint: endpoint.value, request: req})});
      const text = await r.text();
      const ms = (performance.now() - t0).toFixed(1);
      result.replaceChildren(
        el('p', {class: r.ok ? 'ok' : 'error', id: 'status'},
           'HTTP ' + r.status + ' in ' + ms + ' ms'),
        el('pre', {id: 'reply'}, text));
    });
    main.replaceChildren(el('h1', {}, 'Call'),
      el('p', {class: 'muted'}, 'Through ', el('code', {}, rpc),
         ': only the services it allows answer.'), form, result);
    fill();
  },

  async stats() {
    await drawStats();
  },
};

// --- stats: rates and quantiles over the samples taken since the page
// opened (up to five minutes), from the zone's cumulative counters ----------

const samples = [];

function quantile(bounds, buckets, q) {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total === 0) {
    return null;
  }
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i];
    if (seen >= q * total) {
      return i < bounds.length ? bounds[i] : Infinity;
    }
  }
  return Infinity;
}

function ms(s) {
  return s === null ? '-' : s === Infinity ? '> 10 s'
    : '≤ ' + (s * 1000) + ' ms';
}

async function drawStats() {
  const st = await getJSON('stats');
  if (!st.enabled) {
    main.replaceChildren(el('h1', {}, 'Stats'), el('p', {class: 'muted',
      id: 'no-stats'}, 'No stats: configure micro_stats_zone.'));
    return;
  }
  const now = Date.now();
  samples.push({at: now, st});
  while (samples.length > 2 && now - samples[0].at > 300000) {
    samples.shift();
  }
  const first = samples[0];
  const secs = Math.max((now - first.at) / 1000, 1);
  const windowed = samples.length > 1;    // rates need two samples
  const before = new Map(first.st.series.map((s) =>
    [s.service + ' ' + s.endpoint + ' ' + s.node, s]));
  const rows = new Map();
  for (const s of st.series) {
    const old = samples.length > 1
      ? before.get(s.service + ' ' + s.endpoint + ' ' + s.node) : null;
    const key = s.service + ' ' + s.endpoint;
    const row = rows.get(key) || {service: s.service, endpoint: s.endpoint,
                                  count: 0, errors: 0, dcount: 0, derrors: 0,
                                  buckets: s.buckets.map(() => 0), nodes: []};
    const errors = Object.entries(s.codes)
      .filter(([c]) => c === 'other' || Number(c) >= 500)
      .reduce((a, [, n]) => a + n, 0);
    const oldErrors = old ? Object.entries(old.codes)
      .filter(([c]) => c === 'other' || Number(c) >= 500)
      .reduce((a, [, n]) => a + n, 0) : 0;
    row.count += s.count;
    row.errors += errors;
    row.dcount += s.count - (old ? old.count : 0);
    row.derrors += errors - oldErrors;
    s.buckets.forEach((b, i) => {
      row.buckets[i] += b - (windowed && old ? old.buckets[i] : 0);
    });
    row.nodes.push(s);
    rows.set(key, row);
  }
  const table = el('table', {id: 'stats'},
    el('tr', {}, ['Service', 'Endpoint', 'Requests', 'Rate /s', 'Errors',
                  'p50', 'p99', 'Nodes'].map((h) => el('th', {}, h))),
    [...rows.values()].map((r) => el('tr', {class: 'row'},
      el('td', {}, r.service), el('td', {}, r.endpoint || '-'),
      el('td', {class: 'count'}, r.count),
      el('td', {}, windowed ? (r.dcount / secs).toFixed(2) : '-'),
      el('td', {}, windowed && r.dcount
                   ? (100 * r.derrors / r.dcount).toFixed(1) + ' %'
                   : r.errors + ' in all'),
      el('td', {}, ms(quantile(st.bounds, r.buckets, 0.5))),
      el('td', {}, ms(quantile(st.bounds, r.buckets, 0.99))),
      el('td', {}, r.nodes.map((n) => el('div', {}, el('code', {}, n.node),
                                      ' ' + n.count))))));
  main.replaceChildren(el('h1', {}, 'Stats'),
    el('p', {class: 'muted'}, (windowed
       ? 'Rates, errors (5xx) and latency over the last ' + Math.round(secs)
         + ' s'
       : 'Errors (5xx) and latency since the zone began; rates from the '
         + 'next sample (every 5 s)') + '; requests since the zone began.'
       + (st.full ? ' The zone is full: new series are not added.' : '')),
    table);
}

// --- navigation and live updates ----------------------------------------------

for (const a of document.querySelectorAll('nav a')) {
  if (a.dataset.nav === view) {
    a.classList.add('current');
  }
}

function show() {
  (pages[view] || pages.index)().catch((e) => {
    main.replaceChildren(el('p', {class: 'error'}, String(e.message || e)));
  });
}

show();

const live = document.getElementById('live');
const events = new EventSource(base + 'events');
events.addEventListener('open', () => {
  live.textContent = 'live';
  live.classList.add('on');
});
events.addEventListener('error', () => {
  live.textContent = 'reconnecting';
  live.classList.remove('on');
});
// the registry changed: pages drawn from it are drawn again (the call
// form keeps what was typed)
events.addEventListener('registry', () => {
  if (view === 'index' || view === 'registry') {
    show();
  }
});
if (view === 'stats') {
  setInterval(() => drawStats().catch(() => {}), 5000);
}
