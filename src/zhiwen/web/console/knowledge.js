// Knowledge: upload by drag and drop with a result per file, the documents and their chunks, and hit
// testing (a question → the ranked passages, why they matched, and the answer customers would get).
import { api, fill, finished, h, number, problemLine, progressBar, t, table, when } from "./core.js";

const PAGE_SIZE = 50;
const PARALLEL_UPLOADS = 2;

export async function knowledgePage(main) {
  const problem = problemLine();
  const listing = h("div", { class: "scroll" });
  const chunks = h("section", { "aria-live": "polite" });
  let offset = 0;

  async function load() {
    let page;
    try { page = await api("GET", `/v1/documents?limit=${PAGE_SIZE}&offset=${offset}`); } catch (e) { problem.show(e); return; }
    const rows = page.documents.map(d => [
      h("button", { type: "button", class: "link", onclick: () => showChunks(d) }, d.title),
      d.source,
      d.tags.map(tag => h("span", { class: "badge" }, tag)),
      String(d.chunk_count),
      d.waiting_chunks ? h("span", { class: "badge warn" }, t("waiting", d.waiting_chunks)) : h("span", { class: "badge good" }, t("embedded")),
      `${d.characters.toLocaleString()} ${t("chars")}`,
      when(d.updated_at),
      h("button", { type: "button", class: "danger", onclick: () => remove(d) }, t("delete")),
    ]);
    fill(listing, 
      h("p", { class: "hint" }, t("documents_total", page.total)),
      table([t("title"), t("source"), t("tags"), t("chunks"), t("status"), t("size"), t("updated"), ""], rows),
      h("div", { class: "row" },
        h("button", { type: "button", disabled: offset === 0, onclick: () => { offset -= PAGE_SIZE; load(); } }, t("previous")),
        h("button", { type: "button", disabled: offset + PAGE_SIZE >= page.total, onclick: () => { offset += PAGE_SIZE; load(); } }, t("next"))));
  }

  async function remove(document_) {
    if (!confirm(t("confirm_delete", document_.title))) return;
    try { await api("DELETE", `/v1/documents/${document_.id}`); problem.show(null); } catch (e) { problem.show(e); }
    chunks.replaceChildren();
    load();
  }

  async function showChunks(document_) {
    let found;
    try { found = await api("GET", `/v1/documents/${document_.id}/chunks`); } catch (e) { problem.show(e); return; }
    fill(chunks, 
      h("h2", {}, t("chunks_of", document_.title)),
      table(["#", t("kind"), t("title_path"), t("text"), t("terms")], found.map(c => [
        String(c.position),
        c.kind,
        c.title_path,
        h("div", { class: "passage" }, c.question ? `Q: ${c.question}\nA: ${c.text}` : c.text),
        h("div", { class: "chips" }, c.terms.slice(0, 40).map(term => h("span", {}, term))),
      ])));
    chunks.scrollIntoView();
  }

  main.append(
    h("h1", {}, t("nav_knowledge")),
    h("p", { class: "hint" }, t("knowledge_hint")),
    problem,
    uploader(load),
    h("h2", {}, t("documents")),
    listing,
    chunks);
  await load();
}

/** The drop zone (files or folders) and a line per file: progress, then what ingestion made of it. */
function uploader(onDone) {
  const results = h("ul", { class: "files", "aria-live": "polite" });
  const tags = h("input", { type: "text", placeholder: "faq, returns", "aria-label": t("tags") });
  const picker = h("input", { type: "file", multiple: true, "aria-label": t("choose_files") });
  const folder = h("input", { type: "file", multiple: true, webkitdirectory: true, "aria-label": t("choose_folder") });
  const zone = h("div", { class: "drop", tabindex: "0" }, t("drop_here"));

  async function send(files) {
    const queue = [...files];
    const worker = async () => {
      while (queue.length) await uploadOne(queue.shift(), tags.value, results);
    };
    await Promise.all(Array.from({ length: PARALLEL_UPLOADS }, worker));
    onDone();
  }
  zone.addEventListener("dragover", event => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", event => {
    event.preventDefault();
    zone.classList.remove("over");
    send(event.dataTransfer.files);
  });
  picker.addEventListener("change", () => send(picker.files));
  folder.addEventListener("change", () => send(folder.files));
  return h("section", {},
    zone,
    h("div", { class: "row" },
      h("label", {}, t("choose_files"), picker),
      h("label", {}, t("choose_folder"), folder),
      h("label", {}, t("tags_for_upload"), tags)),
    results);
}

