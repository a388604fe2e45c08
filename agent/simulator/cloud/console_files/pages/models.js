// Models: the custom device object models of the account, uploading one (OMA DDF XML or JSON), and
// deleting one. The service's limits (16 custom objects, 20 resources per object) are the API's to
// enforce: a refused upload shows the API's message, which names the rule and the fix.

import { api } from "../api.js";
import { loadCatalogue } from "../catalogue.js";
import { clock, errorText, field, h, notice, replace, table } from "../dom.js";

export async function render(root) {
  const message = h("p", { id: "model-notice", hidden: true });
  const listBox = h("div", { id: "model-list" });
  const shipped = await loadCatalogue();

  async function load() {
    const { data } = await api.get("/device_object_models");
    replace(listBox, table(["Object", "Name", "Format", "Scope", "Modified", ""], data.map((model) => h("tr", {},
      h("td", {}, h("code", {}, model.objectId)),
      h("td", {}, model.objectName),
      h("td", {}, model.format),
      h("td", {}, model.scope),
      h("td", {}, clock(model.lastModifiedTime)),
      h("td", {}, h("button", { type: "button", "aria-label": `Delete model ${model.objectId}`, onclick: async () => {
        if (!confirm(`Delete the model of object ${model.objectId}?`)) return;
        try {
          await api.delete(`/device_object_models/${encodeURIComponent(model.objectId)}`);
          notice(message, `Deleted the model of object ${model.objectId}.`);
          await load();
        } catch (error) {
          notice(message, errorText(error), "error");
        }
      } }, "Delete")))), `${data.length} of at most 16 custom models`));
  }

  const fileInput = h("input", { type: "file", name: "file", accept: ".xml,.json,application/xml,application/json" });
  const text = h("textarea", { name: "definition", rows: 8, placeholder: "<LWM2M>…</LWM2M> or {\"objectId\": …}" });
  const upload = h("form", { class: "stack", "aria-label": "Upload a model" },
    field("Model file (OMA DDF XML or JSON)", fileInput),
    field("…or paste the definition", text),
    h("button", { type: "submit" }, "Upload model"));
  fileInput.addEventListener("change", async () => {
    if (fileInput.files[0]) text.value = await fileInput.files[0].text();
  });
  upload.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = text.value.trim();
    if (!body) {
      notice(message, "Choose a model file or paste a definition.", "error");
      return;
    }
    const contentType = body.startsWith("<") ? "application/xml" : "application/json";
    try {
      const { data } = await api.post("/device_object_models", body, { contentType });
      notice(message, `Uploaded object ${data.objectId} (${data.objectName}).`);
      upload.reset();
      await load();
    } catch (error) {
      notice(message, `Upload refused: ${errorText(error)}`, "error");
    }
  });

  replace(root,
    h("div", { class: "page-head" }, h("h1", {}, "Object models"),
      h("p", { class: "muted" }, "Custom objects must be uploaded before devices use them. The service allows at " +
        "most 16 custom objects per account and 20 resources per object; the standard objects (0-9, 3200-3203, " +
        "3300-3350) are known without an upload.")),
    message, listBox,
    h("details", { class: "panel", open: true }, h("summary", {}, "Upload a model"), upload),
    h("details", { class: "panel" }, h("summary", {}, `Models the console knows (${shipped.size}, shipped with lwm2m-agent)`),
      table(["Object", "Name", "Resources"], [...shipped.values()].map((m) => h("tr", {},
        h("td", {}, h("code", {}, m.objectId)), h("td", {}, m.name), h("td", {}, m.resources.size))))));
  try {
    await load();
  } catch (error) {
    notice(message, errorText(error), "error");
  }
  return null;
}
