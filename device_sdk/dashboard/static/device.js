// The page of one device, built from its channel catalog: sensors as live plots, actuators as
// switches, sliders and buttons showing the state the device confirmed, byte streams played with Web
// Audio, input channels with their latency, its controllers and its info.

import { h, clear, fmtAgo, fmtDate, fmtValue, toast } from "./dom.js";
import { LivePlot, HISTORY_S } from "./plot.js";
import { PcmPlayer, isPcm } from "./audio.js";

const COLORS = ["#3b6cf6", "#14a06b", "#d98a00", "#7c5cff", "#e0454b", "#0ea5b7"];
const NUMERIC = new Set(["float", "int", "bool"]);

function twoStep(button, label, action) {
  // A destructive button asks once more on its own face instead of a browser dialog.
  let armed = 0;
  button.addEventListener("click", () => {
    if (!armed) {
      button.textContent = `${label}: click again to confirm`;
      button.classList.add("confirm");
      armed = setTimeout(() => { armed = 0; button.textContent = label; button.classList.remove("confirm"); }, 4000);
      return;
    }
    clearTimeout(armed);
    armed = 0;
    button.textContent = label;
    button.classList.remove("confirm");
    action();
  });
  return button;
}

export class DevicePage {
  constructor(container, ctx, fp) {
    this.container = container;
    this.ctx = ctx;
    this.fp = fp;
    this.plots = new Map();
    this.values = new Map();
    this.controls = new Map();
    this.inputs = new Map();
    this.streams = new Map();
    this.render();
  }

  get record() { return this.ctx.state.devices.get(this.fp); }

  watches() {
    const d = this.record;
    return new Set(d && d.paired ? [this.fp] : []);
  }

  unmount() {
    for (const plot of this.plots.values()) plot.destroy();
    for (const s of this.streams.values()) this.stopStream(s);
    this.plots.clear();
  }

  // -- rendering ------------------------------------------------------------------------------------

  render() {
    this.unmount();
    clear(this.container);
    const d = this.record;
    this.container.append(h("a", { class: "back", href: "#/", "data-testid": "back" }, "← All devices"));
    if (!d) {
      this.container.append(h("div", { class: "empty", text: "This device is not on the network and not paired." }));
      return;
    }
    this.head = h("div");
    this.container.append(this.head);
    this.renderHead();
    const catalog = this.ctx.state.catalogs.get(this.fp);
    if (!d.paired) {
      this.container.append(h("div", { class: "empty" }, "Pair with this device to see its channels. ",
        h("button", { class: "primary", "data-testid": "pair-button", onclick: () => this.ctx.openPair(d) }, "Pair")));
      return;
    }
    if (!catalog) {
      this.container.append(h("div", { class: "empty", "data-testid": "waiting", text: `Waiting for ${d.name} to answer…` }));
      return;
    }
    this.renderChannels(catalog);
    this.renderControllers();
    this.renderInfo(catalog);
  }

  renderHead() {
    const d = this.record;
    clear(this.head);
    const status = h("span", { class: `pill ${d.status}`, "data-testid": "device-status", text: d.status });
    const since = d.status === "lost" || d.status === "offline" ? ` · since ${fmtAgo(d.since)}` : "";
    this.head.append(h("div", { class: "view-head" },
      h("div", {},
        h("h1", { "data-testid": "device-name", text: d.name }),
        h("p", { text: `${d.model || "device"}${d.paired ? (d.role ? ` · you are ${d.role === "admin" ? "an admin" : "a user"}` : "") : " · not paired"}${since}` })),
      h("div", { class: "badges" }, status,
        d.window_open ? h("span", { class: "badge window", text: "pairing window open" }) : null)));
  }

  section(title, grid = true) {
    const body = h("div", { class: grid ? "grid wide" : "" });
    this.container.append(h("section", { class: "section" }, h("h2", { text: title }), body));
    return body;
  }

  renderChannels(catalog) {
    const kinds = { sensor: [], actuator: [], stream: [], input: [] };
    for (const c of catalog.channels) (kinds[c.kind] || []).push(c);
    if (kinds.sensor.length) {
      const grid = this.section("Sensors");
      kinds.sensor.forEach((c, i) => grid.append(this.sensorCard(c, COLORS[i % COLORS.length])));
    }
    if (kinds.actuator.length) {
      const grid = this.section("Controls");
      for (const c of kinds.actuator) grid.append(this.actuatorCard(c));
    }
    if (kinds.stream.length) {
      const grid = this.section("Streams");
      for (const c of kinds.stream) grid.append(this.streamCard(c));
    }
    if (kinds.input.length) {
      const grid = this.section("Inputs");
      for (const c of kinds.input) grid.append(this.inputCard(c));
    }
    const last = this.ctx.state.last.get(this.fp);
    if (last) for (const msg of last.values()) this.value(msg);
  }

