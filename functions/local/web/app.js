// image-describer web page: plain ES module, no build step. Talks to the upload API
// (POST /uploads, GET /uploads/{id}) and, when the host offers it, GET /records for the list and
// GET /search for the search box and filters.

import { API_UNREACHABLE, sentSummary, storageRefusal, UPLOAD_INTERRUPTED } from './messages.js';

const POLL_MS = 1000;
const LIST_REFRESH_MS = 5000;
const FINAL = new Set(['done', 'failed']);
const STATUS_TEXT = {
  selected: 'Preparing upload…',
  uploading: 'Uploading…',
  describing: 'Describing…',
  'fast-done': 'Caption ready · details coming…',
  done: 'Done',
  failed: 'Failed',
  rejected: 'Rejected',
};

const apiBase = (() => {
  const fromQuery = new URLSearchParams(location.search).get('api');
  const fromMeta = document.querySelector('meta[name="api-base"]')?.getAttribute('content');
  return (fromQuery || fromMeta || '').replace(/\/$/, '');
})();

/** One entry per image, keyed by upload id or object key. */
const items = new Map();
const els = {
  input: document.getElementById('file-input'),
  drop: document.getElementById('drop-zone'),
  results: document.getElementById('results'),
  search: document.getElementById('search'),
  family: document.getElementById('family'),
  category: document.getElementById('category'),
  count: document.getElementById('match-count'),
  empty: document.getElementById('empty'),
  notice: document.getElementById('notice'),
  more: document.getElementById('show-more'),
};

function api(path) {
  return `${apiBase}${path}`;
}

async function readError(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    return body.error?.message ?? body.message ?? text;
  } catch {
    // S3 answers XML: <Message>…</Message>
    const match = /<Message>([^<]*)<\/Message>/.exec(text);
    return match ? match[1] : text || `HTTP ${response.status}`;
  }
}

