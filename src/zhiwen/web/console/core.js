// What every console page shares: the /v1 API with the session's CSRF token, the page's language,
// a small element builder, and figures formatted one way.
import { STRINGS } from "./i18n.js";

export const session = { csrf: null, user: null };

let lang = localStorage.getItem("zhiwen.lang") || (navigator.language.startsWith("zh") ? "zh" : "en");

export function language() { return lang; }

export function setLanguage(value) {
  lang = value === "zh" ? "zh" : "en";
  localStorage.setItem("zhiwen.lang", lang);
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
}

/** The text for ``key`` in the page's language; a function entry is called with ``args``. */
export function t(key, ...args) {
  const text = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return typeof text === "function" ? text(...args) : text;
}

/** A value's name in the page's language (``prefix_value``), or the value itself when there is none. */
export function term(prefix, value) {
  const key = `${prefix}_${value}`;
  return STRINGS[lang][key] ?? STRINGS.en[key] ?? String(value);
}

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Call the API as the signed-in person: JSON in and out (or a FormData body), errors as ApiError. */
export async function api(method, path, body) {
  const headers = {};
  if (session.csrf && method !== "GET") headers["X-CSRF-Token"] = session.csrf;
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const response = await fetch(path, { method, headers, body: payload });
  if (response.status === 204) return null;
  const isJson = (response.headers.get("content-type") || "").includes("json");
  const data = isJson ? await response.json() : await response.text();
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.code, error.message || response.statusText, error.details);
  }
  return data;
}

/** Poll a job until it ends, reporting its progress (0..1); the finished job. */
export async function finished(jobId, onProgress) {
  for (;;) {
    const job = await api("GET", `/v1/jobs/${jobId}`);
    onProgress(job.progress || 0);
    if (job.status === "succeeded" || job.status === "failed") return job;
    await new Promise(resolve => setTimeout(resolve, 700));
  }
}

/**
 * An element: ``h("button", { class: "act", onclick: f }, "text", child)``. Attributes starting with "on"
 * become listeners; strings become text (never HTML), null and false are skipped, arrays are flattened.
 */
export function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else if (name in node && typeof value !== "string") node[name] = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  append(node, children);
  return node;
}

/** Replace what ``node`` shows, with ``children`` as :func:`h` takes them (null and false skipped). */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : String(child));
  }
}

/** A table with a header row; ``rows`` are arrays of cells (text or elements). */
export function table(headers, rows, attributes = {}) {
  return h("table", attributes,
    h("thead", {}, h("tr", {}, headers.map(title => h("th", { scope: "col" }, title)))),
    h("tbody", {}, rows.map(cells => h("tr", {}, cells.map(cell => h("td", {}, cell))))));
}

export function pct(value) {
  return value === null || value === undefined ? "–" : `${(value * 100).toFixed(1)}%`;
}

export function number(value, digits = 3) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}

export function when(iso) {
  return iso ? iso.replace("T", " ").slice(0, 16) : "–";
}

/** A line that says what went wrong (or nothing): every page has one under its title. */
export function problemLine() {
  const line = h("p", { class: "problem", role: "alert" });
  line.show = error => {
    line.textContent = error ? (error.message || String(error)) : "";
  };
  return line;
}

/** A progress bar whose ``set`` takes 0..1. */
export function progressBar(label) {
  const bar = h("progress", { max: 100, value: 0, "aria-label": label });
  bar.set = fraction => { bar.value = Math.round(fraction * 100); };
  return bar;
}
