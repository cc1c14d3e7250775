/* Portal behaviour, self-hosted (no CDN). Every page works without it; it adds:
 * - copy buttons ([data-copy] holds the text, [data-copy-from] a selector to copy from),
 * - search as you type on the repository list (form[data-live-search]),
 * - live dashboard figures ([data-poll] names the JSON endpoint, refreshed every 5 s). */
"use strict";
(function () {
  const announcer = () => document.getElementById("announcer");

  function announce(text) {
    const region = announcer();
    if (region) region.textContent = text;
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

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy], [data-copy-from]");
    if (!button) return;
    const source = button.dataset.copyFrom && document.querySelector(button.dataset.copyFrom);
    const text = source ? source.textContent : button.dataset.copy;
    const label = button.textContent;
    copyText(text).then(
      () => {
        document.body.dataset.lastCopied = text;
        button.textContent = "Copied";
        announce("Copied to the clipboard: " + text.slice(0, 120));
      },
      () => {
        button.textContent = "Copy failed";
        announce("Could not copy; select the text and copy it by hand.");
      },
    );
    setTimeout(() => { button.textContent = label; }, 2000);
  });

  // --- Search as you type ------------------------------------------------------------
  const searchForm = document.querySelector("form[data-live-search]");
  if (searchForm) {
    const target = searchForm.dataset.liveSearch;
    let timer = null;
    let latest = 0;
    async function refresh() {
      const params = new URLSearchParams(new FormData(searchForm));
      const url = searchForm.action.split("?")[0] + "?" + params.toString();
      const ticket = ++latest;
      const response = await fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" });
      if (!response.ok || ticket !== latest) return; // a newer keystroke already asked
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.querySelector(target);
      const current = document.querySelector(target);
      if (fresh && current) {
        current.replaceWith(fresh);
        history.replaceState(null, "", url);
      }
    }
    searchForm.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, 250);
    });
    searchForm.addEventListener("submit", (event) => {
      event.preventDefault();
      clearTimeout(timer);
      refresh();
    });
  }

  // --- Live dashboard ----------------------------------------------------------------
  const live = document.querySelector("[data-poll]");
  if (live) {
    const url = live.dataset.poll;

    function recentItem(push) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = "/repositories/" + push.repository + "/";
      link.textContent = push.repository + ":" + push.tag;
      const digest = document.createElement("code");
      digest.title = push.digest;
      digest.textContent = push.digest.split(":")[0] + ":" + push.digest.split(":")[1].slice(0, 12);
      const time = document.createElement("time");
      time.dateTime = push.pushed_at;
      time.textContent = push.ago;
      item.append(link, " ", digest, " ", time);
      return item;
    }

    async function poll() {
      if (document.hidden) return;
      let data;
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (!response.ok) return;
        data = await response.json();
      } catch (error) {
        return; // the server is restarting; try again at the next tick
      }
      live.querySelectorAll("[data-figure]").forEach((node) => {
        const value = data[node.dataset.figure];
        if (value !== undefined && node.textContent !== String(value)) node.textContent = value;
      });
      const list = document.getElementById("recent-pushes");
      if (list && data.recent.length) list.replaceChildren(...data.recent.map(recentItem));
      const charts = document.getElementById("charts");
      if (charts && data.charts_html) charts.innerHTML = data.charts_html; // our own server-rendered markup
      live.dataset.updated = new Date().toISOString();
    }

    setInterval(poll, 5000);
  }
})();
