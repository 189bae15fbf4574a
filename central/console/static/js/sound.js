// The P1 alarm tone: a short two-tone beep made with WebAudio (no audio file to serve). Off until the
// operator turns it on, because browsers only allow sound after a user gesture anyway.
const STORAGE_KEY = 'gridwatch.sound';

export class Alarm {
  constructor() {
    this.ctx = null;
    try { this.enabled = localStorage.getItem(STORAGE_KEY) === 'on'; } catch { this.enabled = false; }
  }

  toggle() {
    this.enabled = !this.enabled;
    try { localStorage.setItem(STORAGE_KEY, this.enabled ? 'on' : 'off'); } catch { /* not remembered */ }
    if (this.enabled) this.beep();  // the click is the user gesture that unlocks audio
    return this.enabled;
  }

  beep() {
    if (!this.enabled) return;
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    if (!this.ctx) this.ctx = new Ctx();
    const now = this.ctx.currentTime;
    [880, 660, 880].forEach((freq, i) => {
      const osc = this.ctx.createOscillator();
      const gain = this.ctx.createGain();
      osc.type = 'square';
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, now + i * 0.18);
      gain.gain.exponentialRampToValueAtTime(0.15, now + i * 0.18 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.18 + 0.16);
      osc.connect(gain).connect(this.ctx.destination);
      osc.start(now + i * 0.18);
      osc.stop(now + i * 0.18 + 0.17);
    });
  }
}
