// Audit and privacy: the audit log (filter, page, verify, export), the privacy rules, one customer's data
// exported or erased, and the workspace's sealed secrets.
import { api, fill, h, problemLine, t, table, term, when } from "./core.js";

const KINDS = ["phone", "id_number", "bank_card", "email", "address", "name"];

function auditSection(problem) {
  const actor = h("input", { type: "text", placeholder: "user:ann@shop.example", "aria-label": t("audit_actor") });
  const action = h("input", { type: "text", placeholder: "release", "aria-label": t("audit_action") });
  const since = h("input", { type: "date", "aria-label": t("since") });
  const rows = h("div", { class: "scroll" });
  const more = h("button", { type: "button", hidden: true }, t("older"));
  const verdict = h("p", { role: "status" });
  let before = null;

  async function load(append) {
    const query = new URLSearchParams({ limit: "50" });
    if (actor.value.trim()) query.set("actor", actor.value.trim());
    if (action.value.trim()) query.set("action", action.value.trim());
    if (since.value) query.set("since", since.value);
    if (append && before) query.set("before", String(before));
    let page;
    try { page = await api("GET", `/v1/audit?${query}`); problem.show(null); } catch (e) { problem.show(e); return; }
    const shown = page.entries.map(e => [when(e.at), e.actor, e.action, e.target, String(e.outcome), e.source]);
    const body = append ? rows.querySelector("tbody") : null;
    if (body) shown.forEach(cells => body.append(h("tr", {}, cells.map(cell => h("td", {}, cell)))));
    else fill(rows, shown.length ? table([t("time"), t("audit_actor"), t("audit_action"), t("audit_target"), t("audit_outcome"), t("audit_from")], shown) : h("p", { class: "hint" }, t("audit_empty")));
    before = page.next_before;
    more.hidden = before === null;
  }
  more.addEventListener("click", () => load(true));

  async function verify() {
    try {
      const result = await api("GET", "/v1/audit/verify");
      verdict.className = result.ok ? "ok" : "problem";
      verdict.textContent = result.ok ? t("audit_ok", result.entries, result.head.slice(0, 16)) : t("audit_broken", result.broken_at, result.problem);
    } catch (e) { problem.show(e); }
  }

  const section = h("section", {},
    h("h2", {}, t("audit_log")), h("p", { class: "hint" }, t("audit_hint")),
    h("form", { class: "row", onsubmit: event => { event.preventDefault(); load(false); } },
      h("label", {}, t("audit_actor"), actor), h("label", {}, t("audit_action"), action), h("label", {}, t("since"), since),
      h("button", { type: "submit", class: "primary" }, t("filter")),
      h("button", { type: "button", onclick: verify }, t("audit_verify")),
      h("a", { href: "/v1/audit/export?format=csv", download: "zhiwen-audit.csv" }, t("export_csv")),
      h("a", { href: "/v1/audit/export?format=jsonl", download: "zhiwen-audit.jsonl" }, t("export_jsonl"))),
    verdict, rows, more);
  return { section, load: () => load(false) };
}

async function privacySection(problem) {
  let rules;
  try { rules = await api("GET", "/v1/privacy"); } catch (e) { problem.show(e); return h("section"); }
  const stored = h("input", { type: "checkbox", checked: rules.redact_stored });
  const ingested = h("input", { type: "checkbox", checked: rules.redact_ingested });
  const kinds = Object.fromEntries(KINDS.map(kind => [kind, h("input", { type: "checkbox", checked: rules.kinds.includes(kind) })]));
  const days = value => h("input", { type: "number", min: 1, max: 36500, size: 6, value: value === null ? "" : String(value), placeholder: t("keep_forever") });
  const conversations = days(rules.keep_conversations_days);
  const events = days(rules.keep_events_days);
  const status = h("span", { role: "status" });
  async function save(event) {
    event.preventDefault();
    const number = input => (input.value === "" ? null : Number(input.value));
    try {
      await api("PATCH", "/v1/privacy", {
        redact_stored: stored.checked, redact_ingested: ingested.checked,
        kinds: KINDS.filter(kind => kinds[kind].checked),
        keep_conversations_days: number(conversations), keep_events_days: number(events),
      });
      status.textContent = t("settings_saved"); problem.show(null);
    } catch (e) { problem.show(e); status.textContent = ""; }
  }
  async function expire() {
    try {
      const gone = await api("POST", "/v1/privacy/expire");
      status.textContent = t("expired", gone.conversations, gone.answers, gone.events, gone.predictions);
    } catch (e) { problem.show(e); }
  }
  return h("section", {},
    h("h2", {}, t("privacy_rules")), h("p", { class: "hint" }, t("privacy_hint")),
    h("form", { onsubmit: save },
      h("label", { class: "inline" }, stored, t("redact_stored")),
      h("label", { class: "inline" }, ingested, t("redact_ingested")),
      h("fieldset", {}, h("legend", {}, t("pii_kinds")),
        KINDS.map(kind => h("label", { class: "inline" }, kinds[kind], term("pii", kind)))),
      h("div", { class: "row" },
        h("label", {}, t("keep_conversations_days"), conversations),
        h("label", {}, t("keep_events_days"), events)),
      h("div", { class: "row" },
        h("button", { type: "submit", class: "primary" }, t("save")),
        h("button", { type: "button", onclick: expire }, t("expire_now")), status)));
}

