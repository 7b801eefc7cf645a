// The session page's table links: copy a link with one click; the table cards page: print.
(function () {
  "use strict";
  function copied(button, ok) {
    var label = button.firstChild;
    var was = label.nodeValue;
    label.nodeValue = ok ? "Copied" : "Selected: press Ctrl+C";
    setTimeout(function () { label.nodeValue = was; }, 2000);
  }
  document.addEventListener("click", function (e) {
    var button = e.target.closest("button.copy");
    if (button) {
      var input = document.getElementById(button.dataset.copy);
      if (!input) return;
      input.focus();
      input.select();
      // The clipboard API needs https or localhost; a venue laptop on plain http falls back to execCommand.
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(function () { copied(button, true); }, function () { copied(button, false); });
      } else {
        var ok = false;
        try { ok = document.execCommand("copy"); } catch (err) { ok = false; }
        copied(button, ok);
      }
      return;
    }
    if (e.target.closest("button.print")) window.print();
  });
  document.querySelectorAll("button.print").forEach(function (b) { b.hidden = false; });
})();
