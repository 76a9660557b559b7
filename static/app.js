// Progressive enhancement only: every feature works without this file.
(function () {
  "use strict";

  // After a failed submit, the error summary takes the focus, so that a
  // screen reader reads it and a keyboard user starts from its links.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }

  // Search boxes marked data-autosubmit submit themselves after a short pause in typing.
  document.querySelectorAll("input[data-autosubmit]").forEach(function (input) {
    var timer = null;
    var initial = input.value;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        if (input.value !== initial && input.form) {
          input.form.requestSubmit ? input.form.requestSubmit() : input.form.submit();
        }
      }, 400);
    });
    if (document.activeElement !== input && initial && window.location.search.indexOf("q=") !== -1) {
      input.focus();
      input.setSelectionRange(initial.length, initial.length);
    }
  });

  // "Add another …" buttons: without JavaScript they round-trip to the server;
  // with it, the last row is copied in place at once.
  document.querySelectorAll("[data-add-row]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      var group = button.getAttribute("data-add-row");
      var rows = document.querySelector('[data-rows="' + group + '"]');
      if (!rows) { return; }
      var all = rows.querySelectorAll("[data-row]");
      var last = all[all.length - 1];
      if (!last || all.length >= 20) { return; }
      event.preventDefault();
      var index = all.length;
      var copy = last.cloneNode(true);
      copy.querySelectorAll("[name], [id], label[for]").forEach(function (el) {
        ["name", "id", "for", "aria-describedby"].forEach(function (attr) {
          var v = el.getAttribute(attr);
          if (v) { el.setAttribute(attr, v.replace(/-\d+-/, "-" + index + "-")); }
        });
      });
      copy.querySelectorAll(".field-error").forEach(function (el) { el.remove(); });
      copy.querySelectorAll(".has-error").forEach(function (el) { el.classList.remove("has-error"); });
      copy.querySelectorAll("input").forEach(function (el) {
        el.removeAttribute("aria-invalid");
        if (el.type !== "hidden" || /-id$/.test(el.name)) { el.value = ""; }
      });
      rows.appendChild(copy);
      var first = copy.querySelector("input:not([type=hidden])");
      if (first) { first.focus(); }
    });
  });

  // Forms that destroy data ask once more.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
  // An import's progress moves without reloading; without JavaScript the page
  // refreshes itself (a meta refresh inside <noscript>).
  var progress = document.querySelector(".import-progress[data-active=true]");
  if (progress && window.fetch) {
    var url = progress.getAttribute("data-progress-url");
    var set = function (id, value) {
      var el = document.getElementById(id);
      if (el) { el.textContent = value; }
    };
    var poll = function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (p) {
          if (!p) { window.setTimeout(poll, 3000); return; }
          var bar = document.getElementById("import-bar");
          if (bar) { bar.max = Math.max(p.total, 1); bar.value = p.done; bar.textContent = p.percent + "%"; }
          set("import-done", p.done);
          set("import-total", p.total);
          set("import-percent", p.percent);
          set("import-rate", p.rate);
          set("import-eta", p.eta);
          set("import-imported", p.imported);
          set("import-updated", p.updated);
          set("import-unchanged", p.unchanged);
          set("import-failed", p.failed);
          if (p.finished) { window.location.reload(); } else { window.setTimeout(poll, 1000); }
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    };
    window.setTimeout(poll, 500);
  }

  // Dropping a file anywhere on the upload form puts it in the file field.
  document.querySelectorAll("form[data-dropzone]").forEach(function (form) {
    var input = form.querySelector("input[type=file]");
    if (!input) { return; }
    ["dragenter", "dragover"].forEach(function (name) {
      form.addEventListener(name, function (event) {
        event.preventDefault();
        form.classList.add("dragging");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      form.addEventListener(name, function () { form.classList.remove("dragging"); });
    });
    form.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
      }
    });
  });
  // A box in the list's header ticks every contact on the page.
  document.querySelectorAll("th.select-col").forEach(function (th) {
    var table = th.closest("table");
    var all = document.createElement("input");
    all.type = "checkbox";
    all.setAttribute("aria-label", "Select every contact on this page");
    all.addEventListener("change", function () {
      table.querySelectorAll("td.select-col input[type=checkbox]").forEach(function (box) {
        box.checked = all.checked;
      });
    });
    th.appendChild(all);
  });

  // Conversations marked data-poll fetch their page again every few seconds
  // and show new messages in place; without JavaScript the page refreshes
  // itself (a meta refresh in <noscript>) or the reader follows its link.
  document.querySelectorAll("[data-poll]").forEach(function (list) {
    var every = parseInt(list.getAttribute("data-poll"), 10) * 1000 || 5000;
    var busy = false;
    setInterval(function () {
      if (busy || document.hidden) { return; }
      busy = true;
      fetch(window.location.pathname, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (res) { return res.ok ? res.text() : null; })
        .then(function (html) {
          if (!html) { return; }
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(list.id);
          if (fresh && fresh.innerHTML !== list.innerHTML) {
            list.innerHTML = fresh.innerHTML;
            var status = document.getElementById("poll-status");
            if (status) { status.textContent = "New messages"; }
          }
        })
        .catch(function () {})
        .then(function () { busy = false; });
    }, every);
  });
})();