async function uploadOne(file, tags, results) {
  const bar = progressBar(file.name);
  const status = h("span", {}, t("uploading"));
  const line = h("li", {}, `${file.webkitRelativePath || file.name} `, bar, " ", status);
  results.prepend(line);
  const form = new FormData();
  form.append("files", file, file.webkitRelativePath || file.name);
  for (const tag of tags.split(/[,，]/).map(s => s.trim()).filter(Boolean)) form.append("tags", tag);
  try {
    let data = await api("POST", "/v1/documents", form);
    if (data.job_id) {
      status.textContent = t("ingesting");
      const job = await finished(data.job_id, bar.set);
      if (job.status === "failed") throw new Error(job.error);
      data = job.result;
    }
    bar.set(1);
    const outcome = data.files[0];
    if (outcome.status === "failed") {
      line.classList.add("failed");
      status.textContent = `${t("failed")}: ${outcome.error}`;
    } else {
      status.textContent = t("ingested", outcome.status, outcome.chunks)
        + (outcome.warnings.length ? ` · ${outcome.warnings.join("; ")}` : "");
    }
  } catch (error) {
    line.classList.add("failed");
    status.textContent = `${t("failed")}: ${error.message}`;
  }
}

export async function hitTestPage(main) {
  const problem = problemLine();
  const question = h("textarea", { rows: 2, maxlength: 2000, "aria-label": t("question"), placeholder: t("hit_test_placeholder") });
  const target = h("select", { "aria-label": t("knowledge_version") },
    h("option", { value: "working" }, t("working_knowledge")),
    h("option", { value: "live" }, t("live_release")));
  const output = h("section", { "aria-live": "polite" });

  async function run(event) {
    event.preventDefault();
    if (!question.value.trim()) return;
    let tested;
    try { tested = await api("POST", "/v1/hit-test", { question: question.value.trim(), target: target.value }); problem.show(null); } catch (e) { problem.show(e); return; }
    fill(output, explain(tested));
  }
  question.addEventListener("keydown", event => { if (event.key === "Enter" && !event.shiftKey && !event.isComposing) run(event); });
  main.append(
    h("h1", {}, t("nav_hit_test")),
    h("p", { class: "hint" }, t("hit_test_hint")),
    h("form", { onsubmit: run },
      question,
      h("div", { class: "row" }, h("label", {}, t("knowledge_version"), target), h("button", { type: "submit", class: "primary" }, t("test")))),
    problem,
    output);
  question.focus();
}

function explain(tested) {
  const answer = tested.answer;
  const meter = h("div", { class: "meter", role: "img", "aria-label": `${t("confidence")} ${number(answer.confidence, 2)}` },
    h("div", { class: "fill" }), h("div", { class: "mark" }));
  meter.firstChild.style.width = `${answer.confidence * 100}%`;
  meter.lastChild.style.left = `${tested.handoff_below * 100}%`;
  const verdict = answer.handoff
    ? h("span", { class: "badge warn" }, t("handed_off"))
    : h("span", { class: "badge good" }, t("answered_by", answer.mode));
  const parts = [
    h("h2", {}, t("the_answer")),
    h("div", { class: "answer" + (answer.handoff ? " handoff" : "") }, answer.text),
    h("p", {}, verdict, ` ${t("confidence")} ${number(answer.confidence, 2)} · ${t("threshold")} ${number(tested.handoff_below, 2)} · `,
      tested.release ? t("release_n", tested.release) : t("working_knowledge")),
    meter,
  ];
  if (answer.intent) parts.push(h("p", {}, t("intent_was", answer.intent.name, number(answer.intent.probability, 2), answer.intent.action)));
  if (answer.understood_as) parts.push(h("p", {}, t("understood_as", answer.understood_as)));
  if (tested.searched_as) parts.push(h("p", {}, t("searched_as", tested.searched_as)));
  if (answer.handoff && tested.draft_text && tested.draft_text !== answer.text) {
    parts.push(h("p", { class: "hint" }, t("draft_was")), h("div", { class: "answer handoff" }, tested.draft_text));
  }
  parts.push(h("h2", {}, t("passages_found", tested.hits.length)));
  const rows = tested.hits.map(hit => {
    const terms = Object.entries(hit.matched_terms);
    return [
      hit.chosen ? `${hit.rank} ★` : String(hit.rank),
      h("div", {}, h("strong", {}, hit.title), h("br"), h("small", {}, hit.title_path)),
      number(hit.score), number(hit.keyword_score), number(hit.vector_score),
      terms.length ? h("div", { class: "chips" }, terms.map(([term, idf]) => h("span", { title: `IDF ${idf}` }, term))) : t("no_terms"),
      h("div", { class: "passage" }, hit.question ? `Q: ${hit.question}\nA: ${hit.text}` : hit.text),
    ];
  });
  const hits = table(["#", t("document"), t("fused"), t("keyword"), t("vector"), t("matched_terms"), t("text")], rows);
  tested.hits.forEach((hit, i) => { if (hit.chosen) hits.tBodies[0].rows[i].classList.add("chosen"); });
  parts.push(h("p", { class: "hint" }, t("chosen_hint")), h("div", { class: "scroll" }, hits));
  return parts;
}
