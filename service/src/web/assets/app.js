// amm-engine dashboard: live leaderboard, sortable tables, the submit flow, admin actions.
// Server data is only ever inserted as text (textContent), never as markup.
'use strict';

window.__ammErrors = [];
window.addEventListener('error', (e) => window.__ammErrors.push(e.message ? String(e.message) : 'failed to load ' + String((e.target && (e.target.src || e.target.href)) || e)), true);
window.addEventListener('unhandledrejection', (e) =>
  window.__ammErrors.push('unhandled rejection: ' + String((e.reason && e.reason.message) || e.reason)));
document.addEventListener('securitypolicyviolation', (e) =>
  window.__ammErrors.push('CSP: ' + e.violatedDirective + ' ' + e.blockedURI));

const $ = (sel, root) => (root || document).querySelector(sel);
const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

/** An element with text content (never parsed as HTML). */
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function fmt(v, digits) {
  return typeof v === 'number' && isFinite(v) ? v.toFixed(digits) : '–';
}

function pm(mean, se) {
  if (typeof mean !== 'number') return '–';
  return typeof se === 'number' ? fmt(mean, 2) + ' ± ' + fmt(se, 2) : fmt(mean, 2);
}

// ---------- sortable tables ----------
let boardSort = null;

function sortTable(table, index, ascending) {
  const heads = $$('thead th', table);
  heads.forEach((th) => th.removeAttribute('aria-sort'));
  const th = heads[index];
  th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
  const numeric = th.dataset.kind === 'num';
  const body = table.tBodies[0];
  const key = (row) => (row.cells[index] && row.cells[index].dataset.sort) || '';
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    const c = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
    return ascending ? c : -c;
  });
  rows.forEach((r) => body.appendChild(r));
  return { index, ascending };
}

function makeSortable(table, remember) {
  $$('thead th', table).forEach((th, i) => {
    const button = $('button', th);
    if (!button) return;
    button.addEventListener('click', () => {
      const s = sortTable(table, i, th.getAttribute('aria-sort') !== 'ascending');
      if (remember) boardSort = s;
    });
  });
}

// ---------- leaderboard ----------
function leaderboardPage() {
  const board = $('#board');
  const wire = () => {
    const table = $('table.sortable', board);
    if (!table) return;
    makeSortable(table, true);
    if (boardSort) sortTable(table, boardSort.index, boardSort.ascending);
  };
  wire();
  if (!window.EventSource) return;
  const events = new EventSource('/api/leaderboard/events');
  let refreshing = false;
  events.addEventListener('board', async () => {
    if (refreshing) return;
    refreshing = true;
    try {
      const r = await fetch('/partials/leaderboard', { headers: { Accept: 'text/html' } });
      if (r.ok) {
        board.innerHTML = await r.text(); // server-rendered and escaped by the same template
        board.dataset.updated = String(Date.now());
        wire();
      }
    } catch (e) {
      // Offline for a moment: the next event refreshes.
    } finally {
      refreshing = false;
    }
  });
}

// ---------- submit ----------
const STAGE_WORDS = { todo: 'waiting', active: 'in progress', done: 'done', failed: 'failed' };

function stage(id, state, detail) {
  const li = $('li[data-stage="' + id + '"]');
  if (!li) return;
  li.dataset.state = state;
  $('.state', li).textContent = detail || STAGE_WORDS[state];
}

function message(text) {
  const box = $('#message');
  box.textContent = '';
  if (!text) return;
  for (const line of [].concat(text)) box.appendChild(el('p', line));
}

