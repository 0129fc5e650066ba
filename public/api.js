// The server's JSON API, as the page's scripts call it.

/** Calls `path` with a JSON body (if any): the answer's JSON, or an Error with the server's message and status. */
export async function api(method, path, body, headers = {}) {
  const response = await fetch(path, {
    method,
    headers: body ? { 'Content-Type': 'application/json', ...headers } : headers,
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
  if (!response.ok) {
    throw Object.assign(new Error(data.error || `the server answered ${response.status}`), {
      status: response.status,
    });
  }
  return data;
}
