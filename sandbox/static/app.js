// The sandbox channel page: plain JS, no build step. Polls /api/state and renders Block Kit.
// Every string from the bot is escaped before it becomes HTML (esc, then mrkdwn markup only).
"use strict";

const POLL_MS = 700;
const page = {
  me: localStorage.getItem("sandbox-user") || "U0ALICE",
  revision: -1,
  data: null,
  thread: null,       // ts of the open thread
  viewKey: null,      // id+hash of the rendered modal, so typing is not lost on re-render
  tab: "channel",     // "channel" or "home" (the app's Home tab)
};

const $ = (id) => document.getElementById(id);

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

// Slack escapes &, < and > in message text; undo that before escaping for HTML.
function unslack(s) {
  return String(s ?? "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function userName(id) {
  const users = (page.data && page.data.users) || {};
  if (users[id]) return users[id];
  if (page.data && id === page.data.bot_user) return "appprofile";
  return id;
}

// `<#C…>` as Slack shows it: the channel's name (the page knows its own channel's).
function channelName(id) {
  const ch = page.data && page.data.channel;
  return ch && ch.id === id ? ch.name : id;
}

function safeUrl(url) {
  return /^(https?:|mailto:)/i.test(url) ? url : null;
}

// One `<...>` token of Slack mrkdwn: mentions, channels, specials and links.
function token(inner) {
  const [target, label] = inner.split("|", 2);
  if (target.startsWith("@")) return `<span class="mention">@${esc(userName(target.slice(1)))}</span>`;
  if (target.startsWith("#")) return `<span class="mention">#${esc(label || channelName(target.slice(1)))}</span>`;
  if (target.startsWith("!")) return `<span class="mention">@${esc(label || target.slice(1).split("^")[0])}</span>`;
  const href = safeUrl(target);
  if (!href) return esc(`<${inner}>`);
  return `<a href="${esc(href)}" target="_blank" rel="noopener noreferrer">${esc(label || target)}</a>`;
}

// Slack's common emoji shortcodes, shown as Slack shows them; unknown ones stay as typed.
const EMOJI = {
  warning: "\u26a0\ufe0f", arrow_up: "\u2b06\ufe0f", arrow_down: "\u2b07\ufe0f", arrow_right: "\u27a1\ufe0f",
  arrow_left: "\u2b05\ufe0f", rotating_light: "\u{1f6a8}", white_check_mark: "\u2705", heavy_check_mark: "\u2714\ufe0f",
  x: "\u274c", no_entry: "\u26d4", no_entry_sign: "\u{1f6ab}", hourglass: "\u231b", hourglass_flowing_sand: "\u23f3",
  lock: "\u{1f512}", unlock: "\u{1f513}", key: "\u{1f511}", rocket: "\u{1f680}", tada: "\u{1f389}", eyes: "\u{1f440}",
  fire: "\u{1f525}", boom: "\u{1f4a5}", bell: "\u{1f514}", information_source: "\u2139\ufe0f", question: "\u2753",
  exclamation: "\u2757", heavy_plus_sign: "\u2795", heavy_minus_sign: "\u2796", wastebasket: "\u{1f5d1}\ufe0f",
  package: "\u{1f4e6}", gear: "\u2699\ufe0f", wrench: "\u{1f527}", hammer_and_wrench: "\u{1f6e0}\ufe0f",
  construction: "\u{1f6a7}", stopwatch: "\u23f1\ufe0f", clock3: "\u{1f552}", repeat: "\u{1f501}",
  arrows_counterclockwise: "\u{1f504}", leftwards_arrow_with_hook: "\u21a9\ufe0f", thumbsup: "\u{1f44d}",
  "+1": "\u{1f44d}", thumbsdown: "\u{1f44e}", "-1": "\u{1f44e}", wave: "\u{1f44b}", memo: "\u{1f4dd}",
  mag: "\u{1f50d}", link: "\u{1f517}", large_green_circle: "\u{1f7e2}", red_circle: "\u{1f534}",
  large_yellow_circle: "\u{1f7e1}", white_circle: "\u26aa", green_heart: "\u{1f49a}", sparkles: "\u2728",
  skull: "\u{1f480}", robot_face: "\u{1f916}", zap: "\u26a1", ship: "\u{1f6a2}", new: "\u{1f195}",
};

function emoji(escaped) {
  return escaped.replace(/:([a-z0-9_+-]+):/g, (whole, name) => EMOJI[name] || whole);
}

function emphasis(escaped) {
  return escaped
    .replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s).,:;!?])/g, "$1<b>$2</b>")
    .replace(/(^|[\s(])_([^_\n]+)_(?=$|[\s).,:;!?])/g, "$1<i>$2</i>")
    .replace(/(^|[\s(])~([^~\n]+)~(?=$|[\s).,:;!?])/g, "$1<s>$2</s>");
}