  sensorCard(c, color) {
    const value = h("span", { "data-testid": `value-${c.name}`, text: "–" });
    const card = h("article", { class: "card sensor-card", "data-testid": `sensor-${c.name}` },
      h("div", { class: "card-head" }, h("h3", { text: c.name }), h("span", { class: "confirmed", "data-testid": `seq-${c.name}` })),
      h("div", { class: "value" }, value, c.unit ? h("span", { class: "unit", text: c.unit }) : null),
      c.description ? h("div", { class: "desc", text: c.description }) : null);
    this.values.set(c.name, { el: value, type: c.type, seq: card.querySelector(`[data-testid="seq-${CSS.escape(c.name)}"]`) });
    if (NUMERIC.has(c.type)) {
      const box = h("div", { class: "plot", "data-testid": `plot-${c.name}`, "data-points": "0" });
      card.append(box);
      const plot = new LivePlot(box, this.ctx.seriesOf(this.fp, c.name), { unit: c.unit, color, step: c.type === "bool" });
      const draw = plot.draw.bind(plot);
      plot.draw = () => { draw(); box.dataset.points = String(plot.series.xs.length); };
      this.plots.set(c.name, plot);
      requestAnimationFrame(() => plot.changed());
    }
    return card;
  }

  actuatorCard(c) {
    const confirmed = h("span", { class: "confirmed", "data-testid": `state-${c.name}`, text: "state: –" });
    const card = h("article", { class: "card", "data-testid": `actuator-${c.name}` },
      h("div", { class: "card-head" }, h("h3", { text: c.name }), confirmed),
      c.description ? h("div", { class: "desc card-sub", text: c.description }) : null);
    const control = { confirmed, type: c.type, apply: () => {} };
    const set = (value, revert) => {
      this.ctx.conn.call({ type: "set", device: this.fp, channel: c.name, value })
        .catch((err) => { toast(err.message); revert(); });
    };
    const hasRange = typeof c.min === "number" && typeof c.max === "number";
    const actions = Array.isArray(c.actions) ? c.actions : [];
    let widget = null;
    if (c.type === "bool") {
      const input = h("input", { type: "checkbox", "data-testid": `switch-${c.name}`, "aria-label": c.name });
      const sw = h("label", { class: "switch" }, input, h("span", { class: "track" }));
      input.addEventListener("change", () => {
        sw.classList.add("pending");
        set(input.checked, () => { sw.classList.remove("pending"); control.apply(control.value); });
      });
      control.apply = (v) => { sw.classList.remove("pending"); input.checked = !!v; };
      widget = h("div", { class: "control-row" }, h("span", { text: "off / on" }), sw);
    } else if ((c.type === "float" || c.type === "int") && hasRange) {
      const step = c.type === "int" ? 1 : (c.max - c.min) / 100;
      const input = h("input", { type: "range", min: c.min, max: c.max, step, "data-testid": `slider-${c.name}`, "aria-label": c.name });
      const shown = h("span", { class: "confirmed" });
      input.addEventListener("input", () => { shown.textContent = fmtValue(Number(input.value), c.type) + (c.unit ? ` ${c.unit}` : ""); });
      input.addEventListener("change", () => set(c.type === "int" ? Math.round(Number(input.value)) : Number(input.value), () => control.apply(control.value)));
      control.apply = (v) => { if (typeof v === "number") { input.value = v; shown.textContent = fmtValue(v, c.type) + (c.unit ? ` ${c.unit}` : ""); } };
      widget = h("div", {}, h("div", { class: "control-row" }, h("span", { text: `${c.min} … ${c.max}${c.unit ? " " + c.unit : ""}` }), shown), input);
    } else if (c.type === "enum" && Array.isArray(c.values)) {
      const select = h("select", { "data-testid": `select-${c.name}` }, c.values.map((v) => h("option", { value: v, text: v })));
      select.addEventListener("change", () => set(select.value, () => control.apply(control.value)));
      control.apply = (v) => { select.value = v; };
      widget = h("div", { class: "control-row" }, select);
    } else if (!actions.length || c.type === "text" || c.type === "float" || c.type === "int") {
      const input = h("input", { "data-testid": `input-${c.name}`, placeholder: c.type });
      const button = h("button", { class: "secondary", type: "button" }, "Set");
      button.addEventListener("click", () => {
        let value = input.value;
        if (c.type === "float" || c.type === "int") value = Number(value);
        if (c.type === "int" && !Number.isInteger(value)) { toast(`${c.name} takes a whole number.`); return; }
        if (typeof value === "number" && !Number.isFinite(value)) { toast(`${c.name} takes a number.`); return; }
        set(value, () => {});
      });
      control.apply = (v) => { if (document.activeElement !== input) input.value = typeof v === "object" ? JSON.stringify(v) : v; };
      widget = h("div", { class: "control-row" }, input, button);
    }
    if (widget) card.append(widget);
    if (actions.length) {
      const row = h("div", { class: "actions" });
      for (const action of actions) {
        row.append(h("button", {
          class: "secondary", type: "button", "data-testid": `action-${c.name}-${action}`,
          onclick: () => this.ctx.conn.call({ type: "do", device: this.fp, channel: c.name, action })
            .then(() => toast(`${c.name}: ${action} done`, "ok"), (err) => toast(err.message)),
        }, action));
      }
      card.append(row);
    }
    this.controls.set(c.name, control);
    return card;
  }

