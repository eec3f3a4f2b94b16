// The API client: the tenant's token (kept in this tab's sessionStorage) sent as Bearer with
// every call to the server's JSON API. Nothing else talks to the server.

const KEY = "qstash-console-token";

/** The token of this tab, or null. */
export function token() {
  return sessionStorage.getItem(KEY);
}

/** Keeps the token for this tab. */
export function setToken(value) {
  sessionStorage.setItem(KEY, value);
}

/** Forgets the token. */
export function clearToken() {
  sessionStorage.removeItem(KEY);
}

/** An API error: the status and the server's `{"error"}` message. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Listeners called when the server refuses the token (401). */
const unauthorized = [];
export function onUnauthorized(fn) {
  unauthorized.push(fn);
}

/**
 * Calls the API: `path` with a query from `params` (arrays repeat the key; empty values are
 * left out). Answers the parsed JSON (or the text when it is not JSON), throws an ApiError.
 */
export async function call(path, { method = "GET", params, body, headers = {}, raw = false } = {}) {
  let url = path;
  if (params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      for (const item of Array.isArray(v) ? v : [v]) {
        if (item !== undefined && item !== null && item !== "") q.append(k, String(item));
      }
    }
    const s = q.toString();
    if (s) url += (url.includes("?") ? "&" : "?") + s;
  }
  const init = { method, headers: { Authorization: `Bearer ${token()}`, ...headers } };
  if (body !== undefined) init.body = body;
  let response;
  try {
    response = await fetch(url, init);
  } catch (e) {
    throw new ApiError(0, `the server cannot be reached (${e.message})`);
  }
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    try {
      message = JSON.parse(text).error ?? text;
    } catch {
      // Not JSON: the text itself.
    }
    if (response.status === 401) unauthorized.forEach((fn) => fn());
    throw new ApiError(response.status, message || response.statusText);
  }
  if (raw) return text;
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text;
  }
}