function el(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'text') node.textContent = value;
    else if (name === 'style') node.setAttribute('style', value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function errorOf(record) {
  const error = record?.errors?.fast ?? record?.errors?.detailed;
  return error ? `${error.message} (${error.code})` : undefined;
}

/** The API counts waiting-for-models as describing; the page says which it is. */
function waitingForModels(record) {
  return ['fast', 'detailed'].some((stage) => record?.status?.[stage]?.state === 'waiting-for-models');
}

function itemStatus(item) {
  return item.status;
}

/** The search the page shows: null = none (every image); else the API's answer, in its order. */
let searchResult = null;
let searchSeq = 0;
let searchTimer;
const SEARCH_DEBOUNCE_MS = 150;
const SEARCH_REFRESH_MS = 1500;

/** "More like this": the object key whose nearest images are shown instead of a word search. */
let similarTo = null;
let similarName = '';

function searchParams() {
  const params = new URLSearchParams();
  const q = els.search.value.trim();
  if (similarTo) params.set('similar', similarTo);
  else if (q) params.set('q', q);
  if (els.family.value) params.set('colour', els.family.value);
  if (els.category.value) params.set('category', els.category.value);
  return params;
}

const SEARCH_PAGE = 100;
/** Results the user asked to see: a page for a new search, a page more per "Show more". */
let searchWanted = SEARCH_PAGE;

/** One page of GET /search: its hits, total and next cursor, or the API's error. */
async function searchPage(params, cursor) {
  const query = new URLSearchParams(params);
  query.set('limit', String(SEARCH_PAGE));
  if (cursor) query.set('cursor', cursor);
  try {
    const response = await fetch(api(`/search?${query}`));
    const body = await response.json();
    return response.ok
      ? { hits: body.results ?? [], total: body.total, nextCursor: body.nextCursor, notice: body.notice }
      : { hits: [], error: body.error?.message ?? body.message ?? `HTTP ${response.status}` };
  } catch (error) {
    return { hits: [], error: `Cannot reach the search API: ${error.message}` };
  }
}

/**
 * GET /search runs the query on the host's index: the page filters nothing itself. The first page,
 * then the following ones (`cursor` = the answer's nextCursor) until `searchWanted` results are in,
 * so a refresh keeps what "Show more" added.
 */
async function runSearch() {
  const wanted = searchWanted;
  const params = searchParams();
  const seq = ++searchSeq;
  if ([...params.keys()].length === 0) {
    searchResult = null;
    render();
    return;
  }
  const next = { hits: [], total: 0, nextCursor: undefined };
  const seen = new Set();
  let cursor;
  do {
    const page = await searchPage(params, cursor);
    if (seq !== searchSeq) return;
    if (page.error) {
      Object.assign(next, { hits: [], total: 0, nextCursor: undefined, error: page.error });
      break;
    }
    for (const hit of page.hits) {
      if (seen.has(hit.key)) continue;
      seen.add(hit.key);
      next.hits.push(hit);
    }
    next.total = page.total ?? Math.max(next.total, next.hits.length);
    next.nextCursor = page.nextCursor;
    next.notice = page.notice;
    cursor = page.nextCursor;
  } while (cursor && next.hits.length < wanted);
  // A slower answer to an older query must not replace a newer one.
  if (seq !== searchSeq) return;
  searchResult = next;
  render();
}

/** "Show more": the next page, appended (the pages before it are asked again, so nothing repeats). */
function showMore() {
  if (!searchResult?.nextCursor) return;
  searchWanted = searchResult.hits.length + SEARCH_PAGE;
  void runSearch();
}

function scheduleSearch() {
  clearTimeout(searchTimer);
  searchWanted = SEARCH_PAGE;
  searchTimer = setTimeout(runSearch, SEARCH_DEBOUNCE_MS);
}

/** The object key of an item: from the host's list, or from its record once described. */
function objectKeyOf(item) {
  return item.objectKey ?? item.record?.source?.key;
}

const HIT_STATUS = (hit) => {
  const { fast, detailed } = hit.status;
  if (fast === 'failed' || detailed === 'failed') return 'failed';
  if (fast === 'done' && detailed === 'done') return 'done';
  return fast === 'done' ? 'fast-done' : 'describing';
};

/** A card for a result the page has not listed (older than the list): built from the result alone. */
function itemOfHit(hit) {
  return {
    key: hit.key,
    name: hit.name,
    status: HIT_STATUS(hit),
    imageUrl: hit.imageUrl,
    record: {
      caption: hit.caption,
      detailedDescription: hit.detailedDescription,
      colours: hit.colours,
      text: hit.text ? { full: hit.text } : undefined,
      categories: hit.categories.map((id) => ({ id, evidence: [] })),
      status: { fast: { state: hit.status.fast }, detailed: { state: hit.status.detailed } },
      // Found by its vector: it has one, so "More like this" can start from it.
      embedding: hit.similarity !== undefined ? {} : undefined,
    },
  };
}

function visibleItems(all) {
  if (!searchResult) return all;
  const byObjectKey = new Map(all.map((item) => [objectKeyOf(item), item]));
  return searchResult.hits.map((hit) => byObjectKey.get(hit.key) ?? itemOfHit(hit));
}

/** A result kept from an earlier run (record.stale): say why it was not refreshed, and with what. */
function staleNote(mark) {
  const by = mark.replacement ? ` with ${mark.replacement.id}` : '';
  const why =
    mark.reason === 'waiting-for-models'
      ? `the refresh${by} waits for its models`
      : `the refresh${by} ${mark.reason}`;
  return el('p', { class: 'hint stale', text: `Kept from an earlier run: ${why}.` });
}

function renderSwatches(colours) {
  const list = el('ul', { class: 'swatches', 'aria-label': 'Dominant colours' });
  for (const c of colours) {
    const share = `${Math.round(c.fraction * 100)}%`;
    list.append(
      el('li', { class: 'swatch', 'data-family': c.family }, [
        el('span', { class: 'chip', style: `background:${c.hex}`, 'aria-hidden': 'true' }),
        // The family leads (what the colour filter takes); a finer name follows when it says more.
        el('span', { class: 'swatch-name', text: c.family }),
        el('span', {
          class: 'swatch-meta',
          text: `${c.name !== c.family ? `${c.name} · ` : ''}${share} · ${c.hex}`,
        }),
      ]),
    );
  }
  return list;
}

/** The category filter lists every category some record matched (the page has no config of its own). */
function syncCategoryOptions(all) {
  const ids = [...new Set(all.flatMap((item) => (item.record?.categories ?? []).map((c) => c.id)))].sort();
  const shown = [...els.category.options].slice(1).map((o) => o.value);
  if (JSON.stringify(ids) === JSON.stringify(shown)) return;
  const chosen = els.category.value;
  els.category.replaceChildren(
    el('option', { value: '', text: 'Any category' }),
    ...ids.map((id) => el('option', { value: id, text: id })),
  );
  els.category.value = ids.includes(chosen) ? chosen : '';
}

/** Answers, categories and the guard's contradicted claims (flagged next to the text, never edited). */
function renderExtras(r, body) {
  if (r.categories?.length) {
    const list = el('ul', { class: 'categories', 'aria-label': 'Categories' });
    for (const c of r.categories) {
      list.append(el('li', { class: 'category', title: c.evidence.join(', '), text: c.id }));
    }
    body.append(list);
  }
  const answers = Object.entries(r.answers ?? {});
  if (answers.length) {
    body.append(el('h4', { text: 'Answers' }));
    const list = el('dl', { class: 'answers' });
    for (const [id, a] of answers) {
      const shown = a.error ? `not answered (${a.error.code})` : String(a.value);
      list.append(el('dt', { text: id }), el('dd', { text: shown }));
    }
    body.append(list);
  }
  for (const check of r.checks ?? []) {
    if (check.verdict !== 'contradicted') continue;
    body.append(
      el('p', {
        class: 'hint contradicted',
        text: `Check: ${check.field} says ${check.claim}, but ${check.evidence}.`,
      }),
    );
  }
}

function renderCard(item) {
  const r = item.record;
  const status = itemStatus(item);
  const card = el('li', { class: `card status-${status}`, 'data-key': item.key, 'data-status': status });
  const noPreview = () => el('span', { class: 'thumb-empty', text: 'No preview' });
  let preview = noPreview();
  if (item.imageUrl && status !== 'rejected') {
    preview = el('img', {
      src: item.imageUrl,
      alt: r?.caption ? `${item.name}: ${r.caption}` : item.name,
      loading: 'lazy',
    });
    // Not an image the browser can draw (the bytes are untrusted): say so instead of a broken icon.
    preview.addEventListener('error', () => preview.replaceWith(noPreview()), { once: true });
  }
  const figure = el('div', { class: 'thumb' }, [preview]);
  const body = el('div', { class: 'card-body' });
  body.append(el('h3', { class: 'name', text: item.name }));
  body.append(
    el('p', { class: 'status', role: 'status', 'aria-live': 'polite' }, [
      el('span', {
        class: 'badge',
        text: waitingForModels(r)
          ? r?.stale
            ? 'Refresh waits for models'
            : 'Waiting for models'
          : (STATUS_TEXT[status] ?? status),
      }),
    ]),
  );
  const problem = item.error ?? (status === 'failed' ? errorOf(r) : undefined);
  if (problem) body.append(el('p', { class: 'error', role: 'alert', text: problem }));
  if (r?.caption) {
    body.append(el('p', { class: 'caption', text: r.caption }));
    if (r.stale?.caption) body.append(staleNote(r.stale.caption));
  } else if (r?.status?.fast?.state === 'waiting-for-models') {
    body.append(el('p', { class: 'hint', text: 'Caption waits for the models to be installed.' }));
  }
  if (r?.colours?.length) body.append(renderSwatches(r.colours));
  if (r?.text?.full) {
    body.append(el('h4', { text: 'Text found' }), el('p', { class: 'text-found', text: r.text.full }));
  }
  if (r?.detailedDescription) {
    body.append(
      el('h4', { text: 'Detailed description' }),
      el('p', { class: 'detailed', text: r.detailedDescription }),
    );
    if (r.stale?.detailedDescription) body.append(staleNote(r.stale.detailedDescription));
  } else if (r && status === 'fast-done') {
    body.append(el('p', { class: 'hint', text: 'Detailed description pending…' }));
  }
  if (r) renderExtras(r, body);
  const key = objectKeyOf(item);
  if (r?.embedding && key) {
    const more = el('button', { type: 'button', class: 'more-like-this', text: 'More like this' });
    more.addEventListener('click', () => showSimilar(key, item.name));
    body.append(more);
  }
  card.append(figure, body);
  return card;
}

/** Lists the images nearest to one (GET /search?similar=<key>); typing a word ends it. */
function showSimilar(key, name) {
  similarTo = key;
  similarName = name;
  els.search.value = '';
  searchWanted = SEARCH_PAGE;
  void runSearch();
}

let renderQueued = false;
function render() {
  if (renderQueued) return;
  renderQueued = true;
  queueMicrotask(() => {
    renderQueued = false;
    const all = [...items.values()].sort((a, b) => b.order - a.order);
    syncCategoryOptions(all);
    const visible = visibleItems(all);
    // Keep focus where the user is: replace cards in place, by key.
    const existing = new Map([...els.results.children].map((node) => [node.dataset.key, node]));
    const wanted = new Set(visible.map((item) => item.key));
    for (const [key, node] of existing) if (!wanted.has(key)) node.remove();
    let previous = null;
    for (const item of visible) {
      const signature = JSON.stringify([item.status, item.error, item.record, item.imageUrl]);
      let node = existing.get(item.key);
      if (!node || node.dataset.signature !== signature) {
        const fresh = renderCard(item);
        fresh.dataset.signature = signature;
        if (node) node.replaceWith(fresh);
        node = fresh;
      }
      const expectedPosition = previous ? previous.nextSibling : els.results.firstChild;
      if (expectedPosition !== node) els.results.insertBefore(node, expectedPosition);
      previous = node;
    }
    els.empty.hidden = all.length > 0;
    const matched = similarTo
      ? `${searchResult?.total} ${searchResult?.total === 1 ? 'image' : 'images'} like ${similarName}`
      : `${searchResult?.total} of ${Math.max(all.length, searchResult?.total ?? 0)} images match`;
    els.count.textContent = !searchResult
      ? ''
      : (searchResult.error ?? (searchResult.notice ? `${matched}. ${searchResult.notice}` : matched));
    els.count.classList.toggle('error', Boolean(searchResult?.error));
    const more = Boolean(searchResult?.nextCursor) && !searchResult?.error;
    els.more.hidden = !more;
    if (more) els.more.textContent = `Show more (${searchResult.hits.length} of ${searchResult.total} shown)`;
  });
}

let order = 0;
function upsert(key, patch) {
  const current = items.get(key) ?? { key, order: ++order };
  const next = { ...current, ...patch };
  items.set(key, next);
  render();
  return next;
}

async function poll(key, id) {
  // Every second at first; images waiting for models can wait long, so slow down to every 10 s.
  for (let attempt = 0; ; attempt += 1) {
    try {
      const response = await fetch(api(`/uploads/${encodeURIComponent(id)}`));
      if (response.ok) {
        const body = await response.json();
        const item = upsert(key, { status: body.status, record: body.record ?? items.get(key)?.record });
        if (FINAL.has(item.status)) return;
      }
    } catch {
      // The stack may be restarting: keep polling.
    }
    await new Promise((resolve) => setTimeout(resolve, attempt < 60 ? POLL_MS : 10 * POLL_MS));
  }
}

/** Sends one file; true once storage has it, false when it was refused (its card says why). */
async function upload(file) {
  const key = `local:${crypto.randomUUID()}`;
  upsert(key, { name: file.name, status: 'selected', imageUrl: URL.createObjectURL(file) });
  let ticket;
  try {
    const response = await fetch(api('/uploads'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        filename: file.name,
        contentType: file.type || 'application/octet-stream',
        size: file.size,
      }),
    });
    if (!response.ok) {
      upsert(key, { status: 'rejected', error: await readError(response) });
      return false;
    }
    ticket = await response.json();
  } catch {
    upsert(key, { status: 'rejected', error: API_UNREACHABLE });
    return false;
  }
  upsert(key, { id: ticket.id, status: 'uploading' });
  const form = new FormData();
  for (const [name, value] of Object.entries(ticket.fields ?? {})) form.append(name, value);
  form.append('file', file);
  try {
    const stored = await fetch(ticket.url, { method: 'POST', body: form });
    if (!stored.ok) {
      upsert(key, { status: 'rejected', error: storageRefusal(stored.status, await stored.text()) });
      return false;
    }
  } catch {
    upsert(key, { status: 'rejected', error: UPLOAD_INTERRUPTED });
    return false;
  }
  upsert(key, { status: 'describing' });
  // The status keeps updating on the card; the upload itself is over.
  void poll(key, ticket.id);
  return true;
}

