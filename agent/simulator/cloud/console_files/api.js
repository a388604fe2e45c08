// The emulator's /v1 API as the console calls it: the same API key and token headers as curl, and
// events when the emulator stops answering or refuses the credentials.

const STORAGE_KEY = "lwm2m-console";

export const events = new EventTarget();

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class Unreachable extends Error {}

export const session = {
  get() {
    try {
      return JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "{}");
    } catch {
      return {};
    }
  },
  update(fields) {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ ...session.get(), ...fields }));
  },
  clear() {
    sessionStorage.removeItem(STORAGE_KEY);
  },
  get loggedIn() {
    const s = session.get();
    return Boolean(s.apiKey && s.token);
  },
};

function queryString(query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

async function send(method, path, { body, query, contentType, raw } = {}) {
  const { apiKey, token } = session.get();
  const headers = {};
  if (apiKey) headers["X-Soracom-API-Key"] = apiKey;
  if (token) headers["X-Soracom-Token"] = token;
  let payload;
  if (body !== undefined) {
    headers["Content-Type"] = contentType || "application/json";
    payload = typeof body === "string" || body instanceof Blob ? body : JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`/v1${path}${queryString(query)}`, { method, headers, body: payload, cache: "no-store" });
  } catch (error) {
    events.dispatchEvent(new CustomEvent("unreachable", { detail: String(error) }));
    throw new Unreachable("the emulator does not answer");
  }
  events.dispatchEvent(new Event("reachable"));
  if (!response.ok) {
    let code = "";
    let message = `HTTP ${response.status}`;
    try {
      const error = await response.json();
      code = error.code || "";
      message = error.message || message;
    } catch {
      // not the API's error shape; the status says enough
    }
    if (response.status === 401 && path !== "/auth") {
      events.dispatchEvent(new CustomEvent("unauthorized", { detail: `${code} ${message}`.trim() }));
    }
    throw new ApiError(response.status, code, message);
  }
  if (raw) return { status: response.status, response };
  const text = await response.text();
  return {
    status: response.status,
    data: text ? JSON.parse(text) : null,
    nextKey: response.headers.get("x-soracom-next-key"),
  };
}

export const api = {
  get: (path, query) => send("GET", path, { query }),
  post: (path, body, options = {}) => send("POST", path, { body, ...options }),
  put: (path, body) => send("PUT", path, { body }),
  delete: (path) => send("DELETE", path),
  blob: async (path, query) => {
    const { response } = await send("GET", path, { query, raw: true });
    return { blob: await response.blob(), type: response.headers.get("Content-Type") || "" };
  },
};

/** POST /v1/auth: the AuthKey pair for an API key and token, kept for this browser tab only. */
export async function login(authKeyId, authKey) {
  const { data } = await send("POST", "/auth", { body: { authKeyId, authKey } });
  session.update({ apiKey: data.apiKey, token: data.token, fromUrl: false });
}

export async function logout() {
  try {
    await send("POST", "/auth/logout");
  } finally {
    const { server } = session.get();
    session.clear();
    if (server) session.update({ server });
  }
}

/** Is the emulator's HTTP server up? Asked without credentials, of the console's own page. */
export async function emulatorAnswers() {
  try {
    const response = await fetch("/console/", { method: "HEAD", cache: "no-store" });
    return response.ok;
  } catch {
    return false;
  }
}
