// Quality: the review queue, curated answers, golden sets, evaluation runs with run-to-run comparison,
// and the handoff threshold chosen on the latest evaluation's curve.
import { api, fill, h, number, pct, problemLine, t, table, term, when } from "./core.js";

export async function reviewPage(main) {
  const problem = problemLine();
  const groups = h("section", { "aria-live": "polite" });

  async function load() {
    let queue;
    try { queue = await api("GET", "/v1/review?limit=100"); } catch (e) { problem.show(e); return; }
    fill(groups, ...(queue.length ? queue.map(group) : [h("p", { class: "hint" }, t("review_empty"))]));
  }

  function group(g) {
    const answer = h("textarea", { rows: 3, maxlength: 4000, "aria-label": t("approved_answer") });
    answer.value = g.correction || "";
    const golden = h("input", { type: "text", maxlength: 64, placeholder: t("optional"), "aria-label": t("also_golden") });
    const status = h("span", { role: "status" });
    const box = h("div", { class: "group" },
      h("strong", {}, g.question),
      h("p", {}, h("span", { class: "badge" }, t("asked_times", g.count)),
        g.dislikes ? h("span", { class: "badge bad" }, t("dislikes_n", g.dislikes)) : null,
        g.handoffs ? h("span", { class: "badge warn" }, t("handoffs_n", g.handoffs)) : null),
      g.questions.length > 1 ? h("ul", {}, g.questions.map(q => h("li", {}, q))) : null,
      g.comments.length ? h("p", { class: "hint" }, `${t("comments")}: ${g.comments.join(" / ")}`) : null,
      h("label", {}, t("approved_answer"), answer),
      h("div", { class: "row" },
        h("label", {}, t("also_golden"), golden),
        h("button", { type: "button", class: "primary", onclick: approve }, t("approve")),
        h("button", { type: "button", onclick: dismiss }, t("dismiss")),
        status));

    async function approve() {
      if (!answer.value.trim()) { status.textContent = t("answer_needed"); return; }
      try {
        await api("POST", `/v1/review/${g.answer_ids[0]}/approve`, { answer: answer.value.trim(), golden: golden.value.trim() || null });
        box.remove();
      } catch (e) { status.textContent = e.message; }
    }
    async function dismiss() {
      try { await api("POST", "/v1/review/dismiss", { answer_ids: g.answer_ids }); box.remove(); } catch (e) { status.textContent = e.message; }
    }
    return box;
  }

  main.append(h("h1", {}, t("nav_review")), h("p", { class: "hint" }, t("review_hint")), problem, groups);
  await load();
}

export async function curatedPage(main) {
  const problem = problemLine();
  const listing = h("div", { class: "scroll" });
  const question = h("input", { type: "text", maxlength: 1000, "aria-label": t("question") });
  const answer = h("textarea", { rows: 2, maxlength: 4000, "aria-label": t("answer") });

  async function load() {
    let curated;
    try { curated = await api("GET", "/v1/curated"); } catch (e) { problem.show(e); return; }
    fill(listing, table([t("question"), t("answer"), t("enabled"), t("updated"), ""], curated.map(c => {
      const q = h("input", { type: "text", value: c.question, maxlength: 1000, "aria-label": t("question") });
      const a = h("textarea", { rows: 2, maxlength: 4000, "aria-label": t("answer") });
      a.value = c.answer;
      const enabled = h("input", { type: "checkbox", checked: c.enabled, "aria-label": t("enabled") });
      const save = () => change(c.id, { question: q.value.trim(), answer: a.value.trim(), enabled: enabled.checked });
      enabled.addEventListener("change", save);
      return [q, a, enabled, `${when(c.updated_at)} ${c.updated_by}`,
        h("div", { class: "row" },
          h("button", { type: "button", onclick: save }, t("save")),
          h("button", { type: "button", class: "danger", onclick: () => remove(c) }, t("delete")))];
    })));
  }
  async function change(id, body) {
    try { await api("PATCH", `/v1/curated/${id}`, body); problem.show(null); } catch (e) { problem.show(e); }
    load();
  }
  async function remove(c) {
    if (!confirm(t("confirm_delete", c.question))) return;
    try { await api("DELETE", `/v1/curated/${c.id}`); } catch (e) { problem.show(e); }
    load();
  }
  async function add(event) {
    event.preventDefault();
    try {
      await api("POST", "/v1/curated", { question: question.value.trim(), answer: answer.value.trim() });
      question.value = ""; answer.value = ""; problem.show(null);
    } catch (e) { problem.show(e); }
    load();
  }
  main.append(
    h("h1", {}, t("nav_curated")), h("p", { class: "hint" }, t("curated_hint")), problem,
    h("form", { class: "group", onsubmit: add },
      h("label", {}, t("question"), question), h("label", {}, t("answer"), answer),
      h("button", { type: "submit", class: "primary" }, t("add"))),
    listing);
  await load();
}