function inline(text) {
  return text.split(/(`[^`\n]+`)/).map((part, i) => {
    if (i % 2 === 1) return `<code>${esc(part.slice(1, -1))}</code>`;
    return part.split(/<([^<>\s][^<>]*)>/).map((p, j) => (j % 2 === 1 ? token(p) : emoji(emphasis(esc(p))))).join("");
  }).join("");
}

function mrkdwn(raw) {
  const text = unslack(raw);
  return text.split(/```/).map((part, i) => {
    if (i % 2 === 1) return `<pre><code>${esc(part.replace(/^\n/, ""))}</code></pre>`;
    return inline(part);
  }).join("");
}

function textObject(t) {
  if (!t) return "";
  return t.type === "mrkdwn" ? mrkdwn(t.text) : esc(t.text);
}

function richText(block) {
  const elems = (els) => (els || []).map((e) => {
    if (e.type === "text") {
      let s = esc(e.text);
      const st = e.style || {};
      if (st.code) s = `<code>${s}</code>`;
      if (st.bold) s = `<b>${s}</b>`;
      if (st.italic) s = `<i>${s}</i>`;
      return s;
    }
    if (e.type === "user") return `<span class="mention">@${esc(userName(e.user_id))}</span>`;
    if (e.type === "link") {
      const href = safeUrl(e.url);
      return href ? `<a href="${esc(href)}" target="_blank" rel="noopener noreferrer">${esc(e.text || e.url)}</a>` : esc(e.text || e.url);
    }
    if (e.type === "emoji") return esc(e.unicode ? String.fromCodePoint(parseInt(e.unicode, 16)) : `:${e.name}:`);
    return esc(e.text || "");
  }).join("");
  return (block.elements || []).map((sec) => {
    if (sec.type === "rich_text_preformatted") return `<pre><code>${elems(sec.elements)}</code></pre>`;
    if (sec.type === "rich_text_quote") return `<blockquote>${elems(sec.elements)}</blockquote>`;
    if (sec.type === "rich_text_list") {
      const tag = sec.style === "ordered" ? "ol" : "ul";
      return `<${tag}>${(sec.elements || []).map((li) => `<li>${elems(li.elements)}</li>`).join("")}</${tag}>`;
    }
    return `<div>${elems(sec.elements)}</div>`;
  }).join("");
}

// A table block: row 0 is the header; cells are raw_text or rich_text (a person as @name).
function table(block) {
  const wrapped = (block.column_settings || []).map((c) => !!(c && c.is_wrapped));
  const cell = (c) => (c && c.type === "rich_text" ? richText(c) : esc(c && c.text));
  const row = (cells, tag) => `<tr>${(cells || []).map((c, i) => `<${tag}${wrapped[i] ? ' class="wrap"' : ""}>${cell(c)}</${tag}>`).join("")}</tr>`;
  const [head, ...body] = block.rows || [];
  return `<table class="b-table" data-testid="table"><thead>${head ? row(head, "th") : ""}</thead>`
    + `<tbody>${body.map((r) => row(r, "td")).join("")}</tbody></table>`;
}

