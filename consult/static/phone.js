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

  var socket = io("/phone", { auth: { code: code }, transports: ["websocket", "polling"] });
  socket.on("connect", function () {
    conn.textContent = "Connected";
    conn.className = "conn ok";
    resend();
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
        (state.notes[q] = state.notes[q] || []).push({ id: result.id, text: item.data.text, client_id: item.data.client_id });
        say("✓ Your note was posted. You can add another.", "ok");
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
    notes.forEach(function (n) { list.appendChild(el("li", {}, n.text)); });
    waiting.forEach(function (p) { list.appendChild(el("li", { className: "waiting" }, p.data.text + " (not sent yet)")); });
    box.hidden = !(notes.length || waiting.length);
  }

  shownId = -1;
  render(true);
})();
