// Customer side of the video witness (视频见证): device check, queue, 7-second auto-join, WebRTC answerer,
// reconnect, and a MediaRecorder recording of the customer's own camera uploaded when the call ends.
// The staff browser makes every offer; this page answers each new offer with a fresh peer connection.
(function () {
  "use strict";
  var root = document.getElementById("witness");
  if (!root) return;
  var token = root.getAttribute("data-token");
  var AUTO_JOIN_SECONDS = 7;
  var $ = function (id) { return document.getElementById(id); };
  var local = $("local"), remote = $("remote"), stage = $("stage");

  // Visible to automated checks (and handy when debugging on a phone); never holds personal data.
  var st = window.witnessState = {
    joinedBy: null, startClicks: 0, countdownShown: false, connected: false, offers: 0,
    reconnects: 0, recordedBytes: 0, upload: null, status: root.getAttribute("data-status")
  };
  var stream = null, ws = null, pc = null, iceServers = [], pendingCandidates = [];
  var joined = false, readySent = false, finished = false, staffOnline = false, replaced = false;
  var countdownTimer = null, retryDelay = 1000, recorder = null, chunks = [];

  // Closes the signalling socket as a network drop would (browser test of the reconnect path).
  st.dropSignalling = function () { if (ws) ws.close(); };

  function show(id, on) { $(id).hidden = !on; }
  function net(text) { $("net").textContent = text || ""; $("net").hidden = !text; }

  // --- devices ------------------------------------------------------------------------------
  function deviceError(err) {
    var name = (err && err.name) || "";
    if (name === "NotAllowedError" || name === "SecurityError")
      return "您未允许使用摄像头或麦克风。请在浏览器或系统设置中允许本页面使用后，点击“重新检测”。";
    if (name === "NotFoundError" || name === "OverconstrainedError") return "未检测到可用的摄像头或麦克风，请检查设备后重试。";
    if (name === "NotReadableError") return "摄像头或麦克风正被其他应用占用，请关闭其他应用后重试。";
    if (!navigator.mediaDevices) return "当前浏览器不支持视频见证，请使用系统浏览器或微信打开本页面。";
    return "无法打开摄像头或麦克风，请重试。";
  }

  function checkDevices() {
    var status = $("device-status");
    status.className = "";
    status.textContent = "正在检测摄像头和麦克风…";
    show("recheck", false);
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      status.className = "bad"; status.textContent = deviceError(null);
      return Promise.resolve(false);
    }
    return navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" }, audio: true
    }).then(function (s) {
      stream = s;
      local.srcObject = s;
      var hasVideo = s.getVideoTracks().length > 0, hasAudio = s.getAudioTracks().length > 0;
      status.className = hasVideo && hasAudio ? "ok" : "bad";
      status.textContent = hasVideo && hasAudio ? "摄像头、麦克风检测正常。" :
        (hasVideo ? "未检测到麦克风，请检查后重试。" : "未检测到摄像头，请检查后重试。");
      if (!(hasVideo && hasAudio)) show("recheck", true);
      if (hasAudio) meter(s);
      return hasVideo && hasAudio;
    }).catch(function (err) {
      status.className = "bad"; status.textContent = deviceError(err);
      show("recheck", true);
      return false;
    });
  }

  function meter(s) {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    try {
      var ctx = new Ctx(), analyser = ctx.createAnalyser(), data = new Uint8Array(256);
      ctx.createMediaStreamSource(s).connect(analyser);
      show("mic", true);
      var timer = setInterval(function () {
        if (finished) { clearInterval(timer); ctx.close(); return; }
        analyser.getByteTimeDomainData(data);
        var peak = 0;
        for (var i = 0; i < data.length; i++) peak = Math.max(peak, Math.abs(data[i] - 128));
        $("mic-level").style.width = Math.min(100, Math.round(peak / 128 * 300)) + "%";
      }, 150);
      document.addEventListener("click", function () { ctx.resume(); }, { once: true });
    } catch (e) { /* no meter: the check above still stands */ }
  }

  // --- signalling -----------------------------------------------------------------------------
  function send(msg) {
    if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(msg)); return true; }
    return false;
  }

  function connect() {
    if (finished) return;
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host +
                       "/h5/witness/" + encodeURIComponent(token) + "/ws");
    ws.onopen = function () { retryDelay = 1000; net(""); };
    ws.onmessage = function (ev) {
      var msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.type === "config") iceServers = msg.iceServers || [];
      else if (msg.type === "state") onState(msg);
      else if (msg.type === "signal") onSignal(msg.data || {});
      else if (msg.type === "replaced") replaced = true;
    };
    ws.onclose = function () {
      readySent = false;
      if (finished) return;
      if (replaced) { net("本页面已在其他窗口打开，请在新窗口中继续。"); return; }
      st.reconnects++;
      net("网络连接中断，正在重新连接…");
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 8000);
    };
  }

  function onState(msg) {
    st.status = msg.status;
    if (msg.message && ["passed", "failed", "cancelled", "expired"].indexOf(msg.status) >= 0) {
      finish(msg.message, msg.status === "passed");
      return;
    }
    staffOnline = !!msg.staff_online;
    if (msg.status === "waiting") {
      stopCountdown();
      show("ready", false);
      show("queue", true);
      $("position").textContent = String(msg.position || 1);
      if (joined) { $("call-status").textContent = "工作人员暂时离开，请稍候，马上为您重新接通。"; }
      return;
    }
    show("queue", false);
    if (msg.status === "in_call" && !staffOnline) {
      stopCountdown();
      if (joined) $("call-status").textContent = "工作人员连接中，请稍候…";
      return;
    }
    if (msg.status === "in_call" && staffOnline) {
      if (!joined) startCountdown();
      else if (!readySent) { readySent = send({ type: "ready" }); }
    }
  }

  function startCountdown() {
    if (countdownTimer || joined) return;
    var left = AUTO_JOIN_SECONDS;
    show("ready", true);
    $("countdown").textContent = String(left);
    st.countdownShown = true;
    countdownTimer = setInterval(function () {
      left -= 1;
      $("countdown").textContent = String(Math.max(left, 0));
      if (left <= 0) join("countdown");
    }, 1000);
  }

  function stopCountdown() {
    if (countdownTimer) { clearInterval(countdownTimer); countdownTimer = null; }
  }

  function join(how) {
    if (joined || finished) return;
    stopCountdown();
    if (!stream) { checkDevices().then(function (ok) { if (ok) join(how); }); return; }
    joined = true;
    st.joinedBy = how;
    show("ready", false);
    show("devices", false);
    show("incall", true);
    startRecording();
    readySent = send({ type: "ready" });
  }

  function newPeer() {
    if (pc) { try { pc.close(); } catch (e) { /* already closed */ } }
    pendingCandidates = [];
    var peer = new RTCPeerConnection({ iceServers: iceServers });
    stream.getTracks().forEach(function (t) { peer.addTrack(t, stream); });
    peer.onicecandidate = function (ev) {
      if (ev.candidate) send({ type: "signal", data: { candidate: ev.candidate.toJSON() } });
    };
    peer.ontrack = function (ev) {
      if (remote.srcObject !== ev.streams[0]) {
        remote.srcObject = ev.streams[0];
        // joined by the countdown there was no tap: a browser may refuse sound until there is one
        remote.play().catch(function () {
          remote.muted = true;
          remote.play().catch(function () {});
          show("unmute", true);
        });
      }
      stage.classList.remove("solo");
    };
    peer.onconnectionstatechange = function () {
      if (peer !== pc) return;
      var s = peer.connectionState;
      st.connected = s === "connected";
      if (s === "connected") { net(""); $("call-status").textContent = "已接入视频，正在见证中。"; }
      else if (s === "disconnected") net("网络不稳定，正在恢复…");
      else if (s === "failed" && !finished) {
        net("视频连接中断，正在重新接通…");
        readySent = send({ type: "ready" }); // the staff side answers with a fresh offer
      }
    };
    pc = peer;
    return peer;
  }

  function onSignal(data) {
    if (!joined || finished || !stream) return;
    if (data.sdp && data.sdp.type === "offer") {
      st.offers++;
      var peer = newPeer();
      peer.setRemoteDescription(data.sdp).then(function () {
        pendingCandidates.forEach(function (c) { peer.addIceCandidate(c).catch(function () {}); });
        pendingCandidates = [];
        return peer.createAnswer();
      }).then(function (answer) {
        return peer.setLocalDescription(answer);
      }).then(function () {
        send({ type: "signal", data: { sdp: { type: peer.localDescription.type, sdp: peer.localDescription.sdp } } });
      }).catch(function () { readySent = send({ type: "ready" }); });
    } else if (data.candidate && pc) {
      if (pc.remoteDescription) pc.addIceCandidate(data.candidate).catch(function () {});
      else pendingCandidates.push(data.candidate);
    }
  }

  // --- recording ------------------------------------------------------------------------------
  function pickType() {
    var types = ["video/webm;codecs=vp8,opus", "video/webm;codecs=vp9,opus", "video/webm"];
    for (var i = 0; i < types.length; i++) {
      if (window.MediaRecorder && MediaRecorder.isTypeSupported(types[i])) return types[i];
    }
    return "";
  }

  function startRecording() {
    if (recorder || !window.MediaRecorder) return;
    try {
      // modest bitrates: a few minutes of witness stay a few MB (the upload goes over mobile data)
      recorder = new MediaRecorder(stream, { mimeType: pickType(), videoBitsPerSecond: 350000,
                                             audioBitsPerSecond: 32000 });
    } catch (e) { recorder = null; return; }
    recorder.ondataavailable = function (ev) {
      if (ev.data && ev.data.size) { chunks.push(ev.data); st.recordedBytes += ev.data.size; }
    };
    recorder.start(1000);
  }

  function upload() {
    var blob = new Blob(chunks, { type: "video/webm" });
    if (!blob.size) return Promise.resolve();
    $("upload-status").textContent = "正在上传见证录像，请勿关闭页面…";
    var attempt = function (n) {
      return fetch("/h5/witness/" + encodeURIComponent(token) + "/recording", {
        method: "POST", body: blob, headers: { "Content-Type": "video/webm" }, credentials: "same-origin"
      }).then(function (resp) {
        if (!resp.ok && resp.status >= 500 && n < 3) return attempt(n + 1);
        return resp.json().then(function (body) {
          st.upload = { status: resp.status, media_id: body.media_id || null, size: body.size || 0 };
          $("upload-status").textContent = resp.ok ? "见证录像已上传。" : (body.message || "录像上传失败。");
        });
      }).catch(function () {
        if (n < 3) return new Promise(function (r) { setTimeout(r, 2000 * n); }).then(function () { return attempt(n + 1); });
        $("upload-status").textContent = "录像上传失败，请检查网络。";
      });
    };
    return attempt(1);
  }

  function finish(message, passed) {
    if (finished) return;
    finished = true;
    stopCountdown();
    ["queue", "ready", "incall", "devices"].forEach(function (id) { show(id, false); });
    show("result", true);
    $("result-text").textContent = message;
    $("result-text").className = "notice" + (passed ? " done" : "");
    net("");
    var done = function () {
      stage.hidden = true;
      if (pc) { try { pc.close(); } catch (e) { /* closed */ } }
      if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
      if (ws) ws.close();
    };
    if (recorder && recorder.state !== "inactive") {
      recorder.onstop = function () { upload().then(done, done); };
      recorder.stop();
    } else {
      done();
    }
  }

  $("start").addEventListener("click", function () { st.startClicks++; join("click"); });
  $("unmute").addEventListener("click", function () { remote.muted = false; remote.play(); show("unmute", false); });
  $("recheck").addEventListener("click", function () { checkDevices(); });
  if (["passed", "failed", "cancelled", "expired"].indexOf(st.status) >= 0) {
    show("devices", false);
    stage.hidden = true;
    show("result", true);
    return;
  }
  checkDevices().then(connect);
})();