// Buttons carry where they sit (message ts, ephemeral or not, block and action id) in data-*.
function button(el, where, blockId) {
  const style = el.style === "primary" || el.style === "danger" ? ` ${el.style}` : "";
  const confirm = el.confirm ? ` data-confirm="${esc(JSON.stringify(el.confirm))}"` : "";
  return `<button type="button" class="sbtn${style}" data-ts="${esc(where.ts)}" data-ephemeral="${where.ephemeral ? "1" : ""}" data-home="${where.home ? "1" : ""}"`
    + ` data-block="${esc(blockId || "")}" data-action="${esc(el.action_id)}"${confirm}>${esc(el.text && el.text.text)}</button>`;
}

function renderBlock(b, where, errors) {
  switch (b.type) {
    case "header":
      return `<div class="b-header">${esc(b.text && b.text.text)}</div>`;
    case "section": {
      const fields = b.fields ? `<div class="fields">${b.fields.map((f) => `<div>${textObject(f)}</div>`).join("")}</div>` : "";
      const acc = b.accessory && b.accessory.type === "button" ? button(b.accessory, where, b.block_id) : "";
      return `<div class="b-section"><div class="text">${textObject(b.text)}${fields}</div>${acc}</div>`;
    }
    case "context":
      return `<div class="b-context">${(b.elements || []).filter((e) => e.type !== "image").map((e) => `<span>${textObject(e)}</span>`).join("")}</div>`;
    case "divider":
      return `<hr class="b-divider">`;
    case "actions":
      return `<div class="b-actions">${(b.elements || []).filter((e) => e.type === "button").map((e) => button(e, where, b.block_id)).join("")}</div>`;
    case "rich_text":
      return `<div class="b-rich">${richText(b)}</div>`;
    case "table":
      return `<div class="b-table-wrap">${table(b)}</div>`;
    case "input":
      return renderInput(b, errors || {});
    default:
      return "";
  }
}

function renderInput(b, errors) {
  const el = b.element || {};
  const id = `in-${b.block_id}`;
  const ph = el.placeholder ? ` placeholder="${esc(el.placeholder.text)}"` : "";
  let control;
  if (el.type === "static_select") {
    const initial = el.initial_option ? el.initial_option.value : "";
    const opts = (el.options || []).map((o) => `<option value="${esc(o.value)}"${o.value === initial ? " selected" : ""}>${esc(o.text && o.text.text)}</option>`).join("");
    control = `<select id="${esc(id)}" data-block="${esc(b.block_id)}"><option value=""></option>${opts}</select>`;
  } else if (el.multiline) {
    control = `<textarea id="${esc(id)}" data-block="${esc(b.block_id)}"${ph}>${esc(el.initial_value || "")}</textarea>`;
  } else {
    control = `<input id="${esc(id)}" data-block="${esc(b.block_id)}" value="${esc(el.initial_value || "")}"${ph}>`;
  }
  const err = errors[b.block_id];
  return `<div class="b-input${err ? " has-error" : ""}" data-input="${esc(b.block_id)}">`
    + `<label for="${esc(id)}">${esc(b.label && b.label.text)}${b.optional ? ' <span class="optional">(optional)</span>' : ""}</label>`
    + control
    + (b.hint ? `<div class="hint">${esc(b.hint.text)}</div>` : "")
    + `<div class="input-error" data-testid="input-error">${err ? esc(err) : ""}</div></div>`;
}

function renderBlocks(blocks, where) {
  return (blocks || []).map((b) => renderBlock(b, where)).join("");
}

