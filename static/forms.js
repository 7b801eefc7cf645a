// Ask before destructive buttons; the server does the work either way.
document.addEventListener("submit", function (e) {
  var message = e.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) e.preventDefault();
});

// Show only the settings of the chosen question type.
(function () {
  var kind = document.getElementById("kind");
  if (!kind) return;
  function sync() {
    // data-kind may name several types, space-separated ("notes trajectory").
    document.querySelectorAll("[data-kind]").forEach(function (box) {
      box.hidden = box.dataset.kind.split(" ").indexOf(kind.value) < 0;
    });
  }
  kind.addEventListener("change", sync);
  sync();
})();