function uploadAll(selected) {
  const images = [...selected];
  if (images.length === 0) return;
  els.notice.hidden = false;
  const files = `${images.length} file${images.length === 1 ? '' : 's'}`;
  els.notice.textContent = `Uploading ${files}…`;
  Promise.allSettled(images.map(upload)).then((results) => {
    const sent = results.filter((result) => result.status === 'fulfilled' && result.value).length;
    els.notice.textContent = sentSummary(sent, images.length);
  });
}

/** Merge the host's list (uploads from other tabs, inbox drops, earlier sessions). */
async function refreshList() {
  let body;
  try {
    const response = await fetch(api('/records'));
    if (!response.ok) return false;
    body = await response.json();
  } catch {
    return false;
  }
  for (const entry of body.records ?? []) {
    const ownKey = entry.id ? [...items.values()].find((item) => item.id === entry.id)?.key : undefined;
    const key = ownKey ?? entry.key;
    const current = items.get(key);
    // An upload this page is polling already has fresher state; keep its object URL preview.
    if (current && ownKey && !FINAL.has(current.status)) continue;
    upsert(key, {
      id: entry.id,
      name: current?.name ?? entry.name ?? entry.key.split('/').pop(),
      status: entry.status,
      record: entry.record,
      imageUrl: current?.imageUrl ?? entry.imageUrl,
      objectKey: entry.key,
      // Uploads from this page count 1, 2, 3…; listed ones sort by age below them (newest first).
      order: current?.order ?? (Date.parse(entry.lastModified ?? '') || 0) / 1e13,
    });
  }
  return true;
}

