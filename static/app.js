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
    // Keep the caret at the end after a reload caused by auto-submit.
    if (document.activeElement !== input && initial && window.location.search.indexOf("q=") !== -1) {
      input.focus();
      input.setSelectionRange(initial.length, initial.length);
    }
  });
})();
