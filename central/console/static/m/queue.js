// Actions taken on the phone go through this queue. Each gets an Idempotency-Key when the person
// taps; it is kept in localStorage until the hub answers, and replayed (with the same key) whenever
// the network comes back. The hub applies a key once and answers a replay with the first answer,
// so an action the hub got just before the link dropped is never applied twice.
const KEY = 'gridwatch.m.queue';
const FAILED_KEY = 'gridwatch.m.failed';

function read(key) {
  try { return JSON.parse(localStorage.getItem(key) || '[]'); } catch { return []; }
}
function write(key, items) { localStorage.setItem(key, JSON.stringify(items)); }

export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export const pending = () => read(KEY);
export const failed = () => read(FAILED_KEY);
export const dismissFailed = () => write(FAILED_KEY, []);

/** Put an action in the queue (it is sent by the next flush). */
export function enqueue(orderId, body, label) {
  const items = read(KEY);
  const item = { key: newKey(), orderId, body, label, queuedAt: new Date().toISOString() };
  items.push(item);
  write(KEY, items);
  return item;
}

class Offline extends Error {}

async function send(item) {
  let resp;
  try {
    resp = await fetch(`/api/v1/work-orders/${item.orderId}/actions`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json',
        'X-Gridwatch-Console': '1',
        'Idempotency-Key': item.key,
      },
      body: JSON.stringify(item.body),
    });
  } catch {
    throw new Offline();
  }
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  return { status: resp.status, data };
}

let flushing = null;

/**
 * Send the queue in order. Stops at the first item that cannot reach the hub (offline, or the hub
 * answering 5xx): it stays first in line. A 4xx answer is final: the item leaves the queue and is
 * listed as failed with the hub's reason. Returns {sent, failed, left}.
 */
export function flush(onAnswer) {
  if (flushing) return flushing;
  flushing = (async () => {
    let sent = 0; let bad = 0;
    for (;;) {
      const items = read(KEY);
      if (items.length === 0) break;
      const item = items[0];
      let answer;
      try {
        answer = await send(item);
      } catch (err) {
        if (err instanceof Offline) break;
        throw err;
      }
      if (answer.status >= 500 || answer.status === 401) break;  // retry later (401: sign in again)
      write(KEY, read(KEY).filter((i) => i.key !== item.key));
      if (answer.status >= 200 && answer.status < 300) sent += 1;
      else {
        bad += 1;
        const msg = detail(answer.data) || `HTTP ${answer.status}`;
        write(FAILED_KEY, [...read(FAILED_KEY), { ...item, status: answer.status, msg }]);
      }
      if (onAnswer) onAnswer(item, answer);
    }
    return { sent, failed: bad, left: read(KEY).length };
  })().finally(() => { flushing = null; });
  return flushing;
}

export function detail(data) {
  if (!data) return '';
  if (typeof data === 'string') return data;
  const d = data.detail;
  if (typeof d === 'string') return d;
  if (Array.isArray(d)) return d.map((e) => `${(e.loc || []).slice(1).join('.')}: ${e.msg}`).join('; ');
  return d ? JSON.stringify(d) : '';
}
