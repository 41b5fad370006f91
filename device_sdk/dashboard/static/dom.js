// Small DOM helpers. Text from devices always goes through textContent, never HTML.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function fmtTime(t) {
  if (!t) return "–";
  const d = new Date(t * 1000);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
}

export function fmtDate(t) {
  if (!t) return "–";
  const d = new Date(t * 1000);
  return d.toLocaleString([], { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

export function fmtAgo(t) {
  if (!t) return "–";
  const s = Math.max(0, Date.now() / 1000 - t);
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return fmtDate(t);
}

export function fmtValue(v, type) {
  if (v === undefined || v === null) return "–";
  if (typeof v === "boolean") return v ? "on" : "off";
  if (typeof v === "number") {
    if (type === "int" || Number.isInteger(v) && type !== "float") return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 0.01 || a >= 1e6) ? v.toExponential(2) : v.toFixed(a < 10 ? 2 : 1);
  }
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

let toastTimer = 0;
export function toast(text, kind = "error") {
  const box = document.getElementById("toasts");
  const el = h("div", { class: `toast ${kind}`, text, "data-testid": "toast" });
  box.append(el);
  while (box.children.length > 4) box.firstChild.remove();
  setTimeout(() => el.remove(), kind === "error" ? 8000 : 4000);
  toastTimer++;
}
