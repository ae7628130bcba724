// Settings: how questions are answered, what the chat widget says first; people and API keys.
import { api, fill, h, problemLine, t, table, term, when } from "./core.js";

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const FITTED_MODELS = ["confidence_model", "choice_model", "reranker"];  // shown, changed by tuning only
const OWN_SECTIONS = ["synonyms"];  // edited in a section of their own

// Synonyms as lines "白金会员, 白金卡 = 铂金卡": the customers' words, then the documents' word.
function synonymLines(synonyms) {
  const byWritten = {};
  for (const [said, written] of Object.entries(synonyms)) (byWritten[written] ||= []).push(said);
  return Object.entries(byWritten).map(([written, said]) => `${said.join(", ")} = ${written}`).join("\n");
}
function synonymsOf(text) {
  const found = {};
  text.split("\n").map(line => line.trim()).filter(Boolean).forEach((line, i) => {
    const [said, written, extra] = line.split("=").map(part => part.trim());
    if (!said || !written || extra !== undefined) throw new Error(t("synonym_line", i + 1, line));
    for (const word of said.split(/[,，、|]/).map(w => w.trim()).filter(Boolean)) found[word] = written;
  });
  return found;
}

export async function settingsPage(main) {
  const problem = problemLine();
  let answer, desk, synonyms;
  try { [answer, desk, synonyms] = await Promise.all([api("GET", "/v1/settings"), api("GET", "/v1/desk/settings"), api("GET", "/v1/synonyms")]); } catch (e) { problem.show(e); main.append(problem); return; }

  // Answer settings: the plain values are editable; fitted models are shown, not edited.
  const inputs = {};
  const rows = Object.entries(answer).filter(([name]) => !OWN_SECTIONS.includes(name)).map(([name, value]) => {
    if (FITTED_MODELS.includes(name)) return [name, typeof value === "string" ? value : JSON.stringify(value), t("setting_model")];
    const input = name === "retrieval_mode"
      ? h("select", { "aria-label": name }, ["hybrid", "keyword", "vector"].map(m => h("option", { value: m }, m)))
      : h("input", { type: "text", value: value === null ? "" : String(value), "aria-label": name, size: 8 });
    input.value = value === null ? "" : String(value);
    inputs[name] = input;
    return [name, input, term("setting", name)];
  });
  const answerStatus = h("span", { role: "status" });
  async function saveAnswer(event) {
    event.preventDefault();
    const changes = {};
    for (const [name, input] of Object.entries(inputs)) if (input.value !== String(answer[name] ?? "")) changes[name] = input.value;
    if (!Object.keys(changes).length) { answerStatus.textContent = t("nothing_changed"); return; }
    try { answer = await api("PATCH", "/v1/settings", changes); answerStatus.textContent = t("settings_saved"); problem.show(null); } catch (e) { problem.show(e); answerStatus.textContent = ""; }
  }

  // Synonyms: what customers say for what the documents name otherwise.
  const synonymArea = h("textarea", { rows: 6, "aria-label": t("synonyms"), placeholder: "白金会员, 白金卡 = 铂金卡\npostage = shipping" });
  synonymArea.value = synonymLines(synonyms.synonyms);
  const synonymStatus = h("span", { role: "status" });
  const synonymWarnings = h("ul", { class: "hint", "aria-live": "polite" });
  async function saveSynonyms(event) {
    event.preventDefault();
    try {
      const saved = await api("PUT", "/v1/synonyms", { synonyms: synonymsOf(synonymArea.value) });
      synonymArea.value = synonymLines(saved.synonyms);
      synonymStatus.textContent = t("synonyms_saved", Object.keys(saved.synonyms).length)
        + (saved.live_release === null ? "" : " · " + t("next_release_after", saved.live_release));
      fill(synonymWarnings, saved.warnings.map(w => h("li", {}, w)));
      problem.show(null);
    } catch (e) { problem.show(e); synonymStatus.textContent = ""; }
  }

  // The widget's first words: welcome and suggested questions per language.
  const welcome = {}, suggestions = {};
  for (const lang of ["zh", "en"]) {
    welcome[lang] = h("textarea", { rows: 2, maxlength: 2000, "aria-label": `${t("welcome")} (${lang})` });
    welcome[lang].value = (desk.welcome || {})[lang] || "";
    suggestions[lang] = h("textarea", { rows: 3, "aria-label": `${t("suggestions")} (${lang})` });
    suggestions[lang].value = ((desk.suggestions || {})[lang] || []).join("\n");
  }
  const look = desk.look || { color: "#0b6e4f", position: "right", title: {} };
  const colour = h("input", { type: "color", value: look.color, "aria-label": t("widget_colour") });
  const corner = h("select", { "aria-label": t("widget_corner") }, ["right", "left"].map(c => h("option", { value: c }, term("corner", c))));
  corner.value = look.position;
  const titles = Object.fromEntries(["zh", "en"].map(lang => [lang, h("input", { type: "text", maxlength: 40,
    value: (look.title || {})[lang] || "", "aria-label": `${t("widget_title")} (${lang})` })]));
  const failed = h("input", { type: "number", min: 0, max: 20, value: String(desk.failed_answers ?? 2), "aria-label": t("failed_answers") });
  // Business hours: a time zone and a span per day; an empty day is closed, no hours at all is always open.
  const hours = desk.hours || { timezone: "Asia/Shanghai", weekly: {} };
  const zone = h("input", { type: "text", value: hours.timezone, maxlength: 64, "aria-label": t("timezone") });
  const days = Object.fromEntries(DAYS.map(day => [day, h("input", { type: "text", size: 11, placeholder: "09:00-18:00",
    value: hours.weekly[day] || "", "aria-label": term("day", day) })]));
  const deskStatus = h("span", { role: "status" });
  async function saveDesk(event) {
    event.preventDefault();
    const lines = area => area.value.split("\n").map(s => s.trim()).filter(Boolean);
    const body = { ...desk,
      welcome: { zh: welcome.zh.value.trim(), en: welcome.en.value.trim() },
      suggestions: { zh: lines(suggestions.zh), en: lines(suggestions.en) },
      failed_answers: Number(failed.value),
      look: { color: colour.value, position: corner.value,
        title: Object.fromEntries(["zh", "en"].filter(lang => titles[lang].value.trim()).map(lang => [lang, titles[lang].value.trim()])) } };
    const weekly = Object.fromEntries(DAYS.filter(day => days[day].value.trim()).map(day => [day, days[day].value.trim()]));
    body.hours = Object.keys(weekly).length ? { timezone: zone.value.trim(), weekly } : null;
    if (body.hours === null) delete body.hours;
    try { desk = await api("PUT", "/v1/desk/settings", body); deskStatus.textContent = t("settings_saved"); problem.show(null); } catch (e) { problem.show(e); deskStatus.textContent = ""; }
  }

  const backendList = h("div", { class: "scroll", "aria-live": "polite" });
  async function showBackends(method, path) {
    let found;
    try { found = await api(method, path); } catch (e) { problem.show(e); return; }
    fill(backendList, table([t("used_for"), t("kind"), t("model"), "URL", t("status")], found.map(b => [
      term("backend", b.role), b.kind, b.model || "–", b.url || t("in_process"),
      b.ok === null ? "–" : b.ok ? h("span", { class: "badge good" }, `OK · ${b.ms} ms`) : h("span", { class: "badge bad" }, b.error)])));
  }
  const checkBackends = () => showBackends("POST", "/v1/backends/check");

  main.append(
    h("h1", {}, t("nav_settings")), problem,
    h("h2", {}, t("answer_settings")), h("p", { class: "hint" }, t("answer_settings_hint")),
    h("form", { onsubmit: saveAnswer },
      h("div", { class: "scroll" }, table([t("setting"), t("value"), t("meaning")], rows)),
      h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, t("save")), answerStatus)),
    h("h2", {}, t("synonyms")), h("p", { class: "hint" }, t("synonyms_hint")),
    h("form", { onsubmit: saveSynonyms }, synonymArea,
      h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, t("save")), synonymStatus), synonymWarnings),
    h("h2", {}, t("widget_settings")),
    h("form", { onsubmit: saveDesk },
      h("div", { class: "split" },
        h("label", {}, `${t("welcome")} (中文)`, welcome.zh), h("label", {}, `${t("welcome")} (English)`, welcome.en),
        h("label", {}, `${t("suggestions")} (中文)`, suggestions.zh), h("label", {}, `${t("suggestions")} (English)`, suggestions.en)),
      h("div", { class: "row" },
        h("label", {}, t("widget_colour"), colour), h("label", {}, t("widget_corner"), corner),
        h("label", {}, `${t("widget_title")} (中文)`, titles.zh), h("label", {}, `${t("widget_title")} (English)`, titles.en)),
      h("h2", {}, t("business_hours")), h("p", { class: "hint" }, t("business_hours_hint")),
      h("div", { class: "row" }, h("label", {}, t("timezone"), zone), DAYS.map(day => h("label", {}, term("day", day), days[day]))),
      h("div", { class: "row" }, h("label", {}, t("failed_answers"), failed), h("button", { type: "submit", class: "primary" }, t("save")), deskStatus)),
    h("h2", {}, t("backends")), h("p", { class: "hint" }, t("backends_hint")),
    backendList, h("button", { type: "button", onclick: checkBackends }, t("test_connection")));
  await showBackends("GET", "/v1/backends");
}

