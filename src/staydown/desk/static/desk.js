// Small enhancements only; every flow works without this file.
(function () {
  "use strict";
  var body = document.body;
  var serverNow = Date.parse(body.getAttribute("data-server-now"));
  var skew = isNaN(serverNow) ? 0 : serverNow - Date.now();

  // Texts come from the page, in its language: "%(name)s" marks where a value goes.
  function text(el, name, values) {
    return (el.getAttribute("data-t-" + name) || "").replace(/%\((\w+)\)s/g, function (_, key) { return values[key]; });
  }

  function duration(seconds) {
    seconds = Math.abs(Math.floor(seconds));
    var d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var mm = String(m).padStart(2, "0"), ss = String(s).padStart(2, "0");
    if (d) return text(body, "dh", { days: d, hours: h });
    if (h) return text(body, "hms", { hours: h, minutes: mm, seconds: ss });
    return text(body, "ms", { minutes: m, seconds: ss });
  }

  // Live SLA clocks: count down to each deadline on the server's clock; overdue turns red.
  var clocks = document.querySelectorAll("time.sla[data-deadline]");
  function tick() {
    var now = Date.now() + skew;
    clocks.forEach(function (el) {
      var left = (Date.parse(el.getAttribute("data-deadline")) - now) / 1000;
      var overdue = left < 0;
      el.textContent = text(body, overdue ? "overdue" : "left", { time: duration(left) });
      el.classList.toggle("overdue", overdue);
      var row = el.closest("tr");
      if (row) row.classList.toggle("row-overdue", overdue);
    });
  }
  if (clocks.length) { tick(); setInterval(tick, 1000); }

  // Select every pending item on the page.
  var all = document.querySelector(".js-select-all");
  if (all) {
    all.hidden = false;
    all.addEventListener("change", function () {
      document.querySelectorAll("input.item-box[data-status=pending_review]").forEach(function (box) { box.checked = all.checked; });
    });
  }

  // Name the missing legal elements while the form is filled in (same rules as the intake).
  var form = document.getElementById("notice-form");
  if (form) {
    var timer = null;
    var check = function () {
      var data = new FormData(form);
      data.delete("file");
      fetch(form.getAttribute("data-check"), { method: "POST", body: data, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) return;
          var panel = document.getElementById("missing");
          var holder = document.createElement("div");
          holder.innerHTML = html;
          panel.replaceWith(holder.firstElementChild);
        })
        .catch(function () {});
    };
    form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(check, 300); });
    form.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(check, 100); });
  }

  // Live domain-control check without leaving the page.
  document.querySelectorAll("form.js-live-check").forEach(function (f) {
    f.addEventListener("submit", function (event) {
      event.preventDefault();
      var out = f.querySelector(".check-result");
      out.textContent = text(f, "checking", {});
      fetch(f.action + "?fragment=1", { method: "POST", body: new FormData(f), credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (result) {
          out.textContent = text(f, result.ok ? "passed" : "failed", { detail: result.detail, status: result.label });
          if (result.status === "active") { setTimeout(function () { window.location.reload(); }, 800); }
        })
        .catch(function () { f.submit(); });
    });
  });
})();
