// Staff console: live queue over WebSocket and a refreshing conversation view.
// Customer text only ever goes through textContent, never innerHTML.
(function () {
  "use strict";
  var script = document.currentScript;
  var page = script.getAttribute("data-page");

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function queue() {
    var body = document.querySelector("#queue tbody");
    var live = document.getElementById("live");
    var count = document.getElementById("waiting-count");
    function render(items) {
      body.replaceChildren();
      var waiting = 0;
      items.forEach(function (r) {
        if (r.state === "waiting") waiting++;
        var tr = el("tr");
        tr.setAttribute("data-sender", r.sender);
        [r.sender, r.channel].forEach(function (v) { tr.appendChild(el("td", null, v)); });
        var st = el("td");
        st.appendChild(el("span", "badge " + r.state, r.state_label));
        tr.appendChild(st);
        [r.reason_label, r.account_number || "", r.since_local, r.agent || ""].forEach(function (v) {
          tr.appendChild(el("td", null, v));
        });
        var link = el("a", null, "查看");
        link.href = "/console/conversations/" + encodeURIComponent(r.sender);
        var td = el("td");
        td.appendChild(link);
        tr.appendChild(td);
        body.appendChild(tr);
      });
      count.textContent = String(waiting);
    }
    function connect() {
      var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/console/ws");
      ws.onopen = function () { live.textContent = "实时"; };
      ws.onmessage = function (ev) {
        var data = JSON.parse(ev.data);
        if (data.type === "queue") render(data.items);
      };
      ws.onclose = function () { live.textContent = "已断开，重连中…"; setTimeout(connect, 2000); };
    }
    connect();
  }

  function conversation() {
    var sender = script.getAttribute("data-sender");
    var box = document.getElementById("messages");
    var who = { customer: "客户", bot: "机器人", agent: "客服 ", system: "系统" };
    function render(messages) {
      var atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 20;
      box.replaceChildren();
      messages.forEach(function (m) {
        var div = el("div", "msg " + m.who);
        div.appendChild(el("span", "meta", who[m.who] + (m.who === "agent" ? (m.author || "") : "") + " " + (m.time || "")));
        if (m.kind === "image") {
          var a = el("a"); a.href = m.url; a.target = "_blank"; a.rel = "noopener";
          var img = el("img"); img.src = m.url; img.alt = m.who === "agent" ? "客服图片" : "客户图片";
          a.appendChild(img); div.appendChild(a);
        } else if (m.kind === "video" || m.kind === "link") {
          var l = el("a", null, m.kind === "video" ? "客户视频" : m.text); l.href = m.url; l.target = "_blank";
          l.rel = "noopener noreferrer"; div.appendChild(l);
        } else {
          div.appendChild(el("span", "text", m.text));
          if (m.buttons && m.buttons.length) div.appendChild(el("span", "meta", "按钮：" + m.buttons.join(" / ")));
        }
        box.appendChild(div);
      });
      if (atBottom) box.scrollTop = box.scrollHeight;
    }
    var last = null;
    function poll() {
      fetch("/console/conversations/" + encodeURIComponent(sender) + "/history.json", { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) return;
          var snap = JSON.stringify(data.messages);
          if (snap !== last) { last = snap; render(data.messages); }
          var state = document.getElementById("state");
          if (state && data.conversation && state.className.indexOf(data.conversation.state) < 0) {
            location.reload();  // claimed or released elsewhere: the buttons change
          }
        })
        .catch(function () {});
    }
    box.scrollTop = box.scrollHeight;
    setInterval(poll, 2000);
  }

  if (page === "queue") queue();
  if (page === "conversation") conversation();
})();