export async function goldenPage(main) {
  const problem = problemLine();
  const listing = h("div", { class: "scroll" });
  const view = h("section", { "aria-live": "polite" });
  const name = h("input", { type: "text", maxlength: 64, required: true, pattern: "[A-Za-z0-9_\\-]+", "aria-label": t("golden_name") });
  const file = h("input", { type: "file", accept: ".jsonl,.csv,.json", required: true, "aria-label": t("golden_file") });

  async function load() {
    let versions;
    try { versions = await api("GET", "/v1/golden-sets"); } catch (e) { problem.show(e); return; }
    fill(listing, table([t("golden_name"), t("version"), t("questions"), t("note"), t("created")], versions.map(v => [
      h("button", { type: "button", class: "link", onclick: () => open(v.name, v.version) }, v.name),
      String(v.version), String(v.size), v.note, when(v.created_at)])));
  }

  async function open(setName, version) {
    let golden;
    try { golden = await api("GET", `/v1/golden-sets/${encodeURIComponent(setName)}?version=${version}`); } catch (e) { problem.show(e); return; }
    const rows = golden.items.map((item, index) => [
      String(index + 1), item.question, (item.expected_answer || []).join(" | "), item.answerable ? t("yes") : t("no"), item.category,
      h("button", { type: "button", onclick: () => edit(golden, index) }, t("edit"))]);
    fill(view, h("h2", {}, `${setName} v${version}`),
      table(["#", t("question"), t("expected_answer"), t("answerable"), t("category"), ""], rows));
  }

  function edit(golden, index) {
    const item = golden.items[index];
    const question = h("input", { type: "text", value: item.question, maxlength: 1000, "aria-label": t("question") });
    const expected = h("input", { type: "text", value: (item.expected_answer || []).join(" | "), "aria-label": t("expected_answer") });
    const form = h("form", { class: "group", onsubmit: async event => {
      event.preventDefault();
      const items = golden.items.map((it, i) => i !== index ? it : {
        ...it, question: question.value.trim(),
        expected_answer: expected.value.split("|").map(s => s.trim()).filter(Boolean),
      });
      try {
        const saved = await api("POST", `/v1/golden-sets/${encodeURIComponent(golden.name)}`, { items: items.map(cleanItem), note: t("edited_in_console") });
        await load(); await open(saved.name, saved.version);
      } catch (e) { problem.show(e); }
    } }, h("label", {}, t("question"), question), h("label", {}, t("expected_answer_hint"), expected),
    h("button", { type: "submit", class: "primary" }, t("save_new_version")));
    view.prepend(form);
    question.focus();
  }

  async function upload(event) {
    event.preventDefault();
    const form = new FormData();
    form.append("file", file.files[0]);
    try { await api("POST", `/v1/golden-sets/${encodeURIComponent(name.value.trim())}/import`, form); problem.show(null); } catch (e) { problem.show(e); }
    load();
  }
  main.append(
    h("h1", {}, t("nav_golden")), h("p", { class: "hint" }, t("golden_hint")), problem,
    h("form", { class: "row", onsubmit: upload },
      h("label", {}, t("golden_name"), name), h("label", {}, t("golden_file"), file),
      h("button", { type: "submit", class: "primary" }, t("import"))),
    listing, view);
  await load();
}

function cleanItem(item) {
  const clean = { question: item.question, expected_answer: item.expected_answer, expected_document: item.expected_document,
    answerable: item.answerable, category: item.category || "" };
  if (item.conversation || (item.context && item.context.length)) {
    Object.assign(clean, { context: item.context || [], follow_up: item.follow_up ?? false, conversation: item.conversation || "" });
  }
  return clean;
}