function showChecks(checks) {
  const box = $('#checks');
  box.textContent = '';
  if (!checks || !checks.length) return;
  box.appendChild(el('h3', 'Checks'));
  const ul = el('ul', null, 'checks');
  for (const c of checks) {
    const li = el('li');
    li.dataset.outcome = c.outcome;
    const cls = c.outcome === 'PASS' ? 'ok' : c.outcome === 'FAIL' ? 'bad' : 'wait';
    li.appendChild(el('span', c.outcome, 'badge ' + cls));
    li.appendChild(document.createTextNode(' '));
    li.appendChild(el('strong', c.name));
    li.appendChild(document.createTextNode(' — ' + c.detail));
    ul.appendChild(li);
  }
  box.appendChild(ul);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function getJson(path) {
  const r = await fetch(path);
  if (!r.ok) throw new Error(path + ': ' + r.status);
  return r.json();
}

function explain(status, body, retryAfter, maxBytes) {
  const why = body && body.error ? String(body.error).replace(/^the module was refused: /, '') : '';
  switch (status) {
    case 401:
      return ['Your token was not accepted (401).',
        'Check that you pasted the whole token (it starts with amm_). If you have none, ask the organisers: they create one with "amm-engine token create YOUR_HANDLE".'];
    case 413:
      return ['The module is over the upload limit of ' + maxBytes + ' bytes (413).',
        'Build it in release mode and strip debug sections (for example wasm-opt -Oz --strip-debug), then upload again.'];
    case 422:
      return ['The module was refused (422): ' + why,
        'Nothing was queued. Fix the failing check (listed under Checks below), run "amm-engine validate YOUR.wasm" locally until every check passes, then upload again.'];
    case 429: {
      const secs = parseInt(retryAfter || '0', 10);
      const at = secs > 0 ? ' (at ' + new Date(Date.now() + secs * 1000).toLocaleTimeString() + ')' : '';
      return ['Over your quota (429): ' + why,
        'Try again in ' + (secs > 0 ? secs + ' s' + at : 'a while') + '. Uploads still being evaluated count against the limit until they finish.'];
    }
    default:
      return ['The server answered ' + status + (why ? ': ' + why : '') + '.', 'Try again in a moment.'];
  }
}

/** Follows one job over SSE (polling if the stream is refused); calls update(view) per change. */
function followJob(id, update) {
  return new Promise((resolve) => {
    const final = (v) => ['succeeded', 'failed', 'cancelled'].includes(v.state);
    const poll = async () => {
      for (;;) {
        try {
          const v = await getJson('/api/jobs/' + id);
          update(v);
          if (final(v)) return resolve(v);
        } catch (e) {
          // Transient: keep polling.
        }
        await sleep(1000);
      }
    };
    if (!window.EventSource) return poll();
    const events = new EventSource('/api/jobs/' + id + '/events');
    let done = false;
    events.addEventListener('job', (e) => {
      const v = JSON.parse(e.data);
      update(v);
      if (final(v)) {
        done = true;
        events.close();
        resolve(v);
      }
    });
    events.onerror = () => {
      if (done) return;
      if (events.readyState === EventSource.CLOSED) poll();
    };
  });
}

async function resultCard(id) {
  let view;
  for (let i = 0; i < 600; i++) {
    view = await getJson('/api/submissions/' + id);
    if (view.status !== 'pending') break;
    await sleep(500);
  }
  if (view.status !== 'evaluated') {
    stage('scored', 'failed');
    message(['The evaluation ' + view.status + (view.error ? ': ' + view.error : '') + '.',
      'See the submission page for the details.']);
    return;
  }
  const rows = await getJson('/api/leaderboard');
  const mine = rows.find((r) => r.submission === id);
  const best = rows.find((r) => !r.baseline && r.submitter === view.submitter);
  const entry = view.summary && view.summary.entrants[view.summary.entrants.length - 1];
  const body = $('#result-body');
  body.textContent = '';
  if (mine && mine.rank) {
    body.appendChild(el('p', '#' + mine.rank, 'rank'));
    body.lastChild.id = 'rank';
    body.appendChild(el('p', 'of ' + rows.filter((r) => !r.baseline).length + ' entries · tie group ' + mine.tie_group));
  } else if (best) {
    body.appendChild(el('p', 'Your best entry (submission ' + best.submission + ') ranks #' + best.rank +
      '; this one scored lower, so it is not on the board.'));
  }
  const dl = el('dl', null, 'facts');
  const add = (k, v) => { dl.appendChild(el('dt', k)); dl.appendChild(el('dd', v)); };
  if (entry) {
    add('Mean edge', pm(entry.mean_edge, entry.stderr_edge) + ' Y');
    add('Edge vs normalizer', pm(entry.edge_vs_normalizer, entry.stderr_vs_normalizer) + ' Y');
    add('Sharpe', fmt(entry.sharpe, 3));
    add('Retail share', fmt(entry.retail_share * 100, 1) + ' %');
    add('Arbitrage loss', fmt(entry.arb_loss, 2) + ' Y');
    add('Disqualified simulations', entry.disqualified_sims);
    add('Simulations', view.summary.simulations);
  }
  body.appendChild(dl);
  const link = el('a', 'The full report of submission ' + id);
  link.href = '/submissions/' + id;
  body.appendChild(el('p')).appendChild(link);
  stage('scored', 'done');
  $('#result').hidden = false;
  $('#result-h').focus && $('#result').scrollIntoView({ block: 'nearest' });
}

async function track(accepted) {
  const id = accepted.submission;
  stage('upload', 'done');
  const view = await getJson('/api/submissions/' + id);
  showChecks(view.validation);
  stage('checks', 'done', 'all passed');
  if (accepted.duplicate) {
    $('#queue-info').textContent = 'You submitted these exact bytes before: this is that submission (' + id + '); nothing new is evaluated.';
  }
  const jobs = {};
  for (const j of view.jobs) jobs[j.id] = j;
  const progressBox = $('#progress-box');
  const bar = $('#progress');
  const render = () => {
    const all = Object.values(jobs);
    const total = all.reduce((s, j) => s + j.progress.total, 0);
    const done = all.reduce((s, j) => s + (j.state === 'succeeded' ? j.progress.total : j.progress.done), 0);
    const started = all.some((j) => j.state !== 'queued');
    if (!started) {
      if ($('li[data-stage="queued"]').dataset.state !== 'active') stage('queued', 'active');
    } else {
      stage('queued', 'done');
      stage('simulating', done >= total ? 'done' : 'active', done + ' / ' + total);
    }
    progressBox.hidden = false;
    bar.max = Math.max(total, 1);
    bar.value = done;
    $('#progress-text').textContent = done + ' of ' + total;
  };
  render();
  // The first job's place in the queue, until it starts.
  let placing = null;
  const place = async () => {
    try {
      const q = await getJson('/api/jobs/' + view.jobs[0].id + '/queue');
      if (q.state !== 'queued') {
        clearInterval(placing);
        if (!accepted.duplicate) $('#queue-info').textContent = '';
        return;
      }
      const li = $('li[data-stage="queued"]');
      if (li.dataset.state === 'active') $('.state', li).textContent = 'position ' + (q.ahead + 1);
      $('#queue-info').textContent = 'Position ' + (q.ahead + 1) + ' in the queue: ' + q.ahead +
        ' job(s) ahead of yours, ' + q.running + ' running.';
    } catch (e) {
      // The place is a courtesy: the job's own events carry on.
    }
  };
  if (view.jobs.length && view.jobs[0].state === 'queued') {
    await place();
    placing = setInterval(place, 2000);
  }
  const finals = await Promise.all(view.jobs.map((j) => followJob(j.id, (v) => { jobs[v.id] = v; render(); })));
  clearInterval(placing);
  const bad = finals.find((v) => v.state !== 'succeeded');
  if (bad) {
    stage('simulating', 'failed', bad.state);
    message(['Job ' + bad.id + ' ' + bad.state + (bad.error ? ': ' + bad.error : '') + '.',
      'Strategy faults are never retried; an infrastructure fault can be requeued by an admin.']);
    return;
  }
  stage('scored', 'active');
  await resultCard(id);
}

function submitPage() {
  const form = $('#submit-form');
  const maxBytes = parseInt(form.dataset.maxBytes, 10);
  const token = $('#token');
  const input = $('#module');
  const drop = $('#drop');
  const info = $('#file-info');
  token.value = localStorage.getItem('amm-token') || '';
  token.addEventListener('change', () => localStorage.setItem('amm-token', token.value.trim()));
  $('#forget-token').addEventListener('click', () => { localStorage.removeItem('amm-token'); token.value = ''; token.focus(); });
  const tooBig = (file) => file && file.size > maxBytes;
  const describe = () => {
    const file = input.files[0];
    if (!file) { info.textContent = ''; return; }
    info.textContent = file.name + ': ' + file.size + ' bytes' + (tooBig(file) ? ' — over the limit of ' + maxBytes + ' bytes' : '');
  };
  input.addEventListener('change', describe);
  ['dragenter', 'dragover'].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add('over'); }));
  ['dragleave', 'drop'].forEach((t) => drop.addEventListener(t, () => drop.classList.remove('over')));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    if (e.dataTransfer && e.dataTransfer.files.length) {
      input.files = e.dataTransfer.files;
      describe();
    }
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    message('');
    showChecks([]);
    $('#result').hidden = true;
    $('#queue-info').textContent = '';
    const file = input.files[0];
    const source = $('#source');
    const text = source ? source.value.trim() : '';
    const secret = token.value.trim();
    if (!secret) { message('Enter your token first (it starts with amm_).'); token.focus(); return; }
    localStorage.setItem('amm-token', secret);
    if (!file && !text) { message('Choose a .wasm file (or drop one on the box).'); input.focus(); return; }
    if (tooBig(file)) {
      message(['The file is ' + file.size + ' bytes, over the upload limit of ' + maxBytes + ' bytes; nothing was sent.',
        'Build in release mode and strip debug sections (for example wasm-opt -Oz --strip-debug).']);
      return;
    }
    $('#pipeline').hidden = false;
    $('#progress-box').hidden = true;
    ['upload', 'checks', 'queued', 'simulating', 'scored'].forEach((s) => stage(s, 'todo'));
    stage('upload', 'active');
    const data = new FormData();
    if (file) data.append('module', file);
    if (text) data.append('source', text);
    const name = $('#name').value.trim();
    if (name) data.append('name', name);
    const send = $('#send');
    send.disabled = true;
    try {
      const r = await fetch('/api/submissions', { method: 'POST', headers: { Authorization: 'Bearer ' + secret }, body: data });
      const body = await r.json().catch(() => ({}));
      if (r.status === 200 || r.status === 202) {
        await track(body);
      } else {
        if (r.status === 422 && body.checks) {
          stage('upload', 'done');
          stage('checks', 'failed', (body.failed && body.failed[0] ? body.failed[0].name : 'refused'));
          showChecks(body.checks);
        } else {
          stage('upload', 'failed', String(r.status));
        }
        message(explain(r.status, body, r.headers.get('Retry-After'), maxBytes));
      }
    } catch (err) {
      stage('upload', 'failed');
      message(['The upload did not reach the server: ' + err.message, 'Check your connection and try again.']);
    } finally {
      send.disabled = false;
    }
  });
}

