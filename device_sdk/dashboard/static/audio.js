// Playing a PCM byte stream (pcm_s16le) with Web Audio: a short jitter buffer of scheduled buffers,
// a level meter, and recording to a WAV file.

const LEAD_S = 0.12; // how far ahead of the audio clock chunks are scheduled
const MAX_LEAD_S = 0.6; // beyond this the page is behind: drop to catch up

export const audioStats = { chunks: 0, samples: 0, scheduled: 0, dropped: 0 };

export function isPcm(format) {
  return format && format.codec === "pcm_s16le";
}

export class PcmPlayer {
  constructor(format, { onLevel }) {
    this.rate = Number(format.params.rate) || 16000;
    this.channels = Number(format.params.channels) || 1;
    this.onLevel = onLevel;
    this.ctx = new AudioContext();
    this.gain = this.ctx.createGain();
    this.analyser = this.ctx.createAnalyser();
    this.analyser.fftSize = 1024;
    this.gain.connect(this.analyser);
    this.analyser.connect(this.ctx.destination);
    this.next = 0;
    this.recording = null;
    this.muted = false;
  }

  async resume() {
    if (this.ctx.state !== "running") await this.ctx.resume();
  }

  setMuted(muted) {
    this.muted = muted;
    this.gain.gain.value = muted ? 0 : 1;
  }

  // One chunk: little-endian 16-bit samples, interleaved when there are several channels.
  push(bytes) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const frames = Math.floor(bytes.byteLength / (2 * this.channels));
    if (!frames) return;
    if (this.recording) this.recording.push(new Uint8Array(bytes));
    const buffer = this.ctx.createBuffer(this.channels, frames, this.rate);
    let sum = 0;
    for (let c = 0; c < this.channels; c++) {
      const out = buffer.getChannelData(c);
      for (let i = 0; i < frames; i++) {
        const s = view.getInt16((i * this.channels + c) * 2, true) / 32768;
        out[i] = s;
        sum += s * s;
      }
    }
    audioStats.chunks++;
    audioStats.samples += frames;
    const rms = Math.sqrt(sum / (frames * this.channels));
    this.onLevel(rms > 0 ? Math.max(-90, 20 * Math.log10(rms)) : -90);
    const now = this.ctx.currentTime;
    if (this.next < now + 0.02 || this.next > now + MAX_LEAD_S) {
      if (this.next > now + MAX_LEAD_S) { audioStats.dropped++; return; }
      this.next = now + LEAD_S;
    }
    const source = this.ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(this.gain);
    source.start(this.next);
    this.next += buffer.duration;
    audioStats.scheduled += frames;
  }

  startRecording() { this.recording = []; }

  // The recording as a WAV file (RIFF header, then the samples as they came).
  stopRecording() {
    const parts = this.recording || [];
    this.recording = null;
    const size = parts.reduce((n, p) => n + p.byteLength, 0);
    const header = new DataView(new ArrayBuffer(44));
    const text = (offset, s) => { for (let i = 0; i < s.length; i++) header.setUint8(offset + i, s.charCodeAt(i)); };
    text(0, "RIFF"); header.setUint32(4, 36 + size, true); text(8, "WAVE");
    text(12, "fmt "); header.setUint32(16, 16, true); header.setUint16(20, 1, true);
    header.setUint16(22, this.channels, true); header.setUint32(24, this.rate, true);
    header.setUint32(28, this.rate * this.channels * 2, true); header.setUint16(32, this.channels * 2, true);
    header.setUint16(34, 16, true); text(36, "data"); header.setUint32(40, size, true);
    return { blob: new Blob([header.buffer, ...parts], { type: "audio/wav" }), seconds: size / (2 * this.channels * this.rate) };
  }

  // The peak of what the audio graph is playing now (the analyser sits before the speakers).
  peak() {
    const data = new Float32Array(this.analyser.fftSize);
    this.analyser.getFloatTimeDomainData(data);
    let peak = 0;
    for (const v of data) peak = Math.max(peak, Math.abs(v));
    return peak;
  }

  close() {
    this.ctx.close();
  }
}
