// The projector and the control page: live results pushed over Socket.IO.
(function () {
  "use strict";
  var screen = document.getElementById("screen");
  var view = screen.dataset.view;
  var results = document.getElementById("results");
  var state = JSON.parse(document.getElementById("state").textContent);
  var count = window.consultDom.count;  // "1 note", "2 notes" (static/dom.js)

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

  // Pictures (with their alt text) of the question on screen and of its options.
  function optionPicture(q, id) {
    var o = id !== undefined && (q.options || []).filter(function (o) { return o.id === id; })[0];
    if (!o || !o.image) return null;
    var img = el("img", "bar-picture");
    img.src = o.image;
    img.alt = o.image_alt || "";
    return img;
  }
  function showPicture(q) {
    var img = document.getElementById("current-picture");
    if (!img) return;
    if (q && q.image) {
      if (img.getAttribute("src") !== q.image) img.src = q.image;
      img.alt = q.image_alt || "";
      img.hidden = false;
    } else {
      img.hidden = true;
      img.removeAttribute("src");
      img.alt = "";
    }
  }

  function renderResults(s) {
    var r = s.results, q = s.current;
    results.textContent = "";
    if (!q) { results.appendChild(el("p", "waiting", "No question on screen yet.")); return; }
    if (!r) return;
    if (r.hidden && r.dots_placed !== undefined) {  // dot-voting with the results hidden: how many dots, not where
      results.appendChild(el("p", "hidden-results", count(r.total, "note") + " · " + count(r.dots_placed, "dot") +
        " placed so far · the ranking is hidden until the reveal"));
      return;
    }
    if (r.hidden) {
      results.appendChild(el("p", "hidden-results", count(r.total, r.kind === "notes" ? "note" : r.kind === "trajectory" ? "milestone" : "answer") +
        " so far · results are hidden until the reveal"));
      return;
    }
    if (r.kind === "trajectory") {
      results.appendChild(el("p", "total", count(r.total, "milestone")));
      results.appendChild(trajectoryGrid(s, r));
      return;
    }
    if (r.kind === "notes" && r.dots && (r.dots.open || r.dots.placed)) {  // while dot-voting is on, and after it
      renderRanked(s, r.dots);
      return;
    }
    if (r.kind === "notes") {
      results.appendChild(el("p", "total", count(r.total, "note")));
      var wall = el("ul", "wall");
      // Newest first: on a full wall, the note just posted is the one in view.
      r.notes.slice().reverse().forEach(function (n) { wall.appendChild(sticky(s, n)); });
      results.appendChild(wall);
      return;
    }
    var total = el("p", "total", count(r.total, "answer") + (r.mean !== null && r.mean !== undefined ? " · average " + r.mean : ""));
    results.appendChild(total);
    var list = el("ul", "bars");
    r.bars.forEach(function (b) {
      var item = el("li", "bar");
      var label = el("span", "bar-label", b.text);
      var pic = optionPicture(q, b.id);
      if (pic) { label.insertBefore(pic, label.firstChild); label.classList.add("has-picture"); }
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

  // A trajectory grid: question rows against time-horizon columns, each cell a little wall of milestones.
  function trajectoryGrid(s, r) {
    var wrap = el("div", "grid-wrap");
    var table = el("table", "traj-grid");
    table.appendChild(el("caption", "sr", "Milestones by question or theme (rows) and time horizon (columns)"));
    var head = el("tr");
    var corner = el("th", "corner");
    corner.setAttribute("scope", "col");
    corner.appendChild(el("span", "sr", "Question or theme"));
    head.appendChild(corner);
    r.horizons.forEach(function (h) {
      var th = el("th");
      th.setAttribute("scope", "col");
      th.appendChild(el("span", "h-name", h.name));
      // A range with an en dash, as the write-up prints it ("~ 6 – 24 months").
      if (h.hint) th.appendChild(el("span", "h-hint", " " + h.hint.replace(/(\d)\s*[-–]\s*(\d)/g, "$1 – $2")));
      head.appendChild(th);
    });
    var thead = el("thead");
    thead.appendChild(head);
    table.appendChild(thead);
    var body = el("tbody");
    r.rows.forEach(function (row) {
      var tr = el("tr");
      var th = el("th", "row-head", row.text);
      th.setAttribute("scope", "row");
      tr.appendChild(th);
      row.cells.forEach(function (c) {
        var td = el("td", c.count ? "cell" : "cell empty");
        td.dataset.row = row.id;
        td.dataset.horizon = c.horizon_id;
        if (c.notes.length) {
          var list = el("ul", "cell-notes");
          // Newest first, as on the wall: the milestone just posted is the one in view.
          c.notes.slice().reverse().forEach(function (n) { list.appendChild(sticky(s, n)); });
          td.appendChild(list);
        }
        if (c.count > c.notes.length) td.appendChild(el("p", "more", "+ " + (c.count - c.notes.length) + " more"));
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    table.appendChild(body);
    wrap.appendChild(table);
    return wrap;
  }

  // -- Dot-voting: the notes ranked by their dots, bars scaled to the most dots ----------------------
  var PROJECTOR_RANKED = 15;
  function dotStatus(q) {
    if (q.kind !== "notes" || !q.dots) return "";
    return q.dots_open ? " · dot-voting open (" + count(q.dots, "dot") + " each)" : " · dot-voting closed";
  }
  function renderRanked(s, d) {
    results.appendChild(el("p", "total dots-total", count(d.placed, "dot") + " from " + count(d.voters, "person", "people") +
      (d.open ? " · dot-voting open: " + count(d.per_person, "dot") + " each" : " · dot-voting closed")));
    if (!d.ranked.length) { results.appendChild(el("p", "waiting", "No notes to rank yet.")); return; }
    var most = d.ranked.reduce(function (m, n) { return Math.max(m, n.dots); }, 0);
    var list = el("ol", "ranked");
    // The projector shows the top of the ranking, big enough to read across the hall; the control page all of it.
    var shown = view === "projector" ? d.ranked.slice(0, PROJECTOR_RANKED) : d.ranked;
    shown.forEach(function (n) {
      var item = el("li", "ranked-note" + (n.highlight ? " highlight" : ""));
      item.dataset.note = n.id;
      var rank = el("span", "rank", String(n.rank));
      rank.setAttribute("aria-label", "Rank " + n.rank);
      item.appendChild(rank);
      var body = el("span", "ranked-body");
      var text = el("span", "note-text", n.text);
      if (n.highlight) {
        var star = el("span", "star", "★");
        star.setAttribute("role", "img");
        star.setAttribute("aria-label", "Highlighted");
        text.insertBefore(star, text.firstChild);
      }
      body.appendChild(text);
      var table = tableName(s, n.table_id);
      if (table) body.appendChild(el("span", "note-table", table));
      var track = el("span", "bar-track");
      var fill = el("span", "bar-fill");
      fill.style.width = (most ? Math.round(1000 * n.dots / most) / 10 : 0) + "%";
      track.appendChild(fill);
      body.appendChild(track);
      item.appendChild(body);
      item.appendChild(el("span", "dot-figure", count(n.dots, "dot")));
      if (view === "control") {
        var url = screen.dataset.moderateUrl;
        var actions = el("span", "note-actions");
        actions.appendChild(liveButton(url, "moderate", "Hide", { note_id: n.id, action: "hide" }, "small", "hide-" + n.id));
        actions.appendChild(liveButton(url, "moderate", n.highlight ? "Unhighlight" : "Highlight",
          { note_id: n.id, action: n.highlight ? "unhighlight" : "highlight" }, "small", "star-" + n.id));
        body.appendChild(actions);
      }
      list.appendChild(item);
    });
    results.appendChild(list);
    var more = d.ranked.length - shown.length;
    if (more > 0) results.appendChild(el("p", "ranked-more", "+ " + more + " more " + window.consultDom.plural(more, "note") + " ranked lower"));
  }

  function renderControls(s) {
    (s.questions || []).forEach(function (q) {
      var card = document.querySelector('[data-question="' + q.id + '"]');
      if (!card) return;
      card.classList.toggle("current", q.current);
      var status = card.querySelector(".status");
      if (status) status.textContent = (q.current ? "On screen · " : "") + (q.is_open ? "Open" : "Closed") + " · " + (q.revealed ? "results shown" : "results hidden") + dotStatus(q);
      function show(cls, on) { var b = card.querySelector(cls); if (b) b.closest("form").hidden = !on; }
      show(".act-show", !q.current);
      show(".act-open", !q.is_open);
      show(".act-close", q.is_open);
      show(".act-reveal", !q.revealed);
      show(".act-hide", q.revealed);
      show(".act-dots-open", !q.dots_open);
      show(".act-dots-close", !!q.dots_open);
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
      showPicture(s.current);
      setText("current-status", s.current ? (s.current.dots_open
        ? "Prioritise: put your " + count(s.current.dots, "dot") + " on the notes that matter most to you"
        : s.current.is_open ? "" : "Closed") : "");
      var status = document.getElementById("current-status");
      if (status) status.classList.toggle("prioritise", !!(s.current && s.current.dots_open));
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
  socket.on("disconnect", function (reason) {
    screen.dataset.live = "offline";
    // The server ends a screen's socket only when its account was signed out: reloading shows sign-in.
    if (reason === "io server disconnect") window.location.reload();
  });
  socket.on("signed_out", function () { window.location.reload(); });
  socket.on("connect_error", function (err) { console.warn("live updates:", err && err.message); });

  if (view === "control") {
    var problem = document.getElementById("control-error");
    var NUMBERS = ["question_id", "note_id", "number", "dots"];
    document.addEventListener("submit", function (e) {
      var form = e.target;
      // "control" (questions), "round" or "moderate": the same fields as the plain form post.
      var event = form.dataset.event || (form.querySelector("input[name=action]") ? "control" : null);
      if (!event || !socket.connected) return;  // no socket: the plain form post still works
      e.preventDefault();
      var data = {};
      Array.prototype.forEach.call(form.querySelectorAll("input[type=hidden], input[type=number]"), function (input) {
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
