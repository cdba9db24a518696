// The JSON API, with the session's CSRF token on every write.

let csrf = null;

/** An error the server answered: `status`, `code`, and a sentence. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function answer(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (!res.ok) {
    const e = body && body.error ? body.error : {};
    throw new ApiError(res.status, e.code || 'http-' + res.status,
      e.message || `the server answered ${res.status}`);
  }
  return body;
}

/** GET a JSON document. */
export async function get(path, params) {
  const url = new URL(path, document.baseURI);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null) url.searchParams.set(k, v);
  }
  return answer(await fetch(url, { credentials: 'same-origin' }));
}

/** POST JSON (or raw bytes when `body` is a Blob). */
export async function post(path, body) {
  const raw = body instanceof Blob;
  const res = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: {
      'content-type': raw ? 'application/octet-stream' : 'application/json',
      'x-csrf-token': csrf || '',
    },
    body: raw ? body : JSON.stringify(body || {}),
  });
  return answer(res);
}

/** Starts the session: reads the CSRF token and the server's shape. */
export async function session() {
  const s = await get('api/session');
  csrf = s.csrf;
  return s;
}
