// The table host's page: the notes of one table on one question, live, with the host's tools
// (correct, highlight, hide, approve, merge, add a note for the group, write a summary).
// Note text comes from participants: it is only ever set as textContent, never as HTML.
(function () {
  "use strict";
  var root = document.getElementById("host");
  var state = JSON.parse(document.getElementById("state").textContent);
  var conn = document.getElementById("conn");
  var feedback = document.getElementById("feedback");
  var $ = function (id) { return document.getElementById(id); };

  var questions = state.questions || [];
  var qid = state.question_id;
  var round = state.round || 0;        // the round shown: 0 for all of them
  var currentRound = state.round || 0; // the session's round now
  var view = state.view;               // {question_id, round, current_round, notes, summary}
  var selected = [];                   // ids of the notes chosen for a merge
  var editing = null;                  // {id, text}: the note being corrected and its draft
  var moving = null;                   // {id, row, horizon}: the milestone being moved to another cell
  var summaries = {};                  // "question:round" -> {saved, draft}
  var addDrafts = {};                  // question id -> unsent text for "Add a note"
  var pendingAdd = null;               // {question_id, client_id, text}: sent, not yet confirmed
  var mine = {};                       // ids of notes added here: no "new note" announcement for them
  var wantFocus = null;                // data-k of the control to focus after the next render
  var ended = false;
  var toastTimer = null;

  var STATUS = { visible: "Visible", pending: "Pending approval", held: "Held for review", hidden: "Hidden" };

  var newId = window.consultDom.newId, el = window.consultDom.el;
  function say(message, kind) {
    clearTimeout(toastTimer);
    feedback.textContent = message || "";
    feedback.className = "host-toast " + (kind || "");
    feedback.setAttribute("aria-live", kind === "error" ? "assertive" : "polite");
    if (message && kind !== "busy") {
      toastTimer = setTimeout(function () { feedback.textContent = ""; }, kind === "error" ? 10000 : 4000);
    }
  }
  function status(node, message, kind) {
    node.textContent = message || "";
    node.className = "host-status " + (kind || "");
    node.setAttribute("aria-live", kind === "error" ? "assertive" : "polite");
  }
  function setConn(text, kind) {
    conn.textContent = text;
    conn.className = "conn " + (kind || "");
  }
  function clock(iso) {
    var d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  function question() {
    for (var i = 0; i < questions.length; i++) if (questions[i].id === qid) return questions[i];
    return null;
  }
  function countText(length, max) {
    if (!length) return "Up to " + max + " characters.";
    var left = max - length;
    return left >= 0 ? window.consultDom.count(left, "character") + " left." : "Too long by " + window.consultDom.count(-left, "character") + ".";
  }

  // -- the connection -----------------------------------------------------------------

  // tryAllTransports: where websocket is blocked (some networks and proxies), fall back to
  // long-polling; without it the client retries websocket for ever.
  var socket = io("/host", { auth: { token: root.dataset.token }, transports: ["websocket", "polling"], tryAllTransports: true });
  socket.on("connect", function () {
    setConn("Connected", "ok");
    refresh(false);
    sendAdd();
  });
  socket.on("disconnect", function () {
    if (!ended) setConn("Offline: reconnecting…", "bad");
  });
  socket.on("connect_error", function (err) {
    // Refused by the server (the link was replaced): Socket.IO does not retry, and neither do we.
    if (!socket.active) { end(err && err.message); return; }
    setConn("Offline: reconnecting…", "bad");
  });
  socket.on("revoked", function (data) { end(data && data.message); });
  socket.on("changed", function (data) {
    if (data && data.question_id === qid) refresh(true);
  });
  socket.on("round", function (data) {
    if (pickR && data && typeof data.round === "number") setRounds(data.round, true);
  });

  function failed(result, node) {
    if (result && result.revoked) { end(result.error); return; }
    var message = (result && result.error) || "That did not work. Please try again.";
    if (node) status(node, message, "error"); else say(message, "error");
  }

  // The link was replaced: nothing more can be read or changed here. Keep an unsaved summary to copy.
  function end(message) {
    if (ended) return;
    ended = true;
    socket.disconnect();
    setConn("Link revoked", "bad");
    say("");
    var box = $("revoked");
    $("revoked-message").textContent = message ||
      "The facilitator has replaced this host link (or removed the table). Ask them for the new link.";
    var unsaved = $("summary-text") && $("summary-text").value.trim();
    if (unsaved && summaryDirty()) {
      box.appendChild(el("label", { "for": "unsaved-summary" }, "Your unsaved summary, to copy:"));
      var keep = el("textarea", { id: "unsaved-summary", rows: "6", readonly: "" });
      keep.value = unsaved;
      box.appendChild(keep);
    }
    root.hidden = true;
    root.textContent = "";  // the notes are no longer this screen's to show
    box.hidden = false;
    box.focus();
  }

  if (!$("pick-question")) return;  // no open-notes questions: only the connection matters

  // -- loading the notes -----------------------------------------------------------------

  var fetching = false, again = false, againLive = false;
  function refresh(live) {
    if (ended || qid === null || !socket.connected) return;
    if (fetching) { again = true; againLive = againLive || live; return; }
    fetching = true;
    var want = { question_id: qid, round: round };
    socket.timeout(10000).emit("notes", want, function (err, result) {
      fetching = false;
      if (err) {
        say("Could not load the notes: check the connection.", "error");
      } else if (!result.ok) {
        failed(result);
      } else if (result.question_id === qid && result.round === round) {
        show(result, live);
      } else {
        again = true;  // the choice changed meanwhile
      }
      if (again && !ended) {
        var l = againLive;
        again = againLive = false;
        refresh(l);
      }
    });
  }

  function show(result, live) {
    var before = {};
    var same = view && view.question_id === result.question_id && view.round === result.round;
    if (same) view.notes.forEach(function (n) { before[n.id] = true; });
    view = result;
    var shownQ = question();
    if (shownQ && result.horizons && shownQ.id === result.question_id) {  // the grid as it is now
      shownQ.rows = result.rows;
      shownQ.horizons = result.horizons;
      if (shownQ.id === qid) fillCell();
    }
    summaryLoaded(result);
    if (result.current_round > currentRound) setRounds(result.current_round, false);
    if (view !== result) return;  // it moved on to the new round, and fetches that
    if (live && same) {
      var fresh = result.notes.filter(function (n) { return !before[n.id] && !mine[n.id]; });
      if (fresh.length === 1) say("New " + noun() + ": " + (fresh[0].text.length > 90 ? fresh[0].text.slice(0, 88) + "…" : fresh[0].text), "ok");
      else if (fresh.length > 1) say(window.consultDom.count(fresh.length, "new " + noun(), "new " + noun(true)) + ".", "ok");
    }
    renderNotes();
  }

  // -- choosing the question and the round -------------------------------------------------------

  var pickQ = $("pick-question"), pickR = $("pick-round"), roundField = $("round-field");
  pickQ.addEventListener("change", function () {
    keepDrafts();
    qid = parseInt(pickQ.value, 10);
    switched();
  });
  pickR.addEventListener("change", function () {
    keepDrafts();
    round = parseInt(pickR.value, 10);
    switched();
  });
  function switched() {
    view = null;
    editing = null;
    selected = [];
    renderAll();
    refresh(false);
  }

  // The session's round changed: offer it, and follow it if the current round was on show.
  function setRounds(n, announce) {
    if (n === currentRound) return;
    var follow = round === currentRound;
    currentRound = n;
    if (follow || round > n) {
      keepDrafts();
      round = n;
    }
    pickR.textContent = "";
    pickR.appendChild(el("option", { value: "0" }, "All rounds"));
    for (var i = 1; i <= n; i++) pickR.appendChild(el("option", { value: String(i) }, "Round " + i));
    pickR.value = String(round);
    roundField.hidden = n === 0;
    if (announce && n > 0) say("Round " + n + " has started" + (round === n ? ": showing its notes." : "."), "ok");
    if (!view || view.round !== round) switched();
  }

  // -- the notes ----------------------------------------------------------------------------

  var list = $("notes"), empty = $("notes-empty"), count = $("notes-count");
  var mergeBar = $("merge-bar"), mergeStatus = $("merge-status");
  $("merge-clear").addEventListener("click", function () {
    selected = [];
    renderNotes();
    $("notes-h").focus();  // the bar (and its button) just went away
    say("Selection cleared.", "ok");
  });

  function renderNotes() {
    var active = document.activeElement;
    var key = wantFocus || (active && list.contains(active) ? active.getAttribute("data-k") : null);
    var caret = active && active.tagName === "TEXTAREA" && list.contains(active)
      ? [active.selectionStart, active.selectionEnd] : null;
    wantFocus = null;
    list.textContent = "";
    if (!view) {
      empty.textContent = "Loading the " + noun(true) + "…";
      empty.hidden = false;
      count.textContent = "";
      mergeBar.hidden = true;
      return;
    }
    var byId = {}, kids = {}, tops = [];
    view.notes.forEach(function (n) { byId[n.id] = n; });
    view.notes.forEach(function (n) {
      if (n.merged_into && byId[n.merged_into]) (kids[n.merged_into] = kids[n.merged_into] || []).push(n);
      else tops.push(n);
    });
    selected = selected.filter(function (id) { return byId[id] && !byId[id].merged_into; });
    if (editing && !byId[editing.id]) editing = null;
    if (moving && !byId[moving.id]) moving = null;
    if (gridOf()) renderCells(tops.reverse(), kids);
    else tops.reverse().forEach(function (n) { list.appendChild(item(n, kids[n.id] || [], false)); });

    $("notes-title").textContent = Noun(true) + " from this table";
    var merged = view.notes.length - tops.length;
    count.textContent = view.notes.length
      ? "(" + view.notes.length + (merged ? ", " + merged + " merged" : "") + ")" : "";
    empty.hidden = view.notes.length > 0;
    empty.textContent = "No " + noun(true) + " from this table on this question" + (round ? " in round " + round : "") +
      " yet. They appear here as soon as they are posted.";
    mergeBar.hidden = !selected.length;
    mergeStatus.textContent = selected.length
      ? window.consultDom.count(selected.length, noun(), noun(true)) +
        " selected. Press “Merge into this one” on the " + noun() + " to keep."
      : "";

    if (key) {
      var target = list.querySelector('[data-k="' + key + '"]');
      if (!target) {  // that control went away (the note merged, say): its note's Edit button instead
        var id = key.slice(1);
        target = list.querySelector('[data-k="e' + id + '"]') || $("note-" + id);
      }
      if (target) {
        target.focus();
        if (caret && target.tagName === "TEXTAREA") target.setSelectionRange(caret[0], caret[1]);
      }
    }
  }

  function button(label, key, n, onClick, cls) {
    var b = el("button", { type: "button", "data-k": key, "aria-describedby": "note-" + n.id + "-text" }, label);
    if (cls) b.className = cls;
    b.addEventListener("click", onClick);
    return b;
  }

  function item(n, children, isChild) {
    var li = el("li", {
      className: "hnote s-" + n.status + (n.highlight ? " starred" : "") + (isChild ? " child" : ""),
      id: "note-" + n.id, tabindex: "-1"
    });
    if (editing && editing.id === n.id) {
      li.appendChild(editForm(n));
    } else {
      if (n.highlight) li.appendChild(el("span", { className: "star", "aria-hidden": "true" }, "★"));
      li.appendChild(el("p", { className: "hnote-text", id: "note-" + n.id + "-text" }, n.text));
    }
    var meta = el("p", { className: "hnote-meta" });
    function tag(text, cls) { meta.appendChild(el("span", { className: cls || "" }, text)); }
    tag(n.author === "host" ? "Added by the host" : "Participant");
    if (n.round) tag("Round " + n.round);
    var at = clock(n.at);
    if (at) tag(at);
    tag(STATUS[n.status] || n.status, "hv-badge b-" + n.status);
    if (n.highlight) tag("★ Highlighted", "hv-badge b-star");
    if (n.edited) tag("Edited");
    if (n.merged_into) tag(isChild ? "Merged into the " + noun() + " above" : "Merged into another " + noun(), "hv-badge");
    li.appendChild(meta);
    if (moving && moving.id === n.id) li.appendChild(moveForm(n));
    else if (!editing || editing.id !== n.id) li.appendChild(actions(n, isChild));
    if (children.length) {
      var sub = el("ul", { className: "hnote-merged", "aria-label": "Merged into this " + noun() });
      children.forEach(function (c) { sub.appendChild(item(c, [], true)); });
      li.appendChild(sub);
    }
    return li;
  }

  function actions(n, isChild) {
    var box = el("div", { className: "actions" });
    box.appendChild(button("Edit", "e" + n.id, n, function () {
      editing = { id: n.id, text: n.text, original: n.text };
      moving = null;
      wantFocus = "t" + n.id;
      renderNotes();
    }));
    if (!isChild && gridOf()) {
      box.appendChild(button("Move", "o" + n.id, n, function () {
        var q = gridOf();
        moving = { id: n.id, row: byIdIn(q.rows, n.row_id) ? n.row_id : q.rows[0].id,
                   horizon: byIdIn(q.horizons, n.horizon_id) ? n.horizon_id : q.horizons[0].id };
        editing = null;
        wantFocus = (q.rows.length > 1 ? "r" : "z") + n.id;
        renderNotes();
      }));
    }
    if (!isChild) {
      box.appendChild(button(n.highlight ? "Unhighlight" : "Highlight", "h" + n.id, n, function () {
        act("highlight", { note_id: n.id, on: !n.highlight }, n.highlight ? "Highlight removed." : "★ Highlighted.");
      }));
    }
    if (n.status === "pending" || n.status === "held") {
      box.appendChild(button("Approve", "a" + n.id, n, function () {
        act("moderate", { note_id: n.id, action: "approve" }, "Approved: the " + noun() + " shows on the big screen.");
      }, "primary"));
    }
    if (n.status === "hidden") {
      box.appendChild(button("Restore", "v" + n.id, n, function () {
        act("moderate", { note_id: n.id, action: "restore" }, "Restored: the " + noun() + " shows again.");
      }));
    } else {
      box.appendChild(button("Hide", "v" + n.id, n, function () {
        act("moderate", { note_id: n.id, action: "hide" }, "Hidden. It is kept: “Restore” brings it back.");
      }, "danger"));
    }
    if (n.merged_into) {
      box.appendChild(button("Unmerge", "u" + n.id, n, function () {
        wantFocus = "e" + n.id;
        act("unmerge", { note_id: n.id }, "Unmerged: the " + noun() + " shows on its own again.");
      }));
    } else {
      var chosen = selected.indexOf(n.id) >= 0;
      var pick = el("label", { className: "check pick" });
      var box2 = el("input", { type: "checkbox", "data-k": "s" + n.id, "aria-describedby": "note-" + n.id + "-text" });
      box2.checked = chosen;
      box2.addEventListener("change", function () {
        if (box2.checked) { if (selected.indexOf(n.id) < 0) selected.push(n.id); }
        else selected = selected.filter(function (id) { return id !== n.id; });
        renderNotes();
      });
      pick.appendChild(box2);
      pick.appendChild(document.createTextNode(" Select to merge"));
      box.appendChild(pick);
      if (selected.length && !chosen) {
        box.appendChild(button("Merge into this one", "m" + n.id, n, function () {
          var sources = selected.slice();
          wantFocus = "e" + n.id;
          act("merge", { target_id: n.id, source_ids: sources }, function () {
            selected = [];
            return sources.length === 1 ? "Merged: the " + noun() + " is kept, shown under this one."
              : "Merged " + sources.length + " " + noun(true) + ": they are kept, shown under this one.";
          });
        }, "primary"));
      }
    }
    return box;
  }

  // -- trajectory grids: milestones grouped by cell, moved from one cell to another -------------------

  // What the table's items are called: milestones on a trajectory grid, notes on an open-notes question.
  function noun(many) { return gridOf() ? (many ? "milestones" : "milestone") : (many ? "notes" : "note"); }
  function Noun(many) { var w = noun(many); return w.charAt(0).toUpperCase() + w.slice(1); }
  function gridOf() {
    var q = question();
    return q && q.kind === "trajectory" && q.rows && q.rows.length && q.horizons && q.horizons.length ? q : null;
  }
  function byIdIn(items, id) {
    for (var i = 0; i < (items || []).length; i++) if (items[i].id === id) return items[i];
    return null;
  }
  // As the write-up heads the column: "Emerging ~ 6 – 24 months" (a range with an en dash).
  function horizonLabel(h) { return h.name + (h.hint ? " " + h.hint.replace(/(\d)\s*[-–]\s*(\d)/g, "$1 – $2") : ""); }
  function cellLabel(q, rowId, horizonId) {
    var row = byIdIn(q.rows, rowId), h = byIdIn(q.horizons, horizonId);
    if (!row || !h) return "Not on the grid";
    return (q.rows.length > 1 ? row.text + " · " : "") + horizonLabel(h);
  }
  // The table's milestones under a heading per cell (row by row, earliest horizon first); empty cells are left out.
  function renderCells(tops, kids) {
    var q = gridOf(), groups = {}, order = [];
    q.rows.forEach(function (r) { q.horizons.forEach(function (h) { order.push(r.id + ":" + h.id); }); });
    tops.forEach(function (n) {
      var k = byIdIn(q.rows, n.row_id) && byIdIn(q.horizons, n.horizon_id) ? n.row_id + ":" + n.horizon_id : "none";
      (groups[k] = groups[k] || []).push(n);
    });
    order.concat(["none"]).forEach(function (k) {
      if (!groups[k]) return;
      var parts = k.split(":");
      var title = k === "none" ? "Not on the grid" : cellLabel(q, +parts[0], +parts[1]);
      var id = "cell-" + k.replace(":", "-");
      var group = el("li", { className: "cell-group", "aria-labelledby": id });
      group.appendChild(el("h3", { id: id, className: "cell-h" }, title + " (" + groups[k].length + ")"));
      var inner = el("ol", { className: "host-notes" });
      groups[k].forEach(function (n) { inner.appendChild(item(n, kids[n.id] || [], false)); });
      group.appendChild(inner);
      list.appendChild(group);
    });
  }
  function pick(label, key, n, options, value, onChange) {
    var id = "move-" + key + n.id;
    var field = el("div", { className: "field" });
    field.appendChild(el("label", { "for": id }, label));
    var select = el("select", { id: id, "data-k": key + n.id });
    options.forEach(function (o) {
      var option = el("option", { value: String(o[0]) }, o[1]);
      if (o[0] === value) option.selected = true;
      select.appendChild(option);
    });
    select.addEventListener("change", function () { onChange(parseInt(select.value, 10)); });
    field.appendChild(select);
    return field;
  }
  function moveForm(n) {
    var q = gridOf();
    var form = el("form", { className: "hnote-move stack", novalidate: "" });
    var box = el("fieldset", { "aria-describedby": "note-" + n.id + "-text" });
    box.appendChild(el("legend", {}, "Move this milestone to another cell"));
    box.appendChild(el("p", { className: "hint" }, "Now in: " + cellLabel(q, n.row_id, n.horizon_id)));
    if (q.rows.length > 1) {
      box.appendChild(pick("Question or theme", "r", n, q.rows.map(function (r) { return [r.id, r.text]; }), moving.row,
        function (v) { moving.row = v; }));
    }
    box.appendChild(pick("Time horizon", "z", n, q.horizons.map(function (h) { return [h.id, horizonLabel(h)]; }),
      moving.horizon, function (v) { moving.horizon = v; }));
    form.appendChild(box);
    var row = el("div", { className: "actions" });
    row.appendChild(el("button", { type: "submit", className: "primary", "data-k": "y" + n.id }, "Move here"));
    var no = el("button", { type: "button", "data-k": "x" + n.id }, "Cancel");
    no.addEventListener("click", cancel);
    row.appendChild(no);
    form.appendChild(row);
    form.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { e.preventDefault(); cancel(); }
    });
    function cancel() {
      moving = null;
      wantFocus = "o" + n.id;
      renderNotes();
    }
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var to = { row: moving.row, horizon: moving.horizon };
      if (to.row === n.row_id && to.horizon === n.horizon_id) { say("It is in that cell already.", "error"); return; }
      act("move", { note_id: n.id, row_id: to.row, horizon_id: to.horizon }, function () {
        if (moving && moving.id === n.id) moving = null;
        wantFocus = "o" + n.id;
        return "✓ Moved to " + cellLabel(q, to.row, to.horizon) + ".";
      });
    });
    return form;
  }

  // The cell a note for the group goes in, on a trajectory question.
  var addCell = $("add-cell"), addRow = $("add-row"), addHorizon = $("add-horizon");
  function fillCell() {
    var q = gridOf();
    addCell.hidden = !q;
    $("add-h").textContent = q ? "Add a milestone for the group" : "Add a note for the group";
    addForm.querySelector("button[type=submit]").textContent = q ? "Add milestone" : "Add note";
    if (!q) return;
    function fill(select, items, label) {
      var was = parseInt(select.value, 10);
      select.textContent = "";
      items.forEach(function (item) { select.appendChild(el("option", { value: String(item.id) }, label(item))); });
      if (byIdIn(items, was)) select.value = String(was);
    }
    fill(addRow, q.rows, function (r) { return r.text; });
    fill(addHorizon, q.horizons, horizonLabel);
    $("add-row-field").hidden = q.rows.length < 2;
  }

  function editForm(n) {
    var q = question();
    var max = q ? q.max_length : 2000;
    var id = "edit-" + n.id;
    var form = el("form", { className: "hnote-edit stack", novalidate: "" });
    var field = el("div", { className: "field" });
    field.appendChild(el("label", { "for": id }, "Correct the " + noun() + "’s text"));
    var area = el("textarea", { id: id, rows: "3", "data-k": "t" + n.id, "aria-describedby": id + "-count" });
    area.value = editing.text;
    var counter = el("p", { id: id + "-count", className: "hint" }, countText(area.value.length, max));
    area.addEventListener("input", function () {
      editing.text = area.value;
      counter.textContent = countText(area.value.length, max);
      counter.className = area.value.length > max ? "hint error" : "hint";
    });
    area.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { e.preventDefault(); cancel(); }
    });
    field.appendChild(area);
    field.appendChild(counter);
    form.appendChild(field);
    var row = el("div", { className: "actions" });
    row.appendChild(el("button", { type: "submit", className: "primary", "data-k": "w" + n.id }, "Save"));
    var no = el("button", { type: "button", "data-k": "c" + n.id }, "Cancel");
    no.addEventListener("click", cancel);
    row.appendChild(no);
    form.appendChild(row);
    function cancel() {
      editing = null;
      wantFocus = "e" + n.id;
      renderNotes();
    }
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var text = area.value.trim();
      if (!text) { say("A " + noun() + " cannot be empty: hide it instead.", "error"); area.focus(); return; }
      if (text.length > max) { say("Too long by " + window.consultDom.count(text.length - max, "character") + ".", "error"); area.focus(); return; }
      act("edit", { note_id: n.id, text: text }, function () {
        if (editing && editing.id === n.id) { editing = null; wantFocus = "e" + n.id; }
        return "✓ " + Noun() + " corrected. The earlier text is kept.";
      });
    });
    return form;
  }

  // Send a host action; on success update the note at once, then fetch the table's notes again.
  function act(event, data, done) {
    if (!socket.connected) { say("You are offline: reconnecting… Try again in a moment.", "error"); return; }
    say("Saving…", "busy");
    socket.timeout(10000).emit(event, data, function (err, result) {
      if (ended) return;
      if (err) { say("Not confirmed: check the connection and try again.", "error"); return; }
      if (!result.ok) { failed(result); return; }
      var message = typeof done === "function" ? done(result) : done;
      if (result.note && view) {
        view.notes = view.notes.map(function (n) { return n.id === result.note.id ? result.note : n; });
      }
      renderNotes();
      say(message, "ok");
      refresh(false);
    });
  }

  // -- adding a note for the group ----------------------------------------------------------

  var addForm = $("add-form"), addText = $("add-text"), addCount = $("add-count"), addStatus = $("add-status");
  function addCounter() {
    var q = question();
    var max = q ? q.max_length : 2000;
    addCount.textContent = countText(addText.value.length, max);
    addCount.className = addText.value.length > max ? "hint error" : "hint";
  }
  addText.addEventListener("input", function () {
    addCounter();
    if (addStatus.className.indexOf("ok") >= 0) status(addStatus, "");
  });
  addForm.addEventListener("submit", function (e) {
    e.preventDefault();
    var q = question();
    var text = addText.value.trim();
    if (!q) return;
    if (!text) { status(addStatus, "Write the " + noun() + " first.", "error"); addText.focus(); return; }
    if (text.length > q.max_length) {
      status(addStatus, "Too long by " + window.consultDom.count(text.length - q.max_length, "character") + ".", "error");
      addText.focus();
      return;
    }
    var grid = gridOf(), row = grid ? parseInt(addRow.value, 10) : null, horizon = grid ? parseInt(addHorizon.value, 10) : null;
    // Sending the same note again (after a timeout) reuses its id: the server stores it once.
    if (!pendingAdd || pendingAdd.text !== text || pendingAdd.question_id !== q.id ||
        (grid && (pendingAdd.row_id !== row || pendingAdd.horizon_id !== horizon))) {
      pendingAdd = { question_id: q.id, client_id: newId(), text: text };
      if (grid) { pendingAdd.row_id = row; pendingAdd.horizon_id = horizon; }
    }
    sendAdd();
  });
  function sendAdd() {
    var item = pendingAdd;
    if (!item || ended) return;
    if (!socket.connected) {
      status(addStatus, "You are offline: the " + (item.horizon_id ? "milestone" : "note") + " will be sent when the connection is back.", "error");
      return;
    }
    status(addStatus, "Sending…", "busy");
    socket.timeout(10000).emit("add", item, function (err, result) {
      if (pendingAdd !== item || ended) return;
      if (err) { status(addStatus, "Not confirmed yet: it will be sent again when the connection is back.", "error"); return; }
      pendingAdd = null;
      if (!result.ok) { failed(result, addStatus); return; }
      mine[result.id] = true;
      addDrafts[item.question_id] = "";
      if (qid === item.question_id && addText.value.trim() === item.text) { addText.value = ""; addCounter(); }
      var elsewhere = round && result.round !== round;
      status(addStatus, (item.horizon_id ? "✓ Milestone added" : "✓ Note added") + (elsewhere ? " to round " + result.round + " (you are looking at round " + round + ")" : "") + ".", "ok");
      refresh(false);
    });
  }

  // -- the host's summary -------------------------------------------------------------------

  var summaryForm = $("summary-form"), summaryText = $("summary-text"), summaryStatus = $("summary-status");
  var summaryKey = null;  // which summary the textarea holds
  function keyOf(q, r) { return q + ":" + r; }
  function summaryDirty() {
    var s = summaryKey && summaries[summaryKey];
    return !!s && summaryText.value !== s.saved;
  }
  function summaryLoaded(result) {
    var key = keyOf(result.question_id, result.round);
    var s = summaries[key];
    if (!s) {
      s = summaries[key] = { saved: result.summary, draft: result.summary };
    } else {
      var clean = s.draft === s.saved;
      s.saved = result.summary;
      if (clean) s.draft = result.summary;  // no unsaved changes here: take the stored text
    }
    if (summaryKey !== key) {
      if (key === keyOf(qid, round)) showSummary();
      return;
    }
    if (summaryText.value !== s.draft) summaryText.value = s.draft;
    markSummary();
  }
  function showSummary() {
    var key = keyOf(qid, round);
    $("summary-label").textContent = "Your summary of this question, " + (round ? "round " + round : "all rounds");
    var s = summaries[key];
    summaryText.disabled = !s;
    summaryText.value = s ? s.draft : "";
    summaryKey = s ? key : null;
    status(summaryStatus, s ? "" : "Loading…");
    markSummary();
  }
  function markSummary() {
    if (!summaryKey) return;
    var dirty = summaryDirty();
    if (dirty && summaryStatus.textContent !== "Not saved yet") status(summaryStatus, "Not saved yet", "pending");
    if (!dirty && summaryStatus.textContent === "Not saved yet") status(summaryStatus, "");
  }
  summaryText.addEventListener("input", function () {
    if (summaryKey) summaries[summaryKey].draft = summaryText.value;
    markSummary();
  });
  summaryForm.addEventListener("submit", function (e) {
    e.preventDefault();
    if (!summaryKey) return;
    if (!socket.connected) { status(summaryStatus, "You are offline: not saved. Try again once reconnected.", "error"); return; }
    var key = summaryKey, text = summaryText.value, parts = key.split(":");
    status(summaryStatus, "Saving…", "busy");
    socket.timeout(10000).emit("summary", { question_id: +parts[0], round: +parts[1], text: text }, function (err, result) {
      if (ended) return;
      if (err) { status(summaryStatus, "Not saved: check the connection and try again.", "error"); return; }
      if (!result.ok) { failed(result, summaryStatus); return; }
      var s = summaries[key];
      if (s.draft === text) s.draft = result.summary;
      s.saved = result.summary;
      if (summaryKey === key && summaryText.value === text) summaryText.value = result.summary;
      status(summaryStatus, "✓ Saved at " + clock(result.at), "ok");
    });
  });

  // -- drafts and the whole page ----------------------------------------------------------------

  function keepDrafts() {
    addDrafts[qid] = addText.value;
    if (summaryKey) summaries[summaryKey].draft = summaryText.value;
  }
  function renderAll() {
    var q = question();
    $("question-text").textContent = q ? q.text : "";
    addText.value = addDrafts[qid] || "";
    moving = null;
    fillCell();
    addCounter();
    status(addStatus, "");
    showSummary();
    renderNotes();
  }
  window.addEventListener("beforeunload", function (e) {
    if (ended) return;
    keepDrafts();
    var unsaved = Object.keys(summaries).some(function (k) { return summaries[k].draft !== summaries[k].saved; });
    if (unsaved || pendingAdd || (editing && editing.text !== editing.original)) { e.preventDefault(); e.returnValue = ""; }
  });

  renderAll();
  if (view) summaryLoaded(view);
})();
