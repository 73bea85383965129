// Messages of the admin page in Korean and English, chosen by the person (remembered in this browser)
// or else by the browser's preferred languages; dates and times in the person's locale.
//
// The catalogues are messages-ko.json and messages-en.json (the same keys in both). A message is a
// string with {name} placeholders, or {"one": ..., "other": ...} chosen by the number {n}; text in
// `backquotes` is shown as code. Messages only ever become text nodes, never markup.
"use strict";

window.edgeI18n = (() => {
  const LANGUAGES = ["ko", "en"];
  const FALLBACK = "en";
  const CHOICE_KEY = "edge.language";

  const state = { language: FALLBACK, locale: FALLBACK, messages: {}, fallback: {} };

  function preferred() {
    const chosen = localStorage.getItem(CHOICE_KEY);
    if (LANGUAGES.includes(chosen)) return chosen;
    for (const tag of navigator.languages || [navigator.language || ""]) {
      const base = tag.toLowerCase().split("-")[0];
      if (LANGUAGES.includes(base)) return base;
    }
    return FALLBACK;
  }

  // The browser's own tag when it is a variant of the page language (en-GB dates for en-GB).
  function localeFor(language) {
    const tags = navigator.languages || [navigator.language || ""];
    return tags.find((tag) => tag.toLowerCase().split("-")[0] === language) || (language === "ko" ? "ko-KR" : language);
  }

  async function fetchCatalogue(language) {
    const response = await fetch(`/static/messages-${language}.json`, { cache: "no-cache" });
    if (!response.ok) throw new Error(`messages-${language}.json: ${response.status}`);
    return response.json();
  }

  async function load() {
    state.language = preferred();
    state.locale = localeFor(state.language);
    const [fallback, messages] = await Promise.all([
      fetchCatalogue(FALLBACK),
      state.language === FALLBACK ? null : fetchCatalogue(state.language),
    ]);
    state.fallback = fallback;
    state.messages = messages || fallback;
    document.documentElement.lang = state.language;
  }

  function t(key, params = {}) {
    let message = state.messages[key] ?? state.fallback[key];
    if (message === undefined) return key;
    if (typeof message === "object") {
      const form = new Intl.PluralRules(state.locale).select(Number(params.n ?? 0));
      message = message[form] ?? message.other;
    }
    return message.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
  }

  // A message as nodes: `code` parts become <code> elements (textContent only).
  function nodes(key, params) {
    return t(key, params)
      .split("`")
      .map((part, index) => {
        if (index % 2 === 0) return document.createTextNode(part);
        const code = document.createElement("code");
        code.textContent = part;
        return code;
      });
  }

  function apply(root = document) {
    for (const node of root.querySelectorAll("[data-i18n]")) {
      node.replaceChildren(...nodes(node.dataset.i18n));
    }
    for (const node of root.querySelectorAll("*")) {
      for (const attribute of node.getAttributeNames()) {
        if (attribute.startsWith("data-i18n-")) {
          node.setAttribute(attribute.slice("data-i18n-".length), t(node.getAttribute(attribute)));
        }
      }
    }
    document.title = t("app.title");
  }

  // The choice is remembered; the page reloads in the new language (the token stays in the tab).
  function choose(language) {
    if (!LANGUAGES.includes(language) || language === state.language) return;
    localStorage.setItem(CHOICE_KEY, language);
    location.reload();
  }

  const dateTimeFormat = (options) => new Intl.DateTimeFormat(state.locale, options);

  function dateTime(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? iso : dateTimeFormat({ dateStyle: "medium", timeStyle: "short" }).format(date);
  }

  function time(date = new Date()) {
    return dateTimeFormat({ timeStyle: "medium" }).format(date);
  }

  function shortTime(date) {
    return dateTimeFormat({ timeStyle: "short" }).format(date);
  }

  function number(value) {
    return new Intl.NumberFormat(state.locale).format(value);
  }

  return {
    load,
    t,
    nodes,
    apply,
    choose,
    dateTime,
    time,
    shortTime,
    number,
    get language() {
      return state.language;
    },
  };
})();
