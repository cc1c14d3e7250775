/* Portal behaviour, self-hosted (no CDN). Every page works without it; it adds:
 * - copy buttons ([data-copy] holds the text, [data-copy-from] a selector to copy from),
 * - search as you type (form[data-live-search] names the results container to refill and
 *   [data-live-status] the live region that announces the count),
 * - tag suggestions from every tag (form[data-tag-suggest] names the management API's
 *   tag list, called with the portal's session),
 * - live dashboard figures ([data-poll] names the management API's summary, polled
 *   every 5 s; [data-page] the page to take redrawn parts from).
 * URLs always come from the page (rendered by Django), never spelled here. */
"use strict";
(function () {
  const announcer = () => document.getElementById("announcer");

  function announce(text) {
    const region = announcer();
    if (region) region.textContent = text;
  }

  function debounce(fn, ms) {
    let timer = null;
    return (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => fn(...args), ms);
    };
  }

  // --- Copy to clipboard -------------------------------------------------------------
  async function copyText(text) {
    // The Clipboard API exists only in secure contexts (https, localhost); a registry
    // reached over plain http by its name falls back to a hidden textarea.
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    if (!ok) throw new Error("copy refused");
  }

  const restoreTimers = new WeakMap();

  function flash(button, text) {
    // The label is captured once, before any click changed it: a second click within the
    // two seconds must not take "Copied" for the label to restore.
    if (button.dataset.label === undefined) button.dataset.label = button.textContent;
    button.textContent = text;
    clearTimeout(restoreTimers.get(button));
    restoreTimers.set(button, setTimeout(() => { button.textContent = button.dataset.label; }, 2000));
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy], [data-copy-from]");
    if (!button) return;
    const source = button.dataset.copyFrom && document.querySelector(button.dataset.copyFrom);
    const text = source ? source.textContent : button.dataset.copy;
    copyText(text).then(
      () => {
        document.body.dataset.lastCopied = text;
        flash(button, "Copied");
        announce("Copied to the clipboard: " + text.slice(0, 120));
      },
      () => {
        flash(button, "Copy failed");
        announce("Could not copy; select the text and copy it by hand.");
      },
    );
  });

  // --- Search as you type ------------------------------------------------------------
  function liveSearch(form) {
    const results = document.querySelector(form.dataset.liveSearch);
    const status = form.dataset.liveStatus && document.querySelector(form.dataset.liveStatus);
    if (!results) return;
    let latest = 0;
    async function refresh() {
      // The form's action is this page's URL, maybe with a #fragment (the skip link's):
      // build the query on a URL object, not by pasting strings.
      const target = new URL(form.action);
      target.search = new URLSearchParams(new FormData(form)).toString();
      target.hash = "";
      const url = target.toString();
      const ticket = ++latest;
      results.setAttribute("aria-busy", "true");
      let page;
      try {
        const response = await fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" });
        if (!response.ok || ticket !== latest) return; // a newer keystroke already asked
        page = new DOMParser().parseFromString(await response.text(), "text/html");
      } catch (error) {
        return; // offline or restarting: the form still submits normally
      } finally {
        if (ticket === latest) results.removeAttribute("aria-busy");
      }
      const fresh = page.querySelector(form.dataset.liveSearch);
      if (!fresh) return;
      // The containers stay; only their contents change, so the live region that screen
      // readers listen to is the same node and announces the new count.
      results.replaceChildren(...fresh.childNodes);
      const freshStatus = status && page.querySelector(form.dataset.liveStatus);
      if (freshStatus && status.textContent !== freshStatus.textContent) status.textContent = freshStatus.textContent;
      history.replaceState(null, "", url);
    }
    const later = debounce(refresh, 250);
    form.addEventListener("input", later);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      refresh();
    });
  }
  document.querySelectorAll("form[data-live-search]").forEach(liveSearch);

  // --- Tag suggestions (compare form) ---------------------------------------------------
  function tagSuggest(form) {
    const endpoint = form.dataset.tagSuggest;
    async function suggest(input) {
      const list = input.list;
      if (!list) return;
      const query = { q: input.value, sort: "-pushed", page_size: "20" };
      const url = endpoint + "?" + new URLSearchParams(query).toString();
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (!response.ok) return;
        const data = await response.json();
        // Images and indexes first (what a comparison takes), then artifacts.
        const tags = data.results.filter((t) => !t.artifact).concat(data.results.filter((t) => t.artifact));
        list.replaceChildren(...tags.map((tag) => {
          const option = document.createElement("option");
          option.value = tag.name;
          if (tag.artifact) option.label = tag.name + " (artifact)";
          return option;
        }));
        form.dataset.suggested = input.value; // lets the browser tests wait for it
      } catch (error) {
        // keep the suggestions already there
      }
    }
    const later = debounce(suggest, 200);
    form.querySelectorAll("input[list]").forEach((input) => {
      input.addEventListener("input", () => later(input));
      input.addEventListener("focus", () => suggest(input), { once: true });
    });
  }
  document.querySelectorAll("form[data-tag-suggest]").forEach(tagSuggest);

  // --- Live dashboard ----------------------------------------------------------------
  // The counts come from the management API's summary; when its `version` moves, the
  // parts the server draws ([data-redraw]: storage, charts, recent pushes) are taken from
  // a fresh copy of the page, so this script renders no markup of its own.
  const live = document.querySelector("[data-poll]");
  if (live) {
    async function fetchOk(url, accept) {
      const response = await fetch(url, { headers: { Accept: accept }, credentials: "same-origin" });
      if (!response.ok) throw new Error(response.status);
      return response;
    }

    async function redraw() {
      const page = new DOMParser().parseFromString(await (await fetchOk(live.dataset.page, "text/html")).text(), "text/html");
      document.querySelectorAll("[data-redraw]").forEach((node) => {
        const fresh = page.getElementById(node.id);
        if (!fresh) return;
        node.replaceChildren(...fresh.childNodes);
        if (fresh.title) node.title = fresh.title;
      });
    }

    async function poll() {
      if (document.hidden) return;
      try {
        const data = await (await fetchOk(live.dataset.poll, "application/json")).json();
        // Redrawn first, so the counts and what the server drew change together.
        if (data.version !== live.dataset.version) await redraw();
        live.querySelectorAll("[data-figure]").forEach((node) => {
          const value = data[node.dataset.figure];
          if (value !== undefined && node.textContent !== String(value)) node.textContent = value;
        });
        live.dataset.version = data.version;
        live.dataset.updated = new Date().toISOString();
      } catch (error) {
        // the server is restarting; try again at the next tick
      }
    }

    setInterval(poll, 5000);
  }
})();
