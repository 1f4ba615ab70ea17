// speaker-similarity web app: microphone recording as 16-bit PCM WAV, the list of
// this browser session's recordings (sessionStorage), and an upload size check.
// No framework, no build step; the DOM is built with textContent, never innerHTML.
(function () {
  'use strict';

  var KEY = 'speaker-similarity.recordings';
  var body = document.body;
  var maxUpload = Number(body.dataset.maxUpload) || 25 * 1024 * 1024;
  var maxSeconds = Number(body.dataset.maxSeconds) || 600;

  function loadList() {
    try {
      var v = JSON.parse(sessionStorage.getItem(KEY) || '[]');
      return Array.isArray(v) ? v : [];
    } catch (e) {
      return [];
    }
  }

  function remember(entry) {
    var list = loadList().filter(function (e) { return e.id !== entry.id; });
    list.push(entry);
    try {
      sessionStorage.setItem(KEY, JSON.stringify(list.slice(-50)));
    } catch (e) { /* storage full or disabled: the list is a convenience */ }
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // ---------------------------------------------------------------- segments page
  var verdict = document.getElementById('verdict');
  if (verdict && verdict.dataset.recordingId) {
    remember({
      id: verdict.dataset.recordingId,
      title: verdict.dataset.title || 'recording',
      page: location.pathname,
      audio: verdict.dataset.audio,
      verdict: verdict.dataset.verdict || '',
      when: new Date().toLocaleString()
    });
  }
  // The timeline: a turn plays the whole recording's player from the turn's start
  // and pauses it at the turn's end.
  var tlPlayer = document.getElementById('timeline-player');
  if (tlPlayer) {
    var stopAt = null;
    var playing = null;
    var release = function () {
      if (playing) playing.classList.remove('playing');
      playing = null;
      stopAt = null;
    };
    tlPlayer.addEventListener('timeupdate', function () {
      if (stopAt !== null && tlPlayer.currentTime >= stopAt) {
        tlPlayer.pause();
        release();
      }
    });
    tlPlayer.addEventListener('pause', release);
    document.querySelectorAll('#timeline .turn').forEach(function (b) {
      b.addEventListener('click', function () {
        release();
        var start = Number(b.dataset.start), end = Number(b.dataset.end);
        playing = b;
        b.classList.add('playing');
        tlPlayer.dataset.turnStart = String(start);
        tlPlayer.dataset.turnEnd = String(end);
        tlPlayer.currentTime = start;
        stopAt = end;
        var p = tlPlayer.play();
        if (p && p.catch) p.catch(function () { release(); });
      });
    });
  }
  document.querySelectorAll('time[data-epoch]').forEach(function (t) {
    t.textContent = new Date(Number(t.dataset.epoch) * 1000).toLocaleString();
  });

  // ---------------------------------------------------------------- home page
  var list = document.getElementById('session-list');
  if (!list) return;
  var empty = document.getElementById('session-empty');
  var local = []; // recordings made here and not analysed yet: {name, blob, url}

  function render() {
    while (list.firstChild) list.removeChild(list.firstChild);
    local.forEach(function (r) {
      var li = el('li', { 'class': 'local-recording' });
      li.appendChild(el('audio', { controls: '', src: r.url }));
      li.appendChild(el('span', { 'class': 'name' }, r.name));
      li.appendChild(el('span', { 'class': 'when' }, r.info));
      var b = el('button', { type: 'button', 'class': 'analyse' }, 'Analyse');
      b.addEventListener('click', function () { analyse(r, b); });
      li.appendChild(b);
      var a = el('a', { href: r.url, download: r.name }, 'Download');
      li.appendChild(a);
      list.appendChild(li);
    });
    loadList().slice().reverse().forEach(function (e) {
      var li = el('li', { 'class': 'analysed-recording', 'data-id': e.id });
      li.appendChild(el('audio', { controls: '', preload: 'none', src: e.audio }));
      li.appendChild(el('a', { href: e.page, 'class': 'name' }, e.title));
      if (e.verdict) li.appendChild(el('span', {}, '→ ' + e.verdict));
      li.appendChild(el('span', { 'class': 'when' }, e.when));
      list.appendChild(li);
    });
    empty.hidden = list.children.length > 0;
  }

  function showError(node, text) {
    node.textContent = text;
    node.hidden = false;
    node.classList.add('error');
  }

  // Upload form: refuse too large files before sending them.
  var form = document.getElementById('upload-form');
  var fileInput = document.getElementById('audio-file');
  var uploadError = document.getElementById('upload-error');
  if (form && fileInput) {
    form.addEventListener('submit', function (ev) {
      var f = fileInput.files && fileInput.files[0];
      if (f && f.size > maxUpload) {
        ev.preventDefault();
        showError(uploadError, f.name + ' is ' + (f.size / 1048576).toFixed(1) +
          ' MB; the limit is ' + (maxUpload / 1048576).toFixed(0) + ' MB.');
      } else if (f && f.size === 0) {
        ev.preventDefault();
        showError(uploadError, f.name + ' is empty (0 bytes).');
      }
    });
  }

  // ---------------------------------------------------------------- recorder
  var recordBtn = document.getElementById('record');
  var stopBtn = document.getElementById('stop');
  var status = document.getElementById('rec-status');
  var clock = document.getElementById('rec-time');
  var rec = null; // {ctx, stream, source, node, sink, chunks, length, timer}
  var count = 0;

  function encodeWav(chunks, length, rate) {
    var buf = new ArrayBuffer(44 + 2 * length);
    var v = new DataView(buf);
    function str(off, s) { for (var i = 0; i < s.length; i++) v.setUint8(off + i, s.charCodeAt(i)); }
    str(0, 'RIFF'); v.setUint32(4, 36 + 2 * length, true); str(8, 'WAVE');
    str(12, 'fmt '); v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
    v.setUint32(24, rate, true); v.setUint32(28, rate * 2, true); v.setUint16(32, 2, true);
    v.setUint16(34, 16, true); str(36, 'data'); v.setUint32(40, 2 * length, true);
    var off = 44;
    chunks.forEach(function (c) {
      for (var i = 0; i < c.length; i++, off += 2) {
        var s = Math.max(-1, Math.min(1, c[i]));
        v.setInt16(off, s < 0 ? s * 0x8000 : s * 0x7fff, true);
      }
    });
    return new Blob([buf], { type: 'audio/wav' });
  }

  function stop() {
    if (!rec) return;
    var r = rec;
    rec = null;
    clearInterval(r.timer);
    try { r.source.disconnect(); r.node.disconnect(); r.sink.disconnect(); } catch (e) { /* already */ }
    r.stream.getTracks().forEach(function (t) { t.stop(); });
    var rate = r.ctx.sampleRate;
    r.ctx.close();
    recordBtn.disabled = false;
    stopBtn.disabled = true;
    clock.textContent = '';
    if (r.length === 0) {
      status.textContent = 'Nothing was recorded.';
      return;
    }
    var blob = encodeWav(r.chunks, r.length, rate);
    var d = new Date();
    count += 1;
    var name = 'recording-' + d.getDate() + '-' + (d.getMonth() + 1) + '-' + d.getFullYear() +
      '-' + count + '.wav';
    local.unshift({
      name: name, blob: blob, url: URL.createObjectURL(blob),
      info: (r.length / rate).toFixed(1) + ' s, 1 channel PCM @ ' + (rate / 1000) + ' kHz'
    });
    status.textContent = 'Recorded ' + name + ': press Analyse to see who it sounds like.';
    render();
  }

  function start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      status.textContent = 'This browser cannot record here (recording needs https or localhost).';
      return;
    }
    recordBtn.disabled = true;
    navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false }
    }).then(function (stream) {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      var ctx = new Ctx();
      var source = ctx.createMediaStreamSource(stream);
      var node = ctx.createScriptProcessor(4096, 1, 1);
      var sink = ctx.createGain();
      sink.gain.value = 0; // keep the graph running without playing the microphone back
      rec = { ctx: ctx, stream: stream, source: source, node: node, sink: sink, chunks: [], length: 0 };
      var r = rec;
      node.onaudioprocess = function (ev) {
        if (rec !== r) return;
        var data = ev.inputBuffer.getChannelData(0);
        r.chunks.push(new Float32Array(data));
        r.length += data.length;
        if (r.length / ctx.sampleRate >= maxSeconds) stop();
      };
      source.connect(node);
      node.connect(sink);
      sink.connect(ctx.destination);
      var t0 = Date.now();
      r.timer = setInterval(function () {
        clock.textContent = ((Date.now() - t0) / 1000).toFixed(1) + ' s';
      }, 100);
      return ctx.resume().then(function () {
        stopBtn.disabled = false;
        status.textContent = 'Recording… Format: 1 channel PCM @ ' + (ctx.sampleRate / 1000) + ' kHz';
      });
    }).catch(function (e) {
      recordBtn.disabled = false;
      status.textContent = 'The microphone is not available: ' + (e && e.message ? e.message : e);
    });
  }

  function analyse(r, button) {
    button.disabled = true;
    status.textContent = 'Analysing ' + r.name + '…';
    var fd = new FormData();
    fd.append('audio', r.blob, r.name);
    fetch('/api/predict', { method: 'POST', body: fd }).then(function (resp) {
      return resp.json().catch(function () { return { error: 'HTTP ' + resp.status }; })
        .then(function (j) { return { ok: resp.ok, j: j }; });
    }).then(function (x) {
      if (!x.ok) {
        button.disabled = false;
        status.textContent = 'Could not analyse ' + r.name + ': ' + (x.j.error || 'unknown error');
        return;
      }
      var mlp = x.j.overall && (x.j.overall.mlp || x.j.overall.gmm);
      remember({
        id: x.j.id, title: r.name, page: x.j.page, audio: x.j.audio,
        verdict: mlp ? mlp.name : '', when: new Date().toLocaleString()
      });
      local = local.filter(function (l) { return l !== r; });
      location.href = x.j.page;
    }).catch(function (e) {
      button.disabled = false;
      status.textContent = 'Could not reach the server: ' + e;
    });
  }

  if (recordBtn && stopBtn) {
    recordBtn.addEventListener('click', start);
    stopBtn.addEventListener('click', stop);
  }
  render();
})();