function renderMessage(m, inThread) {
  const where = { ts: m.ts, ephemeral: !!m.ephemeral };
  const classes = ["msg"];
  if (m.ephemeral) classes.push("ephemeral");
  if (m.sandbox_command) classes.push("command");
  if (m.sandbox_error) classes.push("sandbox-error");
  const bot = !m.sandbox_command && !m.sandbox_error;
  const author = m.sandbox_command ? userName(page.me) : m.sandbox_error ? "sandbox" : "appprofile";
  const head = `<div class="msg-head"><span class="author">${esc(author)}</span>${bot ? '<span class="app-tag">APP</span>' : ""}`
    + (m.ephemeral ? '<span class="only-you">Only visible to you</span>' : "")
    + (m.edit_count > 0 ? `<span class="edited" data-testid="edited">(edited)</span>` : "") + "</div>";
  const body = m.blocks && m.blocks.length ? renderBlocks(m.blocks, where) : `<div class="text">${m.sandbox_command ? esc(m.text) : mrkdwn(m.text)}</div>`;
  const replies = !inThread && m.reply_count > 0
    ? `<button type="button" class="replies-link" data-thread="${esc(m.ts)}">${m.reply_count} ${m.reply_count === 1 ? "reply" : "replies"}</button>` : "";
  return `<div class="${classes.join(" ")}" data-testid="message" data-ts="${esc(m.ts)}" data-edits="${Number(m.edit_count) || 0}">${head}${body}${replies}</div>`;
}

function render() {
  const d = page.data;
  if (!d) return;
  $("channel-name").textContent = d.channel.name;
  const banner = $("banner");
  banner.textContent = d.simulated
    ? `Simulated clusters: ${d.clusters.join(", ")} \u2014 images tagged :nopull or :crash fail on purpose`
    : `Real clusters from KUBECONFIG: ${d.clusters.join(", ")}`;
  banner.classList.toggle("real", !d.simulated);
  const tl = $("timeline");
  const atBottom = tl.scrollHeight - tl.scrollTop - tl.clientHeight < 40;
  const items = d.messages.concat(d.ephemeral).sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
  tl.innerHTML = items.map((m) => renderMessage(m, false)).join("");
  if (atBottom) tl.scrollTop = tl.scrollHeight;
  renderThread();
  renderHome();
  renderModal();
}

// The Home tab: the view the bot published for this person, and what the app said to them.
function renderHome() {
  const d = page.data;
  if (!d) return;
  const home = page.tab === "home";
  $("home").hidden = !home;
  document.querySelector("section.channel").hidden = home;
  if (home) $("thread").hidden = true;
  $("tab-home").classList.toggle("active", home);
  $("tab-channel").classList.toggle("active", !home);
  if (!home) return;
  $("home-view").innerHTML = d.home
    ? renderBlocks(d.home.blocks, { ts: "", ephemeral: false, home: true })
    : '<div class="b-context">Opening your Home\u2026</div>';
  $("home-dm").innerHTML = (d.dm || []).map((m) => renderMessage(m, true)).join("") || '<div class="b-context">Nothing yet.</div>';
}

function openHome() {
  page.tab = "home";
  renderHome();
  post("/api/home", {});
}

function renderThread() {
  const pane = $("thread");
  const parent = page.thread && page.data.messages.find((m) => m.ts === page.thread);
  if (!parent) { pane.hidden = true; return; }
  pane.hidden = false;
  $("thread-body").innerHTML = [parent].concat(parent.replies || []).map((m) => renderMessage(m, true)).join("");
}

function renderModal() {
  const dlg = $("modal");
  const v = page.data.view;
  if (!v) {
    page.viewKey = null;
    if (dlg.open) dlg.close();
    return;
  }
  const key = `${v.id}:${v.hash}`;
  if (key !== page.viewKey) {
    page.viewKey = key;
    $("modal-title").textContent = (v.title && v.title.text) || "";
    $("modal-submit").textContent = (v.submit && v.submit.text) || "Submit";
    $("modal-submit").hidden = !v.submit;
    $("modal-close").textContent = (v.close && v.close.text) || "Close";
    $("modal-body").innerHTML = (v.blocks || []).map((b) => renderBlock(b, { ts: "", ephemeral: false }, v.errors)).join("");
    if (!dlg.open) dlg.showModal();
  }
  // Errors change without a new hash: update them in place, keeping what was typed.
  for (const box of $("modal-body").querySelectorAll("[data-input]")) {
    const err = (v.errors || {})[box.dataset.input] || "";
    box.classList.toggle("has-error", !!err);
    box.querySelector(".input-error").textContent = err;
  }
}

