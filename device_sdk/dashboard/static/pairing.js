// The pairing dialog: a typed or scanned setup code, a display-mode PIN, or button mode.
// Codes and PINs are sent once and cleared from the page at once; nothing keeps them.

import { toast } from "./dom.js";

const $ = (id) => document.getElementById(id);
let current = null; // { id, device } of the pairing in progress
let method = "code";
let scanning = null;

function setMethod(next) {
  method = next;
  for (const tab of document.querySelectorAll("#pair-dialog .tab")) tab.classList.toggle("active", tab.dataset.method === next);
  for (const panel of document.querySelectorAll("#pair-dialog .tab-panel")) panel.classList.toggle("hidden", panel.dataset.panel !== next);
}

function showError(text) {
  const el = $("pair-error");
  el.textContent = text || "";
  el.classList.toggle("hidden", !text);
}

function busy(on) {
  $("pair-busy").classList.toggle("hidden", !on);
  $("pair-submit").disabled = on && !current?.askingPin;
}

function forgetSecrets() {
  $("pair-code").value = "";
  $("pair-pin").value = "";
}

export function setupPairing(ctx) {
  const dialog = $("pair-dialog");
  for (const tab of dialog.querySelectorAll(".tab")) tab.addEventListener("click", () => setMethod(tab.dataset.method));
  const close = () => {
    if (current) ctx.conn.send({ type: "cancel", id: current.id });
    stopScan();
    forgetSecrets();
    dialog.close();
  };
  $("pair-close").addEventListener("click", close);
  $("pair-cancel").addEventListener("click", close);
  dialog.addEventListener("close", () => { stopScan(); forgetSecrets(); });
  $("pair-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (current && current.askingPin) { sendPin(ctx); return; }
    if (!current) start(ctx);
  });
  $("scan-camera").addEventListener("click", () => scanCamera());
  $("scan-photo").addEventListener("change", (ev) => scanPhoto(ev.target));
  if (!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.isSecureContext)) {
    $("scan-camera").disabled = true;
    $("scan-hint").textContent = "The camera needs https or localhost: read a photo instead.";
  }
}

export function openPairDialog(ctx, device) {
  const dialog = $("pair-dialog");
  dialog.dataset.device = device ? device.fp : "";
  $("pair-title").textContent = device ? `Pair with ${device.name}` : "Add a device";
  setMethod("code");
  showError("");
  busy(false);
  $("pin-ask").classList.add("hidden");
  $("pair-submit").disabled = false;
  $("pair-submit").textContent = "Pair";
  forgetSecrets();
  current = null;
  if (!dialog.open) dialog.showModal();
  $("pair-code").focus();
}

function start(ctx) {
  const dialog = $("pair-dialog");
  const device = dialog.dataset.device || null;
  const message = { type: "pair", method, device };
  if (method === "code") {
    const code = $("pair-code").value.trim();
    if (!code) { showError("Type the code from the sticker, or scan its QR code."); return; }
    message.code = code;
  } else if (!device) {
    showError("Choose the device in the list first: only setup codes name their device.");
    return;
  }
  forgetSecrets();
  showError("");
  const request = ctx.conn.request(message);
  current = { id: request.id, device, askingPin: false };
  busy(true);
  request.done.then((value) => {
    current = null;
    busy(false);
    dialog.close();
    toast(`Paired with ${value.name}`, "ok");
    location.hash = `#/device/${encodeURIComponent(value.device)}`;
  }, (err) => {
    current = null;
    busy(false);
    $("pin-ask").classList.add("hidden");
    $("pair-submit").textContent = "Pair";
    showError(err.message);
  });
}

// The server asks for the PIN a display-mode device shows.
export function pinNeeded(msg) {
  if (!current || current.id !== msg.id) return;
  current.askingPin = true;
  $("pin-device").textContent = msg.name;
  $("pin-ask").classList.remove("hidden");
  $("pair-submit").disabled = false;
  $("pair-submit").textContent = "Send PIN";
  $("pair-pin").focus();
}

function sendPin(ctx) {
  const pin = $("pair-pin").value.trim();
  if (!pin) { showError("Type the PIN the device shows."); return; }
  ctx.conn.send({ type: "pin", id: current.id, pin });
  forgetSecrets();
  current.askingPin = false;
  $("pair-submit").disabled = true;
}

// -- QR codes: the Barcode Detection API where present, else the vendored jsQR --------------------

let jsqrLoading = null;
function loadJsQR() {
  if (window.jsQR) return Promise.resolve(window.jsQR);
  if (!jsqrLoading) {
    jsqrLoading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "/static/vendor/jsQR.js";
      script.onload = () => resolve(window.jsQR);
      script.onerror = () => reject(new Error("the QR decoder did not load"));
      document.head.append(script);
    });
  }
  return jsqrLoading;
}

async function decode(source, width, height) {
  if ("BarcodeDetector" in window) {
    try {
      const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      const found = await detector.detect(source);
      if (found.length) return found[0].rawValue;
      return null;
    } catch { /* fall back to jsQR */ }
  }
  const jsQR = await loadJsQR();
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const g = canvas.getContext("2d", { willReadFrequently: true });
  g.drawImage(source, 0, 0, width, height);
  const image = g.getImageData(0, 0, width, height);
  const result = jsQR(image.data, width, height, { inversionAttempts: "attemptBoth" });
  return result ? result.data : null;
}

function found(text) {
  if (!text) return false;
  $("pair-code").value = text.trim();
  $("scan-hint").textContent = text.startsWith("MT:") ? "QR code read: press Pair." : "Read a code that is not a setup code.";
  setMethod("code");
  return true;
}

export { decode as decodeQr };

async function scanPhoto(input) {
  const file = input.files && input.files[0];
  input.value = "";
  if (!file) return;
  try {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, 1600 / Math.max(bitmap.width, bitmap.height));
    const text = await decode(bitmap, Math.round(bitmap.width * scale), Math.round(bitmap.height * scale));
    if (!found(text)) showError("No QR code found in that photo: try again closer, with the whole code in view.");
  } catch {
    showError("That file could not be read as a picture.");
  }
}

async function scanCamera() {
  if (scanning) { stopScan(); return; }
  const video = $("scan-video");
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    scanning = { stream, timer: 0 };
    video.srcObject = stream;
    await video.play();
    $("scanner").classList.remove("hidden");
    $("scan-camera").textContent = "Stop the camera";
    const tick = async () => {
      if (!scanning) return;
      if (video.videoWidth) {
        const text = await decode(video, video.videoWidth, video.videoHeight).catch(() => null);
        if (found(text)) { stopScan(); return; }
      }
      scanning.timer = setTimeout(tick, 200);
    };
    tick();
  } catch {
    stopScan();
    showError("The camera could not be opened: allow it in the browser, or type the code.");
  }
}

function stopScan() {
  if (!scanning) return;
  clearTimeout(scanning.timer);
  for (const track of scanning.stream.getTracks()) track.stop();
  scanning = null;
  $("scan-video").srcObject = null;
  $("scanner").classList.add("hidden");
  $("scan-camera").textContent = "Scan the QR code";
}
