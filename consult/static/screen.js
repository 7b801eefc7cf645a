// The projector and the control page: live results pushed over Socket.IO.
(function () {
  "use strict";
  var screen = document.getElementById("screen");
  var view = screen.dataset.view;
  var results = document.getElementById("results");
  var state = JSON.parse(document.getElementById("state").textContent);

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;  // never innerHTML: text is untrusted
    return node;
  }
  function setText(id, value) {
    var node = document.getElementById(id);
    if (node) node.textContent = value;
  }

  // -- World Café: tables, rounds and moderation ---------------------------------------
  function tableName(s, id) {
    if (id === null || id === undefined) return null;
    var t = (s.tables || []).filter(function (t) { return t.id === id; })[0];
    return t ? t.name : null;
  }
  function roundText(n) { return n ? "Round " + n : "Before round 1"; }

  // A form that posts without JavaScript and goes over the socket with it (see the submit handler).
  function liveButton(url, event, label, fields, cls, key, pressed) {
    var form = el("form", "inline");
    form.method = "post";
    form.action = url;
    form.dataset.event = event;
    var all = Object.assign({ csrf_token: screen.dataset.csrf || "" }, fields);
    Object.keys(all).forEach(function (name) {
      var input = el("input");
      input.type = "hidden"; input.name = name; input.value = all[name];
      form.appendChild(input);
    });
    var button = el("button", cls || "", label);
    button.type = "submit";
    if (key) button.dataset.key = key;
    if (pressed !== undefined) button.setAttribute("aria-pressed", pressed ? "true" : "false");
    form.appendChild(button);
    return form;
  }

  // Rebuild a live region only when what it shows changed, and keep the keyboard focus where it was:
  // on the same button if it is still there, else on the item that took its place, else on fallback.
  var drawn = {};
  function redraw(name, data, container, build, fallback) {
    var sig = JSON.stringify(data);
    if (drawn[name] === sig) return;
    drawn[name] = sig;
    var active = document.activeElement;
    var inside = active && container.contains(active);
    var key = inside ? active.dataset.key : null;
    var items = inside ? Array.prototype.slice.call(container.children) : [];
    var at = inside ? items.findIndex(function (li) { return li.contains(active); }) : -1;
    container.textContent = "";
    build();
    if (!inside) return;
    var same = key && container.querySelector('[data-key="' + key + '"]');
    var near = container.children[Math.min(at, container.children.length - 1)];
    var target = same || (near && near.querySelector("button")) || (fallback && document.getElementById(fallback));
    if (target) target.focus();
  }

  function sticky(s, n) {
    var item = el("li", "sticky" + (n.highlight ? " highlight" : ""));
    if (n.highlight) {
      var star = el("span", "star", "★");
      star.setAttribute("role", "img");
      star.setAttribute("aria-label", "Highlighted");
      item.appendChild(star);
    }
    item.appendChild(el("span", "note-text", n.text));
    var table = tableName(s, n.table_id);
    if (table) item.appendChild(el("span", "note-table", table));
    if (view === "control") {
      var url = screen.dataset.moderateUrl;
      var actions = el("span", "note-actions");
      actions.appendChild(liveButton(url, "moderate", "Hide", { note_id: n.id, action: "hide" }, "small", "hide-" + n.id));
      actions.appendChild(liveButton(url, "moderate", n.highlight ? "Unhighlight" : "Highlight",
        { note_id: n.id, action: n.highlight ? "unhighlight" : "highlight" }, "small", "star-" + n.id));
      item.appendChild(actions);
    }
    return item;
  }

  function renderRounds(s) {
    setText("round-now", s.round ? "Round " + s.round : "Not started");
    var url = screen.dataset.roundUrl;
    redraw("start", s.round, document.getElementById("round-start"), function () {
      document.getElementById("round-start").appendChild(
        liveButton(url, "round", "Start round " + (s.round + 1), { action: "start", number: s.round + 1 }, "primary", "round-start"));
    });
    var shown = document.getElementById("shown-rounds");
    redraw("shown", [s.round, s.shown_round], shown, function () {
      shown.appendChild(liveButton(url, "round", "All rounds", { action: "show", number: 0 }, "", "show-0", !s.shown_round));
      for (var n = 1; n <= s.round; n++) {
        shown.appendChild(liveButton(url, "round", "Round " + n, { action: "show", number: n }, "", "show-" + n, s.shown_round === n));
      }
    });
  }

  function noteItem(s, n, meta, buttons) {
    var li = el("li", "review-item");
    li.dataset.note = n.id;
    li.appendChild(el("p", "review-text", n.text));
    li.appendChild(el("p", "meta", meta));
    var actions = el("div", "actions");
    buttons.forEach(function (b) { actions.appendChild(b); });
    li.appendChild(actions);
    return li;
  }

  function renderReview(s) {
    var review = s.review || [], hiddenNotes = s.hidden || [], url = screen.dataset.moderateUrl;
    var numbers = {};
    (s.questions || []).forEach(function (q, i) { numbers[q.id] = i + 1; });
    setText("review-count", review.length);
    setText("moderation-mode", s.moderation === "pre"
      ? "Pre-moderation: every note waits here for your approval."
      : "Post-moderation: notes show at once; those with a blocked word wait here.");
    document.getElementById("review-empty").hidden = review.length > 0;
    var list = document.getElementById("review-list");
    redraw("review", [review, s.tables, numbers], list, function () {
      review.forEach(function (n) {
        var meta = (n.status === "pending" ? "Waiting for approval" : "Held: it has a blocked word") + " · " +
          (tableName(s, n.table_id) || "No table") + " · " + roundText(n.round) + " · Question " + (numbers[n.question_id] || "?");
        list.appendChild(noteItem(s, n, meta, [
          liveButton(url, "moderate", "Approve", { note_id: n.id, action: "approve" }, "primary", "approve-" + n.id),
          liveButton(url, "moderate", "Hide", { note_id: n.id, action: "hide" }, "", "hide-" + n.id)
        ]));
      });
    }, "review-h");
    setText("hidden-count", hiddenNotes.length);
    document.getElementById("hidden-empty").hidden = hiddenNotes.length > 0;
    var hiddenList = document.getElementById("hidden-list");
    redraw("hidden", [hiddenNotes, s.tables], hiddenList, function () {
      hiddenNotes.forEach(function (n) {
        hiddenList.appendChild(noteItem(s, n, (tableName(s, n.table_id) || "No table") + " · " + roundText(n.round), [
          liveButton(url, "moderate", "Restore", { note_id: n.id, action: "restore" }, "", "restore-" + n.id)
        ]));
      });
    }, "hidden-h");
  }

  function renderTables(s) {
    var tables = s.tables || [], seated = s.seated || {}, total = 0;
    document.getElementById("tables-empty").hidden = tables.length > 0;
    var list = document.getElementById("table-seats");
    list.textContent = "";
    tables.forEach(function (t) {
      var n = seated[t.id] || 0;
      total += n;
      var li = el("li");
      li.appendChild(el("span", "seat-name", t.name));
      li.appendChild(document.createTextNode(" "));
      li.appendChild(el("span", "seat-count", n + " seated"));
      list.appendChild(li);
    });
    var unseated = document.getElementById("unseated");
    unseated.hidden = tables.length === 0;
    unseated.textContent = Math.max(0, s.joined - total) + " not at a table";
  }

  function renderResults(s) {
    var r = s.results, q = s.current;
    results.textContent = "";
    if (!q) { results.appendChild(el("p", "waiting", "No question on screen yet.")); return; }
    if (!r) return;
    if (r.hidden) {
      results.appendChild(el("p", "hidden-results", r.total + (r.kind === "notes" ? " notes so far" : " answers so far") + " · results are hidden until the reveal"));
      return;
    }
    if (r.kind === "notes") {
      results.appendChild(el("p", "total", r.total + (r.total === 1 ? " note" : " notes")));
      var wall = el("ul", "wall");
      // Newest first: on a full wall, the note just posted is the one in view.
      r.notes.slice().reverse().forEach(function (n) { wall.appendChild(sticky(s, n)); });
      results.appendChild(wall);
      return;
    }
    var total = el("p", "total", r.total + (r.total === 1 ? " answer" : " answers") + (r.mean !== null && r.mean !== undefined ? " · average " + r.mean : ""));
    results.appendChild(total);
    var list = el("ul", "bars");
    r.bars.forEach(function (b) {
      var item = el("li", "bar");
      var label = el("span", "bar-label", b.text);
      var track = el("span", "bar-track");
      var fill = el("span", "bar-fill");
      fill.style.width = b.percent + "%";
      track.appendChild(fill);
      var figure = el("span", "bar-figure", b.count + " · " + b.percent + "%");
      item.appendChild(label); item.appendChild(track); item.appendChild(figure);
      list.appendChild(item);
    });
    results.appendChild(list);
  }

  function renderControls(s) {
    (s.questions || []).forEach(function (q) {
      var card = document.querySelector('[data-question="' + q.id + '"]');
      if (!card) return;
      card.classList.toggle("current", q.current);
      var status = card.querySelector(".status");
      if (status) status.textContent = (q.current ? "On screen · " : "") + (q.is_open ? "Open" : "Closed") + " · " + (q.revealed ? "results shown" : "results hidden");
      function show(cls, on) { var b = card.querySelector(cls); if (b) b.closest("form").hidden = !on; }
      show(".act-show", !q.current);
      show(".act-open", !q.is_open);
      show(".act-close", q.is_open);
      show(".act-reveal", !q.revealed);
      show(".act-hide", q.revealed);
    });
  }

  function render(s) {
    state = s;
    setText("joined", s.joined);
    setText("connected", s.connected);
    setText("answering", s.results ? s.results.total : 0);
    if (view === "projector") {
      var heading = document.getElementById("current-text");
      if (s.current && heading.textContent !== s.current.text) heading.textContent = s.current.text;
      setText("current-status", s.current ? (s.current.is_open ? "" : "Closed") : "");
      var label = document.getElementById("round-label");
      if (label) {
        label.textContent = s.shown_round ? "Round " + s.shown_round : (s.round ? "All rounds" : "");
        label.hidden = !label.textContent;
      }
      renderResults(s);
    } else {
      renderControls(s);
      renderRounds(s);
      renderReview(s);
      renderTables(s);
      redraw("results", [s.results, s.current, s.tables], results, function () { renderResults(s); });
    }
  }

  var socket = io("/facilitator", { auth: { session_id: parseInt(screen.dataset.session, 10), view: view } });
  socket.on("state", render);
  // Whether live updates flow; the control page falls back to plain form posts without them.
  socket.on("connect", function () { screen.dataset.live = "connected"; });
  socket.on("disconnect", function () { screen.dataset.live = "offline"; });
  socket.on("connect_error", function (err) { console.warn("live updates:", err && err.message); });

  if (view === "control") {
    var problem = document.getElementById("control-error");
    var NUMBERS = ["question_id", "note_id", "number"];
    document.addEventListener("submit", function (e) {
      var form = e.target;
      // "control" (questions), "round" or "moderate": the same fields as the plain form post.
      var event = form.dataset.event || (form.querySelector("input[name=action]") ? "control" : null);
      if (!event || !socket.connected) return;  // no socket: the plain form post still works
      e.preventDefault();
      var data = {};
      Array.prototype.forEach.call(form.querySelectorAll("input[type=hidden]"), function (input) {
        if (input.name === "csrf_token") return;
        data[input.name] = NUMBERS.indexOf(input.name) >= 0 ? parseInt(input.value, 10) : input.value;
      });
      var button = form.querySelector("button");
      if (button) button.disabled = true;
      socket.timeout(10000).emit(event, data, function (err, res) {
        if (button) button.disabled = false;
        if (err || !res.ok) {
          problem.textContent = err ? "No answer from the server: try again." : res.error;
          problem.hidden = false;
        } else {
          problem.hidden = true;
        }
      });
    });
  }
  render(state);
})();
