// The one WebSocket to the dashboard server (docs/dashboard.md): requests with ids, pushed messages,
// binary stream chunks, and reconnection with backoff when it closes.

export class Connection {
  constructor({ onMessage, onBinary, onUp, onDown }) {
    this.onMessage = onMessage;
    this.onBinary = onBinary;
    this.onUp = onUp;
    this.onDown = onDown;
    this.nextId = 1;
    this.pending = new Map();
    this.delay = 500;
    this.ws = null;
    this.up = false;
  }

  open() {
    const ws = new WebSocket(`ws://${location.host}/ws`);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => { this.up = true; this.delay = 500; this.onUp(); };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== "string") { this.onBinary(ev.data); return; }
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if ((msg.type === "result" || msg.type === "error") && msg.id != null && this.pending.has(msg.id)) {
        const { resolve, reject } = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.type === "result") resolve(msg.value); else reject(Object.assign(new Error(msg.text), { offer: msg.offer }));
        return;
      }
      this.onMessage(msg);
    };
    ws.onclose = () => {
      const wasUp = this.up;
      this.up = false;
      for (const { reject } of this.pending.values()) {
        reject(new Error("The connection to the dashboard was lost; try again when it is back."));
      }
      this.pending.clear();
      this.onDown(wasUp);
      setTimeout(() => this.open(), this.delay);
      this.delay = Math.min(this.delay * 2, 5000);
    };
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  request(message) {
    const id = this.nextId++;
    return { id, done: new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(new Error("The dashboard is not connected; wait a moment and try again."));
        return;
      }
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ ...message, id }));
    }) };
  }

  async call(message) {
    return this.request(message).done;
  }
}
