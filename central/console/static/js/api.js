// JSON over fetch with the session cookie. A 401 means the session is gone: back to the login page.
// Writes carry X-Gridwatch-Console so the hub can tell a console request from a cross-site form.
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

async function request(method, url, body, isForm = false, extra = {}) {
  const headers = { Accept: 'application/json', ...extra };
  if (method !== 'GET') headers['X-Gridwatch-Console'] = '1';
  let payload;
  if (body !== undefined) {
    if (isForm) payload = body;
    else {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
  }
  const resp = await fetch(url, { method, headers, body: payload, credentials: 'same-origin' });
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!resp.ok) {
    if (resp.status === 401 && !url.startsWith('/api/v1/session')) {
      window.location.assign('/login');
    }
    throw new ApiError(resp.status, errorMessage(data) || `HTTP ${resp.status}`, data);
  }
  return data;
}

function errorMessage(data) {
  if (!data) return '';
  if (typeof data === 'string') return data;
  const d = data.detail ?? data.message ?? data.error;
  if (typeof d === 'string') return d;
  if (Array.isArray(d)) return d.map((e) => e.msg || JSON.stringify(e)).join('; ');
  return d ? JSON.stringify(d) : '';
}

export const api = {
  get: (url) => request('GET', url),
  post: (url, body) => request('POST', url, body),
  postForm: (url, form) => request('POST', url, form, true),
  put: (url, body, headers) => request('PUT', url, body, false, headers),
  del: (url) => request('DELETE', url),
};