function customerSection(problem) {
  const conversations = h("input", { type: "text", placeholder: "conv_…", "aria-label": t("conversation_ids") });
  const contact = h("input", { type: "text", "aria-label": t("customer_contact") });
  const user = h("input", { type: "text", "aria-label": t("customer_user_id") });
  const result = h("div", { "aria-live": "polite" });
  const named = () => ({
    conversation_ids: conversations.value.split(/[\s,]+/).filter(Boolean),
    contact: contact.value.trim() || null, user_id: user.value.trim() || null,
  });
  async function exportData() {
    try {
      const held = await api("POST", "/v1/customers/export", named());
      const file = URL.createObjectURL(new Blob([JSON.stringify(held, null, 2)], { type: "application/json" }));
      fill(result, h("p", {}, t("customer_held", held.conversations.length, held.reviews.length, held.events.length), " ",
        h("a", { href: file, download: "customer.json" }, t("download_json"))));
      problem.show(null);
    } catch (e) { problem.show(e); fill(result); }
  }
  async function erase() {
    if (!confirm(t("confirm_erase"))) return;
    try {
      const erased = await api("POST", "/v1/customers/erase", named());
      const counts = Object.entries(erased.counts).filter(([, n]) => n).map(([what, n]) => `${term("erased", what)} ${n}`).join(" · ");
      fill(result, h("p", {}, t("erased", counts)),
        h("p", { class: erased.remaining.length ? "problem" : "ok" },
          erased.remaining.length ? t("erase_remaining", erased.remaining.join(", ")) : t("erase_checked")));
      problem.show(null);
    } catch (e) { problem.show(e); fill(result); }
  }
  return h("section", {},
    h("h2", {}, t("customer_data")), h("p", { class: "hint" }, t("customer_hint")),
    h("div", { class: "row" },
      h("label", {}, t("conversation_ids"), conversations), h("label", {}, t("customer_contact"), contact),
      h("label", {}, t("customer_user_id"), user)),
    h("div", { class: "row" },
      h("button", { type: "button", onclick: exportData }, t("export_customer")),
      h("button", { type: "button", class: "danger", onclick: erase }, t("erase_customer"))),
    result);
}

function secretsSection(problem) {
  const list = h("div", { class: "scroll" });
  const name = h("input", { type: "text", required: true, pattern: "[A-Z][A-Z0-9_]{0,63}", placeholder: "ORDERS_TOKEN", "aria-label": t("name") });
  const value = h("input", { type: "password", required: true, autocomplete: "off", "aria-label": t("secret_value") });
  async function load() {
    let secrets;
    try { secrets = await api("GET", "/v1/secrets"); } catch (e) { problem.show(e); return; }
    fill(list, secrets.length ? table([t("name"), t("updated"), ""], secrets.map(s => [s.name, when(s.updated_at),
      h("button", { type: "button", class: "danger", onclick: () => remove(s.name) }, t("delete"))])) : h("p", { class: "hint" }, t("no_secrets")));
  }
  async function remove(secret) {
    if (!confirm(t("confirm_delete_secret", secret))) return;
    try { await api("DELETE", `/v1/secrets/${encodeURIComponent(secret)}`); } catch (e) { problem.show(e); }
    load();
  }
  async function put(event) {
    event.preventDefault();
    try {
      await api("PUT", `/v1/secrets/${encodeURIComponent(name.value.trim())}`, { value: value.value });
      name.value = value.value = ""; problem.show(null);
    } catch (e) { problem.show(e); }
    load();
  }
  return { section: h("section", {},
    h("h2", {}, t("secrets")), h("p", { class: "hint" }, t("secrets_hint")),
    h("form", { class: "row", onsubmit: put },
      h("label", {}, t("name"), name), h("label", {}, t("secret_value"), value),
      h("button", { type: "submit", class: "primary" }, t("save"))),
    list), load };
}

export async function trustPage(main) {
  const problem = problemLine();
  const audit = auditSection(problem);
  const secrets = secretsSection(problem);
  main.append(h("h1", {}, t("nav_trust")), problem, audit.section, await privacySection(problem),
    customerSection(problem), secrets.section);
  await Promise.all([audit.load(), secrets.load()]);
}