  streamCard(c) {
    const format = c.format || {};
    const pcm = isPcm(format);
    const meter = h("div", {}, h("div"));
    meter.className = "meter";
    const stats = h("div", { class: "stream-stats", "data-testid": `stream-stats-${c.name}`, text: pcm ? `${format.codec}, ${format.rate || "?"} Hz` : (format.codec || "bytes") });
    const listen = h("button", { class: "primary", type: "button", "data-testid": `listen-${c.name}` }, pcm ? "▶ Listen" : "Receive");
    const record = h("button", { class: "secondary hidden", type: "button", "data-testid": `record-${c.name}` }, "● Record");
    const saved = h("div", { class: "actions" });
    const s = { name: c.name, pcm, player: null, meter: meter.firstChild, stats, listen, record, saved, bytes: 0, since: 0, on: false };
    listen.addEventListener("click", () => (s.on ? this.stopStream(s) : this.startStream(s)));
    record.addEventListener("click", () => this.toggleRecord(s));
    this.streams.set(c.name, s);
    return h("article", { class: "card", "data-testid": `stream-${c.name}` },
      h("div", { class: "card-head" }, h("h3", { text: c.name }), stats),
      c.description ? h("div", { class: "desc card-sub", text: c.description }) : null,
      pcm ? meter : null, h("div", { class: "actions" }, listen, record), saved);
  }

  startStream(s) {
    s.on = true;
    s.bytes = 0;
    s.since = performance.now();
    s.listen.textContent = "■ Stop";
    if (s.pcm) {
      s.record.classList.remove("hidden");
      const format = this.ctx.state.catalogs.get(this.fp)?.channels.find((c) => c.name === s.name)?.format || {};
      s.player = new PcmPlayer({ codec: format.codec, params: format }, {
        onLevel: (db) => { s.meter.style.width = `${Math.max(0, Math.min(100, (db + 60) * 100 / 60))}%`; },
      });
      s.player.resume();
    }
    this.ctx.conn.send({ type: "listen", device: this.fp, channel: s.name });
  }

  stopStream(s) {
    if (!s.on) return;
    s.on = false;
    this.ctx.conn.send({ type: "unlisten", device: this.fp, channel: s.name });
    if (s.player) {
      if (s.player.recording) this.toggleRecord(s);
      s.player.close();
      s.player = null;
    }
    s.listen.textContent = s.pcm ? "▶ Listen" : "Receive";
    s.record.classList.add("hidden");
    s.meter.style.width = "0%";
  }

  toggleRecord(s) {
    if (!s.player) return;
    if (!s.player.recording) {
      s.player.startRecording();
      clear(s.record).append(h("span", { class: "rec-dot" }), "Stop recording");
      return;
    }
    const { blob, seconds } = s.player.stopRecording();
    s.record.textContent = "● Record";
    const url = URL.createObjectURL(blob);
    const name = `${this.record?.name || "device"}-${s.name}-${new Date().toISOString().replace(/[:.]/g, "-")}.wav`;
    clear(s.saved).append(h("a", { class: "secondary file-button", href: url, download: name, "data-testid": `wav-${s.name}` }, `⬇ Save WAV (${seconds.toFixed(1)} s)`));
  }

