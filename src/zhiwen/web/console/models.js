// Models: every trained model family (intents, review sentiment, recommenders) on one page with the same
// lifecycle: train as a job, held-out figures per version, the gate's verdict, promote, roll back.
import { ApiError, api, fill, finished, h, number, problemLine, progressBar, t, table, term, when } from "./core.js";

const FAMILIES = [
  { name: "intent", list: "/v1/intents/models", train: "/v1/intents/models", rollback: "/v1/intents/rollback", history: "/v1/intents/history", figures: "held_out" },
  { name: "sentiment", list: "/v1/sentiment/models", train: "/v1/sentiment/train", rollback: "/v1/sentiment/rollback", history: "/v1/sentiment/history", figures: "held_out" },
  { name: "recommender", list: "/v1/recommend/models", train: "/v1/recommend/train", rollback: "/v1/recommend/rollback", history: "/v1/recommend/history", figures: "test.chosen" },
];
const FIGURES_SHOWN = 4;

export async function modelsPage(main) {
  const problem = problemLine();
  main.append(h("h1", {}, t("nav_models")), h("p", { class: "hint" }, t("models_hint")), problem);
  for (const family of FAMILIES) main.append(await familySection(family, problem));
}

async function familySection(family, problem) {
  const section = h("section");
  const verdict = h("div", { "aria-live": "polite" });
  const training = h("span", { role: "status" });

  async function load() {
    let listed, history;
    try { [listed, history] = await Promise.all([api("GET", family.list), api("GET", family.history)]); } catch (e) { problem.show(e); return; }
    const wasLive = new Set(history.filter(e => e.action === "promote" || e.action === "rollback").map(e => e.version));  // rollback goes back only to versions that were live
    const versions = [...listed.models].sort((a, b) => b.version - a.version);
    fill(section,
      h("h2", {}, term("family", family.name)),
      versions.length ? h("div", { class: "scroll" }, table([t("version"), t("kind"), t("held_out_figures"), t("created"), ""], versions.map(m => [
        [`v${m.version} `, m.version === listed.live ? h("span", { class: "badge good" }, t("live")) : null],
        m.kind, figures(family.figures.split(".").reduce((part, key) => part && part[key], m.report)), when(m.created_at),
        h("div", { class: "row" },
          h("button", { type: "button", onclick: () => gate(m.version) }, t("check_gate")),
          m.version === listed.live ? null : h("button", { type: "button", class: "primary", onclick: () => promote(m.version) }, t("promote")),
          wasLive.has(m.version) && m.version !== listed.live ? h("button", { type: "button", onclick: () => rollback(m.version) }, t("make_live_again")) : null),
      ]))) : h("p", { class: "hint" }, t("no_models")),
      verdict,
      h("div", { class: "row" }, h("button", { type: "button", onclick: train }, t("train_new")), training));
  }

  function showVerdict(found) {
    fill(verdict, h("p", {},
      found.passed ? h("span", { class: "badge good" }, t("gate_passed")) : h("span", { class: "badge bad" }, t("gate_refused")),
      ` v${found.version}`),
    found.failures.length ? h("ul", {}, found.failures.map(f => h("li", {}, f))) : null);
  }
  async function gate(version) {
    try { showVerdict(await api("GET", `${family.list}/${version}/gate`)); } catch (e) { problem.show(e); }
  }
  async function promote(version) {
    if (!confirm(t("confirm_promote_model", term("family", family.name), version))) return;
    try { showVerdict(await api("POST", `${family.list}/${version}/promote`)); problem.show(null); await load(); } catch (e) {
      if (e instanceof ApiError && e.code === "gate_refused" && e.details) showVerdict({ version, ...e.details });
      problem.show(e);
    }
  }
  async function rollback(version) {
    if (!confirm(t("confirm_rollback_model", term("family", family.name), version))) return;
    try { await api("POST", `${family.rollback}?version=${version}`); problem.show(null); } catch (e) { problem.show(e); }
    load();
  }
  async function train() {
    const bar = progressBar(t("training"));
    fill(training, bar);
    try {
      const job = await api("POST", family.train, {});
      const done = await finished(job.id, bar.set);
      fill(training, done.status === "failed" ? `${t("failed")}: ${done.error}` : t("trained_version", done.result.version));
    } catch (e) { fill(training, e.message); }
    load();
  }

  await load();
  return section;
}

/** A version's first few numeric figures ("accuracy 0.912 · macro_f1 0.901"). */
function figures(report) {
  if (!report) return "–";
  return Object.entries(report).filter(([, v]) => typeof v === "number").slice(0, FIGURES_SHOWN)
    .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : number(v)}`).join(" · ");
}
