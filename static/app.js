// Progressive enhancement only: every feature works without this file.
(function () {
  "use strict";

  // On a phone the list's filters start folded, unless one is set.
  if (window.matchMedia && window.matchMedia("(max-width: 699px)").matches) {
    document.querySelectorAll("details[data-fold-narrow=fold]").forEach(function (d) { d.open = false; });
  }

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

  // "Add another …" and "Remove" buttons: without JavaScript they round-trip
  // to the server; with it, rows are copied or taken out in place, and the
  // rows are numbered again so that their names stay 0, 1, 2…
  var renumber = function (rows, group) {
    rows.querySelectorAll("[data-row]").forEach(function (row, index) {
      row.querySelectorAll("[name], [id], label[for], [aria-describedby]").forEach(function (el) {
        ["name", "id", "for", "aria-describedby"].forEach(function (attr) {
          var v = el.getAttribute(attr);
          if (v) { el.setAttribute(attr, v.replace(/-\d+-/, "-" + index + "-")); }
        });
      });
      var remove = row.querySelector("[data-remove-row]");
      if (remove) {
        remove.value = group + "-" + index;
        var hidden = remove.querySelector(".visually-hidden");
        if (hidden) { hidden.textContent = hidden.textContent.replace(/\d+$/, String(index + 1)); }
      }
    });
  };
  // What a row holds goes, its stored id too (a new row, or none), but not
  // the hidden values that say what the row is.
  var emptyRow = function (row) {
    row.querySelectorAll("input").forEach(function (el) {
      if (el.type !== "hidden" || /-id$/.test(el.name)) { el.value = ""; }
    });
  };
  document.querySelectorAll("[data-add-row]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      var group = button.getAttribute("data-add-row");
      var rows = document.querySelector('[data-rows="' + group + '"]');
      if (!rows) { return; }
      var all = rows.querySelectorAll("[data-row]");
      var last = all[all.length - 1];
      if (!last || all.length >= 20) { return; }
      event.preventDefault();
      var copy = last.cloneNode(true);
      copy.querySelectorAll(".field-error").forEach(function (el) { el.remove(); });
      copy.querySelectorAll(".has-error").forEach(function (el) { el.classList.remove("has-error"); });
      copy.querySelectorAll("input").forEach(function (el) {
        el.removeAttribute("aria-invalid");
        el.removeAttribute("aria-describedby");
      });
      emptyRow(copy);
      rows.appendChild(copy);
      renumber(rows, group);
      var first = copy.querySelector("input:not([type=hidden])");
      if (first) { first.focus(); }
    });
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-remove-row]");
    if (!button) { return; }
    var row = button.closest("[data-row]");
    var rows = row && row.parentElement;
    if (!rows || !rows.hasAttribute("data-rows")) { return; }
    event.preventDefault();
    var group = rows.getAttribute("data-rows");
    var all = rows.querySelectorAll("[data-row]");
    var next = row.nextElementSibling || row.previousElementSibling;
    if (all.length > 1) {
      row.remove();
    } else {
      // The last row stays to type in; only what it held goes.
      emptyRow(row);
      next = row;
    }
    renumber(rows, group);
    var focus = next && next.querySelector("input:not([type=hidden]), select");
    if (focus) { focus.focus(); }
  });

  // Forms that destroy data ask once more.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
  // A job's progress (an import, a bulk change) moves without reloading;
  // without JavaScript the page refreshes itself (a meta refresh inside
  // <noscript>).
  var progress = document.querySelector(".job-progress[data-active=true]");
  if (progress && window.fetch) {
    var url = progress.getAttribute("data-progress-url");
    var poll = function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (p) {
          if (!p) { window.setTimeout(poll, 3000); return; }
          var bar = progress.querySelector("progress");
          if (bar) { bar.max = Math.max(p.total, 1); bar.value = p.done; bar.textContent = p.percent + "%"; }
          progress.querySelectorAll("[data-field]").forEach(function (el) {
            var value = p[el.getAttribute("data-field")];
            // Counts read as the server writes them: 1,000,000.
            if (typeof value === "number") { value = value.toLocaleString("en-GB"); }
            if (value !== undefined) { el.textContent = value; }
          });
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
  // The header's search box suggests staff and contacts as you type (a
  // combobox: arrows move, Enter opens the chosen one, the first is chosen
  // at once); without JavaScript it submits to the results page.
  var box = document.getElementById("global-q");
  if (box && window.fetch) {
    var list = document.createElement("div");
    list.className = "suggest";
    list.hidden = true;
    box.form.appendChild(list);
    box.setAttribute("role", "combobox");
    box.setAttribute("aria-autocomplete", "list");
    box.setAttribute("aria-expanded", "false");
    box.setAttribute("aria-controls", "global-suggest-list");
    var options = [];
    var active = -1;
    var asked = "";
    var timer = null;
    var choose = function (i) {
      options.forEach(function (o, n) { o.setAttribute("aria-selected", n === i ? "true" : "false"); });
      active = i;
      if (i >= 0 && options[i]) {
        box.setAttribute("aria-activedescendant", options[i].id);
        options[i].scrollIntoView({ block: "nearest" });
      } else {
        box.removeAttribute("aria-activedescendant");
      }
    };
    var close = function () {
      list.hidden = true;
      box.setAttribute("aria-expanded", "false");
      choose(-1);
    };
    var ask = function () {
      var q = box.value.trim();
      if (q === asked) { return; }
      asked = q;
      if (!q) { list.innerHTML = ""; options = []; close(); return; }
      fetch(box.getAttribute("data-suggest") + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null || q !== box.value.trim()) { return; }
          list.innerHTML = html;
          options = Array.prototype.slice.call(list.querySelectorAll("[role=option]"));
          list.hidden = false;
          box.setAttribute("aria-expanded", "true");
          choose(options.length ? 0 : -1);
        })
        .catch(function () {});
    };
    box.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(ask, 120);
    });
    box.addEventListener("keydown", function (event) {
      if (list.hidden || !options.length) { return; }
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        var step = event.key === "ArrowDown" ? 1 : -1;
        choose((active + step + options.length) % options.length);
      } else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        window.location.href = options[active].getAttribute("data-href");
      } else if (event.key === "Escape") {
        close();
      }
    });
    list.addEventListener("mousedown", function (event) {
      var option = event.target.closest("[role=option]");
      if (option) {
        event.preventDefault();
        window.location.href = option.getAttribute("data-href");
      }
    });
    box.addEventListener("blur", function () { setTimeout(close, 150); });
    box.addEventListener("focus", function () { if (options.length && box.value.trim() === asked) { list.hidden = false; box.setAttribute("aria-expanded", "true"); choose(0); } });
  }

  // Header menus close on Escape and on a click elsewhere, as menus do.
  var menus = document.querySelectorAll("details.menu");
  document.addEventListener("click", function (event) {
    menus.forEach(function (m) { if (m.open && !m.contains(event.target)) { m.open = false; } });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    menus.forEach(function (m) {
      if (m.open) { m.open = false; m.querySelector("summary").focus(); }
    });
  });

  // Keyboard shortcuts, each a quicker way to a link that is already there.
  var help = document.getElementById("shortcuts");
  var rows = Array.prototype.slice.call(document.querySelectorAll("[data-row-link]"));
  var current = -1;
  var typing = function (el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  };
  var showHelp = function () { if (help && help.showModal && !help.open) { help.showModal(); } };
  document.querySelectorAll("[data-shortcuts]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", showHelp);
  });
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    if (help && help.open) { return; }
    var go = function (selector) {
      var link = document.querySelector(selector);
      if (link) { event.preventDefault(); link.click(); }
    };
    if (event.key === "/" && box) {
      event.preventDefault();
      box.focus();
      box.select();
    } else if (event.key === "?") {
      event.preventDefault();
      showHelp();
    } else if (event.key === "n") {
      if (help) { event.preventDefault(); window.location.href = "/contacts/new"; }
    } else if (event.key === "e") {
      go("[data-shortcut=edit]");
    } else if ((event.key === "j" || event.key === "k") && rows.length) {
      event.preventDefault();
      current = event.key === "j" ? Math.min(current + 1, rows.length - 1) : Math.max(current - 1, 0);
      rows.forEach(function (r, i) { r.closest("tr, li").classList.toggle("row-current", i === current); });
      rows[current].focus();
    }
  });

  // The bulk panel counts the ticked boxes as they change.
  var counter = document.getElementById("selected-count");
  if (counter) {
    var boxes = document.querySelectorAll("input[name=id][form=bulk-form]");
    var all = document.querySelector("input[name=all]");
    var recount = function () {
      var n = 0;
      boxes.forEach(function (b) { if (b.checked) { n += 1; } });
      counter.textContent = all && all.checked ? counter.getAttribute("data-all") :
        n === 0 ? "None selected" : n === 1 ? "1 selected" : n + " selected";
    };
    document.addEventListener("change", function (event) {
      if (event.target.type === "checkbox") { recount(); }
    });
    recount();
  }
})();
