// WeChat simulator page: plays the customer's phone. All WeChat protocol work happens on the server.
// ?mode=wecom plays a 微信客服 customer instead: messages go into the fake WeCom, which calls the channel back;
// every answer arrives through kf/send_msg (polled here), none as a passive reply.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const chat = $("chat"), statusLine = $("status");
  const WECOM = new URLSearchParams(location.search).get("mode") === "wecom";
  const idKey = WECOM ? "sim-wecom-uid" : "sim-openid";
  let openid = localStorage.getItem(idKey);
  if (!openid) { openid = newOpenid(); localStorage.setItem(idKey, openid); }
  let lastKf = 0;
  $("openid").textContent = openid;
  if (WECOM) {
    document.title = "掌厅助手 · 微信客服模拟器";
    $("heading").textContent = "微信客服模拟器";
    $("about").textContent = "此页面模拟微信客服（企业微信客服账号）：消息存入模拟的企业微信，由它加密回调 Rasa 的微信客服通道；" +
      "通道拉取消息（kf/sync_msg）后用 kf/send_msg 回复，每条客户消息之后最多 5 条、48 小时内有效。";
    $("idlabel").textContent = "模拟客户 external_userid";
    $("subscribe").textContent = "进入会话";
    $("voice").textContent = "发送语音";
    $("switch").textContent = "切换到公众号模式";
    $("switch").href = "/simulator/";
    $("menu").hidden = true;
    $("file").accept = "image/*,video/mp4";
  }

  function newOpenid() {
    const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    let s = WECOM ? "wmSim" : "oSim";
    const rnd = new Uint8Array(24); crypto.getRandomValues(rnd);
    rnd.forEach((b) => { s += chars[b % chars.length]; });
    return s;
  }
  function escapeHtml(s) {
    return s.replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  }
  function linkify(s) {
    return escapeHtml(s).replace(/https?:\/\/[^\s，。；！？、）)<>"]+/g,
      (u) => `<a href="${u}" target="_blank" rel="noopener">${u}</a>`);
  }
  function bubble(cls, html, via) {
    const div = document.createElement("div");
    div.className = "msg " + cls;
    div.innerHTML = html + (via ? `<span class="via">${via}</span>` : "");
    chat.appendChild(div);
    chat.scrollTop = chat.scrollHeight;
    return div;
  }
  function system(text) { bubble("system", escapeHtml(text)); }

  // Numbered options ("1. 投资者 … 回复数字选择") become tappable chips that send the number, as a customer would.
  function renderText(text, via) {
    const div = bubble("bot", linkify(text), via);
    if (text.includes("回复数字选择")) {
      const box = document.createElement("div");
      box.className = "options";
      text.split("\n").forEach((line) => {
        const m = line.match(/^(\d{1,2})\.\s*(.+)$/);
        if (!m) return;
        const b = document.createElement("button");
        b.type = "button"; b.textContent = m[2]; b.dataset.number = m[1];
        b.addEventListener("click", () => sendText(m[1], m[2]));
        box.appendChild(b);
      });
      div.insertBefore(box, div.querySelector(".via"));
    }
  }
  function renderNews(articles, via) {
    const html = articles.map((a) => `<a class="news" href="${escapeHtml(a.url || "#")}" target="_blank" rel="noopener">` +
      `<b>${escapeHtml(a.title || "")}</b>${escapeHtml(a.description || "")}</a>`).join("<hr>");
    bubble("bot", html, via);
  }
  function renderImage(mediaId, via) {
    const src = `/simulator/api/media/${encodeURIComponent(mediaId)}` + (WECOM ? "?mode=wecom" : "");
    bubble("bot", `<img alt="图片" src="${src}">`, via);
  }
  function renderPassive(r) {
    const via = "被动回复";
    if (r.MsgType === "text") renderText(r.Content || "", via);
    else if (r.MsgType === "image") renderImage((r.Image || {}).MediaId, via);
    else if (r.MsgType === "news") {
      let items = ((r.Articles || {}).item) || [];
      if (!Array.isArray(items)) items = [items];
      renderNews(items.map((i) => ({title: i.Title, description: i.Description, url: i.Url})), via);
    } else if (r.MsgType === "transfer_customer_service") system("已转入微信多客服");
  }

  async function postWecom(payload) {
    statusLine.textContent = "发送中…";
    try {
      const resp = await fetch("/simulator/api/wecom/send", {method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify(Object.assign({external_userid: openid}, payload))});
      const result = await resp.json();
      if (!resp.ok) { system("发送失败：" + (result.error || resp.status)); return; }
      if (result.attempts > 1) system(`回调 5 秒内未响应，企业微信已重试 ${result.attempts - 1} 次`);
      if (result.status !== "accepted") system("回调返回错误 " + (result.http_status || ""));
    } catch (e) {
      system("网络错误：" + e);
    } finally {
      statusLine.textContent = "";
      poll();
    }
  }

  async function post(payload) {
    if (WECOM) return postWecom(payload.type === "event" ? {type: "enter"} : payload);
    statusLine.textContent = "发送中…";
    try {
      const resp = await fetch("/simulator/api/send", {method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify(Object.assign({openid}, payload))});
      const result = await resp.json();
      if (!resp.ok) { system("发送失败：" + (result.error || resp.status)); return; }
      if (result.attempts > 1) system(`公众号 5 秒内未响应，微信已重试 ${result.attempts - 1} 次`);
      if (result.status === "passive") renderPassive(result.reply);
      else if (result.status === "timeout") system("公众号无响应（微信放弃重试）");
      else if (result.status === "error") system("公众号返回错误 " + (result.http_status || result.error));
    } catch (e) {
      system("网络错误：" + e);
    } finally {
      statusLine.textContent = "";
      poll();
    }
  }
  function sendText(text, shown) {
    text = text.trim();
    if (!text) return;
    bubble("user", escapeHtml(shown ? `${text}（${shown}）` : text));
    return post({type: "text", content: text});
  }

  function messagesUrl(after) {
    return WECOM ? `/simulator/api/wecom/messages?external_userid=${encodeURIComponent(openid)}&after=${after}`
      : `/simulator/api/messages?openid=${encodeURIComponent(openid)}&after=${after}`;
  }

  async function poll() {
    try {
      const resp = await fetch(messagesUrl(lastKf));
      if (!resp.ok) return;
      for (const m of await resp.json()) {
        lastKf = Math.max(lastKf, m.id);
        const via = WECOM ? {event: "欢迎语", servicer: "企业微信接待人员"}[m.via] || "微信客服消息" : "客服消息";
        if (m.msgtype === "text") renderText(m.text.content, via);
        else if (m.msgtype === "image") renderImage(m.image.media_id, via);
        else if (m.msgtype === "news") renderNews(m.news.articles || [], via);
      }
    } catch (e) { /* the back-office restarting; try again */ }
  }

  async function init() {
    try {
      const cfg = await (await fetch("/simulator/api/config")).json();
      $("mode").textContent = WECOM ? "微信客服" : cfg.mode === "safe" ? "安全模式" : "明文模式";
      if (WECOM && !cfg.wecom) system("微信客服模式不可用（企业微信设置无效）");
      if (!cfg.wecom) $("switch").hidden = true;
      const menu = $("menu");
      cfg.menu.button.forEach((btn) => {
        const cell = document.createElement("div");
        const top = document.createElement("button");
        top.type = "button"; top.textContent = btn.name;
        cell.appendChild(top);
        if (btn.sub_button) {
          const sub = document.createElement("div"); sub.className = "sub";
          btn.sub_button.forEach((s) => {
            const b = document.createElement("button");
            b.type = "button"; b.textContent = s.name;
            b.addEventListener("click", () => { sub.classList.remove("open"); clickMenu(s); });
            sub.appendChild(b);
          });
          cell.appendChild(sub);
          top.addEventListener("click", () => sub.classList.toggle("open"));
        } else {
          top.addEventListener("click", () => clickMenu(btn));
        }
        menu.appendChild(cell);
      });
    } catch (e) { system("无法读取模拟器配置"); }
    // existing 客服消息 of this openid are history, not new arrivals
    try {
      const old = await (await fetch(messagesUrl(0))).json();
      old.forEach((m) => { lastKf = Math.max(lastKf, m.id); });
    } catch (e) { /* ignore */ }
    setInterval(poll, 1000);
    system(WECOM ? "点击“进入会话”开始，或直接发送消息" : "点击“关注公众号”开始，或直接发送消息");
  }
  function clickMenu(item) {
    bubble("user", escapeHtml("［菜单］" + item.name));
    post({type: "event", event: "CLICK", key: item.key});
  }

  $("send").addEventListener("click", () => { const t = $("text"); sendText(t.value); t.value = ""; t.focus(); });
  $("text").addEventListener("keydown", (e) => { if (e.key === "Enter") $("send").click(); });
  $("subscribe").addEventListener("click", () => {
    system(WECOM ? "你进入了客服会话" : "你关注了公众号");
    post({type: "event", event: "subscribe"});
  });
  $("voice").addEventListener("click", () => {
    if (WECOM) { bubble("user", "🎤 （语音）"); post({type: "voice"}); return; }
    const said = prompt("语音识别结果（留空模拟无法识别）", "帮助");
    if (said === null) return;
    bubble("user", "🎤 " + escapeHtml(said || "（语音）"));
    post({type: "voice", recognition: said});
  });
  $("reset").addEventListener("click", () => {
    openid = newOpenid(); localStorage.setItem(idKey, openid); location.reload();
  });
  $("file").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    const form = new FormData(); form.append("file", file);
    const resp = await fetch("/simulator/api/upload" + (WECOM ? "?mode=wecom" : ""), {method: "POST", body: form});
    const body = await resp.json();
    if (!resp.ok) { system("上传失败"); return; }
    const url = URL.createObjectURL(file);
    bubble("user", file.type.startsWith("video/") ? "🎬 " + escapeHtml(file.name) : `<img alt="图片" src="${url}">`);
    e.target.value = "";
    post({type: WECOM && file.type.startsWith("video/") ? "video" : "image", media_id: body.media_id});
  });
  init();
})();