export async function peoplePage(main) {
  const problem = problemLine();
  const workspace = h("div", { class: "scroll" });
  const users = h("div", { class: "scroll" });
  const keys = h("div", { class: "scroll" });
  const secret = h("div", { "aria-live": "polite" });

  async function load() {
    let people, issued, here;
    try { [people, issued, here] = await Promise.all([api("GET", "/v1/users"), api("GET", "/v1/keys"), api("GET", "/v1/workspace")]); } catch (e) { problem.show(e); return; }
    fill(workspace, table([t("workspace"), t("documents"), t("chunks"), t("releases_count"), t("users"), t("api_keys")], [[
      `${here.name} (${here.id})`, String(here.documents),
      here.waiting_chunks ? `${here.chunks} · ${t("waiting", here.waiting_chunks)}` : String(here.chunks),
      here.live_release === null ? String(here.releases) : `${here.releases} · ${t("release_n", here.live_release)} ${t("live")}`,
      String(here.users), String(here.active_keys)]]));
    fill(users, table([t("name"), t("email"), t("role"), t("created"), ""], people.map(u => [
      u.name, u.email, term("role", u.role), when(u.created_at),
      u.disabled_at
        ? h("button", { type: "button", onclick: () => act(`/v1/users/${u.id}/enable`) }, t("enable"))
        : h("button", { type: "button", class: "danger", onclick: () => act(`/v1/users/${u.id}/disable`, t("confirm_disable", u.email)) }, t("disable")),
    ])));
    fill(keys, table([t("name"), t("prefix"), t("role"), t("origins"), t("created"), ""], issued.map(k => [
      k.name, `${k.prefix}…`, term("role", k.role), k.origins.join(" "), when(k.created_at),
      k.revoked_at ? h("span", { class: "badge" }, `${t("revoked")} ${when(k.revoked_at)}`)
        : h("button", { type: "button", class: "danger", onclick: () => act(`/v1/keys/${k.id}/revoke`, t("confirm_revoke", k.name)) }, t("revoke")),
    ])));
  }
  async function act(path, question) {
    if (question && !confirm(question)) return;
    try { await api("POST", path); } catch (e) { problem.show(e); }
    load();
  }

  const email = h("input", { type: "email", required: true, "aria-label": t("email") });
  const name = h("input", { type: "text", required: true, maxlength: 100, "aria-label": t("name") });
  const role = h("select", { "aria-label": t("role") }, h("option", { value: "agent" }, t("role_agent")), h("option", { value: "admin" }, t("role_admin")));
  const password = h("input", { type: "password", required: true, minlength: 10, autocomplete: "new-password", "aria-label": t("password") });
  async function addUser(event) {
    event.preventDefault();
    try {
      await api("POST", "/v1/users", { email: email.value.trim(), name: name.value.trim(), role: role.value, password: password.value });
      email.value = name.value = password.value = ""; problem.show(null);
    } catch (e) { problem.show(e); }
    load();
  }

  const keyName = h("input", { type: "text", required: true, maxlength: 100, "aria-label": t("name") });
  const keyRole = h("select", { "aria-label": t("role") }, ["client", "widget", "agent", "admin"].map(r => h("option", { value: r }, term("role", r))));
  const origins = h("input", { type: "text", placeholder: "https://shop.example.com", "aria-label": t("origins") });
  async function addKey(event) {
    event.preventDefault();
    try {
      const key = await api("POST", "/v1/keys", { name: keyName.value.trim(), role: keyRole.value, origins: origins.value.split(/\s+/).filter(Boolean) });
      fill(secret, h("p", {}, t("key_shown_once")), h("p", { class: "secret" }, key.secret));
      keyName.value = origins.value = ""; problem.show(null);
    } catch (e) { problem.show(e); }
    load();
  }

  main.append(
    h("h1", {}, t("nav_people")), problem,
    h("h2", {}, t("workspace")), h("p", { class: "hint" }, t("workspace_hint")), workspace,
    h("h2", {}, t("users")), h("p", { class: "hint" }, t("users_hint")),
    h("form", { class: "row", onsubmit: addUser },
      h("label", {}, t("email"), email), h("label", {}, t("name"), name), h("label", {}, t("role"), role),
      h("label", {}, t("password"), password), h("button", { type: "submit", class: "primary" }, t("add"))),
    users,
    h("h2", {}, t("api_keys")), h("p", { class: "hint" }, t("keys_hint")),
    h("form", { class: "row", onsubmit: addKey },
      h("label", {}, t("name"), keyName), h("label", {}, t("role"), keyRole), h("label", {}, t("origins"), origins),
      h("button", { type: "submit", class: "primary" }, t("issue_key"))),
    secret, keys);
  await load();
}
