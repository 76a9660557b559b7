// Progressive enhancement only: every feature works without this file.
(function () {
  "use strict";

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
})();