export async function evaluationsPage(main) {
  const problem = problemLine();
  const listing = h("div", { class: "scroll" });
  const threshold = h("section", { "aria-live": "polite" });
  const report = h("section", { "aria-live": "polite" });
  const comparison = h("section", { "aria-live": "polite" });
  const golden = h("select", { "aria-label": t("golden_name") });
  const split = h("select", { "aria-label": t("split") }, ["held_out", "tune", "all"].map(s => h("option", { value: s }, term("split", s))));
  const target = h("select", { "aria-label": t("knowledge_version") },
    h("option", { value: "working" }, t("working_knowledge")), h("option", { value: "live" }, t("live_release")));
  const before = h("select", { "aria-label": t("before") });
  const after = h("select", { "aria-label": t("after") });
  const running = h("span", { role: "status" });

  async function load() {
    let runs, sets;
    try { [runs, sets] = await Promise.all([api("GET", "/v1/eval/runs"), api("GET", "/v1/golden-sets")]); } catch (e) { problem.show(e); return; }
    fill(golden, ...[...new Set(sets.map(s => s.name))].map(n => h("option", { value: n }, n)));
    runs.sort((a, b) => b.created_at.localeCompare(a.created_at));
    const label = r => `${when(r.created_at)} · ${r.target} · ${r.split}`;
    fill(before, ...runs.map(r => h("option", { value: r.id }, label(r))));
    fill(after, ...runs.map(r => h("option", { value: r.id }, label(r))));
    if (runs.length > 1) before.selectedIndex = 1;
    fill(listing, table([t("created"), t("target"), t("split"), t("questions"), t("answer_accuracy"), t("handoff_precision"), t("handoff_recall"), "nDCG@k", t("report")],
      runs.map(r => [when(r.created_at), r.target, term("split", r.split), String(r.summary.questions), pct(r.summary.answer_accuracy),
        pct(r.summary.handoff_precision), pct(r.summary.handoff_recall), number(r.summary.ndcg_at_k),
        h("div", { class: "row" },
          h("button", { type: "button", onclick: () => details(r) }, t("details")),
          h("a", { href: `/v1/eval/runs/${encodeURIComponent(r.id)}/report`, target: "_blank", rel: "noopener" }, t("open_report")))])));
    if (runs.length) await curve(runs[0]);
  }

  // The report inline: the figures, per category, and the questions it got wrong (plots in the full report).
  async function details(run) {
    let detail;
    try { detail = await api("GET", `/v1/eval/runs/${encodeURIComponent(run.id)}`); } catch (e) { problem.show(e); return; }
    const summary = detail.summary;
    const figures = ["answer_accuracy", "citation_accuracy", "handoff_precision", "handoff_recall", "ndcg_at_k", "ece"];
    const missed = detail.results.filter(r => (r.answerable ? !r.right : !r.handoff));
    fill(report,
      h("h2", {}, t("run_of", when(run.created_at), run.target)),
      table(figures.map(f => t(f)), [figures.map(f => f === "ndcg_at_k" || f === "ece" ? number(summary[f]) : pct(summary[f]))]),
      h("p", { class: "hint" }, t("latency", number(summary.latency_p50_ms, 0), number(summary.latency_p95_ms, 0))),
      table([t("category"), t("questions"), t("answer_accuracy"), t("handoffs")],
        Object.entries(summary.by_category || {}).map(([name, c]) => [name, String(c.questions), pct(c.answer_accuracy), String(c.handoffs)])),
      h("h2", {}, t("missed_questions", missed.length)),
      table([t("question"), t("answerable"), t("answer"), t("confidence")],
        missed.slice(0, 50).map(r => [r.question, r.answerable ? t("yes") : t("no"), r.answer, number(r.confidence, 2)])));
    report.scrollIntoView();
  }

  async function curve(run) {
    let data;
    try { data = await api("GET", `/v1/eval/runs/${run.id}/curve`); } catch (e) { problem.show(e); return; }
    const slider = h("input", { type: "range", min: 0, max: 1, step: 0.01, "aria-label": t("handoff_threshold") });
    slider.value = String(data.threshold_now);
    const says = h("p", { class: "says" });
    const plot = curvePlot(data.points);
    const status = h("span", { role: "status" });
    const update = () => {
      const point = data.points.reduce((best, p) => Math.abs(p.threshold - slider.value) < Math.abs(best.threshold - slider.value) ? p : best);
      says.textContent = t("at_this_setting", Number(slider.value).toFixed(2), pct(point.handoff_share), pct(point.answered_accuracy), pct(point.answer_accuracy));
      plot.mark(point.threshold);
    };
    slider.addEventListener("input", update);
    update();
    fill(threshold, 
      h("h2", {}, t("handoff_threshold")),
      h("p", { class: "hint" }, t("threshold_hint", data.questions, when(run.created_at), Number(data.threshold_now).toFixed(2))),
      slider, says, plot,
      h("p", { class: "legend" }, h("span", { class: "handoff" }, t("share_to_person")), h("span", { class: "accuracy" }, t("answered_right"))),
      h("div", { class: "row" }, h("button", { type: "button", class: "primary", onclick: async () => {
        try { await api("PATCH", "/v1/settings", { handoff_below: Number(slider.value).toFixed(2) }); status.textContent = t("threshold_saved"); } catch (e) { status.textContent = e.message; }
      } }, t("use_threshold")), status));
  }

  async function evaluate(event) {
    event.preventDefault();
    running.textContent = t("evaluating");
    try {
      await api("POST", "/v1/eval/runs", { golden: golden.value, split: split.value, live: target.value === "live" });
      running.textContent = "";
    } catch (e) { running.textContent = e.message; }
    load();
  }

  async function compare(event) {
    event.preventDefault();
    let diff;
    try { diff = await api("GET", `/v1/eval/compare?before=${encodeURIComponent(before.value)}&after=${encodeURIComponent(after.value)}`); } catch (e) { problem.show(e); return; }
    const rows = kind => (diff[kind] || []).map(q => [q.question, q.before, q.after]);
    fill(comparison, 
      h("p", {}, t("compare_summary", diff.shared_questions, (diff.better || []).length, (diff.worse || []).length)),
      h("h2", {}, t("got_worse")), table([t("question"), t("before"), t("after")], rows("worse")),
      h("h2", {}, t("got_better")), table([t("question"), t("before"), t("after")], rows("better")));
  }

  main.append(
    h("h1", {}, t("nav_evaluations")), h("p", { class: "hint" }, t("evaluations_hint")), problem,
    h("form", { class: "row", onsubmit: evaluate },
      h("label", {}, t("golden_name"), golden), h("label", {}, t("split"), split), h("label", {}, t("knowledge_version"), target),
      h("button", { type: "submit", class: "primary" }, t("run_evaluation")), running),
    listing, report, threshold,
    h("h2", {}, t("compare_runs")),
    h("form", { class: "row", onsubmit: compare },
      h("label", {}, t("before"), before), h("label", {}, t("after"), after), h("button", { type: "submit" }, t("compare"))),
    comparison);
  await load();
}

