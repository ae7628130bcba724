// Releases: freeze the working knowledge as a release evaluated on a golden set, see the gate's verdict and
// the questions that got worse, promote (gated) or roll back, and tune as a job with progress.
import { ApiError, api, fill, finished, h, pct, problemLine, progressBar, t, table, when } from "./core.js";

export async function releasesPage(main) {
  const problem = problemLine();
  const listing = h("div", { class: "scroll" });
  const verdictBox = h("section", { "aria-live": "polite" });
  const golden = h("select", { "aria-label": t("evaluate_on") });
  const note = h("input", { type: "text", maxlength: 500, "aria-label": t("note") });
  const creating = h("span", { role: "status" });

  async function load() {
    let releases, sets, history;
    try { [releases, sets, history] = await Promise.all([api("GET", "/v1/releases"), api("GET", "/v1/golden-sets"), api("GET", "/v1/releases/history")]); } catch (e) { problem.show(e); return; }
    const names = [...new Set(sets.map(s => s.name))];
    fill(golden, h("option", { value: "" }, t("no_evaluation")), ...names.map(n => h("option", { value: n }, n)));
    if (names.length) golden.value = names[0];
    fill(tuneGolden, names.map(n => h("option", { value: n }, n)));
    fill(rerankGolden, names.map(n => h("option", { value: n }, n)));
    releases.sort((a, b) => b.number - a.number);
    // Rollback is not gated, so it is offered only for releases that have been live before.
    const wasLive = new Set(history.filter(e => e.action === "promote" || e.action === "rollback").map(e => e.release));
    fill(listing, releases.length ? table(
      [t("release"), t("created"), t("by"), t("note"), t("documents"), t("chunks"), ""],
      releases.map(r => [
        [t("release_n", r.number), " ", r.live ? h("span", { class: "badge good" }, t("live")) : null, r.pruned_at ? h("span", { class: "badge" }, t("pruned")) : null],
        when(r.created_at), r.created_by, r.note, String(r.manifest.documents), String(r.manifest.chunks),
        h("div", { class: "row" },
          h("button", { type: "button", onclick: () => check(r.number) }, t("check_gate")),
          r.live ? null : h("button", { type: "button", class: "primary", onclick: () => promote(r.number) }, t("promote")),
          r.live || r.pruned_at || !wasLive.has(r.number) ? null : h("button", { type: "button", onclick: () => rollback(r.number) }, t("make_live_again"))),
      ])) : h("p", { class: "hint" }, t("no_releases")));
  }

  function showVerdict(verdict) {
    const metrics = Object.keys(verdict.candidate || {});
    fill(verdictBox, 
      h("h2", {}, t("gate_for", verdict.release)),
      h("p", {}, verdict.passed ? h("span", { class: "badge good" }, t("gate_passed")) : h("span", { class: "badge bad" }, t("gate_refused"))),
      verdict.failures.length ? h("ul", {}, verdict.failures.map(f => h("li", {}, f))) : null,
      metrics.length ? table([t("figure"), t("this_release"), t("live_release")], metrics.map(m => [
        m, fmt(m, verdict.candidate[m]), verdict.live ? fmt(m, verdict.live[m]) : "–"])) : null,
      verdict.worse_questions.length ? h("h2", {}, t("got_worse")) : null,
      verdict.worse_questions.length ? table([t("question"), t("before"), t("after")], verdict.worse_questions.map(q => [q.question, q.before, q.after])) : null);
    verdictBox.scrollIntoView();
  }

  async function check(number) {
    try { showVerdict(await api("GET", `/v1/releases/${number}/gate`)); } catch (e) { problem.show(e); }
  }

  async function promote(number) {
    if (!confirm(t("confirm_promote", number))) return;
    try {
      showVerdict(await api("POST", `/v1/releases/${number}/promote`));
      problem.show(null);
    } catch (e) {
      if (e instanceof ApiError && e.code === "gate_refused" && e.details) showVerdict(e.details);
      problem.show(e);
    }
    load();
  }

  async function rollback(number) {
    if (!confirm(t("confirm_rollback", number))) return;
    try { await api("POST", "/v1/releases/rollback", { release: number }); problem.show(null); } catch (e) { problem.show(e); }
    load();
  }

  async function create(event) {
    event.preventDefault();
    const evaluatedOn = golden.value;
    creating.textContent = evaluatedOn ? t("creating_and_evaluating") : t("creating");
    try {
      const release = await api("POST", "/v1/releases", { golden: evaluatedOn || null, note: note.value.trim() });
      creating.textContent = t("created_release", release.number);
      note.value = "";
      await load();
      golden.value = evaluatedOn;
      if (evaluatedOn) await check(release.number);
    } catch (e) { creating.textContent = e.message; }
  }

  const tuneGolden = h("select", { "aria-label": t("golden_name") });
  const trials = h("input", { type: "number", min: 1, max: 500, value: "30", "aria-label": t("trials") });
  const tuning = h("span", { role: "status" });
  async function tune(event) {
    event.preventDefault();
    const bar = progressBar(t("tuning"));
    fill(tuning, bar);
    try {
      const job = await api("POST", "/v1/tune", { golden: tuneGolden.value, trials: Number(trials.value) });
      const done = await finished(job.id, bar.set);
      fill(tuning, done.status === "failed" ? `${t("failed")}: ${done.error}` : t("tuned", JSON.stringify(done.result)));
    } catch (e) { fill(tuning, e.message); }
    load();
  }

  const rerankGolden = h("select", { "aria-label": t("golden_name") });
  const reranking = h("span", { role: "status" });
  async function trainReranker(event) {
    event.preventDefault();
    const bar = progressBar(t("training"));
    fill(reranking, bar);
    try {
      const job = await api("POST", "/v1/rerank/train", { golden: rerankGolden.value });
      const done = await finished(job.id, bar.set);
      fill(reranking, done.status === "failed" ? `${t("failed")}: ${done.error}` : t("reranker_trained", done.result.pairs));
    } catch (e) { fill(reranking, e.message); }
  }

  main.append(
    h("h1", {}, t("nav_releases")), h("p", { class: "hint" }, t("releases_hint")), problem,
    h("form", { class: "row", onsubmit: create },
      h("label", {}, t("evaluate_on"), golden), h("label", {}, t("note"), note),
      h("button", { type: "submit", class: "primary" }, t("create_release")), creating),
    listing, verdictBox,
    h("h2", {}, t("tune")), h("p", { class: "hint" }, t("tune_hint")),
    h("form", { class: "row", onsubmit: tune },
      h("label", {}, t("golden_name"), tuneGolden), h("label", {}, t("trials"), trials),
      h("button", { type: "submit" }, t("start_tuning")), tuning),
    h("h2", {}, t("reranker")), h("p", { class: "hint" }, t("reranker_hint")),
    h("form", { class: "row", onsubmit: trainReranker },
      h("label", {}, t("golden_name"), rerankGolden), h("button", { type: "submit" }, t("train_reranker")), reranking));
  await load();
}

function fmt(metric, value) {
  if (typeof value !== "number") return value ?? "–";
  return metric === "questions" ? String(value) : pct(value);
}
