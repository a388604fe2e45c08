// Sigfox devices: the list, and one device's frames as Harvest holds them (the raw hex and the fields
// the binary parser decoded), with a form that queues an 8-byte downlink.

import { api } from "../api.js";
import { clock, errorText, field, h, notice, replace, table, tagChips } from "../dom.js";
import { entriesSince, followEntries } from "../harvest.js";

const MESSAGE_KEYS = new Set(["device", "time", "data", "seqNumber", "lqi", "operatorName", "countryCode", "ack"]);
const POLL_MS = 2000;

export async function render(root, [deviceId]) {
  const { data: devices } = await api.get("/sigfox_devices");
  const selected = deviceId || (devices[0] && devices[0].device_id);
  const list = table(["Device ID", "Status", "Last seen", "RSSI / SNR", "Tags"], devices.map((d) => h("tr", {},
    h("td", {}, h("a", { href: `#/sigfox/${encodeURIComponent(d.device_id)}`,
      "aria-current": d.device_id === selected ? "true" : null }, d.device_id)),
    h("td", {}, d.status),
    h("td", {}, d.lastSeen ? clock(d.lastSeen.time) : "never"),
    h("td", {}, d.lastSeen ? `${d.lastSeen.rssi} dBm / ${d.lastSeen.snr} dB` : "—"),
    h("td", {}, tagChips(d.tags)))), "Sigfox devices");
  const head = h("div", { class: "page-head" }, h("h1", {}, "Sigfox"),
    h("p", { class: "muted" }, "Uplinks land in Harvest Data with the fields the binary parser decoded; " +
      "downlinks wait for the next uplink that asks for one."));
  if (!selected) {
    replace(root, head, h("p", {}, "No Sigfox devices yet."));
    return null;
  }

  const frames = h("div", { id: "sigfox-frames" });
  const message = h("p", { hidden: true });
  const hex = h("input", { name: "data", required: true, pattern: "[0-9A-Fa-f]{16}", maxlength: 16,
    placeholder: "0102030405060708", autocomplete: "off" });
  const downlink = h("form", { class: "filters", "aria-label": `Send a downlink to ${selected}` },
    field("Downlink (8 bytes, 16 hex digits)", hex),
    h("button", { type: "submit" }, "Send downlink"));
  downlink.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api.post(`/sigfox_devices/${encodeURIComponent(selected)}/data`, { data: hex.value });
      notice(message, `Downlink ${hex.value.toUpperCase()} queued for ${selected}: it is delivered on the next uplink that asks for one.`);
    } catch (error) {
      notice(message, errorText(error), "error");
    }
  });

  let entries = await entriesSince("SigfoxDevice", selected, undefined, 200);
  function draw() {
    const decodedNames = [...new Set(entries.flatMap((e) => Object.keys(e.parsed || {}).filter((k) => !MESSAGE_KEYS.has(k))))];
    const rows = entries.slice().reverse().map((entry) => {
      const frame = entry.parsed || {};
      return h("tr", {},
        h("td", {}, clock(entry.time)),
        h("td", {}, frame.seqNumber ?? ""),
        h("td", {}, h("code", {}, frame.data ?? entry.content)),
        decodedNames.map((name) => h("td", { class: "decoded", dataset: { field: name } }, name in frame ? String(frame[name]) : "")),
        h("td", {}, frame.ack ? "asked" : ""));
    });
    replace(frames, table(["Time", "Seq", "Frame (hex)", ...decodedNames, "Downlink"], rows,
      `${entries.length} uplinks, newest first`));
  }
  draw();

  replace(root, head, list,
    h("h2", {}, "Device ", h("code", {}, selected)),
    h("p", {}, h("a", { href: `#/data/SigfoxDevice/${encodeURIComponent(selected)}` }, "Chart of the decoded fields")),
    downlink, message, frames);

  return followEntries("SigfoxDevice", selected, {
    since: entries.length ? entries[entries.length - 1].time : 0,
    intervalMs: POLL_MS,
    onEntries: (fresh) => {
      entries = entries.concat(fresh);
      draw();
    },
  });
}