/** Handoff share and answered accuracy against the threshold, as an SVG with a movable marker. */
function curvePlot(points) {
  const width = 520, height = 220, left = 40, bottom = 30, top = 10, right = 20;
  const x = v => left + v * (width - left - right);
  const y = v => top + (1 - v) * (height - top - bottom);
  const NS = "http://www.w3.org/2000/svg";
  const el = (tag, attributes) => {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
    return node;
  };
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "curve", role: "img", "aria-label": t("curve_label") });
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    svg.append(el("line", { x1: x(0), x2: x(1), y1: y(v), y2: y(v), stroke: "#e8eaed" }));
    const label = el("text", { x: 4, y: y(v) + 4 }); label.textContent = `${v * 100}%`; svg.append(label);
    const tick = el("text", { x: x(v), y: height - 10, "text-anchor": "middle" }); tick.textContent = v.toFixed(2); svg.append(tick);
  }
  const line = (key, colour) => {
    const drawn = points.filter(p => p[key] !== null).map(p => `${x(p.threshold).toFixed(1)},${y(p[key]).toFixed(1)}`);
    svg.append(el("polyline", { points: drawn.join(" "), fill: "none", stroke: colour, "stroke-width": 2 }));
  };
  line("handoff_share", "#c26d00");
  line("answered_accuracy", "#0b6e4f");
  const marker = el("line", { y1: y(1), y2: y(0), stroke: "#b00020", "stroke-width": 2 });
  svg.append(marker);
  svg.mark = v => { marker.setAttribute("x1", x(v)); marker.setAttribute("x2", x(v)); };
  return svg;
}