  inputCard(c) {
    const view = h("dl", { class: "kv", "data-testid": `input-${c.name}` });
    const latency = h("div", { class: "stream-stats", "data-testid": `latency-${c.name}`, text: "latency: –" });
    this.inputs.set(c.name, { view, latency, lat: [], count: 0, since: performance.now() });
    return h("article", { class: "card" },
      h("div", { class: "card-head" }, h("h3", { text: c.name }), latency),
      c.description ? h("div", { class: "desc card-sub", text: c.description }) : null, view);
  }

  renderControllers() {
    const body = this.section("Controllers", false);
    this.peersBox = h("div", { class: "card", "data-testid": "controllers" }, h("p", { class: "card-sub", text: "Loading…" }));
    body.append(this.peersBox);
    this.loadPeers();
  }

  loadPeers() {
    const d = this.record;
    if (!d || d.status !== "online") {
      clear(this.peersBox).append(h("p", { class: "card-sub", text: "The device's controllers show when it is online." }), this.adminRow(false));
      return;
    }
    this.ctx.conn.call({ type: "peers", device: this.fp })
      .then((value) => this.showPeers(value), (err) => { clear(this.peersBox).append(h("p", { class: "card-sub", text: err.message }), this.adminRow(false)); });
  }

  showPeers({ peers, role }) {
    const admin = role === "admin";
    const table = h("table", { class: "peers" },
      h("thead", {}, h("tr", {}, ["Name", "Role", "Paired", "Last seen", ""].map((t) => h("th", { text: t })))),
      h("tbody", {}, peers.map((p) => h("tr", { "data-testid": "peer-row" },
        h("td", {}, p.name || "(no name)", p.you ? h("span", { class: "badge paired", text: "this dashboard" }) : null),
        h("td", { text: p.role }),
        h("td", { text: fmtDate(p.paired_at) }),
        h("td", { text: p.last_seen ? fmtAgo(p.last_seen) : "–" }),
        h("td", {}, admin && !p.you ? twoStep(h("button", { class: "danger", type: "button" }, "Remove"), "Remove", () => {
          this.ctx.conn.call({ type: "remove-peer", device: this.fp, fp: p.fp })
            .then((value) => { toast(`Removed ${p.name || "the controller"}`, "ok"); this.showPeers(value); }, (err) => toast(err.message));
        }) : null)))));
    clear(this.peersBox).append(table, this.adminRow(admin));
  }

  adminRow(admin) {
    const row = h("div", { class: "admin-row" });
    if (admin) {
      const minutes = h("select", { "aria-label": "minutes" }, [3, 5, 10, 15].map((m) => h("option", { value: m, text: `${m} min` })));
      row.append(h("button", { class: "secondary", type: "button", "data-testid": "open-window", onclick: () =>
        this.ctx.conn.call({ type: "open-window", device: this.fp, minutes: Number(minutes.value) })
          .then(() => toast("Pairing window opened", "ok"), (err) => toast(err.message)) }, "Open pairing window"), minutes);
      const name = h("input", { placeholder: "New name", "data-testid": "rename-input", maxlength: 64 });
      row.append(name, h("button", { class: "secondary", type: "button", "data-testid": "rename", onclick: () => {
        if (!name.value.trim()) { toast("Type the new name first."); return; }
        this.ctx.conn.call({ type: "rename", device: this.fp, name: name.value.trim() })
          .then((v) => toast(`Renamed to ${v}`, "ok"), (err) => toast(err.message));
      } }, "Rename"));
    }
    const unpair = (localOnly) => this.ctx.conn.call({ type: "unpair", device: this.fp, local_only: localOnly })
      .then(() => { toast(localOnly ? "Forgotten here" : "Unpaired", "ok"); location.hash = "#/"; }, (err) => {
        toast(err.message);
        // The device could not be reached (or would not forget this dashboard): it may be forgotten here only.
        if (err.offer === "forget-here" && !row.querySelector("[data-testid=forget-here]")) {
          row.append(twoStep(h("button", { class: "danger", type: "button", "data-testid": "forget-here" }, "Forget here only"),
            "Forget here only", () => unpair(true)));
        }
      });
    row.append(twoStep(h("button", { class: "danger", type: "button", "data-testid": "unpair" }, "Unpair"), "Unpair", () => unpair(false)));
    return row;
  }