els.input.addEventListener('change', () => {
  uploadAll(els.input.files ?? []);
  els.input.value = '';
});
// The whole page takes drops (a file dropped beside the zone must not replace the page with it).
for (const name of ['dragenter', 'dragover']) {
  window.addEventListener(name, (event) => {
    event.preventDefault();
    els.drop.classList.add('dragging');
  });
}
for (const name of ['dragleave', 'drop']) {
  window.addEventListener(name, () => els.drop.classList.remove('dragging'));
}
window.addEventListener('drop', (event) => {
  event.preventDefault();
  uploadAll(event.dataTransfer?.files ?? []);
});
els.search.addEventListener('input', () => {
  similarTo = null;
  scheduleSearch();
});
els.family.addEventListener('change', scheduleSearch);
els.category.addEventListener('change', scheduleSearch);
// New descriptions arrive all the time: an open search is asked again, so new matches appear.
setInterval(() => {
  if (searchResult) void runSearch();
}, SEARCH_REFRESH_MS);
els.more.addEventListener('click', showMore);
document.getElementById('filter-form').addEventListener('submit', (event) => event.preventDefault());

/**
 * The model state before anything is uploaded (local stack only: `GET /models/status`): missing
 * with the command to run, downloading with progress, or ready. Asked again until ready.
 */
const MODEL_STATUS_MS = 3000;
async function refreshModelStatus() {
  const box = document.getElementById('model-status');
  let view;
  try {
    const response = await fetch(api('/models/status'));
    if (!response.ok) return false; // AWS: no such route, nothing to show.
    view = await response.json();
  } catch {
    return true;
  }
  box.dataset.state = view.state;
  const parts = [
    el('strong', {
      text:
        view.state === 'ready'
          ? 'Models ready'
          : view.state === 'downloading'
            ? 'Downloading models'
            : 'Models missing',
    }),
  ];
  parts.push(el('span', { text: ` ${view.message}` }));
  if (view.command) parts.push(el('p', {}, ['Run: ', el('code', { text: view.command })]));
  if (view.download) {
    parts.push(
      el('progress', { max: '100', value: String(view.download.percent), 'aria-label': 'Model download' }),
    );
  }
  box.replaceChildren(...parts);
  box.hidden = false;
  if (view.state !== 'ready' || view.command) setTimeout(refreshModelStatus, MODEL_STATUS_MS);
  return true;
}

render();
void refreshModelStatus();
refreshList().then((available) => {
  if (available) setInterval(refreshList, LIST_REFRESH_MS);
});
