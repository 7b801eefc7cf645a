// The phone page: shows what the facilitator has opened and sends votes and notes.
// Every answer carries an id made here, so a retry after a timeout or a lost
// connection is harmless; it counts only when the server acknowledges its commit.
(function () {
  "use strict";
  var app = document.getElementById("app");
  var code = app.dataset.code;
  var state = JSON.parse(document.getElementById("state").textContent);
  var pendingKey = "consult:pending:" + code;
  var conn = document.getElementById("conn");
  var feedback = document.getElementById("feedback");
  var section = document.getElementById("question");
  var shownId = null;
  var drafts = {};  // question id -> unsent note text
  var shownOpen = false;
  // World Café: the table this phone answers for, and the round.
  var seatKey = "consult:seat:" + code;        // a table choice the server has not confirmed yet
  var noTableKey = "consult:notable:" + code;  // "I'm not at a table": do not ask again
  var where = document.getElementById("where");
  var roundNow = document.getElementById("round-now");
  var tableBar = document.getElementById("table-bar");
  var tableNow = document.getElementById("table-now");
  var changeButton = document.getElementById("change-table");
  var tableStatus = document.getElementById("table-status");
  var picker = document.getElementById("picker");
  var pickerList = document.getElementById("picker-list");
  var pickerCancel = document.getElementById("picker-cancel");
  var picking = false;
  var pickingFirst = false;  // asking for the first time: no way back but a choice

  var newId = window.consultDom.newId, el = window.consultDom.el;
  // A labelled textarea for a note or milestone, counting down to the limit as people type.
  function textField(labelText, limit) {
    var label = el("label", { "for": "note" }, labelText);
    var area = el("textarea", { id: "note", name: "note", rows: "4", maxlength: String(limit * 2), "aria-describedby": "count" });
    var count = el("p", { id: "count", className: "hint" }, "Up to " + limit + " characters.");
    area.addEventListener("input", function () {
      var left = limit - area.value.length;
      count.textContent = left >= 0 ? window.consultDom.count(left, "character") + " left." : "Too long by " + window.consultDom.count(-left, "character") + ".";
      count.className = left >= 0 ? "hint" : "hint error";
    });
    var field = el("div", { className: "field" });
    field.appendChild(label); field.appendChild(area); field.appendChild(count);
    return { field: field, area: area, count: count };
  }
  function say(message, kind) {
    feedback.textContent = message;
    feedback.className = "feedback " + (kind || "");
    feedback.setAttribute("role", kind === "error" ? "alert" : "status");
    delete feedback.dataset.hint;
  }
  function hint(message) {  // a problem found on the phone, before anything was sent
    say(message, "error");
    feedback.dataset.hint = "1";
  }
  function loadPending() {
    try { return JSON.parse(localStorage.getItem(pendingKey)) || []; } catch (e) { return []; }
  }
  function savePending(list) {
    try { localStorage.setItem(pendingKey, JSON.stringify(list)); } catch (e) { /* private mode: memory only */ }
  }
  var pending = loadPending();
  function loadSeat() {
    try { return JSON.parse(localStorage.getItem(seatKey)); } catch (e) { return null; }
  }
  function saveSeat() {
    try {
      if (seat) localStorage.setItem(seatKey, JSON.stringify(seat)); else localStorage.removeItem(seatKey);
      if (noTable) localStorage.setItem(noTableKey, "1"); else localStorage.removeItem(noTableKey);
    } catch (e) { /* private mode: memory only */ }
  }
  var seat = loadSeat();
  var noTable = app.dataset.noTable === "1";
  try { noTable = noTable || localStorage.getItem(noTableKey) === "1"; } catch (e) { /* private mode */ }
  if (state.table_id !== null && state.table_id !== undefined && !seat) noTable = false;  // seated by a table's QR code

  // tryAllTransports: where websocket is blocked (some networks and proxies), fall back to
  // long-polling; without it the client retries websocket for ever.
  var socket = io("/phone", { auth: { code: code }, transports: ["websocket", "polling"], tryAllTransports: true });
  socket.on("connect", function () {
    conn.textContent = "Connected";
    conn.className = "conn ok";
    // A table chosen while offline goes first, so the answers queued after it record it.
    if (seat) sendSeat(resend); else resend();
  });
  socket.on("disconnect", function () {
    conn.textContent = "Offline: reconnecting…";
    conn.className = "conn bad";
  });
  socket.on("connect_error", function (err) {
    conn.textContent = "Offline: reconnecting…";
    conn.className = "conn bad";
    if (err && err.message && !/websocket|xhr|timeout/i.test(err.message)) say(err.message, "error");
  });
  socket.on("state", function (s) {
    state = s;
    render(!s.question || s.question.id !== shownId);
    renderWhere();
  });
  socket.on("round", function (data) {
    var before = state.session.round || 0;
    state.session.round = data.round;
    renderWhere();
    if (data.round > before) {
      sayTable("Round " + data.round + " has started." +
        (state.tables.length && data.round > 1 ? " If you moved to another table, tap “Change” to choose it." : ""), "");
    }
  });
  socket.on("tables", function (tables) {
    state.tables = tables || [];
    renderWhere();
  });
  socket.on("note", function (n) {  // the facilitator approved, hid or corrected one of this phone's notes
    (state.notes[n.question_id] || []).forEach(function (mine) {
      if (mine.id === n.id) {
        mine.status = n.status; mine.text = n.text;
        if (n.horizon_id !== undefined) { mine.row_id = n.row_id; mine.horizon_id = n.horizon_id; }  // a host moved it
      }
    });
    renderMine(state.question);
  });
  socket.on("question", function (q) {
    var changed = !q || q.id !== shownId;
    state.question = q;
    render(changed);
  });

  function resend() {
    pending.slice().forEach(function (item) { send(item, true); });
  }
  function settle(item, result) {
    pending = pending.filter(function (p) { return p.data.client_id !== item.data.client_id; });
    savePending(pending);
    if (item.event === "dot" || item.event === "undot") { settleDot(item, result); return; }
    var q = item.data.question_id;
    if (result.ok) {
      if (item.event === "vote") {
        if (result.current === false) {
          // A late copy of an answer this phone has since changed: counted then, replaced since.
          say("✓ That earlier answer was counted before; your later answer is the one that counts.", "ok");
        } else {
          state.answers[q] = { choices: item.data.choices || [], value: item.data.value, client_id: item.data.client_id,
                               receipt: result.receipt || "" };
          say("✓ Your answer counted." + receiptText(result) + " You can change it until the question closes.", "ok");
        }
      } else {
        var status = result.status || "visible";
        var list = (state.notes[q] = state.notes[q] || []);
        if (!list.some(function (n) { return n.id === result.id; })) {
          list.push({ id: result.id, text: item.data.text, client_id: item.data.client_id, status: status,
                      row_id: item.data.row_id || null, horizon_id: item.data.horizon_id || null });
        }
        var grid = state.question && state.question.id === q && state.question.kind === "trajectory" ? state.question : null;
        if (grid && item.data.horizon_id) {
          var where = cellName(grid, item.data.row_id, item.data.horizon_id);
          if (status === "visible") say("✓ Your milestone was posted in " + where + "." + receiptText(result) + " You can add another.", "ok");
          else if (status === "hidden") say("✓ Your milestone was received." + receiptText(result), "ok");
          else say("✓ Your milestone was received; it will show once the facilitator approves it." + receiptText(result), "ok");
        } else if (status === "visible") say("✓ Your note was posted." + receiptText(result) + " You can add another.", "ok");
        else if (status === "hidden") say("✓ Your note was received." + receiptText(result), "ok");
        // Pending approval, or held for a look: either way it waits for the facilitator.
        else say("✓ Your note was received; it will show once the facilitator approves it." + receiptText(result), "ok");
      }
    } else {
      if (item.event === "note") keepRefused(q, item.data.text);
      say(result.error || "That was not saved.", "error");
    }
    render(false);
  }
  // A refused note goes back in its box (the box was emptied when it was sent), so nothing is retyped.
  function keepRefused(q, text) {
    var box = document.getElementById("note");
    if (box && shownId === q) {
      if (box.value.indexOf(text) === -1) box.value = box.value.trim() ? text + "\n" + box.value : text;
      box.dispatchEvent(new Event("input"));
    } else if (!drafts[q] || drafts[q].indexOf(text) === -1) {
      drafts[q] = drafts[q] && drafts[q].trim() ? text + "\n" + drafts[q] : text;
    }
  }
  // The receipt of a counted answer, for the person to note down: the facilitator can confirm it was counted.
  function receiptText(result) {
    return result && result.receipt ? " Receipt " + result.receipt + "." : "";
  }
  function send(item, quiet) {
    if (!quiet) say("Sending…", "busy");
    if (socket.connected) {
      socket.timeout(10000).emit(item.event, item.data, function (err, result) {
        if (err) { say("Not confirmed yet: it will be sent again when the connection is back.", "error"); return; }
        settle(item, result);
      });
      return;
    }
    // The socket is down: try a plain request before giving up for now.
    var url = app.dataset[item.event + "Url"] || app.dataset.noteUrl;  // data-vote-url, data-note-url, data-dot-url…
    fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": app.dataset.csrf },
      body: JSON.stringify(item.data)
    }).then(function (r) { return r.json(); }).then(function (result) { settle(item, result); }, function () {
      say("You are offline. Your answer is kept on this phone and will be sent when you are back.", "error");
    });
  }
  function submit(event, data) {
    data.client_id = newId();
    var item = { event: event, data: data };
    // A newer vote on a question replaces one not yet confirmed: resending the old one later would undo it.
    if (event === "vote") pending = pending.filter(function (p) { return !(p.event === "vote" && p.data.question_id === data.question_id); });
    pending.push(item);
    savePending(pending);
    send(item, false);
  }

  function render(changed) {
    var q = state.question;
    var dotKey = dotFocus();  // a dot button with the keyboard focus keeps it across the redraw
    // A new question, or this one just closed: an earlier hint ("Choose an answer…") no longer applies.
    if (changed || (shownOpen && q && !q.is_open && feedback.dataset.hint)) say("");
    // Keep a half-written note (and the cursor in it) across updates, question switches and closes.
    var draft = document.getElementById("note");
    if (draft && shownId !== null) drafts[shownId] = draft.value;
    var keep = draft && q && shownId === q.id ? { text: draft.value, focused: document.activeElement === draft } : null;
    if (!keep && q && drafts[q.id]) keep = { text: drafts[q.id], focused: false };
    section.textContent = "";
    shownId = q ? q.id : null;
    shownOpen = !!(q && q.is_open);
    if (!q) {
      section.appendChild(el("h1", { id: "qtext", tabindex: "-1" }, "Waiting for the facilitator to open a question…"));
      renderMine(null);
      return;
    }
    var form = el("form", { className: "stack", novalidate: "" });
    var mine = state.answers[q.id];
    if (q.kind === "trajectory") {
      trajectory(form, q, keep);
    } else if (q.kind === "notes") {
      form.appendChild(el("h1", { id: "qtext", tabindex: "-1" }, q.text));
      if (q.dots_open) {
        dotVoting(form, q);
      } else if (!q.is_open) {
        form.appendChild(el("p", { className: "closed" }, "This question is closed."));
        if (q.dots) form.appendChild(el("p", { className: "dots-done" }, "Dot-voting has finished."));
        if (keep && keep.text.trim()) {
          form.appendChild(el("p", {}, "It closed before this note of yours was sent; you could give it to your table host:"));
          form.appendChild(el("blockquote", { className: "unsent" }, keep.text));
        }
      } else {
        var written = textField("Your note", q.max_length);
        var area = written.area, count = written.count;
        form.appendChild(written.field);
        form.appendChild(el("button", { type: "submit", className: "primary big" }, "Post note"));
        form.addEventListener("submit", function (e) {
          e.preventDefault();
          var text = area.value.trim();
          if (!text) { hint("Write a note before sending."); area.focus(); return; }
          if (text.length > q.max_length) { hint("Your note is too long by " + window.consultDom.count(text.length - q.max_length, "character") + ". Shorten it and send again."); area.focus(); return; }
          submit("note", { question_id: q.id, text: text });
          area.value = "";
          count.textContent = "Up to " + q.max_length + " characters.";
        });
      }
    } else {
      var fieldset = el("fieldset", {});
      fieldset.appendChild(el("legend", { id: "qtext", tabindex: "-1" }, q.text));
      var multiple = q.kind === "choice" && q.multiple;
      var options = q.kind === "scale" ? scaleOptions(q) : q.options;
      if (multiple) fieldset.appendChild(el("p", { className: "hint" }, "Choose all that apply."));
      var list = el("div", { className: q.kind === "scale" ? "choices scale" : "choices" });
      options.forEach(function (o) {
        var id = "o" + o.id;
        var input = el("input", { type: multiple ? "checkbox" : "radio", name: "answer", id: id, value: String(o.id) });
        if (!q.is_open) input.disabled = true;
        if (mine && (q.kind === "scale" ? mine.value === o.id : mine.choices.indexOf(o.id) >= 0)) input.checked = true;
        var lab = el("label", { "for": id, className: "choice" });
        lab.appendChild(input);
        var pic = picture(o, "choice-picture");  // inside the label: tapping the picture chooses the option
        if (pic) { lab.appendChild(pic); lab.classList.add("has-picture"); }
        lab.appendChild(el("span", {}, o.text));
        if (o.end) lab.appendChild(el("span", { className: "end" }, o.end));
        list.appendChild(lab);
      });
      fieldset.appendChild(list);
      form.appendChild(fieldset);
      if (q.is_open) {
        form.appendChild(el("button", { type: "submit", className: "primary big" }, mine ? "Change my answer" : "Send my answer"));
      } else {
        form.appendChild(el("p", { className: "closed" }, "This question is closed."));
      }
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var picked = Array.prototype.filter.call(form.querySelectorAll("input[name=answer]"), function (i) { return i.checked; })
          .map(function (i) { return parseInt(i.value, 10); });
        if (!picked.length) { hint("Choose an answer before sending."); return; }
        if (q.kind === "scale") submit("vote", { question_id: q.id, value: picked[0] });
        else submit("vote", { question_id: q.id, choices: picked });
      });
    }
    if (mine) {
      var counted = el("p", { className: "counted" }, "✓ Your answer is counted: " + describe(q, mine) + ".");
      if (mine.receipt) {
        counted.appendChild(document.createTextNode(" Receipt "));
        counted.appendChild(el("strong", { className: "receipt" }, mine.receipt));
        counted.appendChild(document.createTextNode("."));
      }
      form.appendChild(counted);
    }
    addPicture(form, q);
    section.appendChild(form);
    var area2 = document.getElementById("note");
    if (keep && area2) {
      area2.value = keep.text;
      area2.dispatchEvent(new Event("input"));
      if (keep.focused) area2.focus();
    }
    renderMine(q);
    if (changed) {
      var heading = document.getElementById("qtext");
      if (heading && document.activeElement !== heading) heading.focus({ preventScroll: false });
    } else if (stepFocus) {
      var step = document.getElementById(stepFocus);
      if (step) step.focus();
    }
    stepFocus = null;
    if (!changed) refocusDot(dotKey);
  }

  // -- Trajectory grid: choose a row (when there are several), then a time horizon, then write ----------
  var cells = {};        // question id -> {row, horizon, was}: the cell this phone is placing a milestone in
  var stepFocus = null;  // the id to focus after the next render: the step just reached
  function byId(list, id) {
    for (var i = 0; i < (list || []).length; i++) if (list[i].id === id) return list[i];
    return null;
  }
  function cellOf(q) {
    var c = cells[q.id] || (cells[q.id] = { row: null, horizon: null, was: {} });
    // The facilitator may have edited the grid since: forget a row or horizon that is gone.
    if (!byId(q.rows, c.row)) c.row = null;
    if (!byId(q.horizons, c.horizon)) c.horizon = null;
    if (q.rows.length === 1) c.row = q.rows[0].id;
    return c;
  }
  function cellName(q, rowId, horizonId) {
    var row = byId(q.rows, rowId), h = byId(q.horizons, horizonId), parts = [];
    if (row && q.rows.length > 1) parts.push(row.text);
    if (h) parts.push(h.name + (h.hint ? " " + dashed(h.hint) : ""));
    return parts.join(" · ") || "an earlier place on the grid";
  }
  function gridStep(title, note) {
    var box = el("fieldset", { className: "grid-step" });
    var legend = el("legend", {});
    legend.appendChild(el("h2", { id: "step-h", tabindex: "-1" }, title));
    box.appendChild(legend);
    if (note) box.appendChild(note);
    return box;
  }
  // A horizon's span as the write-up prints it: a range with an en dash ("~ 6 – 24 months").
  function dashed(hint) { return hint.replace(/(\d)\s*[-–]\s*(\d)/g, "$1 – $2"); }
  function gridChoice(label, hint, current, onChoose) {
    var b = el("button", { type: "button", className: "choice grid-choice" });
    b.appendChild(el("span", { className: "grid-name" }, label));
    if (hint) b.appendChild(el("span", { className: "grid-hint" }, hint));
    if (current) {
      b.setAttribute("aria-current", "true");
      b.appendChild(el("span", { className: "here", "aria-hidden": "true" }, "✓ chosen before"));
    }
    b.addEventListener("click", onChoose);
    return b;
  }
  function trajectory(form, q, keep) {
    form.appendChild(el("h1", { id: "qtext", tabindex: "-1" }, q.text));
    if (!q.is_open) {
      form.appendChild(el("p", { className: "closed" }, "This question is closed."));
      if (keep && keep.text.trim()) {
        form.appendChild(el("p", {}, "It closed before this milestone of yours was sent; you could give it to your table host:"));
        form.appendChild(el("blockquote", { className: "unsent" }, keep.text));
      }
      return;
    }
    var c = cellOf(q), many = q.rows.length > 1, steps = many ? 3 : 2;
    if (!q.rows.length || !q.horizons.length) {
      form.appendChild(el("p", { className: "closed" }, "This grid has no places to post in yet."));
      return;
    }
    if (c.row === null) {
      var rowStep = gridStep("Step 1 of 3: which question or theme is your milestone about?");
      var rowList = el("div", { className: "choices grid-choices" });
      q.rows.forEach(function (r) {
        rowList.appendChild(gridChoice(r.text, "", c.was.row === r.id, function () {
          c.row = r.id;
          stepFocus = "step-h";
          render(false);
        }));
      });
      rowStep.appendChild(rowList);
      form.appendChild(rowStep);
    } else if (c.horizon === null) {
      var forRow = many ? el("p", { className: "grid-for" }, "About: " + byId(q.rows, c.row).text) : null;
      var hStep = gridStep("Step " + (steps - 1) + " of " + steps + ": when could it happen?", forRow);
      var hList = el("div", { className: "choices grid-choices" });
      q.horizons.forEach(function (h) {
        hList.appendChild(gridChoice(h.name, h.hint && dashed(h.hint), c.was.horizon === h.id && c.was.row === c.row, function () {
          c.horizon = h.id;
          stepFocus = "step-h";
          render(false);
        }));
      });
      hStep.appendChild(hList);
      if (many) {
        var back = el("button", { type: "button", className: "cancel grid-back" }, "Back: choose another question");
        back.addEventListener("click", function () {
          c.was.row = c.row;
          c.row = null;
          stepFocus = "step-h";
          render(false);
        });
        hStep.appendChild(back);
      }
      form.appendChild(hStep);
    } else {
      var place = el("div", { className: "grid-place" });
      place.appendChild(el("p", { id: "cell-now" }, "Your milestone goes in: "));
      place.firstChild.appendChild(el("strong", {}, cellName(q, c.row, c.horizon)));
      var change = el("button", { type: "button", className: "change grid-change", "aria-describedby": "cell-now" },
                      "Choose another place");
      change.addEventListener("click", function () {
        c.was = { row: c.row, horizon: c.horizon };
        c.horizon = null;
        if (many) c.row = null;
        stepFocus = "step-h";
        render(false);
      });
      place.appendChild(change);
      var write = gridStep("Step " + steps + " of " + steps + ": write your milestone", place);
      var written = textField("Your milestone", q.max_length);
      var area = written.area, count = written.count;
      write.appendChild(written.field);
      write.appendChild(el("button", { type: "submit", className: "primary big" }, "Post milestone"));
      form.appendChild(write);
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var text = area.value.trim();
        if (!text) { hint("Write your milestone before sending."); area.focus(); return; }
        if (text.length > q.max_length) { hint("Your milestone is too long by " + window.consultDom.count(text.length - q.max_length, "character") + ". Shorten it and send again."); area.focus(); return; }
        submit("note", { question_id: q.id, text: text, row_id: c.row, horizon_id: c.horizon });
        area.value = "";
        count.textContent = "Up to " + q.max_length + " characters.";
      });
    }
  }
  // A question's or option's picture, with its alt text, for people who read pictures more easily than words.
  function picture(item, cls) {
    if (!item || !item.image) return null;
    return el("img", { src: item.image, alt: item.image_alt || "", className: cls, decoding: "async" });
  }
  function addPicture(form, q) {  // the question's picture goes just under the question, whatever its kind
    var pic = picture(q, "q-picture");
    var heading = form.querySelector("#qtext");
    if (pic && heading) heading.parentNode.insertBefore(pic, heading.nextSibling);
  }
  function scaleOptions(q) {
    var out = [];
    for (var v = q.scale_min; v <= q.scale_max; v++) {
      // The number is the tile; a label for either end goes under it (and into the radio's name).
      var end = v === q.scale_min ? q.min_label : v === q.scale_max ? q.max_label : "";
      out.push({ id: v, text: String(v), end: end || "" });
    }
    return out;
  }
  function describe(q, mine) {
    if (q.kind === "scale") return String(mine.value);
    return q.options.filter(function (o) { return mine.choices.indexOf(o.id) >= 0; })
      .map(function (o) { return o.text; }).join(", ");
  }
  function renderMine(q) {
    var box = document.getElementById("mine");
    var list = document.getElementById("mine-list");
    var grid = q && q.kind === "trajectory";
    var notes = q && (q.kind === "notes" || grid) ? (state.notes[q.id] || []) : [];
    var waiting = pending.filter(function (p) { return q && p.event === "note" && p.data.question_id === q.id; });
    document.getElementById("mine-h").textContent = grid ? "Your milestones" : "Your notes";
    list.textContent = "";
    notes.forEach(function (n) {
      var status = NOTE_STATUS[n.status];
      if (!status && !grid) { list.appendChild(el("li", {}, n.text)); return; }
      var li = el("li", { className: "note-" + n.status });
      li.appendChild(el("span", { className: "note-text" }, n.text));
      if (grid) li.appendChild(el("span", { className: "note-cell" }, "In: " + cellName(q, n.row_id, n.horizon_id)));
      if (status) li.appendChild(el("span", { className: "note-status" }, status));
      list.appendChild(li);
    });
    waiting.forEach(function (p) {
      var where = grid && p.data.horizon_id ? " · in " + cellName(q, p.data.row_id, p.data.horizon_id) : "";
      list.appendChild(el("li", { className: "waiting" }, p.data.text + where + " (not sent yet)"));
    });
    box.hidden = !(notes.length || waiting.length) || !!(q && q.dots_open);  // while prioritising, the list is the notes
  }

  // What a participant's own note says under it; a visible note says nothing more.
  var NOTE_STATUS = {
    pending: "Waiting for approval by the facilitator",
    held: "Waiting for approval by the facilitator",  // never say it matched a blocked word
    hidden: "Hidden by the facilitator"
  };

  // -- Dot-voting: put your dots on the notes that matter most ------------------------------------
  // The notes come from the server ("dots" event, or the state); this phone's own dots (state.my_dots)
  // from the server's acks, so "dots left" is what the server counts: a dot on a note merged into
  // another shows on that one, and a dot on a note the facilitator hid is given back.
  function dotWord(n) { return window.consultDom.plural(n, "dot"); }
  function shortText(text) { return "“" + (text.length > 80 ? text.slice(0, 77) + "…" : text) + "”"; }
  function dotNotes(q) {
    var d = state.dots;
    return d && d.question_id === q.id && d.open && d.notes ? d.notes : null;
  }
  function findDotNote(q, noteId) {
    return (dotNotes(q) || []).filter(function (n) { return n.id === noteId || (n.also || []).indexOf(noteId) >= 0; })[0] || null;
  }
  function myDotsOn(q, n) {
    var ids = [n.id].concat(n.also || []);
    var leaving = pending.filter(function (p) { return p.event === "undot"; }).map(function (p) { return p.data.dot_id; });
    var sent = ((state.my_dots || {})[q.id] || []).filter(function (d) {
      return ids.indexOf(d.note_id) >= 0 && leaving.indexOf(d.id) < 0;
    });
    var waiting = pending.filter(function (p) {
      return p.event === "dot" && p.data.question_id === q.id && ids.indexOf(p.data.note_id) >= 0;
    });
    return { sent: sent, waiting: waiting, count: sent.length + waiting.length };
  }
  function dotsLeft(q) {
    var used = 0;
    (dotNotes(q) || []).forEach(function (n) { used += myDotsOn(q, n).count; });
    return Math.max(0, (q.dots || 0) - used);
  }
  function leftText(left) { return left ? "You have " + left + " " + dotWord(left) + " left" : "You have no dots left"; }
  function dotFocus() {  // the dot button that has the keyboard focus, to give it back after a redraw
    var active = document.activeElement;
    var list = document.getElementById("dot-list");
    return active && list && list.contains(active) ? active.getAttribute("data-key") : null;
  }
  function refocusDot(key) {
    var again = key && section.querySelector('[data-key="' + key + '"]');
    if (again && document.activeElement !== again) again.focus();
  }
  function dotVoting(form, q) {
    form.appendChild(el("p", { className: "dots-how" }, "Which notes matter most to you? Put your dots on them. " +
      "Everyone has " + q.dots + " " + dotWord(q.dots) + ". You can put more than one dot on the same note."));
    form.appendChild(el("p", { id: "dots-left", className: "dots-left" }));
    form.appendChild(el("ul", { id: "dot-list", className: "dot-list", "aria-label": "Notes to put your dots on" }));
    drawDots(q, form);
    if (dotsNews === q.id) {
      dotsNews = null;
      say("Dot-voting has started: you have " + q.dots + " " + dotWord(q.dots) + " to place.", "");
    }
  }
  function drawDots(q, root) {
    root = root || section;
    var list = root.querySelector("#dot-list"), leftLine = root.querySelector("#dots-left");
    if (!list) return;
    var notes = dotNotes(q), left = dotsLeft(q), key = dotFocus();
    leftLine.textContent = leftText(left) + ".";
    list.textContent = "";
    if (!notes) { list.appendChild(el("li", { className: "dot-empty" }, "Getting the notes…")); return; }
    if (!notes.length) list.appendChild(el("li", { className: "dot-empty" }, "There are no notes to put dots on yet."));
    notes.forEach(function (n) {
      var mine = myDotsOn(q, n);
      var li = el("li", { className: "dot-note" + (mine.count ? " dotted" : "") });
      li.appendChild(el("p", { className: "dot-text" }, n.text));
      var line = el("p", { className: "dot-mine" });
      if (mine.count) line.appendChild(el("span", { className: "dot-marks", "aria-hidden": "true" }, new Array(mine.count + 1).join("●")));
      line.appendChild(el("span", {}, mine.count
        ? "Your dots here: " + mine.count + (mine.waiting.length ? " (" + mine.waiting.length + " not sent yet)" : "")
        : "None of your dots here yet"));
      li.appendChild(line);
      var actions = el("div", { className: "dot-actions" });
      // The visible words begin the spoken name, so voice control ("tap Add a dot") finds the button too.
      var add = el("button", { type: "button", className: "primary dot-add", "aria-label": "Add a dot to: " + n.text,
                               "data-key": "add-" + n.id }, "Add a dot");
      if (!left) add.setAttribute("aria-disabled", "true");  // still focusable: a tap says why not
      add.addEventListener("click", function () { addDot(q, n); });
      var back = el("button", { type: "button", className: "dot-back", "aria-label": "Take back a dot from: " + n.text,
                                "data-key": "back-" + n.id }, "Take back");
      if (!mine.count) back.setAttribute("aria-disabled", "true");
      back.addEventListener("click", function () { takeBackDot(q, n); });
      actions.appendChild(add);
      actions.appendChild(back);
      li.appendChild(actions);
      list.appendChild(li);
    });
    refocusDot(key);
  }
  function addDot(q, n) {
    if (!dotsLeft(q)) {
      hint(q.dots === 1 ? "You have used your dot. Take it back from its note if you want to move it."
        : "You have used all " + q.dots + " of your dots. Take one back from a note if you want to move it.");
      return;
    }
    submit("dot", { question_id: q.id, note_id: n.id });
    drawDots(q);
  }
  function takeBackDot(q, n) {
    var mine = myDotsOn(q, n);
    if (mine.waiting.length) {  // not sent yet: it is simply forgotten here
      var last = mine.waiting[mine.waiting.length - 1];
      pending = pending.filter(function (p) { return p !== last; });
      savePending(pending);
      say("✓ Dot taken back from " + shortText(n.text) + ". " + leftText(dotsLeft(q)) + ".", "ok");
      drawDots(q);
      return;
    }
    if (!mine.sent.length) { hint("You have no dot on this note to take back."); return; }
    submit("undot", { question_id: q.id, dot_id: mine.sent[mine.sent.length - 1].id, note_id: n.id });
    drawDots(q);
  }
  function settleDot(item, result) {
    var qid = item.data.question_id, q = state.question;
    state.my_dots = state.my_dots || {};
    if (result.mine) state.my_dots[qid] = result.mine;  // what the server counts, after this request
    var here = q && q.id === qid && q.dots_open;
    var n = here ? findDotNote(q, item.data.note_id) : null;
    var what = n ? shortText(n.text) : "";
    var left = here ? " " + leftText(dotsLeft(q)) + "." : "";
    if (!result.ok) say(result.error || "That was not saved.", "error");
    else if (item.event === "dot" && result.current === false) say("That dot was taken back since: it stays off." + left, "ok");
    else if (item.event === "dot") say("✓ Dot added" + (what && " to " + what) + "." + left + receiptText(result), "ok");
    else if (result.taken === false) say("✓ That dot was already taken back." + left, "ok");
    else say("✓ Dot taken back" + (what && " from " + what) + "." + left + receiptText(result), "ok");
    if (here) drawDots(q);
  }
  var dotsNews = null;  // the question whose dot-voting just opened: the phone says so as it shows it
  socket.on("dots", function (d) {  // dot-voting opened or closed, or its notes changed (merged, hidden, new)
    if (!d) return;
    var before = state.dots && state.dots.question_id === d.question_id && state.dots.open;
    state.dots = d;
    if (d.open && !before) dotsNews = d.question_id;
    var q = state.question;
    if (!q || q.id !== d.question_id) return;  // the "question" that follows shows it
    var was = !!q.dots_open;
    q.dots_open = !!d.open;
    q.dots = d.per_person;
    if (was && d.open && section.querySelector("#dot-list")) { drawDots(q); return; }
    render(false);
    if (was && !d.open) say("Dot-voting has finished. Thank you for your dots!", "");
  });

  // -- World Café: which table, which round ---------------------------------------------
  function tableById(id) {
    for (var i = 0; i < state.tables.length; i++) if (state.tables[i].id === id) return state.tables[i];
    return null;
  }
  function myTableId() { return seat ? seat.table_id : state.table_id; }
  function sayTable(message, kind) {
    tableStatus.textContent = message;
    tableStatus.className = "feedback " + (kind || "");
    tableStatus.setAttribute("role", kind === "error" ? "alert" : "status");
  }
  function renderWhere() {
    var tables = state.tables || [];
    var round = state.session.round || 0;
    var mine = tableById(myTableId());
    roundNow.hidden = !round;
    roundNow.textContent = "Round " + round;
    tableNow.textContent = "Table: " + (mine ? mine.name : "none");
    if (!tables.length) {
      if (picking) closePicker(false);
      sayTable("");
    } else if (picking) {
      renderPicker();
    } else if (!mine && !noTable) {
      openPicker(true);  // not seated yet (or their table was removed): ask first
    }
    showWhere();
  }
  function showWhere() {
    // While the phone asks for the first time, "Table: none · Change" would only repeat the question.
    tableBar.hidden = !state.tables.length || (picking && pickingFirst);
    where.hidden = tableBar.hidden && roundNow.hidden;
  }
  function renderPicker() {
    var mine = myTableId();
    pickerList.textContent = "";
    state.tables.forEach(function (t) {
      var button = el("button", { type: "submit", name: "table_id", value: String(t.id), className: "choice table-choice" }, t.name);
      if (t.id === mine) {
        button.setAttribute("aria-current", "true");  // read as "current"; the tick says it on screen
        button.appendChild(el("span", { className: "here", "aria-hidden": "true" }, "✓ your table"));
      }
      pickerList.appendChild(button);
    });
    var none = el("button", { type: "submit", name: "table_id", value: "none", className: "choice no-table" }, "I'm not at a table");
    if (noTable && !tableById(mine)) none.setAttribute("aria-current", "true");
    pickerList.appendChild(none);
  }
  function openPicker(first) {
    picking = true;
    pickingFirst = !!first;
    renderPicker();
    picker.hidden = false;
    pickerCancel.hidden = !!first;  // the first time, a table (or "not at a table") is the way on
    app.classList.add("picking");
    changeButton.setAttribute("aria-expanded", "true");
    showWhere();
    document.getElementById("picker-h").focus();
  }
  function closePicker(focus) {
    var first = pickingFirst;
    picking = pickingFirst = false;
    picker.hidden = true;
    app.classList.remove("picking");
    changeButton.setAttribute("aria-expanded", "false");
    showWhere();
    if (!focus) return;
    // First choice: on to the question. A change: back to the control that opened the picker.
    var target = first ? document.getElementById("qtext") : changeButton;
    if (target) target.focus();
  }
  function choose(tableId) {
    noTable = tableId === null;
    seat = { table_id: tableId };
    saveSeat();
    closePicker(true);
    renderWhere();
    sendSeat(null);
  }
  function seated(result, then) {
    var wanted = seat;
    seat = null;
    if (result.ok) {
      state.table_id = result.table_id;
      var t = tableById(result.table_id);
      sayTable(t ? "✓ You are at " + t.name + "." : "✓ You are not at a table. You can choose one any time.", "ok");
    } else {
      if (wanted && wanted.table_id === null) noTable = false;
      sayTable((result.error || "Your table was not saved.") + " Choose your table again.", "error");
    }
    saveSeat();
    renderWhere();
    if (!result.ok && !picking) openPicker(false);
    if (then) then();
  }
  function sendSeat(then) {
    var data = { table_id: seat.table_id };
    if (socket.connected) {
      socket.timeout(10000).emit("table", data, function (err, result) {
        if (err) {
          sayTable("Not confirmed yet: your table will be sent again when the connection is back.", "error");
          if (then) then();  // answers waiting on this phone matter more than their table
          return;
        }
        seated(result, then);
      });
      return;
    }
    fetch(app.dataset.tableUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": app.dataset.csrf },
      body: JSON.stringify(data)
    }).then(function (r) { return r.json(); }).then(function (result) { seated(result, then); }, function () {
      sayTable("You are offline. Your table is kept on this phone and will be sent when you are back.", "error");
    });
  }
  // The picker is a plain form (it works without script too); here one tap on a table sends it over the socket.
  picker.addEventListener("submit", function (e) { e.preventDefault(); });
  pickerList.addEventListener("click", function (e) {
    var button = e.target.closest ? e.target.closest("button") : e.target;
    if (!button || button.name !== "table_id") return;
    e.preventDefault();
    choose(button.value === "none" ? null : parseInt(button.value, 10));
  });
  changeButton.addEventListener("click", function () {
    if (picking) { if (!pickingFirst) closePicker(true); return; }
    openPicker(false);
  });
  pickerCancel.addEventListener("click", function () { closePicker(true); });
  picker.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && !pickingFirst) closePicker(true);
  });

  // The page came with the picker open or closed as the server saw it; this phone may know better
  // (it said "I'm not at a table", or a table choice is still on its way): decide afresh.
  picker.hidden = true;
  app.classList.remove("picking");
  shownId = -1;
  render(true);
  renderWhere();
})();
