// A device: its object tree named from the models, and each resource's Read, Write, Execute and
// Observe through /v1/devices/{id}/{object}/{instance}/{resource}. Every value shows when it was
// read or notified; notifications (which the emulator lands in Harvest Data) arrive by polling
// GET /v1/data/Device/{id} for entries newer than the last one seen.

import { api } from "../api.js";
import { learn, loadCatalogue, objectName, resourceModels } from "../catalogue.js";
import { ago, clock, errorText, h, notice, onlineBadge, pretty, replace, tagChips } from "../dom.js";
import { followEntries, latestEntryTime } from "../harvest.js";

const POLL_MS = 1000;

export async function render(root, [deviceId]) {
  await loadCatalogue();
  const base = `/devices/${encodeURIComponent(deviceId)}`;
  const { data: device } = await api.get(base, { model: true });
  const rows = new Map(); // "/o/i/r" -> {element, value, time, observe button, name}
  const absentNotes = new Map(); // "/o/i" -> the note naming model resources the device lacks
  const status = h("p", { id: "device-notice", hidden: true });
  const live = h("span", { class: "muted", id: "live-status" }, "");

  for (const [objectId, instances] of Object.entries(device.objects || {})) {
    for (const instance of Object.values(instances)) learn(Number(objectId), instance.resources);
  }

  function setValue(path, value, time, how) {
    const row = rows.get(path);
    if (!row) return;
    replace(row.value, shownValue(value));
    replace(row.time, clock(time), how ? h("small", { class: "muted" }, ` ${how}`) : null);
    row.element.classList.remove("fresh");
    void row.element.offsetWidth; // restart the highlight animation
    row.element.classList.add("fresh");
  }

  function setObserved(path, observed) {
    const row = rows.get(path);
    if (!row || !row.observe) return;
    row.observe.textContent = observed ? "Unobserve" : "Observe";
    row.observe.setAttribute("aria-pressed", String(observed));
    row.observe.setAttribute("aria-label", `${observed ? "Unobserve" : "Observe"} ${path}`);
  }

  async function act(what, path, call) {
    try {
      await call();
      return true;
    } catch (error) {
      notice(status, `${what} ${path}: ${errorText(error)}`, "error");
      return false;
    }
  }

  async function readResource(path) {
    if (await act("Read", path, async () => {
      const { data } = await api.get(`${base}${path}`, { model: true });
      setValue(path, "values" in data ? data.values : data.value, Date.now(), "read");
      setObserved(path, data.observed);
    })) notice(status, "");
  }

  async function readInstance(objectId, instanceId) {
    const { data } = await api.get(`${base}/${objectId}/${instanceId}`, { model: true });
    learn(objectId, data.resources);
    for (const [id, resource] of Object.entries(data.resources)) {
      const path = `/${objectId}/${instanceId}/${id}`;
      setValue(path, "values" in resource ? resource.values : resource.value, Date.now(), "read");
      setObserved(path, resource.observed);
    }
    // Readable resources of the model that the device did not answer with are not on the device:
    // they leave the table and are named once below it.
    const absent = [];
    for (const [path, row] of rows) {
      const [o, i, r] = path.split("/").slice(1).map(Number);
      if (o !== objectId || i !== instanceId || !row.observe || r in data.resources) continue;
      row.element.hidden = true;
      absent.push(`${row.name} (${r})`);
    }
    const note = absentNotes.get(`/${objectId}/${instanceId}`);
    if (note) {
      note.hidden = !absent.length;
      note.textContent = `In the model, not on this device: ${absent.join(", ")}.`;
    }
  }

  function resourceRow(objectId, instanceId, model, cached) {
    const path = `/${objectId}/${instanceId}/${model.id}`;
    const ops = model.operations || "";
    const element = h("tr", { dataset: { path } });
    const value = h("td", { class: "value" });
    const time = h("td", { class: "time" });
    const actions = h("td", { class: "actions" });
    const label = `${path} (${model.name})`;
    if (ops.includes("R")) {
      actions.append(h("button", { type: "button", "aria-label": `Read ${path}`, onclick: () => readResource(path) }, "Read"));
      const observe = h("button", { type: "button", class: "observe", "aria-pressed": "false", "aria-label": `Observe ${path}` }, "Observe");
      observe.addEventListener("click", async () => {
        const on = observe.getAttribute("aria-pressed") !== "true";
        const ok = await act(on ? "Observe" : "Unobserve", path,
          () => api.post(`${base}${path}/${on ? "observe" : "unobserve"}`));
        if (ok) {
          setObserved(path, on);
          notice(status, on ? `Observing ${path}: notifications appear here and in the Data page.` : `Stopped observing ${path}.`);
        }
      });
      actions.append(observe);
      rows.set(path, { element, value, time, observe, name: model.name });
    }
    if (ops.includes("W")) actions.append(writeForm(path, label, model));
    if (ops.includes("E")) actions.append(executeForm(path, label));
    if (!rows.has(path)) rows.set(path, { element, value, time, observe: null, name: model.name });
    element.append(
      h("td", {}, h("code", {}, model.id)),
      h("th", { scope: "row", title: model.description || "" }, model.name || `Resource ${model.id}`,
        model.units ? h("small", { class: "units" }, ` ${model.units}`) : null),
      value, time,
      h("td", {}, h("span", { class: "type" }, `${model.type || "?"}${model.multiple ? "[]" : ""}`)),
      h("td", {}, h("code", {}, ops || "—")),
      actions);
    if (cached) {
      replace(value, shownValue("values" in cached ? cached.values : cached.value));
      replace(time, h("small", { class: "muted", title: "last value the Inventory saw; press Read for a fresh one" }, "last known"));
      if (cached.observed) setObserved(path, true);
    } else if (!ops.includes("R")) {
      replace(value, h("span", { class: "muted" }, ops.includes("E") ? "executable" : "write-only"));
    }
    return element;
  }

  function writeForm(path, label, model) {
    const type = model.type || "STRING";
    let input;
    if (model.multiple) {
      input = h("input", { name: "value", placeholder: '{"0": value}', "aria-label": `New values of ${label}, JSON object` });
    } else if (type === "BOOLEAN") {
      input = h("select", { name: "value", "aria-label": `New value of ${label}` },
        h("option", { value: "true" }, "true"), h("option", { value: "false" }, "false"));
    } else if (type === "INTEGER" || type === "UNSIGNED_INTEGER" || type === "FLOAT") {
      input = h("input", { name: "value", type: "number", step: type === "FLOAT" ? "any" : "1",
        min: type === "UNSIGNED_INTEGER" ? "0" : null, required: true, "aria-label": `New value of ${label}` });
    } else {
      const placeholder = { TIME: "UNIX time or date", OPAQUE: "base64", OBJLNK: "object:instance" }[type] || "text";
      input = h("input", { name: "value", placeholder, "aria-label": `New value of ${label}` });
    }
    const form = h("form", { class: "inline", "aria-label": `Write ${path}` }, input,
      h("button", { type: "submit", "aria-label": `Write ${path}` }, "Write"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      let body;
      try {
        body = model.multiple ? { values: JSON.parse(input.value || "{}") } : { value: typed(type, input.value) };
      } catch {
        notice(status, `Write ${path}: give the values as a JSON object, e.g. {"0": 1}`, "error");
        return;
      }
      if (await act("Write", path, () => api.put(`${base}${path}`, body))) {
        notice(status, `Wrote ${pretty(body.value ?? body.values)} to ${path}.`);
        if (model.operations.includes("R")) await readResource(path);
      }
    });
    return form;
  }

  function executeForm(path, label) {
    const input = h("input", { name: "arguments", placeholder: "arguments, e.g. 0='on'", "aria-label": `Execute arguments for ${label}` });
    const form = h("form", { class: "inline", "aria-label": `Execute ${path}` }, input,
      h("button", { type: "submit", "aria-label": `Execute ${path}` }, "Execute"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (await act("Execute", path, () => api.post(`${base}${path}/execute`, { value: input.value }))) {
        notice(status, `Executed ${path}${input.value ? ` with ${input.value}` : ""}.`);
      }
    });
    return form;
  }

  function objectSections() {
    const objects = Object.entries(device.objects || {}).sort((a, b) => Number(a[0]) - Number(b[0]));
    return objects.map(([objectIdText, instances]) => {
      const objectId = Number(objectIdText);
      return h("section", { class: "object", "aria-label": `${objectName(objectId)} /${objectId}` },
        h("h2", {}, objectName(objectId), h("small", {}, ` /${objectId}`)),
        Object.values(instances).sort((a, b) => a.id - b.id).map((instance) => {
          const models = resourceModels(objectId);
          for (const id of Object.keys(instance.resources || {})) {
            if (!models.has(Number(id))) models.set(Number(id), { id: Number(id), name: `Resource ${id}`, operations: "R" });
          }
          const readAll = h("button", { type: "button", "aria-label": `Read all of /${objectId}/${instance.id}`,
            onclick: () => act("Read", `/${objectId}/${instance.id}`, () => readInstance(objectId, instance.id)) }, "Read all");
          const note = h("p", { class: "muted absent", hidden: true });
          absentNotes.set(`/${objectId}/${instance.id}`, note);
          return h("div", { class: "instance" },
            h("h3", {}, `Instance /${objectId}/${instance.id} `, readAll),
            h("div", { class: "table-wrap" }, h("table", { class: "resources" },
              h("thead", {}, h("tr", {}, ["ID", "Name", "Value", "Time", "Type", "Ops", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
              h("tbody", {}, [...models.values()].map((model) =>
                resourceRow(objectId, instance.id, model, (instance.resources || {})[model.id]))))),
            note);
        }));
    });
  }

  const info = [["manufacturer", "Manufacturer"], ["modelNumber", "Model"], ["serialNumber", "Serial number"],
    ["firmwareVersion", "Firmware"], ["ipAddress", "IP address"]]
    .filter(([k]) => device[k]).map(([k, label]) => [label, device[k]]);
  const sections = objectSections();
  const index = h("nav", { class: "object-index", "aria-label": "Objects on this device" },
    sections.map((section) => h("button", { type: "button", class: "chip-button",
      onclick: () => section.scrollIntoView({ behavior: "smooth", block: "start" }) }, section.getAttribute("aria-label"))));
  replace(root,
    h("div", { class: "page-head" },
      h("p", {}, h("a", { href: "#/devices" }, "← Devices")),
      h("h1", {}, device.endpoint || device.device_id, " ", onlineBadge(device.online)),
      h("dl", { class: "facts" },
        h("dt", {}, "Device ID"), h("dd", {}, h("code", {}, device.device_id)),
        h("dt", {}, "Last seen"), h("dd", {}, ago(device.lastRegistrationUpdate)),
        h("dt", {}, "Tags"), h("dd", {}, tagChips(device.tags)),
        h("dt", {}, "Group"), h("dd", {}, device.groupId || "—"),
        info.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      h("nav", { class: "tabs", "aria-label": "Device views" },
        h("a", { href: `#/devices/${encodeURIComponent(deviceId)}`, "aria-current": "page" }, "Objects"),
        h("a", { href: `#/data/Device/${encodeURIComponent(deviceId)}` }, "Data (chart and table)")),
      live),
    index,
    status,
    sections.length ? sections : h("p", { class: "muted" },
      "No objects yet: the device has not registered. Connect an agent with its endpoint name or device id."));

  if (!device.online) {
    notice(status, "The device is offline: the values shown are the last ones the Inventory saw.", "error");
  } else {
    // Fresh values for every instance, side by side; one that fails is said, the others still show.
    await Promise.all(Object.entries(device.objects || {}).flatMap(([objectId, instances]) =>
      Object.values(instances).map((instance) =>
        readInstance(Number(objectId), instance.id).catch(() => {}))));
  }

  // Notifications from now on; if the emulator is gone, from the browser's now (same clock here).
  const since = await latestEntryTime("Device", deviceId).catch(() => Date.now());
  return followEntries("Device", deviceId, {
    since,
    intervalMs: POLL_MS,
    onEntries: (entries) => {
      for (const entry of entries) {
        const content = entry.parsed;
        if (!content || !content.path || !content.resources) continue;
        for (const [id, resource] of Object.entries(content.resources)) {
          setValue(`${content.path}/${id}`, "values" in resource ? resource.values : resource.value, entry.time, "notified");
        }
      }
    },
    onChecked: (ok) => {
      live.textContent = ok ? `Live: notifications checked ${new Date().toLocaleTimeString([], { hour12: false })}` : "Live: waiting for the emulator";
    },
  });
}

/** A value as read: long floats shortened to 10 significant digits (the exact one in the tooltip). */
function shownValue(value) {
  const text = typeof value === "number" && !Number.isInteger(value) ? String(Number(value.toPrecision(10))) : pretty(value);
  return h("span", { class: "value-text", title: pretty(value) }, text);
}

function typed(type, text) {
  if (type === "INTEGER" || type === "UNSIGNED_INTEGER") return Number.parseInt(text, 10);
  if (type === "FLOAT") return Number.parseFloat(text);
  if (type === "BOOLEAN") return text === "true";
  return text;
}
