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

  function newId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "className") node.className = attrs[k]; else node.setAttribute(k, attrs[k]);
    });
    if (text !== undefined && text !== null) node.textContent = text;  // never innerHTML: text is untrusted
    return node;
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

  var socket = io("/phone", { auth: { code: code }, transports: ["websocket", "polling"] });
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
      if (mine.id === n.id) { mine.status = n.status; mine.text = n.text; }
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
    var q = item.data.question_id;
    if (result.ok) {
      if (item.event === "vote") {
        state.answers[q] = { choices: item.data.choices || [], value: item.data.value, client_id: item.data.client_id };
        say("✓ Your answer counted. You can change it until the question closes.", "ok");
      } else {
        var status = result.status || "visible";
        var list = (state.notes[q] = state.notes[q] || []);
        if (!list.some(function (n) { return n.id === result.id; })) {
          list.push({ id: result.id, text: item.data.text, client_id: item.data.client_id, status: status });
        }
        if (status === "visible") say("✓ Your note was posted. You can add another.", "ok");
        else if (status === "hidden") say("✓ Your note was received.", "ok");
        // Pending approval, or held for a look: either way it waits for the facilitator.
        else say("✓ Your note was received; it will show once the facilitator approves it.", "ok");
      }
    } else {
      say(result.error || "That was not saved.", "error");
    }
    render(false);
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
    var url = item.event === "vote" ? app.dataset.voteUrl : app.dataset.noteUrl;
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
    if (q.kind === "notes") {
      form.appendChild(el("h1", { id: "qtext", tabindex: "-1" }, q.text));
      if (!q.is_open) {
        form.appendChild(el("p", { className: "closed" }, "This question is closed."));
        if (keep && keep.text.trim()) {
          form.appendChild(el("p", {}, "It closed before this note of yours was sent; you could give it to your table host:"));
          form.appendChild(el("blockquote", { className: "unsent" }, keep.text));
        }
      } else {
        var label = el("label", { "for": "note" }, "Your note");
        var area = el("textarea", { id: "note", name: "note", rows: "4", maxlength: String(q.max_length * 2), "aria-describedby": "count" });
        var count = el("p", { id: "count", className: "hint" }, "Up to " + q.max_length + " characters.");
        area.addEventListener("input", function () {
          var left = q.max_length - area.value.length;
          count.textContent = left >= 0 ? left + " characters left." : "Too long by " + (-left) + " characters.";
          count.className = left >= 0 ? "hint" : "hint error";
        });
        var field = el("div", { className: "field" });
        field.appendChild(label); field.appendChild(area); field.appendChild(count);
        form.appendChild(field);
        form.appendChild(el("button", { type: "submit", className: "primary big" }, "Post note"));
        form.addEventListener("submit", function (e) {
          e.preventDefault();
          var text = area.value.trim();
          if (!text) { hint("Write a note before sending."); area.focus(); return; }
          if (text.length > q.max_length) { hint("Your note is too long by " + (text.length - q.max_length) + " characters. Shorten it and send again."); area.focus(); return; }
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
    if (mine) form.appendChild(el("p", { className: "counted" }, "✓ Your answer is counted: " + describe(q, mine) + "."));
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
    }
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
    var notes = q && q.kind === "notes" ? (state.notes[q.id] || []) : [];
    var waiting = pending.filter(function (p) { return q && p.event === "note" && p.data.question_id === q.id; });
    list.textContent = "";
    notes.forEach(function (n) {
      var status = NOTE_STATUS[n.status];
      if (!status) { list.appendChild(el("li", {}, n.text)); return; }
      var li = el("li", { className: "note-" + n.status });
      li.appendChild(el("span", { className: "note-text" }, n.text));
      li.appendChild(el("span", { className: "note-status" }, status));
      list.appendChild(li);
    });
    waiting.forEach(function (p) { list.appendChild(el("li", { className: "waiting" }, p.data.text + " (not sent yet)")); });
    box.hidden = !(notes.length || waiting.length);
  }

  // What a participant's own note says under it; a visible note says nothing more.
  var NOTE_STATUS = {
    pending: "Waiting for approval by the facilitator",
    held: "Waiting for approval by the facilitator",  // never say it matched a blocked word
    hidden: "Hidden by the facilitator"
  };

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
