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
      r.notes.slice().reverse().forEach(function (n) { wall.appendChild(el("li", "sticky", n.text)); });
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
    } else {
      renderControls(s);
    }
    renderResults(s);
  }

  var socket = io("/facilitator", { auth: { session_id: parseInt(screen.dataset.session, 10), view: view } });
  socket.on("state", render);
  // Whether live updates flow; the control page falls back to plain form posts without them.
  socket.on("connect", function () { screen.dataset.live = "connected"; });
  socket.on("disconnect", function () { screen.dataset.live = "offline"; });
  socket.on("connect_error", function (err) { console.warn("live updates:", err && err.message); });

  if (view === "control") {
    var problem = document.getElementById("control-error");
    document.addEventListener("submit", function (e) {
      var form = e.target;
      var action = form.querySelector("input[name=action]");
      if (!action || !socket.connected) return;  // no socket: the plain form post still works
      e.preventDefault();
      var qid = parseInt(form.querySelector("input[name=question_id]").value, 10);
      socket.timeout(10000).emit("control", { action: action.value, question_id: qid }, function (err, res) {
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