function showError(text) {
  const bar = $("error");
  bar.textContent = text || "";
  bar.hidden = !text;
}

async function post(path, body) {
  try {
    const resp = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user: page.me, ...body }) });
    const result = await resp.json();
    showError(result.error || "");
    page.revision = -1; // fetch at once, whatever changed
    poll(true);
    return result;
  } catch (e) {
    showError(`the sandbox is not reachable (${e})`);
    return { ok: false };
  }
}

let timer = null;
async function poll(once) {
  try {
    const resp = await fetch(`/api/state?user=${encodeURIComponent(page.me)}&since=${page.revision}`);
    const data = await resp.json();
    if (!data.unchanged && data.me === page.me) {
      page.data = data;
      page.revision = data.revision;
      render();
    }
  } catch (e) {
    // The next poll retries; a stopped sandbox shows in the error bar.
    showError("the sandbox is not reachable; is `make run` still running?");
  }
  if (!once) timer = setTimeout(poll, POLL_MS);
}

function askConfirm(c) {
  return new Promise((resolve) => {
    const dlg = $("confirm");
    $("confirm-title").textContent = (c.title && c.title.text) || "Are you sure?";
    $("confirm-text").innerHTML = textObject(c.text);
    $("confirm-ok").textContent = (c.confirm && c.confirm.text) || "Yes";
    $("confirm-deny").textContent = (c.deny && c.deny.text) || "Cancel";
    dlg.addEventListener("close", () => resolve(dlg.returnValue === "confirm"), { once: true });
    dlg.returnValue = "";
    dlg.showModal();
  });
}

document.addEventListener("click", async (ev) => {
  const btn = ev.target.closest("button.sbtn");
  if (btn) {
    if (btn.dataset.confirm && !(await askConfirm(JSON.parse(btn.dataset.confirm)))) return;
    btn.disabled = true;
    await post("/api/action", { ts: btn.dataset.ts, ephemeral: !!btn.dataset.ephemeral, home: !!btn.dataset.home, block_id: btn.dataset.block, action_id: btn.dataset.action });
    return;
  }
  const link = ev.target.closest("button.replies-link");
  if (link) { page.thread = link.dataset.thread; renderThread(); }
});

$("thread-close").addEventListener("click", () => { page.thread = null; renderThread(); });

$("tab-home").addEventListener("click", openHome);
$("tab-channel").addEventListener("click", () => { page.tab = "channel"; if (page.data) render(); });

$("composer").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const box = $("composer-text");
  const text = box.value.trim();
  if (!text) return;
  if (!/^\/appprofile(\s|$)/.test(text)) { showError("only /appprofile commands go to the bot here"); return; }
  box.value = "";
  await post("/api/command", { text });
});

$("composer-text").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("composer").requestSubmit(); }
});

$("modal-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const v = page.data && page.data.view;
  if (!v) return;
  const values = {};
  for (const el of $("modal-body").querySelectorAll("[data-block]")) values[el.dataset.block] = el.value;
  $("modal-submit").disabled = true;
  await post("/api/submit", { view_id: v.id, values });
  $("modal-submit").disabled = false;
});

$("modal-close").addEventListener("click", () => {
  const v = page.data && page.data.view;
  if (v) post("/api/close", { view_id: v.id });
  $("modal").close();
});

$("modal").addEventListener("cancel", (ev) => { ev.preventDefault(); $("modal-close").click(); });

const switcher = $("user-switch");
switcher.value = page.me;
switcher.addEventListener("change", () => {
  page.me = switcher.value;
  localStorage.setItem("sandbox-user", page.me);
  page.revision = -1;
  page.viewKey = null;
  page.thread = null;
  if (page.tab === "home") openHome(); else poll(true);
});

poll(false);
