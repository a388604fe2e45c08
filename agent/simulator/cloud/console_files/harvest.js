// Harvest Data as the console reads it: GET /v1/data/{type}/{id} pages, the entries' JSON content,
// and the numeric fields of each entry, which become chart series.

import { api } from "./api.js";

const PAGE_LIMIT = 1000;

function withParsed(entry) {
  let parsed = null;
  if ((entry.contentType || "").includes("json")) {
    try {
      parsed = JSON.parse(entry.content);
    } catch {
      parsed = null;
    }
  }
  return { ...entry, parsed };
}

function dataPath(resourceType, resourceId) {
  return `/data/${encodeURIComponent(resourceType)}/${encodeURIComponent(resourceId)}`;
}

/** The time (UNIX ms) of the newest entry, 0 if there is none. */
export async function latestEntryTime(resourceType, resourceId) {
  const { data } = await api.get(dataPath(resourceType, resourceId), { sort: "desc", limit: 1 });
  return data.length ? data[0].time : 0;
}

/** Entries newer than ``since`` (UNIX ms), oldest first. */
export async function newEntries(resourceType, resourceId, since) {
  const { data } = await api.get(dataPath(resourceType, resourceId), { sort: "asc", from: since + 1, limit: PAGE_LIMIT });
  return data.map(withParsed);
}

/** Up to ``limit`` entries from ``from`` on, oldest first, following x-soracom-next-key. */
export async function entriesSince(resourceType, resourceId, from, limit = 5000) {
  const entries = [];
  let key = null;
  do {
    const page = await api.get(dataPath(resourceType, resourceId),
      { sort: "desc", from, limit: PAGE_LIMIT, last_evaluated_key: key });
    entries.push(...page.data.map(withParsed));
    key = page.nextKey;
  } while (key && entries.length < limit);
  return entries.reverse();
}

/** Numeric fields of an entry by series name: "/3303/0/5700 Sensor Value" for an LwM2M notification,
 * the JSON path ("temp", "gps.lat") for anything else; booleans count as 0 and 1. */
export function numericFields(entry) {
  const fields = {};
  const content = entry.parsed;
  if (!content || typeof content !== "object") {
    const number = Number(entry.content);
    if (entry.content !== "" && Number.isFinite(number)) fields.value = number;
    return fields;
  }
  if (content.path && content.resources && typeof content.resources === "object") {
    for (const [id, resource] of Object.entries(content.resources)) {
      const name = `${content.path}/${id}${resource.name ? ` ${resource.name}` : ""}`;
      if (typeof resource.value === "number") fields[name] = resource.value;
      else if (typeof resource.value === "boolean") fields[name] = Number(resource.value);
    }
    return fields;
  }
  // Counters and flags of the message around the data (a Sigfox uplink's seqNumber and ack) are no series.
  const skip = new Set(["time", "seqNumber", "lastModifiedTime", "ack"]);
  (function walk(value, prefix) {
    for (const [key, item] of Object.entries(value)) {
      const name = prefix ? `${prefix}.${key}` : key;
      if (skip.has(name)) continue;
      if (typeof item === "number" && Number.isFinite(item)) fields[name] = item;
      else if (typeof item === "boolean") fields[name] = Number(item);
      else if (item && typeof item === "object" && !Array.isArray(item)) walk(item, name);
    }
  })(content, "");
  return fields;
}

/** Follow a source's new entries: every ``intervalMs``, those newer than the last one seen go to
 * ``onEntries`` (oldest first); ``onChecked(ok)`` hears of each round. ``since`` (UNIX ms) is where to
 * start; ``paused()`` skips rounds. Returns the function that stops it. */
export function followEntries(resourceType, resourceId, { since, intervalMs, onEntries, onChecked, paused }) {
  let last = since;
  let stopped = false;
  let timer = null;
  async function round() {
    if (!paused || !paused()) {
      try {
        const fresh = await newEntries(resourceType, resourceId, last);
        if (fresh.length) {
          last = Math.max(last, ...fresh.map((entry) => entry.time));
          onEntries(fresh);
        }
        if (onChecked) onChecked(true);
      } catch {
        // the banner says when the emulator is gone; the rounds go on
        if (onChecked) onChecked(false);
      }
    }
    if (!stopped) timer = setTimeout(round, intervalMs);
  }
  timer = setTimeout(round, 0);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