// ---------- admin ----------
function adminPage() {
  const token = $('#admin-token');
  token.value = localStorage.getItem('amm-admin-token') || '';
  token.addEventListener('change', () => localStorage.setItem('amm-admin-token', token.value.trim()));
  const out = $('#admin-message');
  const id = (name) => parseInt($('#' + name + '-id').value, 10);
  const plan = {
    rescore: () => ['/api/admin/rescore', ''],
    round: () => ['/api/rounds', ''],
    flag: () => ['/api/admin/submissions/' + id('flag') + '/flag', JSON.stringify({ reason: $('#flag-reason').value, flagged: true })],
    unflag: () => ['/api/admin/submissions/' + id('unflag') + '/flag', JSON.stringify({ flagged: false })],
    hide: () => ['/api/admin/submissions/' + id('hide') + '/hide', JSON.stringify({ hidden: true })],
    show: () => ['/api/admin/submissions/' + id('show') + '/hide', JSON.stringify({ hidden: false })],
    requeue: () => ['/api/admin/jobs/' + id('requeue') + '/requeue', ''],
  };
  $$('button[data-action]').forEach((b) => b.addEventListener('click', async () => {
    const secret = token.value.trim();
    if (!secret) { out.textContent = 'Enter an admin token first.'; token.focus(); return; }
    localStorage.setItem('amm-admin-token', secret);
    const [path, body] = plan[b.dataset.action]();
    if (path.includes('NaN')) { out.textContent = 'Enter the id first.'; return; }
    try {
      const r = await fetch(path, { method: 'POST', headers: { Authorization: 'Bearer ' + secret, 'Content-Type': 'application/json' }, body });
      const text = await r.text();
      const words = { 401: 'The token was not accepted (401).', 403: 'This token is not an admin token (403).',
        404: 'No such submission or job (404).', 409: 'Not possible now (409).' };
      out.textContent = (r.ok ? 'Done (' + r.status + '): ' : (words[r.status] || 'Refused (' + r.status + '):') + ' ') + text;
    } catch (err) {
      out.textContent = 'The request did not reach the server: ' + err.message;
    }
  }));
}

document.addEventListener('DOMContentLoaded', () => {
  const page = document.body.dataset.page;
  if (page === 'leaderboard') leaderboardPage();
  if (page === 'submit') submitPage();
  if (page === 'admin') adminPage();
});
