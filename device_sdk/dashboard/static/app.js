// The dashboard page: state fed by the server's messages, a router (#/ and #/device/FP), the device
// list and the event log. The device page is device.js, pairing is pairing.js.

import { Connection } from "./connection.js";
import { h, clear, fmtTime, fmtValue, toast } from "./dom.js";
import { Series, sparkline } from "./plot.js";
import { setupPairing, openPairDialog, pinNeeded } from "./pairing.js";
import { DevicePage } from "./device.js";
import { audioStats } from "./audio.js";

const PROTOCOL_VERSION = 1;
const STATUS_TEXT = { online: "online", connecting: "connecting", lost: "lost", offline: "offline" };

export const state = {
  controller: null,
  devices: new Map(),   // fp -> device record
  catalogs: new Map(),  // fp -> catalog message
  last: new Map(),      // fp -> Map(channel -> reading or state message)
  series: new Map(),    // fp + "\n" + channel -> Series
  streams: new Map(),   // stream number -> format message
  watching: new Set(),  // what this page asked the server to watch
};

const ctx = {
  conn: null, state, view: null,
  openPair: (device) => openPairDialog(ctx, device),
  seriesOf: (fp, channel) => seriesOf(fp, channel),
  syncWatching: () => syncWatching(),
};

export function seriesOf(fp, channel) {
  const key = `${fp}\n${channel}`;
  let series = state.series.get(key);
  if (!series) { series = new Series(); state.series.set(key, series); }
  return series;
}

function lastOf(fp) {
  let m = state.last.get(fp);
  if (!m) { m = new Map(); state.last.set(fp, m); }
  return m;
}

// -- messages -------------------------------------------------------------------------------------

function onMessage(msg) {
  switch (msg.type) {
    case "hello":
      if (msg.version !== PROTOCOL_VERSION) { location.reload(); return; }
      state.controller = msg.controller;
      document.getElementById("controller-name").textContent = msg.controller.name;
      state.devices = new Map(msg.devices.map((d) => [d.fp, d]));
      clear(document.getElementById("log"));
      for (const entry of msg.log) addLog(entry);
      state.watching.clear();
      route();
      break;
    case "device":
      state.devices.set(msg.device.fp, msg.device);
      ctx.view?.device?.(msg.device);
      syncWatching();
      break;
    case "device-gone":
      state.devices.delete(msg.fp);
      ctx.view?.gone?.(msg.fp);
      break;
    case "catalog":
      state.catalogs.set(msg.device, msg);
      ctx.view?.catalog?.(msg);
      break;
    case "reading":
    case "state": {
      lastOf(msg.device).set(msg.channel, msg);
      if (msg.type === "reading") seriesOf(msg.device, msg.channel).push(msg.t, msg.v);
      ctx.view?.value?.(msg);
      break;
    }
    case "format":
      state.streams.set(msg.stream, msg);
      ctx.view?.format?.(msg);
      break;
    case "channel-ended":
      ctx.view?.channelEnded?.(msg);
      break;
    case "log":
      addLog(msg.entry);
      break;
    case "pin-needed":
      pinNeeded(msg);
      break;
    case "error":
      toast(msg.text);
      break;
  }
}

function onBinary(buffer) {
  const view = new DataView(buffer);
  const stream = view.getUint32(0);
  const format = state.streams.get(stream);
  if (format) ctx.view?.chunk?.(format, new Uint8Array(buffer, 8));
}

function addLog(entry) {
  const list = document.getElementById("log");
  const item = h("li", { class: `k-${entry.kind}` },
    h("time", { text: fmtTime(entry.t) }), h("span", { class: "txt", text: entry.text }));
  list.prepend(item);
  while (list.children.length > 200) list.lastChild.remove();
}

// -- what the page watches --------------------------------------------------------------------------

function wanted() {
  if (ctx.view && ctx.view.watches) return ctx.view.watches();
  return new Set();
}

export function syncWatching() {
  if (!ctx.conn || !ctx.conn.up) return;
  const want = wanted();
  for (const fp of want) if (!state.watching.has(fp)) { ctx.conn.send({ type: "watch", device: fp }); state.watching.add(fp); }
  for (const fp of [...state.watching]) if (!want.has(fp)) { ctx.conn.send({ type: "unwatch", device: fp }); state.watching.delete(fp); }
}

// -- views ------------------------------------------------------------------------------------------

