// AudioWorklet that hands mono Float32 PCM blocks (at the AudioContext's rate) to the page.
// Channels are averaged; blocks of ~4096 frames keep message traffic low. A "flush" message
// returns the partial block, then "flushed".
class PcmCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.block = new Float32Array(4096);
    this.filled = 0;
    this.port.onmessage = (event) => {
      if (event.data === "flush") {
        if (this.filled > 0) this.port.postMessage(this.block.slice(0, this.filled));
        this.filled = 0;
        this.port.postMessage("flushed");
      }
    };
  }

  process(inputs) {
    const input = inputs[0];
    if (input && input.length > 0) {
      const channels = input.length;
      const frames = input[0].length;
      for (let i = 0; i < frames; i++) {
        let sum = 0;
        for (let c = 0; c < channels; c++) sum += input[c][i];
        this.block[this.filled++] = sum / channels;
        if (this.filled === this.block.length) {
          this.port.postMessage(this.block, [this.block.buffer]);
          this.block = new Float32Array(4096);
          this.filled = 0;
        }
      }
    }
    return true;
  }
}

registerProcessor("pcm-capture", PcmCapture);
