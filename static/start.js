// New session: choosing an earlier session in the list also chooses "A copy of an earlier session".
(function () {
  "use strict";
  var source = document.getElementById("source");
  var copy = document.querySelector('input[name="start"][value="copy"]');
  if (!source || !copy) return;
  source.addEventListener("change", function () { copy.checked = true; });
})();
