// The console's shell: logging in (from the URL fragment or the form), the page router, and the
// banner that says when the emulator stops answering.

import { api, emulatorAnswers, events, login, logout, session } from "./api.js";
import { errorText, replace } from "./dom.js";
import * as batch from "./pages/batch.js";
import * as device from "./pages/device.js";
import * as data from "./pages/data.js";
import * as devices from "./pages/devices.js";
import * as files from "./pages/files.js";
import * as models from "./pages/models.js";
import * as sigfox from "./pages/sigfox.js";

const ROUTES = [
  [/^\/devices$/, devices, "devices"],
  [/^\/devices\/([^/]+)$/, device, "devices"],
  [/^\/data\/([A-Za-z]+)\/([^/]+)$/, data, "devices"],
  [/^\/sigfox(?:\/([^/]+))?$/, sigfox, "sigfox"],
  [/^\/files$/, files, "files"],
  [/^\/batch$/, batch, "batch"],
  [/^\/models$/, models, "models"],
];

const main = document.getElementById("main");
const banner = document.getElementById("banner");
const loginSection = document.getElementById("login");
const loginError = document.getElementById("login-error");
let cleanup = null;
let rendering = 0;

/** Credentials in the fragment (#apiKey=...&token=...&server=coap://...) are taken, then wiped
 * from the address bar and history: they stay in this tab's sessionStorage only. */
function takeFragmentCredentials() {
  const fragment = location.hash.replace(/^#/, "");
  if (!fragment.includes("=") || fragment.startsWith("/")) return false;
  const params = new URLSearchParams(fragment);
  const fields = {};
  for (const name of ["apiKey", "token", "server"]) if (params.get(name)) fields[name] = params.get(name);
  if (fields.apiKey || fields.token) {
    session.clear();
    fields.fromUrl = true;
  }
  session.update(fields);
  history.replaceState(null, "", `${location.pathname}${location.search}#/devices`);
  return true;
}

function showLogin(message) {
  if (cleanup) cleanup();
  cleanup = null;
  main.replaceChildren();
  main.hidden = true;
  loginSection.hidden = false;
  document.getElementById("logout").hidden = true;
  loginError.hidden = !message;
  loginError.textContent = message || "";
  loginSection.querySelector("input").focus();
}

function parseRoute() {
  const [path, search = ""] = location.hash.replace(/^#/, "").split("?");
  for (const [pattern, page, nav] of ROUTES) {
    const match = pattern.exec(path || "/devices");
    if (match) return { page, nav, params: match.slice(1).map((p) => (p ? decodeURIComponent(p) : p)), query: new URLSearchParams(search) };
  }
  return null;
}

async function render() {
  if (!session.loggedIn) {
    showLogin("");
    return;
  }
  loginSection.hidden = true;
  main.hidden = false;
  document.getElementById("logout").hidden = false;
  if (cleanup) cleanup();
  cleanup = null;
  const route = parseRoute();
  if (!route) {
    location.hash = "#/devices";
    return;
  }
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.page === route.nav) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const ticket = ++rendering;
  main.replaceChildren();
  try {
    const stop = await route.page.render(main, route.params, route.query);
    if (ticket !== rendering) {
      if (stop) stop();
    } else {
      cleanup = stop || null;
    }
  } catch (error) {
    if (ticket === rendering && !(error.status === 401)) {
      replace(main, Object.assign(document.createElement("p"), { className: "error", role: "alert", textContent: `Could not show this page: ${errorText(error)}` }));
    }
  }
}

events.addEventListener("unauthorized", (event) => {
  const { fromUrl } = session.get();
  const { server } = session.get();
  session.clear();
  if (server) session.update({ server });
  showLogin(
    (fromUrl
      ? "The API key and token in the console's address were refused"
      : "The emulator refused the API key and token") +
      ` (${event.detail}). They may have expired, or the emulator was restarted: log in with the AuthKeyId and AuthKey.`,
  );
});

let watching = null;
events.addEventListener("unreachable", () => {
  banner.hidden = false;
  banner.textContent = `The emulator at ${location.host} does not answer: it has stopped or cannot be reached. ` +
    "The console keeps trying and goes on when it is back.";
  if (watching) return;
  watching = setInterval(async () => {
    if (await emulatorAnswers()) {
      clearInterval(watching);
      watching = null;
      banner.hidden = true;
    }
  }, 2000);
});
events.addEventListener("reachable", () => {
  if (!watching) banner.hidden = true;
});

// A page that polls notices a stop at once; a page at rest learns it from this heartbeat.
setInterval(async () => {
  if (!watching && !(await emulatorAnswers())) events.dispatchEvent(new Event("unreachable"));
}, 3000);

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  try {
    await login(form.authKeyId.value, form.authKey.value);
    form.reset();
    if (!location.hash.startsWith("#/")) location.hash = "#/devices";
    await render();
  } catch (error) {
    showLogin(`Login refused: ${errorText(error)}`);
  }
});

document.getElementById("logout").addEventListener("click", async () => {
  await logout().catch(() => {});
  showLogin("You are logged out.");
});

window.addEventListener("hashchange", () => {
  takeFragmentCredentials();
  render();
});

takeFragmentCredentials();
if (session.loggedIn) {
  // Check the credentials before any page: a wrong token shows the login form, not an empty page.
  api.get("/devices", { limit: 1 }).then(render, (error) => {
    if (error.status !== 401) render();
  });
} else {
  showLogin("");
}
