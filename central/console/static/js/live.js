// Live view over WebRTC: receive-only video, one offer with all ICE candidates gathered (no trickle),
// relayed by the hub to the camera's edge node, whose answer we apply.
import { api } from './api.js';

const GATHER_TIMEOUT_MS = 5000;

function gatheringComplete(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, GATHER_TIMEOUT_MS);  // host candidates come at once; don't hang
    function done() {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    }
    function check() { if (pc.iceGatheringState === 'complete') done(); }
    pc.addEventListener('icegatheringstatechange', check);
  });
}

export class LiveView {
  /** video: the <video> element to play into; onState(state) reports progress for the UI. */
  constructor(cameraId, video, onState) {
    this.cameraId = cameraId;
    this.video = video;
    this.onState = onState || (() => {});
    this.pc = null;
  }

  async start() {
    this.stop();
    const pc = new RTCPeerConnection({ iceServers: [] });
    this.pc = pc;
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addEventListener('track', (ev) => {
      this.video.srcObject = ev.streams[0] || new MediaStream([ev.track]);
      this.video.play().catch(() => { /* muted autoplay is allowed; ignore a race with stop() */ });
    });
    pc.addEventListener('connectionstatechange', () => this.onState(pc.connectionState));
    this.onState('connecting');
    await pc.setLocalDescription(await pc.createOffer());
    await gatheringComplete(pc);
    const answer = await api.post(`/api/v1/cameras/${encodeURIComponent(this.cameraId)}/live/offer`,
      { sdp: pc.localDescription.sdp, type: pc.localDescription.type });
    if (this.pc !== pc) return;  // stopped meanwhile
    await pc.setRemoteDescription(answer);
  }

  stop() {
    if (this.pc) {
      this.pc.close();
      this.pc = null;
    }
    if (this.video) this.video.srcObject = null;
  }
}
