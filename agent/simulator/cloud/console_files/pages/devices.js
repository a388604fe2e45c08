// Devices: the Inventory devices a page at a time (GET /v1/devices with limit and last_evaluated_key,
// tag filters on the server), and creating one, whose id and secret are shown once.

import { api, session } from "../api.js";
import { ago, errorText, field, h, notice, onlineBadge, replace, table, tagChips } from "../dom.js";

const PAGE_SIZES = [25, 50, 100];
const REFRESH_MS = 5000;

export async function render(root, _params, query) {
  const state = {
    tagName: query.get("tag_name") || "",
    tagValue: query.get("tag_value") || "",
    mode: query.get("mode") || "exact",
    status: "all",
    text: "",
    size: 50,
    keys: [null], // last_evaluated_key of each page seen so far; keys[i] opens page i + 1
    page: 0,
    nextKey: null,
    devices: [],
  };
  const list = h("div", { id: "device-list" });
  const pager = h("div", { class: "pager" });
  const listNotice = h("p", { hidden: true });

  const filters = h("form", { class: "filters", "aria-label": "Filter devices" },
    field("Tag name", h("input", { name: "tagName", value: state.tagName, placeholder: "e.g. site" })),
    field("Tag value", h("input", { name: "tagValue", value: state.tagValue })),
    field("Match", h("select", { name: "mode" },
      h("option", { value: "exact", selected: state.mode === "exact" }, "exact"),
      h("option", { value: "prefix", selected: state.mode === "prefix" }, "prefix"))),
    field("Status (this page)", h("select", { name: "status" },
      ["all", "online", "offline"].map((s) => h("option", { value: s }, s)))),
    field("Endpoint or id contains (this page)", h("input", { name: "text", type: "search" })),
    field("Per page", h("select", { name: "size" },
      PAGE_SIZES.map((n) => h("option", { value: n, selected: n === state.size }, n)))),
    h("button", { type: "submit" }, "Apply"));

  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    const serverSide = [form.tagName.value, form.tagValue.value, form.mode.value, Number(form.size.value)];
    const changed = serverSide.join("|") !== [state.tagName, state.tagValue, state.mode, state.size].join("|");
    Object.assign(state, { tagName: form.tagName.value.trim(), tagValue: form.tagValue.value, mode: form.mode.value,
      status: form.status.value, text: form.text.value.trim().toLowerCase(), size: Number(form.size.value) });
    if (changed) Object.assign(state, { keys: [null], page: 0 });
    load();
  });
  for (const name of ["status", "text"]) {
    filters[name].addEventListener("input", () => {
      state.status = filters.status.value;
      state.text = filters.text.value.trim().toLowerCase();
      draw();
    });
  }

  async function load() {
    try {
      const query = { limit: state.size, last_evaluated_key: state.keys[state.page] };
      if (state.tagName) {
        Object.assign(query, { tag_name: state.tagName, tag_value: state.tagValue, tag_value_match_mode: state.mode });
      }
      const { data, nextKey } = await api.get("/devices", query);
      state.devices = data;
      state.nextKey = nextKey;
      notice(listNotice, "");
      draw();
    } catch (error) {
      notice(listNotice, errorText(error), "error");
    }
  }

  function draw() {
    const shown = state.devices.filter((d) =>
      (state.status === "all" || (state.status === "online") === Boolean(d.online)) &&
      (!state.text || `${d.endpoint || ""} ${d.device_id}`.toLowerCase().includes(state.text)));
    const rows = shown.map((d) => h("tr", { dataset: { deviceId: d.device_id } },
      h("td", {}, onlineBadge(d.online)),
      h("td", {}, h("a", { href: `#/devices/${encodeURIComponent(d.device_id)}` }, d.endpoint || "(no endpoint)")),
      h("td", {}, h("code", {}, d.device_id)),
      h("td", { title: d.lastRegistrationUpdate || "" }, ago(d.lastRegistrationUpdate)),
      h("td", {}, tagChips(d.tags)),
      h("td", {}, d.groupId || h("span", { class: "muted" }, "—"))));
    const first = state.page * state.size + 1;
    const caption = state.devices.length
      ? `Devices ${first}–${first + state.devices.length - 1}` +
        (shown.length !== state.devices.length ? ` (${shown.length} shown by the filters)` : "")
      : "No devices match";
    replace(list, table(["Status", "Endpoint", "Device ID", "Last seen", "Tags", "Group"], rows, caption));
    replace(pager,
      h("button", { type: "button", disabled: state.page === 0, onclick: () => { state.page -= 1; load(); } }, "Previous page"),
      h("span", {}, `Page ${state.page + 1}`),
      h("button", { type: "button", disabled: !state.nextKey, onclick: () => {
        state.keys[state.page + 1] = state.nextKey;
        state.page += 1;
        load();
      } }, "Next page"));
  }

  replace(root,
    h("div", { class: "page-head" }, h("h1", {}, "Devices"),
      h("p", { class: "muted" }, "Inventory devices, online while their LwM2M registration lives.")),
    createDevicePanel(() => load()),
    filters, listNotice, list, pager);
  await load();
  const timer = setInterval(load, REFRESH_MS);
  return () => clearInterval(timer);
}

