// Counts down each `[data-seconds-left]` element once a second, from the seconds the
// server rendered; the server's own text stays readable without this script, and htmx
// refreshes the list (with fresh numbers) every few seconds.
(function () {
  "use strict";
  function text(s) {
    if (s <= 0) return "due now";
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
    if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
    return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-seconds-left]").forEach(function (el) {
      if (!el.dataset.seenAt) el.dataset.seenAt = String(now);
      var left = Number(el.dataset.secondsLeft) - Math.floor((now - Number(el.dataset.seenAt)) / 1000);
      var shown = text(Math.max(0, left));
      if (el.textContent !== shown) el.textContent = shown;
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
})();
