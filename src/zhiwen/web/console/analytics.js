// Analytics: review sentiment per product and period with its chart and complaint topics, the desk's CSAT
// and response times, and the live recommender tried for one customer.
import { api, fill, h, pct, problemLine, t, table, term } from "./core.js";

export async function analyticsPage(main) {
  const problem = problemLine();
  const product = h("select", { "aria-label": t("product") });
  const period = h("select", { "aria-label": t("period") }, ["month", "week", "day"].map(p => h("option", { value: p }, term("period", p))));
  const chart = h("img", { class: "chart", alt: t("sentiment_chart") });
  const products = h("div", { class: "scroll" });
  const topics = h("div");
  const desk = h("div", { class: "scroll" });
  const customer = h("input", { type: "text", maxlength: 200, value: "u00001", "aria-label": t("customer_id") });
  const recommended = h("div", { class: "scroll" });

  async function reviews() {
    const query = new URLSearchParams({ period: period.value });
    if (product.value) query.set("product", product.value);
    let summary;
    try { summary = await api("GET", `/v1/reviews/summary?${query}`); } catch (e) { problem.show(e); return; }
    chart.src = `/v1/reviews/summary?${query}&format=png`;
    if (!product.options.length) {
      fill(product, h("option", { value: "" }, t("all_products")), summary.products.map(p => h("option", { value: p.product }, p.product)));
    }
    fill(products, table([t("product"), t("reviews"), t("satisfaction"), t("negative"), t("top_complaints")],
      summary.products.map(p => [p.product, String(p.reviews), pct(p.satisfaction), String(p.negative),
        p.top_topics.map(topic => `${topic.name ?? topic.topic} (${topic.reviews})`).join("; ")])));
    fill(topics, summary.topics.length
      ? summary.topics.map(topic => h("div", { class: "group" }, h("strong", {}, `${topic.name} · ${topic.size}`),
        h("p", { class: "hint" }, topic.keywords.join(" · ")), h("ul", {}, topic.examples.slice(0, 3).map(x => h("li", {}, x)))))
      : h("p", { class: "hint" }, t("no_topics")));
  }

  async function deskFigures() {
    let rows;
    try { rows = await api("GET", "/v1/desk/stats?by=day&days=30"); } catch (e) { problem.show(e); return; }
    fill(desk, rows.length ? table([t("day"), t("conversations"), t("handoff_rate"), t("containment"), "CSAT", t("first_reply_minutes"), t("resolution_minutes")],
      rows.map(r => [r.group, String(r.conversations), pct(r.handoff_rate), pct(r.containment), pct(r.csat),
        r.first_response_minutes ?? "–", r.resolution_minutes ?? "–"])) : h("p", { class: "hint" }, t("no_desk_figures")));
  }

  async function recommend(event) {
    if (event) event.preventDefault();
    let found;
    try {
      const models = await api("GET", "/v1/recommend/models");
      if (models.live === null) { fill(recommended, h("p", { class: "hint" }, t("no_recommender"))); return; }
      found = await api("GET", `/v1/recommendations?user=${encodeURIComponent(customer.value.trim())}&k=5`);
    } catch (e) { fill(recommended, e.message); return; }
    fill(recommended, h("p", { class: "hint" }, t("recommender_version", found.recommender)),
      table([t("item"), t("category"), t("reason")], found.items.map(r => [r.item.title, r.item.category, r.because ? t("because_of", r.because.title) : r.reason])));
  }

  product.addEventListener("change", reviews);
  period.addEventListener("change", reviews);
  main.append(
    h("h1", {}, t("nav_analytics")), problem,
    h("h2", {}, t("review_sentiment")),
    h("div", { class: "row" }, h("label", {}, t("product"), product), h("label", {}, t("period"), period)),
    chart, products,
    h("h2", {}, t("complaint_topics")), topics,
    h("h2", {}, t("desk_figures")), desk,
    h("h2", {}, t("try_recommender")),
    h("form", { class: "row", onsubmit: recommend }, h("label", {}, t("customer_id"), customer), h("button", { type: "submit" }, t("recommend"))),
    recommended);
  await Promise.all([reviews(), deskFigures(), recommend()]);
}