function createDevicePanel(onCreated) {
  const result = h("div", { id: "created-device" });
  const message = h("p", { hidden: true });
  const form = h("form", { class: "filters", "aria-label": "Create a device" },
    field("Endpoint (optional)", h("input", { name: "endpoint", placeholder: "the device id if empty" })),
    field("Tags", h("input", { name: "tags", placeholder: "site=tokyo, floor=3" })),
    field("Group", h("input", { name: "groupId" })),
    h("button", { type: "submit" }, "Create device"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const tags = {};
    for (const pair of form.tags.value.split(",")) {
      const [name, ...rest] = pair.split("=");
      if (name.trim()) tags[name.trim()] = rest.join("=").trim();
    }
    const body = { tags };
    if (form.endpoint.value.trim()) body.endpoint = form.endpoint.value.trim();
    if (form.groupId.value.trim()) body.groupId = form.groupId.value.trim();
    try {
      const { data } = await api.post("/devices", body);
      notice(message, "");
      replace(result, createdDevice(data));
      form.reset();
      onCreated();
    } catch (error) {
      notice(message, errorText(error), "error");
    }
  });
  return h("details", { class: "panel" }, h("summary", {}, "Create a device"),
    h("p", { class: "muted" }, "A device for an agent without a SIM: its id is its PSK identity, its secret key its PSK."),
    form, message, result);
}

function createdDevice(device) {
  const name = device.endpoint || device.device_id;
  const server = h("input", { name: "server", value: session.get().server || "coap://127.0.0.1:5683" });
  const command = h("pre", { class: "command" });
  const show = () => {
    session.update({ server: server.value });
    // Over coaps:// the agent needs the PSK; it reads the secret from a file only its user can read.
    command.textContent = server.value.startsWith("coaps://")
      ? `(umask 077 && printf '%s' '${device.secretKey}' > ${name}.key)\n` +
        `lwm2m-agent run --server ${server.value} --endpoint ${name} ` +
        `--psk-identity ${device.device_id} --psk-key-file ${name}.key`
      : `lwm2m-agent run --server ${server.value} --endpoint ${name}`;
  };
  server.addEventListener("input", show);
  show();
  return h("div", { class: "created", role: "status" },
    h("h2", {}, "Device created"),
    h("dl", {},
      h("dt", {}, "Device ID"), h("dd", {}, h("code", { class: "device-id" }, device.device_id)),
      h("dt", {}, "Secret key"), h("dd", {}, h("code", { class: "secret-key" }, device.secretKey))),
    h("p", { class: "warning" }, "The secret key is shown only now: copy it. The API never returns it again."),
    field("LwM2M server of the emulator", server, "as lwm2m-agent simulate printed it"),
    h("p", {}, "Connect an agent with them:"),
    command,
    h("p", { class: "muted" },
      "Over coaps:// (simulate --security psk) the device id is the agent's PSK identity and the secret key its " +
      "PSK; over plain coap:// the server knows the device by its endpoint name. The secret key is also the " +
      "device_secret for POST /v1/devices/{id}/publish."),
    h("a", { href: `#/devices/${encodeURIComponent(device.device_id)}` }, "Open the device"));
}
