// Conversations read back: filter by handoff, dislike, low confidence, language and date; open one to see
// every turn with its confidence and passages, and turn a question and reply into a curated answer.
import { api, fill, h, number, problemLine, t, table, term, when } from "./core.js";

const PAGE_SIZE = 50;

/** The day after ``day`` (YYYY-MM-DD), for an "until" that includes its day. */
function nextDay(day) {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + 1);
  return date.toISOString().slice(0, 10);
}

export async function conversationsPage(main) {
  const problem = problemLine();
  const handedOff = choice("handed_off_filter", [["", t("any")], ["true", t("yes")], ["false", t("no")]]);
  const disliked = choice("disliked_filter", [["", t("any")], ["true", t("yes")]]);
  const language = choice("language_label", [["", t("any")], ["zh", "中文"], ["en", "English"]]);
  const below = h("input", { type: "number", min: 0, max: 1, step: 0.05, "aria-label": t("confidence_below") });
  const since = h("input", { type: "date", "aria-label": t("since") });
  const until = h("input", { type: "date", "aria-label": t("until") });
  const listing = h("div", { class: "scroll" });
  const detail = h("section", { "aria-live": "polite" });

  let offset = 0;
  async function load() {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(offset) });
    if (handedOff.value) query.set("handed_off", handedOff.value);
    if (disliked.value) query.set("disliked", disliked.value);
    if (language.value) query.set("language", language.value);
    if (below.value) query.set("confidence_below", below.value);
    if (since.value) query.set("since", since.value);
    if (until.value) query.set("until", nextDay(until.value));  // the page's "until" includes its day
    let found;
    try { found = await api("GET", `/v1/desk/conversations?${query}`); problem.show(null); } catch (e) { problem.show(e); return; }
    const paging = h("div", { class: "row" },
      h("button", { type: "button", disabled: offset === 0, onclick: () => { offset -= PAGE_SIZE; load(); } }, t("previous")),
      h("button", { type: "button", disabled: found.length < PAGE_SIZE, onclick: () => { offset += PAGE_SIZE; load(); } }, t("next")));
    fill(listing, found.length ? table(
      [t("started"), t("status"), t("language_label"), t("turns"), t("lowest_confidence"), t("dislikes"), t("rating"), t("last_message")],
      found.map(c => [
        h("button", { type: "button", class: "link", onclick: () => open(c.id) }, when(c.created_at)),
        [h("span", { class: "badge" + (c.reason ? " warn" : "") }, term("status", c.status)), c.reason ? term("reason", c.reason) : ""],
        c.language, String(c.turns), number(c.lowest_confidence, 2), String(c.dislikes),
        c.rating === null ? "–" : "★".repeat(c.rating), c.last_message.slice(0, 40),
      ])) : h("p", { class: "hint" }, t("nothing_found")), offset > 0 || found.length === PAGE_SIZE ? paging : null);
  }

  async function open(id) {
    let context;
    try { context = await api("GET", `/v1/desk/conversations/${id}`); } catch (e) { problem.show(e); return; }
    const messages = context.messages;
    const log = h("div", { class: "log" }, messages.map((m, i) => {
      const answer = m.answer_id && context.answers[m.answer_id];
      const node = h("div", { class: `msg ${m.author}` },
        h("small", {}, `${term("author", m.author)}${m.author_name ? " " + m.author_name : ""} · ${when(m.created_at)}`),
        m.text);
      if (answer) {
        node.append(h("small", {}, `${t("confidence")} ${number(answer.confidence, 2)} · ${answer.mode}`));
        for (const p of answer.passages || []) node.append(h("small", {}, `· ${p.document_title}: ${(p.snippet || "").slice(0, 120)}`));
      }
      if (m.author === "customer") {
        const reply = messages.slice(i + 1).find(n => n.author === "agent" || n.author === "bot");
        node.append(h("div", {}, h("button", { type: "button", onclick: () => curate(node, m.text, reply ? reply.text : "") }, t("make_curated"))));
      }
      return node;
    }));
    fill(detail, h("h2", {}, t("conversation_n", id)), log);
    detail.scrollIntoView();
  }

  function curate(node, question, reply) {
    const q = h("input", { type: "text", value: question, maxlength: 1000, "aria-label": t("question") });
    const a = h("textarea", { rows: 3, maxlength: 4000, "aria-label": t("answer") });
    a.value = reply;
    const status = h("span", { role: "status" });
    const form = h("form", { class: "group", onsubmit: async event => {
      event.preventDefault();
      try { await api("POST", "/v1/curated", { question: q.value.trim(), answer: a.value.trim() }); status.textContent = t("curated_saved"); form.querySelector("button").disabled = true; } catch (e) { status.textContent = e.message; }
    } }, h("label", {}, t("question"), q), h("label", {}, t("answer"), a), h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, t("save_curated")), status));
    node.append(form);
    a.focus();
  }

  for (const input of [handedOff, disliked, language, below, since, until]) input.addEventListener("change", () => { offset = 0; load(); });
  main.append(
    h("h1", {}, t("nav_conversations")),
    h("p", { class: "hint" }, t("conversations_hint")),
    h("div", { class: "row" },
      h("label", {}, t("handed_off_filter"), handedOff), h("label", {}, t("disliked_filter"), disliked),
      h("label", {}, t("confidence_below"), below), h("label", {}, t("language_label"), language),
      h("label", {}, t("since"), since), h("label", {}, t("until"), until)),
    problem,
    h("div", { class: "split list-first" }, listing, detail));
  await load();
}

function choice(label, options) {
  return h("select", { "aria-label": t(label) }, options.map(([value, text]) => h("option", { value }, text)));
}
