// Models: every trained model family (intents, review sentiment, recommenders, product recognition, the
// company's table models) on one page with the same lifecycle: train as a job, held-out figures per
// version, the gate's verdict, promote, roll back. Table models train from an uploaded table and show their
// calibration curve; the recogniser trains from an uploaded zip of photos.
import { ApiError, api, fill, finished, h, number, problemLine, progressBar, t, table, term, when } from "./core.js";

const FAMILIES = [
  { name: "intent", list: "/v1/intents/models", train: "/v1/intents/models", rollback: "/v1/intents/rollback", history: "/v1/intents/history", figures: "held_out" },
  { name: "sentiment", list: "/v1/sentiment/models", train: "/v1/sentiment/train", rollback: "/v1/sentiment/rollback", history: "/v1/sentiment/history", figures: "held_out" },
  { name: "recommender", list: "/v1/recommend/models", train: "/v1/recommend/train", rollback: "/v1/recommend/rollback", history: "/v1/recommend/history", figures: "test.chosen" },
  { name: "recognizer", list: "/v1/vision/models", upload: "/v1/vision/train", accept: ".zip", rollback: "/v1/vision/rollback", history: "/v1/vision/history", figures: "held_out", keys: ["top1", "top5", "coarse_top1", "photos"] },
];
const FIGURES_SHOWN = 4;
const TABLE_FIGURES = ["roc_auc", "accuracy", "f1", "r2", "rmse", "mae", "rows"];

/** A table model as a family: its own routes, a table to train on, its calibration chart. */
function tableFamily(model) {
  const base = `/v1/models/${encodeURIComponent(model.name)}`;
  return {
    name: model.name, title: t("table_model_title", model.name, model.target), list: `${base}/versions`, upload: `${base}/train`,
    rollback: `${base}/rollback`, history: `${base}/history`, figures: "held_out", keys: TABLE_FIGURES,
    chart: version => `${base}/versions/${version}/calibration.png`, task: model.task,
  };
}

export async function modelsPage(main) {
  const problem = problemLine();
  main.append(h("h1", {}, t("nav_models")), h("p", { class: "hint" }, t("models_hint")), problem);
  for (const family of FAMILIES) main.append(await familySection(family, problem));
  let tables = [];
  try { tables = await api("GET", "/v1/custom-models"); } catch (e) { problem.show(e); }
  main.append(h("h2", {}, t("table_models")), h("p", { class: "hint" }, t("table_models_hint")));
  for (const model of tables) main.append(await familySection(tableFamily(model), problem));
  main.append(newTableModel(problem));
}

/** Create a table model: a name, the column to predict, the table; trains v1 as a job. */
function newTableModel(problem) {
  const name = h("input", { id: "table-model-name", required: "", pattern: "[a-z0-9][a-z0-9_\\-]{0,63}", placeholder: "churn" });
  const target = h("input", { id: "table-model-target", required: "", placeholder: "Churn" });
  const file = h("input", { id: "table-model-file", type: "file", required: "", accept: ".csv,.xlsx,.jsonl" });
  const budget = h("input", { id: "table-model-budget", type: "number", min: "5", max: "3600", value: "60" });
  const status = h("span", { role: "status" });
  const form = h("form", { class: "stack", onsubmit: async event => {
    event.preventDefault();
    const body = new FormData();
    body.append("file", file.files[0]);
    body.append("name", name.value.trim());
    body.append("target", target.value.trim());
    body.append("budget_seconds", budget.value || "60");
    const bar = progressBar(t("training"));
    fill(status, bar);
    try {
      const job = await api("POST", "/v1/models", body);
      const done = await finished(job.id, bar.set);
      if (done.status === "failed") { fill(status, `${t("failed")}: ${done.error}`); return; }
      location.reload();
    } catch (e) { fill(status, ""); problem.show(e); }
  } },
  h("h3", {}, t("new_table_model")),
  h("label", { for: "table-model-name" }, t("table_model_name")), name,
  h("label", { for: "table-model-target" }, t("table_model_target")), target,
  h("label", { for: "table-model-file" }, t("table_model_file")), file,
  h("label", { for: "table-model-budget" }, t("table_model_budget")), budget,
  h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, t("create_and_train")), status));
  return h("section", {}, form);
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
      h(family.title ? "h3" : "h2", {}, family.title ?? term("family", family.name)),
      versions.length ? h("div", { class: "scroll" }, table([t("version"), t("kind"), t("held_out_figures"), t("created"), ""], versions.map(m => [
        [`v${m.version} `, m.version === listed.live ? h("span", { class: "badge good" }, t("live")) : null],
        m.kind, figures(family.figures.split(".").reduce((part, key) => part && part[key], m.report), family.keys), when(m.created_at),
        h("div", { class: "row" },
          h("button", { type: "button", onclick: () => gate(m.version) }, t("check_gate")),
          family.chart && family.task === "classification" && m.report.held_out?.calibration
            ? h("button", { type: "button", onclick: () => chart(m.version) }, t("calibration_chart")) : null,
          m.version === listed.live ? null : h("button", { type: "button", class: "primary", onclick: () => promote(m.version) }, t("promote")),
          wasLive.has(m.version) && m.version !== listed.live ? h("button", { type: "button", onclick: () => rollback(m.version) }, t("make_live_again")) : null),
      ]))) : h("p", { class: "hint" }, t("no_models")),
      verdict,
      h("div", { class: "row" }, h("button", { type: "button", onclick: train }, t("train_new")), training));
  }

  function chart(version) {
    fill(verdict, h("img", { class: "chart", src: family.chart(version), alt: t("calibration_alt", family.name, version) }));
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
    let body = {};
    if (family.upload) {  // a table model learns from a table the person picks, a recogniser from photos
      const picked = await pickFile(family.accept ?? ".csv,.xlsx,.jsonl");
      if (!picked) return;
      body = new FormData();
      body.append("file", picked);
    }
    const bar = progressBar(t("training"));
    fill(training, bar);
    try {
      const job = await api("POST", family.upload ?? family.train, body);
      const done = await finished(job.id, bar.set);
      fill(training, done.status === "failed" ? `${t("failed")}: ${done.error}` : t("trained_version", done.result.version));
    } catch (e) { fill(training, e.message); }
    load();
  }

  await load();
  return section;
}

/** A version's first few numeric figures ("accuracy 0.912 · macro_f1 0.901"), or the named ones. */
function figures(report, keys) {
  if (!report) return "–";
  const entries = keys ? keys.filter(k => typeof report[k] === "number").map(k => [k, report[k]]) : Object.entries(report);
  return entries.filter(([, v]) => typeof v === "number").slice(0, FIGURES_SHOWN)
    .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : number(v)}`).join(" · ");
}

/** The file a person picks in the browser's dialog, or null. */
function pickFile(accept) {
  return new Promise(resolve => {
    const input = h("input", { type: "file", accept });
    input.addEventListener("change", () => resolve(input.files[0] ?? null));
    input.click();
  });
}
