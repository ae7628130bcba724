/* Zhiwen chat widget. Put it on any page:
 *   <script src="https://HOST/widget.js" data-key="zw_pub_…" async></script>
 * Optional: data-lang="zh|en" (default: the browser's), data-title="…". Colour, corner and title are
 * otherwise the workspace's (desk settings "look", set in the admin console).
 * It lives in a shadow root (the page's styles cannot break it, its own cannot leak), writes every text
 * with textContent (a message can never become markup), and keeps the visitor's conversation across
 * reloads in localStorage. Messages arrive on one event stream that resumes from the last id seen. */
(function () {
  "use strict";
  const script = document.currentScript;
  if (!script || !script.dataset.key) { console.error("zhiwen widget: add data-key=\"zw_pub_…\" to the script tag"); return; }
  const API = new URL(script.src).origin;
  const KEY = script.dataset.key;
  const STORE = "zhiwen:" + KEY.slice(0, 14);
  const TEXT = {
    zh: { open: "在线客服", close: "关闭", send: "发送", placeholder: "请输入您的问题…", human: "转人工",
      title: "智能客服", sources: "来源", helpful: "有帮助", unhelpful: "没帮助", thanks: "谢谢反馈！",
      waiting: (s) => s.expected_wait_minutes ? `排队中：第 ${s.position} 位，预计 ${s.expected_wait_minutes} 分钟` : "已留言，客服上线后回复您",
      open: (s) => `客服 ${s.assignee_name || ""} 正在为您服务`, resolved: "本次服务已结束",
      contact: "手机或邮箱", leave: "留下联系方式", rate: "为本次服务打分", comment: "想说点什么？（可选）",
      rated: "感谢您的评价！", offline: "暂时连接不上客服系统，请稍后再试。", switchTo: "EN",
      photo: "发照片", aboutPhoto: "请看这张照片", photoTooBig: "照片超过 8 MB，请换一张小一点的。", inPhoto: "照片里看起来是：" },
    en: { open: "Chat with us", close: "Close", send: "Send", placeholder: "Type your question…", human: "Talk to a person",
      title: "Customer service", sources: "Sources", helpful: "Helpful", unhelpful: "Not helpful", thanks: "Thanks!",
      waiting: (s) => s.expected_wait_minutes ? `In the queue: number ${s.position}, about ${s.expected_wait_minutes} min` : "Message left; we reply when someone is back",
      open: (s) => `${s.assignee_name || "An agent"} is helping you`, resolved: "This conversation is closed",
      contact: "Phone or e-mail", leave: "Leave contact", rate: "Rate this conversation", comment: "Anything to add? (optional)",
      rated: "Thank you for rating us!", offline: "Cannot reach customer service right now; please try again later.", switchTo: "中文",
      photo: "Photo", aboutPhoto: "Please look at this photo", photoTooBig: "The photo is over 8 MB; please send a smaller one.", inPhoto: "Your photo looks like: " },
  };
  let lang = (navigator.language || "zh").toLowerCase().startsWith("zh") ? "zh" : "en";
  if (script.dataset.lang === "en" || script.dataset.lang === "zh") lang = script.dataset.lang;
  let saved = {};
  try { saved = JSON.parse(localStorage.getItem(STORE) || "{}"); } catch (e) { saved = {}; }
  if (saved.lang) lang = saved.lang;
  let config = null, lastId = 0, stream = null, state = null;
  const shown = new Set();

  const host = document.createElement("div");
  host.setAttribute("data-zhiwen-widget", "");
  host.style.setProperty("--accent", "#0b6e4f");
  const root = host.attachShadow({ mode: "open" });
  root.innerHTML = `<style>
    :host { all: initial; }
    :host([data-position="left"]) .launcher, :host([data-position="left"]) .panel { right: auto; left: 20px; }
    * { box-sizing: border-box; font: 15px/1.5 system-ui, "Noto Sans CJK SC", "PingFang SC", sans-serif; }
    .launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; border: 0; border-radius: 28px;
      padding: 12px 20px; background: var(--accent); color: #fff; cursor: pointer; box-shadow: 0 4px 14px #0004; }
    .launcher:focus-visible, button:focus-visible, textarea:focus-visible, input:focus-visible { outline: 3px solid #f0b400; outline-offset: 2px; }
    .panel { position: fixed; right: 20px; bottom: 84px; z-index: 2147483000; width: 370px; max-width: calc(100vw - 24px);
      height: 560px; max-height: calc(100vh - 110px); background: #fff; color: #1c1e21; border-radius: 14px;
      box-shadow: 0 8px 30px #0005; display: flex; flex-direction: column; overflow: hidden; }
    .panel[hidden] { display: none; }
    header { background: var(--accent); color: #fff; padding: 10px 12px; display: flex; gap: 8px; align-items: center; }
    header h2 { flex: 1; margin: 0; font-size: 16px; font-weight: 600; }
    header button { background: transparent; color: #fff; border: 1px solid #fff8; border-radius: 6px; cursor: pointer; padding: 2px 8px; }
    .status { font-size: 13px; padding: 6px 12px; background: #fff6df; color: #5a4500; }
    .status:empty { display: none; }
    .log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 10px; background: #f6f7f9; }
    .msg { padding: 8px 12px; border-radius: 12px; max-width: 88%; white-space: pre-wrap; word-break: break-word; }
    .customer { align-self: flex-end; background: var(--accent); color: #fff; }
    .bot, .agent, .system { align-self: flex-start; background: #fff; box-shadow: 0 1px 2px #0002; }
    .agent { border-left: 4px solid #2563eb; }
    .system { background: transparent; box-shadow: none; color: #556; font-size: 13px; align-self: center; text-align: center; }
    .who { display: block; font-size: 12px; color: #2563eb; margin-bottom: 2px; }
    .cites { margin: 6px 0 0; padding-left: 18px; font-size: 13px; color: #334; }
    .cites summary { cursor: pointer; text-decoration: underline; }
    .cites p { margin: 4px 0; white-space: pre-wrap; }
    .row { display: flex; gap: 6px; margin-top: 6px; flex-wrap: wrap; align-items: center; font-size: 13px; color: #667; }
    .row button, .chips button { border: 1px solid #ccd; background: #fff; border-radius: 14px; padding: 2px 10px; cursor: pointer; color: #1c1e21; }
    .chips { display: flex; flex-wrap: wrap; gap: 6px; }
    .stars button { font-size: 20px; border: 0; background: none; cursor: pointer; color: #c9a400; padding: 0 2px; }
    form { display: flex; gap: 6px; padding: 8px; border-top: 1px solid #e3e5e8; }
    textarea { flex: 1; resize: none; border: 1px solid #ccd; border-radius: 10px; padding: 8px; }
    form button { border: 0; border-radius: 10px; background: var(--accent); color: #fff; padding: 0 14px; cursor: pointer; }
    .human, .photo { background: #fff; color: var(--accent); border: 1px solid var(--accent); }
    input { border: 1px solid #ccd; border-radius: 8px; padding: 4px 6px; flex: 1; min-width: 120px; }
    @media (max-width: 480px) { .panel, :host([data-position="left"]) .panel { right: 0; left: 0; bottom: 0; width: 100vw; max-width: 100vw; height: 100vh; max-height: 100vh; border-radius: 0; } }
  </style>
  <button class="launcher" type="button" aria-haspopup="dialog" aria-expanded="false"></button>
  <section class="panel" role="dialog" aria-modal="false" hidden>
    <header><h2 class="title"></h2><button type="button" class="lang"></button><button type="button" class="close"></button></header>
    <div class="status" role="status" aria-live="polite"></div>
    <div class="log" aria-live="polite" aria-relevant="additions"></div>
    <form><textarea rows="2" maxlength="4000" required></textarea><button type="submit" class="send"></button><button type="button" class="photo"></button><input type="file" class="photo-file" accept="image/*" hidden><button type="button" class="human"></button></form>
  </section>`;
  const $ = (selector) => root.querySelector(selector);
  const panel = $(".panel"), log = $(".log"), box = $("textarea"), launcher = $(".launcher");

  function words() { return TEXT[lang]; }
  function remember() { localStorage.setItem(STORE, JSON.stringify(saved)); }
  function title() {
    const look = (config && config.look) || {};
    return script.dataset.title || (look.title && look.title[lang]) || words().title;
  }
  function label() {
    const w = words();
    launcher.textContent = w.open; $(".title").textContent = title();
    $(".close").textContent = "×"; $(".close").setAttribute("aria-label", w.close);
    $(".lang").textContent = w.switchTo; $(".send").textContent = w.send; $(".human").textContent = w.human;
    $(".photo").textContent = w.photo; $(".photo-file").setAttribute("aria-label", w.photo);
    box.placeholder = w.placeholder; box.setAttribute("aria-label", w.placeholder);
    panel.setAttribute("aria-label", title());
  }

  async function call(method, path, body) {
    const headers = { "Authorization": "Bearer " + KEY };
    if (saved.visitor) headers["X-Visitor-Token"] = saved.visitor;
    if (body) headers["Content-Type"] = "application/json";
    const response = await fetch(API + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error((data.error && data.error.message) || response.statusText);
    return data;
  }

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // The server's copy of a message the customer sent is matched to the echo shown when it was sent;
  // with a photo, the server's text is the typed text followed by what was read in the photo.
  function isEcho(node, message) {
    const typed = node.dataset.pending;
    return typed === message.text || (node.dataset.photo === "1" && message.text.startsWith(typed));
  }

  // ``photo``: the customer's own message carried a photo (its echo gets 📷).
  function add(message, photo) {
    if (message.id && shown.has(message.id)) return;
    if (message.id) { shown.add(message.id); lastId = Math.max(lastId, message.id); }
    if (message.id && message.author === "customer") {
      const echo = [...log.querySelectorAll(".customer[data-pending]")].find((n) => isEcho(n, message));
      if (echo) { delete echo.dataset.pending; delete echo.dataset.photo; return; }
    }
    const node = el("div", "msg " + message.author);
    if (!message.id && message.author === "customer") {
      node.dataset.pending = message.text;
      if (photo) node.dataset.photo = "1";
    }
    if (message.author === "agent") node.appendChild(el("span", "who", message.author_name));
    node.appendChild(document.createTextNode(photo ? `${message.text} 📷` : message.text));
    if (message.citations && message.citations.length) {
      const list = el("ol", "cites");
      list.setAttribute("aria-label", words().sources);
      for (const c of message.citations) {
        const item = el("li"); item.value = c.number;
        const details = el("details");
        details.append(el("summary", "", c.document_title), el("p", "", c.snippet));
        item.appendChild(details); list.appendChild(item);
      }
      node.appendChild(list);
    }
    if (message.author === "bot" && message.answer_id && message.citations && message.citations.length) {
      node.appendChild(feedback(message.answer_id));
    }
    log.appendChild(node);
    log.scrollTop = log.scrollHeight;
  }

  function feedback(answerId) {
    const row = el("div", "row");
    for (const [rating, text] of [["like", "👍 " + words().helpful], ["dislike", "👎 " + words().unhelpful]]) {
      const b = el("button", "rate-" + rating, text); b.type = "button";
      b.addEventListener("click", () => call("POST", "/v1/feedback", { answer_id: answerId, rating })
        .then(() => { row.textContent = words().thanks; }).catch((e) => { row.textContent = e.message; }));
      row.appendChild(b);
    }
    return row;
  }

  function showState(next) {
    state = next;
    const w = words(), status = $(".status");
    status.textContent = next.status === "waiting" ? w.waiting(next) : next.status === "open" ? w.open(next) : "";
    const old = root.querySelector(".contact, .rating");
    if (old && !(next.status === "resolved" && old.classList.contains("rating"))) old.remove();
    if (next.status === "waiting" && !next.expected_wait_minutes && !saved.contactLeft) log.appendChild(contactForm());
    if (next.status === "resolved" && !root.querySelector(".rating") && saved.rated !== saved.conversation) log.appendChild(ratingForm());
  }

  function contactForm() {
    const row = el("div", "row contact");
    const input = el("input"); input.maxLength = 200; input.placeholder = words().contact; input.setAttribute("aria-label", words().contact);
    const b = el("button", "", words().leave); b.type = "button";
    b.addEventListener("click", () => {
      if (!input.value.trim()) { input.focus(); return; }
      call("POST", `/v1/conversations/${saved.conversation}/human`, { contact: input.value.trim() })
        .then(() => { saved.contactLeft = true; remember(); row.remove(); }).catch((e) => { row.textContent = e.message; });
    });
    row.append(input, b);
    return row;
  }

  function ratingForm() {
    const row = el("div", "row rating");
    row.appendChild(el("span", "", words().rate));
    const stars = el("div", "stars"); stars.setAttribute("role", "group"); stars.setAttribute("aria-label", words().rate);
    const comment = el("input"); comment.maxLength = 2000; comment.placeholder = words().comment; comment.setAttribute("aria-label", words().comment);
    for (let score = 1; score <= 5; score++) {
      const b = el("button", "star", "★"); b.type = "button"; b.dataset.score = String(score);
      b.setAttribute("aria-label", `${score} / 5`);
      b.addEventListener("click", () => call("POST", `/v1/conversations/${saved.conversation}/rating`, { score, comment: comment.value.trim() })
        .then(() => { saved.rated = saved.conversation; remember(); row.textContent = words().rated; })
        .catch((e) => { row.textContent = e.message; }));
      stars.appendChild(b);
    }
    row.append(stars, comment);
    return row;
  }

  function welcome() {
    if (!config) return;
    add({ author: "bot", text: config.welcome[lang] || config.welcome.zh });
    const questions = (config.suggestions && config.suggestions[lang]) || [];
    if (!questions.length) return;
    const chips = el("div", "chips");
    for (const q of questions) {
      const b = el("button", "", q); b.type = "button";
      b.addEventListener("click", () => { chips.remove(); send(q); });
      chips.appendChild(b);
    }
    log.appendChild(chips);
  }

  async function ensureConversation() {
    if (saved.conversation) return saved.conversation;
    const started = await call("POST", `/v1/conversations?language=${lang}`);
    saved.conversation = started.conversation_id;
    saved.visitor = started.visitor_token || saved.visitor;
    remember();
    listen();
    return saved.conversation;
  }

  // Server-sent events from a fetch response: onEvent(name, data) for each complete event.
  async function readEvents(response, onEvent) {
    const reader = response.body.getReader(), decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
        const event = (block.match(/^event: ?(.*)$/m) || [])[1];
        const data = block.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) => l.replace(/^data: ?/, "")).join("\n");
        if (data) onEvent(event, JSON.parse(data));
      }
    }
  }

  // The bot's reply streams into a draft bubble as it is written; the final turn replaces it.
  // ``image``: a photo as a data: URL; its text is read by the server and joins the message.
  async function send(text, image) {
    let draft = null;
    try {
      const id = await ensureConversation();
      add({ author: "customer", text }, Boolean(image));
      const headers = { "Authorization": "Bearer " + KEY, "Content-Type": "application/json", "X-Visitor-Token": saved.visitor || "" };
      const body = image ? { text, stream: true, image } : { text, stream: true };
      const response = await fetch(`${API}/v1/conversations/${id}/messages`, { method: "POST", headers, body: JSON.stringify(body) });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        throw new Error((body.error && body.error.message) || response.statusText);
      }
      await readEvents(response, (event, data) => {
        if (event === "delta") {
          if (!draft) { draft = el("div", "msg bot draft"); log.appendChild(draft); }
          draft.textContent += data.text;
          log.scrollTop = log.scrollHeight;
        }
        if (event === "turn") {
          if (draft) { draft.remove(); draft = null; }
          // The product the answer assumed the photo shows: said, so a customer who sent another can say so.
          const product = data.answer && data.answer.product_in_photo;
          if (product) add({ author: "system", text: words().inPhoto + product });
          for (const m of data.messages) add(m);
          showState(data.state);
        }
      });
    } catch (e) {
      if (draft) draft.remove();
      add({ author: "system", text: e.message || words().offline });
    }
  }

  async function human() {
    try {
      const id = await ensureConversation();
      const turn = await call("POST", `/v1/conversations/${id}/human`, {});
      for (const m of turn.messages) add(m);
      showState(turn.state);
    } catch (e) { add({ author: "system", text: e.message || words().offline }); }
  }

  // One event stream per conversation (fetch, so the key travels in a header, never in the URL).
  async function listen() {
    if (stream || !saved.conversation) return;
    stream = new AbortController();
    let delay = 1000;
    for (;;) {
      try {
        const headers = { "Authorization": "Bearer " + KEY, "X-Visitor-Token": saved.visitor || "", "Last-Event-ID": String(lastId) };
        const response = await fetch(`${API}/v1/conversations/${saved.conversation}/events`, { headers, signal: stream.signal });
        if (response.status === 404) { forget(); return; }
        if (!response.ok) throw new Error(response.statusText);
        delay = 1000;
        await readEvents(response, (event, data) => {
          if (event === "message") add(data);
          if (event === "state") showState(data);
        });
      } catch (e) {
        if (stream.signal.aborted) return;
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 30000);
    }
  }

  function forget() {
    saved = { lang }; remember();
    if (stream) stream.abort();
    stream = null;
  }

  async function restore() {
    if (!saved.conversation) { welcome(); return; }
    try {
      const turn = await call("GET", `/v1/conversations/${saved.conversation}`);
      if (!turn.messages.length) welcome();
      for (const m of turn.messages) add(m);
      showState(turn.state);
      listen();
    } catch (e) { forget(); welcome(); }
  }

  // The workspace's look (colour, corner, title) comes with the widget's configuration, read once per page.
  async function configure() {
    try { config = await call("GET", "/v1/widget/config"); } catch (e) { return; }
    const look = config.look || {};
    if (look.color) host.style.setProperty("--accent", look.color);
    host.dataset.position = look.position === "left" ? "left" : "right";
    label();
  }

  let opened = false;
  async function toggle(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    saved.open = open; remember();
    if (open) {
      box.focus();
      if (!opened) {
        opened = true;
        if (!config) await configure();
        if (!config) { add({ author: "system", text: words().offline }); return; }
        await restore();
      }
    } else { launcher.focus(); }
  }

  launcher.addEventListener("click", () => toggle(panel.hidden));
  $(".close").addEventListener("click", () => toggle(false));
  root.addEventListener("keydown", (e) => { if (e.key === "Escape" && !panel.hidden) toggle(false); });
  $(".lang").addEventListener("click", () => { lang = lang === "zh" ? "en" : "zh"; saved.lang = lang; remember(); label(); });
  $(".human").addEventListener("click", human);
  $(".photo").addEventListener("click", () => $(".photo-file").click());
  $(".photo-file").addEventListener("change", () => {
    const file = $(".photo-file").files[0];
    $(".photo-file").value = "";
    if (!file) return;
    if (file.size > 8 * 1024 * 1024) { add({ author: "system", text: words().photoTooBig }); return; }
    const reader = new FileReader();
    reader.onload = () => {
      const text = box.value.trim() || words().aboutPhoto;
      box.value = "";
      send(text, reader.result);
    };
    reader.readAsDataURL(file);
  });
  $("form").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = box.value.trim();
    if (!text) return;
    box.value = "";
    send(text);
  });
  box.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $(".send").click(); } });
  label();
  (document.body || document.documentElement).appendChild(host);
  configure().then(() => { if (saved.open) toggle(true); });
})();
