// Building the page: elements from plain calls (no framework), times people can read, messages.

/** h("a", {href: "#/x", class: "c"}, "text", child, ...): an element; null/false children are skipped. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** A labelled form control: <label>Text <input ...></label>. */
export function field(label, control, hint) {
  return h("label", { class: "field" }, h("span", {}, label), control, hint ? h("small", {}, hint) : null);
}

export function toMillis(time) {
  if (time === undefined || time === null || time === "") return null;
  return typeof time === "number" ? time : Date.parse(time);
}

/** "20:41:07" today, "2026-11-30 20:41:07" on another day; the full ISO time as a tooltip. */
export function clock(time) {
  const ms = toMillis(time);
  if (ms === null || Number.isNaN(ms)) return h("span", { class: "muted" }, "—");
  const date = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  const hms = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  const today = new Date().toDateString() === date.toDateString();
  const text = today ? hms : `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${hms}`;
  return h("time", { datetime: date.toISOString(), title: date.toISOString() }, text);
}

export function ago(time) {
  const ms = toMillis(time);
  if (ms === null || Number.isNaN(ms)) return "never";
  const seconds = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

export function bytes(count) {
  if (count === undefined || count === null) return "";
  if (count < 1024) return `${count} B`;
  if (count < 1024 * 1024) return `${(count / 1024).toFixed(1)} KB`;
  return `${(count / 1024 / 1024).toFixed(1)} MB`;
}

/** A status line under a form: role=status for success, role=alert for errors. */
export function notice(target, text, kind = "ok") {
  replace(target, text);
  target.className = `notice ${kind}`;
  target.setAttribute("role", kind === "error" ? "alert" : "status");
  target.hidden = !text;
}

export function errorText(error) {
  return error && error.code ? `${error.message} (${error.code}, HTTP ${error.status})` : String(error.message || error);
}

export function onlineBadge(online) {
  return h("span", { class: `badge ${online ? "online" : "offline"}` }, online ? "online" : "offline");
}

export function tagChips(tags) {
  const entries = Object.entries(tags || {});
  if (!entries.length) return h("span", { class: "muted" }, "—");
  return entries.map(([name, value]) => h("span", { class: "chip" }, `${name}=${value}`));
}

export function table(headers, rows, caption) {
  return h("div", { class: "table-wrap" },
    h("table", {},
      caption ? h("caption", {}, caption) : null,
      h("thead", {}, h("tr", {}, headers.map((title) => h("th", { scope: "col" }, title)))),
      h("tbody", {}, rows)));
}

export function pretty(value) {
  return typeof value === "string" ? value : JSON.stringify(value, null, 1);
}
