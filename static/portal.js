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

  function pad(n) { return String(n).padStart(2, "0"); }

  // Shows each server-rendered UTC <time> in the browser's time zone; the
  // UTC value stays in the tooltip.
  function localTimes(root) {
    root.querySelectorAll("time[datetime$='Z']").forEach(function (el) {
      if (el.dataset.local) return;
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d.getTime())) return;
      el.dataset.local = "1";
      var tz = "";
      try {
        var part = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" }).formatToParts(d)
          .filter(function (p) { return p.type === "timeZoneName"; })[0];
        if (part) tz = " " + part.value;
      } catch (e) { /* no Intl: no zone name */ }
      el.textContent = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
        pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + tz;
    });
  }

  // The dialog that confirms a destructive form, made once.
  var dialog;
  function confirmDialog() {
    if (dialog) return dialog;
    dialog = document.createElement("dialog");
    dialog.className = "confirm";
    dialog.setAttribute("data-testid", "confirm-dialog");
    dialog.setAttribute("aria-labelledby", "confirm-title");
    var form = document.createElement("form");
    form.method = "dialog";
    var h = document.createElement("h2");
    h.id = "confirm-title";
    h.textContent = "Please confirm";
    var p = document.createElement("p");
    p.className = "confirm-text";
    var actions = document.createElement("div");
    actions.className = "actions";
    var yes = document.createElement("button");
    yes.value = "yes";
    yes.className = "danger";
    yes.setAttribute("data-testid", "confirm-yes");
    var no = document.createElement("button");
    no.value = "no";
    no.className = "secondary";
    no.textContent = "Cancel";
    no.setAttribute("data-testid", "confirm-no");
    actions.append(yes, no);
    form.append(h, p, actions);
    dialog.append(form);
    document.body.append(dialog);
    return dialog;
  }

  // Asks in a dialog before a form with data-confirm is sent; once asked,
  // the form carries confirm=yes, so the server does not ask again on its
  // confirmation page (which is what a browser without JavaScript gets).
  function confirmations(root) {
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      if (form.dataset.confirmReady || typeof HTMLDialogElement === "undefined") return;
      form.dataset.confirmReady = "1";
      form.addEventListener("submit", function (e) {
        if (form.dataset.confirmed) return;
        e.preventDefault();
        var d = confirmDialog();
        d.querySelector(".confirm-text").textContent = form.getAttribute("data-confirm");
        d.querySelector("[data-testid=confirm-yes]").textContent = form.getAttribute("data-confirm-button") || "Confirm";
        var submitter = e.submitter;
        d.returnValue = "";
        d.addEventListener("close", function onClose() {
          d.removeEventListener("close", onClose);
          if (d.returnValue !== "yes") return;
          var flag = form.querySelector("input[type=hidden][name=confirm]");
          if (!flag) {
            flag = document.createElement("input");
            flag.type = "hidden";
            flag.name = "confirm";
            form.append(flag);
          }
          flag.value = "yes";
          form.dataset.confirmed = "1";
          if (submitter && form.requestSubmit) form.requestSubmit(submitter); else form.submit();
        });
        d.showModal();
      });
    });
  }

  // A checkbox with data-check-all ticks every row of its form.
  function checkAll(root) {
    root.querySelectorAll("input[data-check-all]").forEach(function (all) {
      if (all.dataset.ready) return;
      all.dataset.ready = "1";
      all.addEventListener("change", function () {
        var form = all.form || document.getElementById(all.getAttribute("form"));
        document.querySelectorAll("input[type=checkbox][name=id]").forEach(function (box) {
          if (!form || box.form === form) box.checked = all.checked;
        });
      });
    });
  }

  function enhance(root) {
    countdowns(root);
    copyButtons(root);
    formatSwitch(root);
    localTimes(root);
    confirmations(root);
    checkAll(root);
  }
  enhance(document);
  // Lists that htmx refreshes get the same treatment.
  document.addEventListener("htmx:load", function (e) { enhance(e.detail.elt); });
})();
