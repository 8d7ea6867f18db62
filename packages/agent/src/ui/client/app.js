// hapg dashboard: plain DOM, no library. The page is one state document, redrawn whole on
// every push (a few members, a few dozen events: cheaper than any diffing library to load).
// Lag sparklines are kept here, from the pushes, for the last SPARK_WINDOW_MS.

const SPARK_WINDOW_MS = 5 * 60 * 1000;
const $ = (id) => document.getElementById(id);
/** member name → [[wallMs, lagBytes]] */
const lagSeries = new Map();
let state = null;
let connected = false;
/** performance.now() when the last state arrived: the lease countdown runs from it */
let stateAtMs = 0;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c);
  return e;
}

const hhmmss = (ms) => new Date(ms).toTimeString().slice(0, 8);

function bytes(n) {
  if (n === null || n === undefined) return 'unknown';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(1)} ${units[i]}`;
}

const seconds = (s) =>
  s === null || s === undefined ? '?' : s < 10 ? `${s.toFixed(1)} s` : `${Math.round(s)} s`;

function recordLag(s) {
  const cutoff = s.builtAtMs - SPARK_WINDOW_MS;
  for (const m of s.members) {
    if (m.lagBytes === null) continue;
    const series = lagSeries.get(m.name) || [];
    series.push([s.builtAtMs, m.lagBytes]);
    while (series.length > 0 && series[0][0] < cutoff) series.shift();
    lagSeries.set(m.name, series);
  }
}

function sparkline(name) {
  const series = lagSeries.get(name);
  const svgNs = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(svgNs, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('viewBox', '0 0 300 28');
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('aria-label', `lag of ${name} over the last 5 minutes`);
  if (!series || series.length < 2) return svg;
  const t0 = series[0][0];
  const span = Math.max(1, series[series.length - 1][0] - t0);
  const max = Math.max(1, ...series.map((p) => p[1]));
  const points = series.map(([t, v]) => `${((t - t0) / span) * 300},${27 - (v / max) * 26}`).join(' ');
  const line = document.createElementNS(svgNs, 'polyline');
  line.setAttribute('points', points);
  svg.append(line);
  const title = document.createElementNS(svgNs, 'title');
  title.textContent = `max ${bytes(max)} in the last ${Math.round(span / 1000)} s`;
  svg.append(title);
  return svg;
}

function memberCard(m, s) {
  const isLeader = m.role === 'leader' || m.role === 'standby_leader';
  const sync = s.syncStandbys.includes(m.name);
  const tags = Object.entries(m.tags || {}).map(([k, v]) =>
    el('span', { class: 'tag' }, `${k}: ${JSON.stringify(v)}`),
  );
  return el(
    'div',
    {
      class: 'member',
      'data-member': m.name,
      'data-role': m.role,
      'data-state-ok': String(m.state === 'running' || m.state === 'streaming'),
    },
    el(
      'div',
      { class: 'top' },
      el('span', { class: 'name' }, m.uiUrl ? el('a', { href: m.uiUrl }, m.name) : m.name),
      el('span', { class: 'role' }, m.role.replace('_', ' ')),
      el('span', { class: 'state' }, m.state),
      m.name === s.self ? el('span', { class: 'tag' }, 'this page') : null,
      sync && !isLeader ? el('span', { class: 'tag' }, 'sync') : null,
      m.pendingRestart ? el('span', { class: 'pending' }, 'pending restart') : null,
    ),
    el(
      'div',
      { class: 'facts' },
      el('span', {}, 'TL ', el('b', {}, m.timeline ?? '?')),
      isLeader
        ? null
        : el('span', { class: 'lag' }, 'lag ', el('b', {}, bytes(m.lagBytes)), ` · ${seconds(m.lagSeconds)}`),
      isLeader
        ? null
        : el(
            'span',
            {
              class: m.failoverEligible ? 'eligible' : 'ineligible',
              'data-eligible': String(m.failoverEligible),
            },
            m.failoverEligible ? 'failover: eligible' : `failover: no (${m.failoverReason})`,
          ),
      tags.length ? el('span', {}, tags) : null,
    ),
    m.decision ? el('div', { class: 'reason', title: m.decision.code }, `decided: ${m.decision.text}`) : null,
    isLeader ? null : sparkline(m.name),
  );
}

/** Members as they stream: each under the member it streams from; the rest under the leader. */
function topology(s) {
  const byName = new Map(s.members.map((m) => [m.name, m]));
  const leader = s.members.find((m) => m.role === 'leader' || m.role === 'standby_leader');
  const children = new Map();
  const roots = [];
  for (const m of s.members) {
    const parent =
      m === leader ? null : m.streamingFrom && byName.has(m.streamingFrom) ? m.streamingFrom : null;
    if (parent === null) roots.push(m);
    else children.set(parent, [...(children.get(parent) || []), m]);
  }
  // the leader first, then members that stream from nobody we know
  roots.sort((a, b) => (a === leader ? -1 : b === leader ? 1 : a.name.localeCompare(b.name)));
  const seen = new Set();
  const branch = (list) =>
    el(
      'ul',
      { class: 'tree' },
      list
        .filter((m) => !seen.has(m.name))
        .map((m) => {
          seen.add(m.name);
          const kids = children.get(m.name) || [];
          const label =
            m !== leader && !m.streamingFrom && m.role !== 'leader'
              ? el('div', { class: 'label' }, 'not streaming from any member')
              : null;
          return el('li', {}, label, memberCard(m, s), kids.length ? branch(kids) : null);
        }),
    );
  return branch(roots);
}

/** History rows (cluster-wide, from etcd) and this agent's own events, newest first. */
function timeline(s) {
  const items = [];
  for (const h of s.history) {
    items.push({
      ms: Date.parse(h.time),
      type: h.reason,
      text: `timeline ${h.timeline} ended${h.newLeader ? `; new leader ${h.newLeader}` : ''}`,
    });
  }
  for (const e of s.events) {
    const roles = e.old_role || e.new_role ? ` ${e.old_role ?? '?'} → ${e.new_role ?? '?'}` : '';
    items.push({ ms: Date.parse(e.time), type: e.type, text: `${e.member}${roles}: ${e.reason.text}` });
  }
  items.sort((a, b) => b.ms - a.ms);
  return items
    .slice(0, 40)
    .map((i) =>
      el(
        'li',
        { 'data-type': i.type },
        el('time', {}, Number.isFinite(i.ms) ? new Date(i.ms).toLocaleString() : '?'),
        el('span', { class: 'type' }, i.type.replaceAll('_', ' ')),
        i.text,
      ),
    );
}

function renderStatus() {
  const status = $('status');
  if (state === null) return;
  const stale = !state.dcs.reachable || !connected;
  const asOfMs = !state.dcs.reachable ? state.dcs.lastSeenMs : state.builtAtMs;
  status.dataset.state = !connected ? 'offline' : stale ? 'stale' : 'live';
  status.textContent = stale
    ? `cluster data as of ${asOfMs ? hhmmss(asOfMs) : 'never'}${connected ? ' (agent cannot reach etcd)' : ' (agent unreachable)'}`
    : 'live';
}

function renderLease() {
  if (state === null) return;
  const left = state.leader.leaseRemainingMs;
  const elapsed = performance.now() - stateAtMs;
  $('lease-left').textContent =
    left === null
      ? state.leader.name
        ? 'unknown'
        : '—'
      : `${(Math.max(0, left - elapsed) / 1000).toFixed(1)} s of ${state.leader.ttlMs / 1000} s`;
}

function render(s) {
  state = s;
  stateAtMs = performance.now();
  recordLag(s);
  document.title = `hapg ${s.scope}${s.leader.name ? ` · ${s.leader.name}` : ''}`;
  $('scope').textContent = s.scope;
  $('served-by').textContent = `served by ${s.self}`;
  $('lease-holder').textContent = s.leader.name ?? 'nobody (no leader key)';
  $('sync-standbys').textContent = s.syncStandbys.length ? s.syncStandbys.join(', ') : 'none';
  $('paused').hidden = !s.paused;
  // shown only while the switch is on, in hactl list's words
  const ff = s.fastFailover;
  $('fast-failover').hidden = ff.state === 'off';
  $('fast-failover-state').textContent =
    ff.state === 'ready'
      ? `ready: ${ff.standbys.join(', ')} may take over from ${ff.leader} before its lease expires`
      : ff.state === 'unavailable'
        ? `unavailable: ${ff.reason}`
        : '';
  $('topology').replaceChildren(topology(s));
  $('events').replaceChildren(...timeline(s));
  $('footer').textContent = `hapg ${s.version} · updated ${hhmmss(s.builtAtMs)}`;
  renderLease();
  renderStatus();
  // the load figure that matters: navigation start → the cluster on screen (docs/rest-api.md)
  if (performance.getEntriesByName('hapg-first-state').length === 0) performance.mark('hapg-first-state');
}

function connect() {
  const source = new EventSource('/ui/stream');
  source.addEventListener('state', (ev) => {
    connected = true;
    render(JSON.parse(ev.data));
  });
  source.addEventListener('open', () => {
    connected = true;
    renderStatus();
  });
  // EventSource reconnects on its own (the server asks for 1 s); meanwhile the page keeps what it knows
  source.addEventListener('error', () => {
    connected = false;
    renderStatus();
  });
}

setInterval(renderLease, 200);
connect();
