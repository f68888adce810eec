// The live face check (活体检测): the server chose a random sequence of actions; this page prompts them one by one,
// films the front camera (JPEG frames about 10 a second, 640 px, with their times and the prompt schedule) and
// sends them once. The server checks the actions in order and in their windows, looks for a photo or a screen
// held to the camera, then compares the best frame with the ID portrait. The page never decides anything.
(function () {
  "use strict";
  var root = document.getElementById("live");
  if (!root) return;
  var token = root.getAttribute("data-token");
  var actions = (root.getAttribute("data-actions") || "").split(",").filter(Boolean);
  var perAction = Number(root.getAttribute("data-seconds") || 3);
  var TEXT = {blink: "请眨眨眼", turn_left: "请向左转头", turn_right: "请向右转头", open_mouth: "请张张嘴", nod: "请点点头"};
  var FPS = 10, WIDTH = 640, LEAD = 1.0;
  var $ = function (id) { return document.getElementById(id); };
  var video = $("camera"), stream = null;
  // Visible to automated checks; never holds personal data.
  var st = window.liveState = {frames: 0, sent: false, status: null};

  function status(text, cls) { var s = $("status"); s.textContent = text; s.className = cls || ""; }
  function prompt(text) { $("prompt").textContent = text; }
  function finish(text, ok) {
    $("result-text").textContent = text;
    $("result-text").className = "notice" + (ok ? " done" : "");
    $("result").hidden = false; $("controls").hidden = true;
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
  }
  function deviceError(err) {
    var name = (err && err.name) || "";
    if (name === "NotAllowedError" || name === "SecurityError")
      return "您未允许使用摄像头。请在浏览器或系统设置中允许本页面使用摄像头后刷新页面。";
    if (!navigator.mediaDevices) return "当前浏览器不支持活体检测，请使用系统浏览器或微信打开本页面，或返回对话按提示录制视频。";
    return "无法打开摄像头，请刷新重试，或返回对话按提示录制视频。";
  }

  function open() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { status(deviceError(null), "bad"); return; }
    navigator.mediaDevices.getUserMedia({video: {width: {ideal: 640}, height: {ideal: 480}, facingMode: "user"},
                                         audio: false}).then(function (s) {
      stream = s; video.srcObject = s;
      status("摄像头已就绪。点击“开始检测”后，请按屏幕提示依次完成动作。", "ok");
      $("start").disabled = false;
    }).catch(function (err) { status(deviceError(err), "bad"); });
  }

  function grab(canvas, ctx) {
    var w = video.videoWidth || 640, h = video.videoHeight || 480, scale = Math.min(1, WIDTH / Math.max(w, h));
    canvas.width = Math.round(w * scale); canvas.height = Math.round(h * scale);
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);  // unmirrored: what the camera sees
    return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", 0.85); });
  }

  function run() {
    $("start").disabled = true;
    var canvas = document.createElement("canvas"), ctx = canvas.getContext("2d");
    var frames = [], schedule = [], t0 = performance.now(), total = LEAD + actions.length * perAction;
    actions.forEach(function (a, i) { schedule.push({action: a, start: LEAD + i * perAction, end: LEAD + (i + 1) * perAction}); });
    prompt("请正对镜头");
    var timer = setInterval(function () {
      var t = (performance.now() - t0) / 1000;
      var current = schedule.filter(function (w) { return t >= w.start && t < w.end; })[0];
      prompt(current ? TEXT[current.action] || current.action : (t < LEAD ? "请正对镜头" : "完成，正在上传…"));
      if (t >= total) { clearInterval(timer); send(frames, schedule); return; }
      grab(canvas, ctx).then(function (blob) { if (blob) { frames.push({t: t, blob: blob}); st.frames = frames.length; } });
    }, 1000 / FPS);
  }

  function send(frames, schedule) {
    status("正在核验，请稍候…");
    var form = new FormData();
    form.append("meta", JSON.stringify({schedule: schedule, times: frames.map(function (f) { return f.t; }),
                                         mirrored: false}));
    frames.forEach(function (f, i) { form.append("frame", f.blob, "f" + i + ".jpg"); });
    st.sent = true;
    fetch("/h5/live/" + encodeURIComponent(token) + "/frames", {method: "POST", body: form})
      .then(function (r) { return r.json().catch(function () { return {}; }); })
      .then(function (body) {
        st.status = body.status || "error";
        finish(body.message || "提交失败，请返回对话重新获取链接。", body.status === "passed");
      }).catch(function () { finish("网络异常，请返回对话重新获取链接。", false); });
  }

  $("start").addEventListener("click", run);
  open();
})();