  renderInfo(catalog) {
    const d = this.record;
    const info = catalog.info || {};
    const rows = [
      ["Model", info.model || d.model], ["Board", info.board], ["SDK", info.sdk],
      ["Fingerprint", d.fp], ["Address", d.addresses.length ? `${d.addresses.join(", ")} port ${d.port}` : null],
      ["Discriminator", d.discriminator], ["Capabilities", (info.capabilities || []).join(", ")],
      ["Locales", (info.locales || []).join(", ")],
    ].filter(([, v]) => v !== undefined && v !== null && v !== "");
    const body = this.section("About", false);
    body.append(h("div", { class: "card" }, h("dl", { class: "kv", "data-testid": "info" },
      rows.flatMap(([k, v]) => [h("dt", { text: k }), h("dd", { class: k === "Fingerprint" ? "mono" : "", text: String(v) })]))));
  }

  // -- updates from the server ------------------------------------------------------------------------

  device(d) {
    if (d.fp !== this.fp) return;
    const hadPaired = this.wasPaired;
    this.wasPaired = d.paired;
    if (!this.head || hadPaired !== undefined && hadPaired !== d.paired) { this.render(); return; }
    this.renderHead();
    if (d.status === "online" && this.peersBox && this.lastStatus !== "online") this.loadPeers();
    this.lastStatus = d.status;
  }

  gone(fp) { if (fp === this.fp) this.render(); }

  catalog(msg) { if (msg.device === this.fp) this.render(); }

  value(msg) {
    if (msg.device !== this.fp) return;
    if (msg.type === "state") {
      const control = this.controls.get(msg.channel);
      if (!control) return;
      control.value = msg.v;
      control.confirmed.textContent = `state: ${fmtValue(msg.v, control.type)}`;
      control.apply(msg.v);
      return;
    }
    const input = this.inputs.get(msg.channel);
    if (input) { this.inputValue(input, msg); return; }
    const shown = this.values.get(msg.channel);
    if (shown) {
      shown.el.textContent = fmtValue(msg.v, shown.type);
      if (shown.seq) shown.seq.textContent = `#${msg.s}`;
    }
    this.plots.get(msg.channel)?.changed();
  }

  inputValue(input, msg) {
    // The first reading is the state when the channel opened, not a new event: no latency for it.
    if (input.count++ > 0) input.lat.push(Date.now() - msg.t * 1000);
    if (input.lat.length > 200) input.lat.shift();
    const v = msg.v;
    clear(input.view);
    if (v && typeof v === "object" && !Array.isArray(v)) {
      for (const [k, x] of Object.entries(v)) input.view.append(h("dt", { text: k }), h("dd", { text: fmtValue(x) }));
    } else {
      input.view.append(h("dt", { text: "value" }), h("dd", { text: fmtValue(v) }));
    }
    if (!input.lat.length) return;
    const sorted = [...input.lat].sort((a, b) => a - b);
    const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))].toFixed(1);
    input.latency.textContent = `latency p50 ${q(0.5)} ms · p95 ${q(0.95)} ms · p99 ${q(0.99)} ms`;
  }

  format(msg) {
    const s = this.streams.get(msg.channel);
    if (msg.device !== this.fp || !s) return;
    s.stats.textContent = `${msg.codec}${msg.params.rate ? `, ${msg.params.rate} Hz` : ""}`;
  }

  chunk(format, bytes) {
    const s = this.streams.get(format.channel);
    if (format.device !== this.fp || !s || !s.on) return;
    s.bytes += bytes.byteLength;
    if (s.player) s.player.push(bytes);
    const seconds = (performance.now() - s.since) / 1000;
    if (seconds > 0.5) s.stats.textContent = `${format.codec} · ${(s.bytes / 1024 / seconds).toFixed(1)} KiB/s`;
  }

  channelEnded(msg) {
    if (msg.device === this.fp) toast(`${msg.channel}: ${msg.text}`);
  }

  disconnected() {
    // The server forgets what this page listened to; start again when the user asks.
    for (const s of this.streams.values()) this.stopStream(s);
  }
}

export { HISTORY_S };