function route() {
  const container = document.getElementById("view");
  if (ctx.view && ctx.view.unmount) ctx.view.unmount();
  clear(container);
  const match = location.hash.match(/^#\/device\/(.+)$/);
  if (match) {
    ctx.view = new DevicePage(container, ctx, decodeURIComponent(match[1]));
  } else {
    ctx.view = new HomeView(container, ctx);
  }
  syncWatching();
}

class HomeView {
  constructor(container, ctx) {
    this.ctx = ctx;
    this.cards = new Map();
    const add = h("button", { class: "primary", "data-testid": "add-device", onclick: () => ctx.openPair(null) }, "+ Add a device");
    container.append(
      h("div", { class: "view-head" },
        h("div", {}, h("h1", { text: "Devices" }), h("p", { text: "Devices on this network, live. Paired devices stay listed when they go away." })),
        add),
    );
    this.paired = h("div", { class: "grid", "data-testid": "paired-devices" });
    this.others = h("div", { class: "grid", "data-testid": "other-devices" });
    this.pairedSection = h("section", { class: "section" }, h("h2", { text: "Paired" }), this.paired);
    this.othersSection = h("section", { class: "section" }, h("h2", { text: "Found on the network" }), this.others);
    this.empty = h("div", { class: "empty", text: "Looking for devices on the network… Start one with: device-sdk run --board sim" });
    container.append(this.pairedSection, this.othersSection, this.empty);
    for (const d of state.devices.values()) this.device(d);
    this.layout();
  }

  watches() {
    return new Set([...state.devices.values()].filter((d) => d.paired).map((d) => d.fp));
  }

  layout() {
    const devices = [...state.devices.values()];
    this.pairedSection.classList.toggle("hidden", !devices.some((d) => d.paired));
    this.othersSection.classList.toggle("hidden", !devices.some((d) => !d.paired));
    this.empty.classList.toggle("hidden", devices.length > 0);
  }

  device(d) {
    const old = this.cards.get(d.fp);
    const card = this.card(d);
    if (old && old.parentNode === (d.paired ? this.paired : this.others)) old.replaceWith(card);
    else { old?.remove(); this.insert(d.paired ? this.paired : this.others, card, d); }
    this.cards.set(d.fp, card);
    this.layout();
  }

  insert(grid, card, d) {
    const after = [...grid.children].find((c) => (c.dataset.name || "").localeCompare(d.name) > 0);
    grid.insertBefore(card, after || null);
  }

  gone(fp) {
    this.cards.get(fp)?.remove();
    this.cards.delete(fp);
    this.layout();
  }

  card(d) {
    const open = () => { location.hash = `#/device/${encodeURIComponent(d.fp)}`; };
    const status = h("span", { class: `pill ${d.status}`, "data-testid": "device-status", text: STATUS_TEXT[d.status] || d.status });
    const badges = h("div", { class: "badges" },
      d.paired ? h("span", { class: "badge paired", text: d.role === "admin" ? "paired · admin" : "paired" }) : h("span", { class: "badge", text: "not paired" }),
      d.window_open ? h("span", { class: "badge window", "data-testid": "window-open", text: "pairing window open" }) : null);
    const summary = h("div", { class: "summary" });
    const catalog = state.catalogs.get(d.fp);
    if (d.paired && catalog) {
      for (const c of catalog.channels.filter((c) => c.kind === "sensor").slice(0, 4)) {
        const last = state.last.get(d.fp)?.get(c.name);
        const spark = h("canvas", { class: "spark", width: 120, height: 26, "data-spark": c.name });
        summary.append(h("div", { class: "mini" }, h("div", { class: "k", text: c.name }),
          h("div", { class: "v", "data-channel": c.name, text: `${fmtValue(last?.v, c.type)}${c.unit ? " " + c.unit : ""}` }),
          spark));
        sparkline(spark, seriesOf(d.fp, c.name), c.type === "bool");
      }
    }
    const sub = d.model || (d.paired ? "paired device" : d.discriminator != null ? `discriminator ${d.discriminator}` : "no setup code");
    const foot = h("div", { class: "card-foot" },
      d.paired
        ? h("button", { class: "secondary", onclick: (ev) => { ev.stopPropagation(); open(); } }, "Open")
        : h("button", { class: "primary", "data-testid": "pair-button", onclick: (ev) => { ev.stopPropagation(); this.ctx.openPair(d); } }, "Pair"));
    return h("article", {
      class: `card device-card${d.paired ? " clickable" : ""}`, "data-testid": "device-card",
      dataset: { fp: d.fp, name: d.name, status: d.status, paired: String(d.paired) },
      onclick: d.paired ? open : null,
    },
    h("div", { class: "card-head" }, h("div", { style: null }, h("div", { class: "card-title", text: d.name }), h("div", { class: "card-sub", "data-testid": "device-sub", text: sub })), status),
    badges, summary.children.length ? summary : null, foot);
  }

  catalog(msg) {
    const d = state.devices.get(msg.device);
    if (d) this.device(d);
  }

  value(msg) {
    if (msg.type !== "reading") return;
    const card = this.cards.get(msg.device);
    const el = card?.querySelector(`.v[data-channel="${CSS.escape(msg.channel)}"]`);
    if (!el) return;
    const c = state.catalogs.get(msg.device)?.channels.find((x) => x.name === msg.channel);
    el.textContent = `${fmtValue(msg.v, c?.type)}${c?.unit ? " " + c.unit : ""}`;
    const spark = card.querySelector(`canvas[data-spark="${CSS.escape(msg.channel)}"]`);
    if (spark) sparkline(spark, seriesOf(msg.device, msg.channel), c?.type === "bool");
  }
}

// -- start --------------------------------------------------------------------------------------------

function start() {
  const banner = document.getElementById("banner");
  const connState = document.getElementById("conn-state");
  ctx.conn = new Connection({
    onMessage, onBinary,
    onUp: () => {
      connState.textContent = "connected";
      connState.classList.add("up");
      banner.classList.add("hidden");
    },
    onDown: (wasUp) => {
      connState.textContent = "reconnecting…";
      connState.classList.remove("up");
      state.watching.clear();
      state.streams.clear();
      ctx.view?.disconnected?.();
      if (wasUp) {
        banner.textContent = "The connection to the dashboard server was lost: reconnecting…";
        banner.classList.remove("hidden");
      }
    },
  });
  setupPairing(ctx);
  window.addEventListener("hashchange", route);
  route();
  ctx.conn.open();
  // For tests and benchmarks: read-only views of what the page holds.
  window.dashboard = { state, audioStats, series: (fp, ch) => seriesOf(fp, ch), get connected() { return ctx.conn.up; } };
}

start();
