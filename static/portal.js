// scepgate portal: small progressive enhancements. Every page works
// without them.
(function () {
  "use strict";

  // Counts down to the time in data-expires (RFC 3339).
  function countdowns(root) {
    root.querySelectorAll("[data-expires]").forEach(function (el) {
      var end = Date.parse(el.getAttribute("data-expires"));
      if (isNaN(end) || el.dataset.ticking) return;
      el.dataset.ticking = "1";
      (function tick() {
        var s = Math.round((end - Date.now()) / 1000);
        if (s <= 0) { el.textContent = "expired"; return; }
        var m = Math.floor(s / 60);
        el.textContent = "expires in " + m + " min " + String(s % 60).padStart(2, "0") + " s";
        setTimeout(tick, 1000);
      })();
    });
  }

  // Adds a Copy button after each element with data-copy.
  function copyButtons(root) {
    if (!navigator.clipboard) return;
    root.querySelectorAll("[data-copy]").forEach(function (el) {
      if (el.dataset.copyReady) return;
      el.dataset.copyReady = "1";
      var b = document.createElement("button");
      b.type = "button";
      b.className = "secondary copy";
      b.textContent = "Copy";
      b.addEventListener("click", function () {
        navigator.clipboard.writeText(el.textContent.trim()).then(function () {
          b.textContent = "Copied";
          setTimeout(function () { b.textContent = "Copy"; }, 1500);
        });
      });
      el.insertAdjacentElement("afterend", b);
    });
  }

  // Shows only the settings of the chosen handler format.
  function formatSwitch(root) {
    var format = root.querySelector("select[data-format-switch]");
    if (!format) return;
    var sync = function () {
      document.querySelectorAll("[data-format]").forEach(function (fs) {
        fs.hidden = fs.getAttribute("data-format") !== format.value;
      });
    };
    format.addEventListener("change", sync);
    sync();
  }

  function enhance(root) {
    countdowns(root);
    copyButtons(root);
    formatSwitch(root);
  }
  enhance(document);
  // Lists that htmx refreshes get the same treatment.
  document.addEventListener("htmx:load", function (e) { enhance(e.detail.elt); });
})();
