// Harvest Files: a directory at a time (GET /v1/files/{scope}/{dir}/), a preview of text and images,
// and downloads (GET of a file answers a redirect to a short-lived link, which fetch follows).

import { api } from "../api.js";
import { bytes, clock, errorText, field, h, notice, replace, table } from "../dom.js";

const PREVIEW_BYTES = 64 * 1024;

export async function render(root, _params, query) {
  const scope = query.get("scope") === "public" ? "public" : "private";
  const dir = (query.get("dir") || "/").replace(/\/?$/, "/");
  const preview = h("div", { id: "file-preview", class: "preview", "aria-live": "polite" });
  const message = h("p", { hidden: true });
  const listing = h("div", { id: "file-list" });
  const encodePath = (path) => path.split("/").map(encodeURIComponent).join("/");
  const link = (newScope, newDir) => `#/files?scope=${newScope}&dir=${encodeURIComponent(newDir)}`;

  async function fetchFile(entry) {
    return api.blob(`/files/${scope}${encodePath(entry.filePath)}`);
  }

  async function showPreview(entry) {
    try {
      const { blob, type } = await fetchFile(entry);
      const head = h("h2", {}, "Preview ", h("code", {}, entry.filePath), h("small", {}, ` ${type}, ${bytes(blob.size)}`));
      if (type.startsWith("image/")) {
        replace(preview, head, h("img", { src: URL.createObjectURL(blob), alt: `Preview of ${entry.filePath}` }));
      } else if (/^text\/|json|xml|csv|javascript/.test(type) || type === "") {
        const text = await blob.slice(0, PREVIEW_BYTES).text();
        replace(preview, head, h("pre", { class: "file-text" }, text,
          blob.size > PREVIEW_BYTES ? `\n… (${bytes(blob.size - PREVIEW_BYTES)} more)` : ""));
      } else {
        const first = new Uint8Array(await blob.slice(0, 256).arrayBuffer());
        const hexdump = [...first].map((b) => b.toString(16).padStart(2, "0")).join(" ");
        replace(preview, head, h("p", {}, "Binary content; its first bytes:"), h("pre", { class: "file-text" }, hexdump));
      }
    } catch (error) {
      notice(message, errorText(error), "error");
    }
  }

  async function download(entry) {
    try {
      const { blob } = await fetchFile(entry);
      const url = URL.createObjectURL(blob);
      const anchor = h("a", { href: url, download: entry.filename });
      document.body.append(anchor);
      anchor.click();
      anchor.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (error) {
      notice(message, errorText(error), "error");
    }
  }

  const entries = [];
  let key = null;
  try {
    do {
      const page = await api.get(`/files/${scope}${encodePath(dir)}`, { limit: 100, last_evaluated_key: key });
      entries.push(...page.data);
      key = page.nextKey;
    } while (key && entries.length < 1000);
  } catch (error) {
    notice(message, errorText(error), "error");
  }
  const parts = dir.split("/").filter(Boolean);
  const crumbs = [h("a", { href: link(scope, "/") }, `${scope}:/`)];
  parts.forEach((part, i) => crumbs.push(h("a", { href: link(scope, `/${parts.slice(0, i + 1).join("/")}/`) }, `${part}/`)));
  replace(listing, table(["Name", "Size", "Type", "Modified", "Actions"], entries.map((entry) => h("tr", {},
    h("td", {}, entry.isDirectory
      ? h("a", { href: link(scope, entry.filePath) }, `${entry.filename}/`)
      : entry.filename),
    h("td", {}, entry.isDirectory ? "" : bytes(entry.contentLength)),
    h("td", {}, entry.contentType || (entry.isDirectory ? "directory" : "")),
    h("td", {}, clock(entry.lastModifiedTime)),
    h("td", { class: "actions" }, entry.isDirectory ? null : [
      h("button", { type: "button", "aria-label": `Preview ${entry.filePath}`, onclick: () => showPreview(entry) }, "Preview"),
      h("button", { type: "button", "aria-label": `Download ${entry.filePath}`, onclick: () => download(entry) }, "Download"),
    ]))), entries.length ? `${entries.length} entries in ${dir}` : `${dir} is empty`));

  const scopeSelect = h("select", { name: "scope" },
    ["private", "public"].map((s) => h("option", { value: s, selected: s === scope }, s)));
  scopeSelect.addEventListener("change", () => { location.hash = link(scopeSelect.value, "/"); });
  replace(root,
    h("div", { class: "page-head" }, h("h1", {}, "Harvest Files"),
      h("p", { class: "muted" }, "Files devices uploaded (PUT to the Harvest Files endpoint) or put through the API.")),
    h("div", { class: "filters" }, field("Scope", scopeSelect), h("nav", { class: "crumbs", "aria-label": "Directory" }, crumbs)),
    message, listing, preview);
  return null;
}
