// The question form's pictures: one row of picture fields per option line, kept in step with
// the options as they are typed, and a preview (with a size check) of each chosen file.
(function () {
  "use strict";
  var MAX_BYTES = 2 * 1024 * 1024;
  var TYPES = ["image/png", "image/jpeg", "image/webp", "image/gif"];

  // -- a preview of the chosen file, and an early word when it will not do ----------------------
  function preview(input) {
    var box = input.closest(".field") || input.parentNode;
    var old = box.querySelector(".picture-chosen");
    if (old) old.remove();
    var file = input.files && input.files[0];
    if (!file) return;
    var note = document.createElement("div");
    note.className = "picture-chosen";
    var problem = TYPES.indexOf(file.type) < 0 ? "This is not a PNG, JPEG, WebP or GIF picture: choose another file."
      : file.size > MAX_BYTES ? "This picture is larger than 2 MB: make it smaller first." : "";
    if (problem) {
      var p = document.createElement("p");
      p.className = "error";
      p.setAttribute("role", "alert");
      p.textContent = problem;
      note.appendChild(p);
    } else {
      var img = document.createElement("img");
      img.className = "picture-preview";
      img.alt = "";  // a preview of the file just chosen: its description is the alt text field
      img.src = URL.createObjectURL(file);
      img.onload = function () { URL.revokeObjectURL(img.src); };
      note.appendChild(img);
    }
    box.appendChild(note);
  }
  document.addEventListener("change", function (e) {
    if (e.target.type === "file" && e.target.closest("#question-form")) preview(e.target);
  });

  // -- option rows follow the option lines -------------------------------------------------
  var options = document.getElementById("options");
  var container = document.getElementById("option-picture-rows");
  var template = document.getElementById("option-picture-template");
  if (!options || !container || !template) return;
  var empty = document.getElementById("option-pictures-empty");
  var rows = {};  // lower-case option text -> its row (kept while its line is away, with any file chosen)
  Array.prototype.forEach.call(container.children, function (row) { rows[key(row.dataset.text)] = row; });

  function key(text) { return text.replace(/\s+/g, " ").trim().toLowerCase(); }
  function lines() {
    return options.value.split("\n").map(function (t) { return t.replace(/\s+/g, " ").trim(); })
      .filter(function (t) { return t; });
  }
  function label(row, text) {
    row.dataset.text = text;
    row.querySelector(".option-name").textContent = text;
    row.querySelector('[data-part="text"]').value = text;
  }
  function number(row, i) {
    Array.prototype.forEach.call(row.querySelectorAll("[data-part]"), function (input) {
      var part = input.dataset.part;
      if (input.name) input.name = "opt_" + part + "-" + i;
      if (input.id) input.id = "opt_" + part + "-" + i;
      if (input.hasAttribute("aria-describedby")) input.setAttribute("aria-describedby", "opt_error-" + i);
    });
    Array.prototype.forEach.call(row.querySelectorAll("label[data-for]"), function (lab) {
      lab.htmlFor = "opt_" + lab.dataset.for + "-" + i;
    });
  }
  var previous = lines();
  function sync() {
    var now = lines();
    // One line edited in place: its row (and the picture it shows) goes with the new wording.
    if (now.length === previous.length) {
      var changed = now.map(function (t, i) { return key(t) !== key(previous[i]) ? i : -1; })
        .filter(function (i) { return i >= 0; });
      if (changed.length === 1) {
        var was = key(previous[changed[0]]), is = key(now[changed[0]]);
        if (rows[was] && !rows[is]) {
          rows[is] = rows[was];
          delete rows[was];
        }
      }
    }
    previous = now;
    var seen = {};
    now.forEach(function (text, i) {
      var k = key(text);
      if (seen[k]) return;  // the same line twice: the server will say so
      seen[k] = true;
      var row = rows[k];
      if (!row) {
        row = template.content.firstElementChild.cloneNode(true);
        rows[k] = row;
      }
      label(row, text);
      number(row, i);
      container.appendChild(row);  // appending in line order also puts the rows in that order
    });
    Array.prototype.slice.call(container.children).forEach(function (row) {
      if (!seen[key(row.dataset.text)]) row.remove();  // kept in `rows`, should the line come back
    });
    if (empty) empty.hidden = container.children.length > 0;
  }
  options.addEventListener("input", sync);
  sync();
})();
