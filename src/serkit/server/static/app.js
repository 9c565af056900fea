// serkit web page: upload or record speech, or go live, and show the predicted emotion.
// Recording: the Web Audio API captures raw PCM (AudioWorklet, or ScriptProcessor where
// worklets are unavailable) at the AudioContext's native rate, mono; on Stop the samples are
// low-pass filtered and resampled to 16 kHz here, encoded as a 16-bit PCM WAV and posted to
// /api/predict like an uploaded file. (MediaRecorder's WebM/Opus is not readable server-side.)
// Live: the same capture, sent as 16-bit PCM at the native rate over the WebSocket /api/stream
// (the server resamples); an update every half second fills the live view, Stop shows the
// summary timeline.
"use strict";

(() => {
  const TARGET_RATE = 16000;
  const MAX_RECORD_SECONDS = 600;
  const KNOWN_EMOTIONS = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised", "boredom"];
  const LIVE_STRIP_CELLS = 60; // 30 s of half-second hops
  const LIVE_MAX_BUFFERED = 1024 * 1024; // bytes waiting in the socket: past this the network is not keeping up
  const LIVE_SUMMARY_TIMEOUT_MS = 60000;

  const $ = (id) => document.getElementById(id);
  const el = {
    form: $("upload-form"),
    fileInput: $("file-input"),
    uploadButton: $("upload-button"),
    recordButton: $("record-button"),
    stopButton: $("stop-button"),
    recordStatus: $("record-status"),
    levelFill: $("level-fill"),
    player: $("player"),
    error: $("error"),
    busy: $("busy"),
    result: $("result"),
    source: $("result-source"),
    label: $("result-label"),
    confidence: $("result-confidence"),
    probabilities: $("probabilities"),
    timeline: $("timeline"),
    timelineStrip: $("timeline-strip"),
    timelineList: $("timeline-list"),
    maxUpload: $("max-upload"),
    liveStart: $("live-start"),
    liveStop: $("live-stop"),
    liveStatus: $("live-status"),
    live: $("live"),
    liveClock: $("live-clock"),
    liveLabel: $("live-label"),
    liveConfidence: $("live-confidence"),
    liveProbabilities: $("live-probabilities"),
    liveStrip: $("live-strip"),
  };

  const maxUploadBytes = Number(document.body.dataset.maxUploadBytes) || 25 * 1024 * 1024;
  el.maxUpload.textContent = formatMb(maxUploadBytes);

  let inflight = null; // AbortController of the running /api/predict request
  let playerUrl = null;
  let recorder = null; // state of the running recording
  let live = null; // state of the running live stream

  // ------------------------------------------------------------------ state & messages
  function setState(state) {
    document.body.dataset.state = state;
    el.busy.hidden = state !== "predicting";
    el.result.setAttribute("aria-busy", String(state === "predicting"));
    const recording = state === "recording";
    const streaming = state === "live" || state === "connecting" || state === "finishing";
    el.recordButton.disabled = recording || streaming;
    el.stopButton.disabled = !recording;
    el.liveStart.disabled = recording || streaming;
    el.liveStop.disabled = state !== "live";
  }

  function showError(message) {
    el.error.textContent = message;
    el.error.hidden = false;
    setState("error");
  }

  function clearError() {
    el.error.textContent = "";
    el.error.hidden = true;
  }

  function formatMb(bytes) {
    const mb = bytes / (1024 * 1024);
    return `${mb >= 10 ? Math.round(mb) : Math.round(mb * 10) / 10} MB`;
  }

  function percent(p) {
    return `${(100 * p).toFixed(p >= 0.995 || p < 0.001 ? 0 : 1)}%`;
  }

  function emotionClass(label) {
    const key = String(label).toLowerCase();
    return KNOWN_EMOTIONS.includes(key) ? `emo-${key}` : "emo-other";
  }

  function seconds(t) {
    return `${Number(t).toFixed(1)}`;
  }

  function setPlayer(blob) {
    if (playerUrl) URL.revokeObjectURL(playerUrl);
    playerUrl = URL.createObjectURL(blob);
    el.player.src = playerUrl;
    el.player.hidden = false;
  }

  // ------------------------------------------------------------------ prediction
  async function predict(blob, filename) {
    clearError();
    if (blob.size === 0) {
      showError(`${filename}: empty file (0 bytes)`);
      return;
    }
    if (blob.size > maxUploadBytes) {
      showError(`${filename}: too large (${formatMb(blob.size)}); the limit is ${formatMb(maxUploadBytes)}`);
      return;
    }
    if (inflight) inflight.abort();
    const controller = new AbortController();
    inflight = controller;
    setPlayer(blob);
    el.result.hidden = true; // never show the previous file's result next to this one
    setState("predicting");

    const body = new FormData();
    body.append("file", blob, filename);
    let response;
    let payload = null;
    try {
      response = await fetch("/api/predict", { method: "POST", body, signal: controller.signal });
      try {
        payload = await response.json();
      } catch (_) {
        payload = null;
      }
    } catch (err) {
      if (controller.signal.aborted) return; // superseded by a newer request
      showError(`Could not reach the server: ${err.message || err}`);
      return;
    } finally {
      if (inflight === controller) inflight = null;
    }
    if (controller.signal.aborted) return;
    if (!response.ok || !payload || payload.error) {
      const reason = payload && payload.error ? payload.error : `the server answered HTTP ${response.status}`;
      showError(reason);
      return;
    }
    render(payload);
    setState("done");
  }

  function render(result) {
    el.source.textContent = result.path ? `File: ${result.path}` : "";
    el.label.textContent = result.label;
    el.label.className = `label-chip ${emotionClass(result.label)}`;
    el.confidence.textContent = typeof result.confidence === "number" ? `${percent(result.confidence)} confidence` : "";

    el.probabilities.replaceChildren();
    setBars(el.probabilities, result.probabilities || {}, result.label);

    const segments = Array.isArray(result.segments) ? result.segments : [];
    el.timelineStrip.replaceChildren();
    el.timelineList.replaceChildren();
    el.timeline.hidden = segments.length === 0;
    for (const seg of segments) {
      const span = Math.max(0.01, Number(seg.end) - Number(seg.start));
      const block = document.createElement("div");
      block.className = `timeline-segment ${emotionClass(seg.label)}`;
      block.style.flexGrow = String(span);
      block.title = `${seconds(seg.start)}–${seconds(seg.end)} s: ${seg.label}`;
      el.timelineStrip.append(block);

      const item = document.createElement("li");
      item.className = emotionClass(seg.label);
      item.dataset.label = seg.label;
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.setAttribute("aria-hidden", "true");
      const time = document.createElement("span");
      time.textContent = `${seconds(seg.start)}–${seconds(seg.end)} s: `;
      const label = document.createElement("span");
      label.className = "seg-label";
      label.textContent = seg.label;
      item.append(swatch, time, label);
      if (typeof seg.confidence === "number") item.append(` (${percent(seg.confidence)})`);
      el.timelineList.append(item);
    }
    el.result.hidden = false;
  }

  // One bar per label; the bars are updated in place when the labels are the same (the live view).
  function setBars(list, probabilities, top) {
    const entries = Object.entries(probabilities);
    const same = list.children.length === entries.length &&
      entries.every(([label], i) => list.children[i].dataset.label === label);
    if (!same) {
      list.replaceChildren();
      for (const [label] of entries) {
        const item = document.createElement("li");
        item.dataset.label = label;
        const name = document.createElement("span");
        name.className = "bar-name";
        name.textContent = label;
        const track = document.createElement("span");
        track.className = "bar-track";
        track.setAttribute("aria-hidden", "true");
        const fill = document.createElement("span");
        fill.className = "bar-fill";
        track.append(fill);
        const value = document.createElement("span");
        value.className = "bar-value";
        item.append(name, track, value);
        list.append(item);
      }
    }
    entries.forEach(([label, p], i) => {
      const item = list.children[i];
      item.className = `bar ${emotionClass(label)}${label === top ? " top" : ""}`;
      item.querySelector(".bar-fill").style.width = `${Math.max(0, Math.min(1, p)) * 100}%`;
      item.querySelector(".bar-value").textContent = percent(p);
    });
  }

  // ------------------------------------------------------------------ upload
  function currentFile() {
    return el.fileInput.files && el.fileInput.files[0];
  }

  el.fileInput.addEventListener("change", () => {
    const file = currentFile();
    el.uploadButton.disabled = !file;
    if (file) predict(file, file.name);
  });

  el.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const file = currentFile();
    if (file) predict(file, file.name);
  });

  el.form.addEventListener("dragover", (event) => {
    event.preventDefault();
    el.form.classList.add("dragover");
  });
  el.form.addEventListener("dragleave", () => el.form.classList.remove("dragover"));
  el.form.addEventListener("drop", (event) => {
    event.preventDefault();
    el.form.classList.remove("dragover");
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (!file) return;
    try {
      el.fileInput.files = event.dataTransfer.files;
      el.uploadButton.disabled = false;
    } catch (_) {
      /* older browsers: the file is still sent */
    }
    predict(file, file.name);
  });

  // ------------------------------------------------------------------ recording
  async function startRecording() {
    clearError();
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !(window.AudioContext || window.webkitAudioContext)) {
      showError("Recording needs microphone access, which browsers allow only on https:// or localhost pages. You can still upload a file.");
      return;
    }
    el.recordButton.disabled = true;
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
    } catch (err) {
      el.recordButton.disabled = false;
      showError(`Microphone not available: ${err.message || err.name || err}`);
      return;
    }

    const Context = window.AudioContext || window.webkitAudioContext;
    const context = new Context(); // native rate (usually 44.1 or 48 kHz); we resample on Stop
    const state = { stream, context, chunks: [], frames: 0, node: null, source: null, flushed: null, timer: null, started: performance.now() };
    recorder = state;
    try {
      if (context.state === "suspended") await context.resume();
      state.source = context.createMediaStreamSource(stream);
      const sink = context.createGain(); // pulls the graph without making any sound
      sink.gain.value = 0;
      sink.connect(context.destination);
      state.node = await captureNode(context, state, (samples) => onSamples(state, samples));
      state.source.connect(state.node);
      state.node.connect(sink);
    } catch (err) {
      cleanup(state);
      recorder = null;
      showError(`Could not start recording: ${err.message || err}`);
      return;
    }
    const maxSeconds = Math.min(MAX_RECORD_SECONDS, Math.floor((maxUploadBytes - 44) / (2 * TARGET_RATE)));
    state.timer = setInterval(() => {
      const elapsed = (performance.now() - state.started) / 1000;
      el.recordStatus.textContent = `Recording… ${elapsed.toFixed(1)} s (press Stop when done)`;
      if (elapsed >= maxSeconds) stopRecording();
    }, 200);
    el.recordStatus.textContent = "Recording… press Stop when done.";
    setState("recording");
  }

  function onSamples(state, samples) {
    state.chunks.push(samples);
    state.frames += samples.length;
    let sum = 0;
    for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
    const rms = Math.sqrt(sum / Math.max(1, samples.length));
    el.levelFill.style.width = `${Math.min(100, Math.round(rms * 300))}%`;
  }

  // The capture node: mono Float32 blocks at the context's rate go to `handler`; state.flush() returns the rest.
  async function captureNode(context, state, handler) {
    if (context.audioWorklet && window.AudioWorkletNode) {
      try {
        await context.audioWorklet.addModule("/static/recorder-worklet.js");
        const node = new AudioWorkletNode(context, "pcm-capture", {
          numberOfInputs: 1,
          numberOfOutputs: 1,
          outputChannelCount: [1],
          channelCount: 1,
          channelCountMode: "explicit",
          channelInterpretation: "speakers",
        });
        node.port.onmessage = (event) => {
          if (event.data === "flushed") {
            if (state.flushed) state.flushed();
          } else {
            handler(event.data);
          }
        };
        state.flush = () =>
          new Promise((resolve) => {
            state.flushed = resolve;
            node.port.postMessage("flush");
            setTimeout(resolve, 500); // never hang on a dead context
          });
        return node;
      } catch (err) {
        console.warn("AudioWorklet unavailable, falling back to ScriptProcessor", err);
      }
    }
    const node = context.createScriptProcessor(4096, 1, 1); // 1 input channel: the browser downmixes
    node.onaudioprocess = (event) => handler(new Float32Array(event.inputBuffer.getChannelData(0)));
    state.flush = async () => {};
    return node;
  }

  function cleanup(state) {
    if (state.timer) clearInterval(state.timer);
    stopCapture(state);
    el.levelFill.style.width = "0";
  }

  async function stopRecording() {
    const state = recorder;
    if (!state) return;
    recorder = null;
    el.stopButton.disabled = true;
    clearInterval(state.timer);
    await state.flush();
    const rate = state.context.sampleRate;
    cleanup(state);

    const samples = concat(state.chunks, state.frames);
    const pcm = resample(samples, rate, TARGET_RATE);
    const duration = pcm.length / TARGET_RATE;
    el.recordStatus.textContent = `Recorded ${duration.toFixed(1)} s (captured at ${rate} Hz, sent as 16 kHz WAV).`;
    if (duration < 0.25) {
      showError("The recording is too short: record at least half a second of speech.");
      return;
    }
    const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
    predict(encodeWav(pcm, TARGET_RATE), `recording-${stamp}.wav`);
  }

  function concat(chunks, frames) {
    const out = new Float32Array(frames);
    let offset = 0;
    for (const chunk of chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }

  // Band-limited resampling: a Hann-windowed sinc low-pass at 0.95 x the lower Nyquist,
  // evaluated at each output instant (handles 44.1 -> 16 kHz and any other ratio).
  function resample(input, inRate, outRate) {
    if (inRate === outRate) return input;
    const ratio = inRate / outRate;
    const outLength = Math.floor(input.length / ratio);
    const out = new Float32Array(outLength);
    const cutoff = 0.95 * Math.min(1, outRate / inRate); // relative to the input Nyquist
    const half = Math.max(8, Math.ceil(8 / cutoff)); // taps each side, in input samples
    for (let i = 0; i < outLength; i++) {
      const center = i * ratio;
      const first = Math.max(0, Math.ceil(center - half));
      const last = Math.min(input.length - 1, Math.floor(center + half));
      let sum = 0;
      let weight = 0;
      for (let j = first; j <= last; j++) {
        const x = j - center;
        const arg = Math.PI * cutoff * x;
        const sinc = arg === 0 ? 1 : Math.sin(arg) / arg;
        const k = sinc * (0.5 + 0.5 * Math.cos((Math.PI * x) / half));
        sum += input[j] * k;
        weight += k;
      }
      out[i] = weight !== 0 ? sum / weight : 0;
    }
    return out;
  }

  function encodeWav(samples, rate) {
    const buffer = new ArrayBuffer(44 + samples.length * 2);
    const view = new DataView(buffer);
    const text = (offset, s) => {
      for (let i = 0; i < s.length; i++) view.setUint8(offset + i, s.charCodeAt(i));
    };
    text(0, "RIFF");
    view.setUint32(4, 36 + samples.length * 2, true);
    text(8, "WAVE");
    text(12, "fmt ");
    view.setUint32(16, 16, true); // fmt chunk size
    view.setUint16(20, 1, true); // PCM
    view.setUint16(22, 1, true); // mono
    view.setUint32(24, rate, true);
    view.setUint32(28, rate * 2, true); // byte rate
    view.setUint16(32, 2, true); // block align
    view.setUint16(34, 16, true); // bits per sample
    text(36, "data");
    view.setUint32(40, samples.length * 2, true);
    for (let i = 0; i < samples.length; i++) {
      const s = Math.max(-1, Math.min(1, samples[i]));
      view.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
    }
    return new Blob([buffer], { type: "audio/wav" });
  }

  el.recordButton.addEventListener("click", startRecording);
  el.stopButton.addEventListener("click", stopRecording);

  // ------------------------------------------------------------------ live
  function streamUrl() {
    return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/stream`;
  }

  async function startLive() {
    clearError();
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia ||
        !(window.AudioContext || window.webkitAudioContext) || !window.WebSocket) {
      showError("Live mode needs microphone access, which browsers allow only on https:// or localhost pages. You can still upload a file.");
      return;
    }
    setState("connecting");
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
    } catch (err) {
      setState("idle");
      showError(`Microphone not available: ${err.message || err.name || err}`);
      return;
    }
    const Context = window.AudioContext || window.webkitAudioContext;
    const state = { stream, context: new Context(), socket: null, node: null, source: null, flush: async () => {},
                    hops: 0, summary: null, error: null, stopping: false, summaryTimer: null };
    live = state;
    resetLiveView();
    el.result.hidden = true;
    el.live.hidden = false;
    el.liveStatus.textContent = "Connecting…";
    try {
      state.socket = new WebSocket(streamUrl());
    } catch (err) {
      stopCapture(state);
      live = null;
      showError(`Could not open the live stream: ${err.message || err}`);
      return;
    }
    state.socket.binaryType = "arraybuffer";
    state.socket.onopen = () =>
      state.socket.send(JSON.stringify({ type: "start", sample_rate: Math.round(state.context.sampleRate) }));
    state.socket.onmessage = (event) => onLiveMessage(state, event.data);
    state.socket.onclose = (event) => onLiveClose(state, event);
  }

  function resetLiveView() {
    el.liveStrip.replaceChildren();
    el.liveStrip.dataset.hops = "0";
    el.liveProbabilities.replaceChildren();
    el.liveClock.textContent = "0.0 s";
    el.liveLabel.textContent = "connecting…";
    el.liveLabel.className = "label-chip quiet";
    el.liveLabel.dataset.label = "";
    el.liveConfidence.textContent = "";
    el.live.dataset.heard = "silence";
  }

  // The server said "ready": start capturing, and sending every block as it comes.
  async function beginCapture(state, ready) {
    try {
      if (state.context.state === "suspended") await state.context.resume();
      state.source = state.context.createMediaStreamSource(state.stream);
      const sink = state.context.createGain(); // pulls the graph without making any sound
      sink.gain.value = 0;
      sink.connect(state.context.destination);
      state.node = await captureNode(state.context, state, (samples) => sendPcm(state, samples));
      state.source.connect(state.node);
      state.node.connect(sink);
    } catch (err) {
      failLive(state, `Could not start the microphone: ${err.message || err}`);
      return;
    }
    if (live !== state) return;
    const zeros = Object.fromEntries((ready.labels || []).map((label) => [label, 0]));
    setBars(el.liveProbabilities, zeros, null);
    el.liveLabel.textContent = "listening…";
    el.liveStatus.textContent = "Live: speak now. Stop shows the timeline of what was said.";
    setState("live");
  }

  function sendPcm(state, samples) {
    const socket = state.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN || state.stopping) return;
    if (socket.bufferedAmount > LIVE_MAX_BUFFERED) {
      failLive(state, "The connection does not keep up with the audio: live mode stopped.");
      return;
    }
    const pcm = new Int16Array(samples.length);
    for (let i = 0; i < samples.length; i++) {
      const s = Math.max(-1, Math.min(1, samples[i]));
      pcm[i] = s < 0 ? s * 0x8000 : s * 0x7fff;
    }
    socket.send(pcm.buffer);
  }

  function onLiveMessage(state, data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch (_) {
      return;
    }
    if (message.type === "ready") beginCapture(state, message);
    else if (message.type === "update") showLiveUpdate(state, message);
    else if (message.type === "summary") state.summary = message;
    else if (message.type === "error") state.error = message.error;
  }

  function showLiveUpdate(state, update) {
    if (live !== state) return;
    el.liveClock.textContent = `${Number(update.end).toFixed(1)} s`;
    const label = update.smoothed_label;
    const cell = document.createElement("div");
    cell.className = `live-cell ${label ? emotionClass(label) : update.speech ? "listening" : "silence"}`;
    cell.dataset.label = label || (update.speech ? "speech" : "silence");
    cell.title = `${seconds(update.start)}–${seconds(update.end)} s: ${cell.dataset.label}`;
    el.liveStrip.append(cell);
    while (el.liveStrip.children.length > LIVE_STRIP_CELLS) el.liveStrip.firstElementChild.remove();
    state.hops += 1;
    el.liveStrip.dataset.hops = String(state.hops);
    el.live.dataset.heard = update.speech ? "speech" : "silence";
    if (label) {
      el.liveLabel.textContent = label;
      el.liveLabel.className = `label-chip ${emotionClass(label)}`;
      el.liveLabel.dataset.label = label;
      el.liveConfidence.textContent = `${percent(update.smoothed_confidence)} confidence`;
      setBars(el.liveProbabilities, update.smoothed_probabilities || {}, label);
    } else {
      el.liveLabel.textContent = update.speech ? "listening…" : "silence";
      el.liveLabel.className = "label-chip quiet";
      el.liveLabel.dataset.label = "";
      el.liveConfidence.textContent = "";
    }
  }

  async function stopLive() {
    const state = live;
    if (!state || state.stopping) return;
    setState("finishing");
    el.liveStatus.textContent = "Finishing: the timeline of what was said…";
    await state.flush(); // the last partial block goes out before "stop"
    state.stopping = true;
    stopCapture(state);
    if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify({ type: "stop" }));
    state.summaryTimer = setTimeout(() => state.socket && state.socket.close(), LIVE_SUMMARY_TIMEOUT_MS);
  }

  function failLive(state, message) {
    state.error = message;
    state.stopping = true;
    stopCapture(state);
    if (state.socket) state.socket.close();
    else onLiveClose(state, { code: 1006, reason: "" });
  }

  function stopCapture(state) {
    try {
      if (state.source) state.source.disconnect();
      if (state.node) state.node.disconnect();
    } catch (_) {
      /* already disconnected */
    }
    state.stream.getTracks().forEach((track) => track.stop());
    if (state.context.state !== "closed") state.context.close().catch(() => {});
  }

  function onLiveClose(state, event) {
    stopCapture(state);
    if (state.summaryTimer) clearTimeout(state.summaryTimer);
    if (live === state) live = null;
    el.liveStatus.textContent = "Stopped. Go live again whenever you like.";
    const summary = state.summary;
    if (summary && !summary.error) {
      render(summary);
      el.source.textContent = `Live: ${seconds(summary.duration || 0)} s`;
      setState("done");
      if (state.error) { // the summary came, with a reason the stream ended (a server limit)
        el.error.textContent = state.error;
        el.error.hidden = false;
      }
      return;
    }
    const closed = event.code === 1000 ? "The live stream ended without a result."
      : `The live stream closed (code ${event.code}${event.reason ? `: ${event.reason}` : ""}).`;
    showError(state.error || (summary && summary.error) || closed);
  }

  el.liveStart.addEventListener("click", startLive);
  el.liveStop.addEventListener("click", stopLive);

  // ------------------------------------------------------------------ model card in the footer
  async function loadModelInfo() {
    try {
      const response = await fetch("/api/model");
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const info = await response.json();
      $("model-name").textContent = info.name || info.model || info.model_name || "unnamed model";
      const licence = info.license || info.licence || (info.card_data && (info.card_data.license || info.card_data.licence));
      if (licence) $("model-licence").textContent = String(licence);
      const metrics = info.metrics || info.metrics_summary || info;
      const shown = [];
      for (const key of ["ua", "wa", "uar", "accuracy", "f1"]) {
        const v = metrics && metrics[key];
        if (typeof v === "number") shown.push(`${key.toUpperCase()} ${v <= 1 ? (100 * v).toFixed(1) + "%" : v}`);
      }
      if (shown.length) {
        const protocol = typeof info.protocol === "string" && info.protocol ? ` (${info.protocol})` : "";
        $("model-metrics").textContent = ` · ${shown.join(", ")}${protocol}`;
      }
      const evaluations = Array.isArray(info.evaluations) ? info.evaluations : [];
      if (evaluations.length > 1) {
        $("model-metrics").textContent = " · " + evaluations
          .filter((e) => typeof e.ua === "number")
          .map((e) => `UA ${(100 * e.ua).toFixed(1)}% (${e.protocol_label})`).join("; ");
      }
      if (Array.isArray(info.corpora) && info.corpora.length) {
        $("model-corpora").textContent = info.corpora.join(", ");
      }
      if (Array.isArray(info.languages) && info.languages.length) {
        $("model-languages").textContent = ` (${info.languages.join(", ")} speech)`;
      }
      const a = info.adaptation;
      if (a && typeof a.files === "number") {
        const hours = typeof a.hours === "number" ? `, ${a.hours.toFixed(2)} h` : "";
        $("model-adaptation").textContent =
          `adapted without labels on ${a.files} recordings${hours}` + (a.date ? ` (${a.date})` : "");
      }
      const card = info.card || info.card_text || info.model_card;
      if (typeof card === "string" && card.trim()) {
        $("model-card-text").textContent = card;
        $("model-card").hidden = false;
      }
    } catch (err) {
      $("model-name").textContent = "unavailable";
    }
  }

  setState("idle");
  loadModelInfo();
})();
