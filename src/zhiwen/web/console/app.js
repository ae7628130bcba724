// The admin console: sign in, the navigation, and one page per hash (#knowledge, #hit-test, …).
import { api, language, session, setLanguage, t } from "./core.js";
import { analyticsPage } from "./analytics.js";
import { conversationsPage } from "./conversations.js";
import { hitTestPage, knowledgePage } from "./knowledge.js";
import { modelsPage } from "./models.js";
import { curatedPage, evaluationsPage, goldenPage, reviewPage } from "./quality.js";
import { releasesPage } from "./releases.js";
import { peoplePage, settingsPage } from "./settings.js";
import { trustPage } from "./trust.js";

const PAGES = {
  knowledge: knowledgePage,
  "hit-test": hitTestPage,
  conversations: conversationsPage,
  review: reviewPage,
  curated: curatedPage,
  golden: goldenPage,
  evaluations: evaluationsPage,
  releases: releasesPage,
  analytics: analyticsPage,
  models: modelsPage,
  settings: settingsPage,
  people: peoplePage,
  trust: trustPage,
};

const $ = id => document.getElementById(id);

function translateStatic() {
  document.querySelectorAll("[data-t]").forEach(node => { node.textContent = t(node.dataset.t); });
  document.querySelectorAll("[data-t-label]").forEach(node => {
    node.setAttribute("aria-label", t(node.dataset.tLabel));
  });
  document.querySelectorAll("[data-t-placeholder]").forEach(node => {
    node.placeholder = t(node.dataset.tPlaceholder);
  });
  document.title = `${t("brand")} · ${t("console")}`;
}

async function show() {
  if (!session.user) return;
  const name = location.hash.slice(1) || "knowledge";
  const page = PAGES[name] || PAGES.knowledge;
  document.querySelectorAll("nav a").forEach(link => {
    if (link.getAttribute("href") === `#${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  });
  // Each visit renders into its own element: a page still loading when the user moves on fills a
  // detached element, never the next page.
  const view = document.createElement("div");
  $("main").replaceChildren(view);
  $("main").focus();
  await page(view);
}

function signedIn(me) {
  if (me.user.role !== "admin") {  // agents work at the desk; the console is for administrators
    location.href = "/desk";
    return;
  }
  session.csrf = me.csrf_token;
  session.user = me.user;
  $("signin").hidden = true;
  $("shell").hidden = false;
  $("me").textContent = `${me.user.name} · ${me.user.email}`;
  show();
}

$("signin-form").addEventListener("submit", async event => {
  event.preventDefault();
  try {
    signedIn(await api("POST", "/v1/auth/sign-in", { email: $("email").value.trim(), password: $("password").value }));
    $("password").value = "";
    $("signin-problem").textContent = "";
  } catch (error) {
    $("signin-problem").textContent = error.message;
  }
});

$("signout").addEventListener("click", async () => {
  try { await api("POST", "/v1/auth/sign-out"); } finally { location.reload(); }
});

$("language").value = language();
$("language").addEventListener("change", () => {
  setLanguage($("language").value);
  translateStatic();
  show();
});

window.addEventListener("hashchange", show);
setLanguage(language());
translateStatic();
api("GET", "/v1/auth/me").then(signedIn).catch(() => {
  $("signin").hidden = false;
  $("email").focus();
});
