// Staff side of the video witness: live waiting list, and the call page (WebRTC offerer, snapshot + face
// comparison, recording of both sides, checklist and verdict). Customer data only via textContent.
(function () {
  "use strict";
  var script = document.currentScript;
  var page = script.getAttribute("data-page");
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, text) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // --- waiting list -----------------------------------------------------------------------------
  function list() {
    var body = document.querySelector("#witness-queue tbody");
    var live = $("live");
    function render(items) {
      body.replaceChildren();
      items.forEach(function (r) {
        var tr = el("tr");
        tr.setAttribute("data-id", r.id);
        [r.position || "", r.business_name, r.account_number].forEach(function (v) { tr.appendChild(el("td", v)); });
        var st = el("td"), badge = el("span", r.status_label);
        badge.className = "badge " + r.status;
        st.appendChild(badge);
        tr.appendChild(st);
        [r.online ? "在线" : "未打开", r.staff, r.created_local].forEach(function (v) { tr.appendChild(el("td", v)); });
        var td = el("td"), a = el("a", r.status === "in_call" ? "进入" : "查看");
        a.href = "/console/witness/" + encodeURIComponent(r.id);
        td.appendChild(a);
        tr.appendChild(td);
        body.appendChild(tr);
      });
    }
    function poll() {
      fetch("/console/witness/list.json", { credentials: "same-origin" }).then(function (resp) {
        if (!resp.ok) throw new Error(String(resp.status));
        return resp.json();
      }).then(function (data) { render(data.items); live.textContent = "实时"; },
              function () { live.textContent = "刷新失败，重试中…"; })
        .then(function () { setTimeout(poll, 2000); });
    }
    poll();
  }

  // --- call -------------------------------------------------------------------------------------
  function call() {
    var id = script.getAttribute("data-id"), csrf = script.getAttribute("data-csrf");
    var remote = $("remote"), local = $("local");
    var st = window.witnessStaff = { offers: 0, frames: 0, connected: false, firstFrameMs: null, recordedBytes: 0,
                                     upload: null, snapshot: null, verdict: null };
    var ws = null, pc = null, iceServers = [], stream = null, retryDelay = 1000, closed = false;
    var offerAt = 0, recorder = null, chunks = [], mixer = null;
    // Closes the signalling socket as a network drop would (browser test of the reconnect path).
    st.dropSignalling = function () { if (ws) ws.close(); };

    function post(path, body, type) {
      return fetch("/console/witness/" + encodeURIComponent(id) + path, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf, "Content-Type": type }
      }).then(function (resp) {
        return resp.json().catch(function () { return {}; }).then(function (data) { data.httpStatus = resp.status; return data; });
      });
    }
    function send(msg) { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg)); }

    function countFrames() {
      if (!remote.requestVideoFrameCallback) return;
      var onFrame = function () {
        st.frames++;
        if (st.firstFrameMs === null && offerAt) st.firstFrameMs = Math.round(performance.now() - offerAt);
        remote.requestVideoFrameCallback(onFrame);
      };
      remote.requestVideoFrameCallback(onFrame);
    }

    function playRemote() {
      remote.play().catch(function () { // no user gesture yet: play muted and offer a button for the sound
        remote.muted = true;
        remote.play().catch(function () {});
        $("unmute").hidden = false;
      });
    }
    $("unmute").addEventListener("click", function () {
      remote.muted = false; remote.play(); $("unmute").hidden = true;
      if (mixer) mixer.ctx.resume();
    });

    function offer() {
      if (closed) return;
      if (pc) { try { pc.close(); } catch (e) { /* closed */ } }
      var peer = pc = new RTCPeerConnection({ iceServers: iceServers });
      if (stream) stream.getTracks().forEach(function (t) { peer.addTrack(t, stream); });
      else { peer.addTransceiver("audio", { direction: "recvonly" }); peer.addTransceiver("video", { direction: "recvonly" }); }
      peer.onicecandidate = function (ev) {
        if (ev.candidate) send({ type: "signal", data: { candidate: ev.candidate.toJSON() } });
      };
      peer.ontrack = function (ev) {
        if (remote.srcObject !== ev.streams[0]) { remote.srcObject = ev.streams[0]; playRemote(); }
        if (ev.track.kind === "audio" && mixer) mixer.add(ev.streams[0]);
        startRecording();
      };
      peer.onconnectionstatechange = function () {
        if (peer !== pc) return;
        var s = peer.connectionState;
        st.connected = s === "connected";
        $("rtc").textContent = { connected: "视频已连接", connecting: "连接中", disconnected: "网络不稳定",
                                 failed: "连接失败", closed: "已关闭", "new": "连接中" }[s] || s;
        $("snapshot").disabled = s !== "connected";
      };
      st.offers++;
      offerAt = performance.now();
      peer.createOffer().then(function (o) { return peer.setLocalDescription(o); }).then(function () {
        send({ type: "signal", data: { sdp: { type: peer.localDescription.type, sdp: peer.localDescription.sdp } } });
      });
    }

    function onSignal(data) {
      if (!pc) return;
      if (data.sdp && data.sdp.type === "answer") pc.setRemoteDescription(data.sdp).catch(function () {});
      else if (data.candidate) pc.addIceCandidate(data.candidate).catch(function () {});
    }

    function connect() {
      if (closed) return;
      ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host +
                         "/console/witness/" + encodeURIComponent(id) + "/ws");
      ws.onopen = function () { retryDelay = 1000; };
      ws.onmessage = function (ev) {
        var msg = JSON.parse(ev.data);
        if (msg.type === "config") iceServers = msg.iceServers || [];
        else if (msg.type === "peer") {
          $("peer").textContent = msg.customer === "connected" ? "客户已打开见证页面，等待客户接入视频…" : "客户未在线，等待客户打开见证页面…";
        } else if (msg.type === "customer-ready") { $("peer").textContent = "客户已接入。"; offer(); }
        else if (msg.type === "signal") onSignal(msg.data || {});
        else if (msg.type === "decided" || msg.type === "released") { closed = true; }
        else if (msg.type === "replaced") { closed = true; $("peer").textContent = "该见证已在其他窗口打开。"; }
      };
      ws.onclose = function () {
        if (closed) return;
        $("peer").textContent = "信令连接中断，正在重连…";
        setTimeout(connect, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 8000);
      };
    }

    // Both sides in one recording: the customer's video large, the staff's small, audio of both mixed.
    function makeMixer() {
      var canvas = document.createElement("canvas");
      canvas.width = 640; canvas.height = 480;
      var g = canvas.getContext("2d");
      var Ctx = window.AudioContext || window.webkitAudioContext;
      var ctx = new Ctx(), dest = ctx.createMediaStreamDestination(), added = [];
      var m = {
        ctx: ctx, canvas: canvas,
        add: function (s) {
          if (!s.getAudioTracks().length || added.indexOf(s.id) >= 0) return;
          added.push(s.id);
          ctx.createMediaStreamSource(s).connect(dest);
        },
        stream: function () {
          var out = canvas.captureStream(15);
          dest.stream.getAudioTracks().forEach(function (t) { out.addTrack(t); });
          return out;
        },
        timer: setInterval(function () {
          g.fillStyle = "#111"; g.fillRect(0, 0, 640, 480);
          if (remote.videoWidth) g.drawImage(remote, 0, 0, 640, 480);
          if (local.videoWidth) g.drawImage(local, 470, 350, 160, 120);
        }, 1000 / 15)
      };
      return m;
    }

    function startRecording() {
      if (recorder || !window.MediaRecorder) return;
      if (!mixer) mixer = makeMixer();
      if (stream) mixer.add(stream);
      if (remote.srcObject) mixer.add(remote.srcObject);
      var type = ["video/webm;codecs=vp8,opus", "video/webm"].filter(function (t) { return MediaRecorder.isTypeSupported(t); })[0] || "";
      recorder = new MediaRecorder(mixer.stream(), { mimeType: type, videoBitsPerSecond: 400000, audioBitsPerSecond: 32000 });
      recorder.ondataavailable = function (ev) {
        if (ev.data && ev.data.size) { chunks.push(ev.data); st.recordedBytes += ev.data.size; }
      };
      recorder.start(1000);
      $("rec").textContent = "录像中";
    }

    function stopAndUpload() {
      if (!recorder || recorder.state === "inactive") return Promise.resolve(null);
      return new Promise(function (resolve) {
        recorder.onstop = function () {
          clearInterval(mixer.timer);
          var blob = new Blob(chunks, { type: "video/webm" });
          $("rec").textContent = "正在上传录像…";
          post("/recording", blob, "video/webm").then(function (r) {
            st.upload = r;
            $("rec").textContent = r.httpStatus === 201 ? "录像已上传" : ("录像上传失败：" + (r.message || r.httpStatus));
            resolve(r);
          }, function () { $("rec").textContent = "录像上传失败"; resolve(null); });
        };
        recorder.stop();
      });
    }

    $("snapshot").addEventListener("click", function () {
      if (!remote.videoWidth) return;
      var canvas = $("shot");
      canvas.width = remote.videoWidth; canvas.height = remote.videoHeight;
      canvas.getContext("2d").drawImage(remote, 0, 0);
      $("face").hidden = false;
      $("face-decision").textContent = "比对中…";
      $("face-distance").textContent = ""; $("face-bands").textContent = ""; $("face-message").textContent = "";
      canvas.toBlob(function (blob) {
        post("/snapshot", blob, "image/jpeg").then(function (r) {
          st.snapshot = r;
          $("face-decision").textContent = r.decision_label || r.message || "比对失败";
          $("face-distance").textContent = r.distance === null || r.distance === undefined ? "-" : String(r.distance);
          $("face-bands").textContent = r.accept_max ? ("≤" + r.accept_max + " 一致；≤" + r.review_max + " 存疑；更大 不一致") : "";
          $("face-message").textContent = r.message || "";
        });
      }, "image/jpeg", 0.92);
    });

    function verdict(passed) {
      var checks = {};
      document.querySelectorAll("#checklist input[name=check]").forEach(function (box) { checks[box.value] = box.checked; });
      var unchecked = Object.keys(checks).filter(function (k) { return !checks[k]; });
      if (passed && unchecked.length && !window.confirm("还有 " + unchecked.length + " 项未勾选，确定判定通过吗？")) return;
      $("pass").disabled = $("fail").disabled = true;
      $("verdict-status").textContent = "正在保存录像并提交…";
      stopAndUpload().then(function () {
        return post("/verdict", JSON.stringify({ passed: passed, notes: $("verdict-notes").value,
                                                 reason: passed ? null : $("verdict-reason").value,
                                                 checklist: checks }), "application/json");
      }).then(function (r) {
        st.verdict = r;
        if (r.httpStatus !== 200) {
          $("verdict-status").textContent = "提交失败：" + (r.message || r.httpStatus);
          $("pass").disabled = $("fail").disabled = false;
          return;
        }
        closed = true;
        if (pc) pc.close();
        if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
        if (ws) ws.close();
        $("verdict-status").textContent = "已提交：" + r.status_label + "。";
        setTimeout(function () { location.reload(); }, 1500);
      });
    }
    $("pass").addEventListener("click", function () { verdict(true); });
    $("fail").addEventListener("click", function () { verdict(false); });

    countFrames();
    var media = navigator.mediaDevices && navigator.mediaDevices.getUserMedia ?
      navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 } }, audio: true }) : Promise.reject(new Error("no media"));
    media.then(function (s) { stream = local.srcObject = s; }, function () {
      $("peer").textContent = "未能打开本机摄像头/麦克风，将只接收客户画面。";
    }).then(connect);
  }

  if (page === "list") list();
  else if (page === "call") call();
})();
