// The console's behaviour beyond plain forms: the CSRF header for htmx, live updates by
// server-sent events, keyboard navigation of the queue, saved views, and answer templates.
(function () {
  var csrf = document.body.getAttribute("data-csrf") || "";
  document.body.addEventListener("htmx:configRequest", function (e) {
    e.detail.headers["X-CSRF-Token"] = csrf;
  });

  // Live updates: the server says something changed; the queue and counters reload themselves.
  if (window.EventSource && document.getElementById("rows")) {
    var es = new EventSource("/events");
    var changed = function () {
      document.body.dispatchEvent(new CustomEvent("otklik-changed", { bubbles: true }));
    };
    es.addEventListener("changed", changed);
    // Changes made between the page's rendering and the stream's (re)connection are caught up.
    var opened = false;
    es.addEventListener("open", function () { if (opened) changed(); opened = true; });
  }

  // Keyboard: j/k move through the queue, Enter opens, / focuses the search.
  var selected = -1;
  var selectedHref = null;
  function rows() { return Array.prototype.slice.call(document.querySelectorAll(".queue tbody tr")); }
  function mark(r, i) {
    selected = i;
    selectedHref = i >= 0 ? r[i].getAttribute("data-href") : null;
    r.forEach(function (row, k) { row.classList.toggle("selected", k === i); });
  }
  function select(i) {
    var r = rows();
    if (!r.length) return;
    mark(r, Math.max(0, Math.min(r.length - 1, i)));
    r[selected].focus();
  }
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    var typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT");
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "j") { select(selected + 1); e.preventDefault(); }
    else if (e.key === "k") { select(selected - 1); e.preventDefault(); }
    else if (e.key === "Enter" && selected >= 0) {
      var r = rows()[selected];
      if (r) { window.location = r.getAttribute("data-href"); e.preventDefault(); }
    } else if (e.key === "/") {
      var q = document.getElementById("f-q");
      if (q) { q.focus(); e.preventDefault(); }
    }
  });
  document.addEventListener("click", function (e) {
    var row = e.target.closest && e.target.closest(".queue tbody tr");
    if (row && !e.target.closest("a")) window.location = row.getAttribute("data-href");
  });
  // New rows (a filter, a live update) keep the selected incident selected while it is listed;
  // the counters, loaded beside the rows, change nothing.
  document.body.addEventListener("htmx:afterSwap", function (e) {
    var box = document.getElementById("rows");
    if (!box || !e.detail || !box.contains(e.detail.target)) return;
    var r = rows();
    var k = r.findIndex(function (row) { return row.getAttribute("data-href") === selectedHref; });
    mark(r, selectedHref === null ? -1 : k);
    // The old row took the focus with it; give it to the new one unless the user is elsewhere.
    var lost = !document.activeElement || document.activeElement === document.body;
    if (k >= 0 && lost) r[k].focus();
  });

  // Saved views: the filters' query under a name, kept in this browser.
  var views = document.getElementById("views");
  function drawViews() {
    if (!views) return;
    var saved = JSON.parse(localStorage.getItem("otklik.views") || "[]");
    views.textContent = "";
    saved.forEach(function (v) {
      var a = document.createElement("a");
      a.href = "/queue?" + v.query;
      a.textContent = v.name;
      views.appendChild(a);
    });
  }
  var save = document.getElementById("save-view");
  if (save) {
    save.addEventListener("click", function () {
      var name = window.prompt("Название вида");
      if (!name) return;
      var form = document.getElementById("filters");
      var query = new URLSearchParams(new FormData(form)).toString();
      var saved = JSON.parse(localStorage.getItem("otklik.views") || "[]");
      saved.push({ name: name.slice(0, 60), query: query });
      localStorage.setItem("otklik.views", JSON.stringify(saved.slice(-20)));
      drawViews();
    });
  }
  drawViews();

  // Answer templates fill the editor.
  var tpl = document.getElementById("template");
  if (tpl) {
    tpl.addEventListener("change", function () {
      var target = document.getElementById(tpl.getAttribute("data-target"));
      if (target && tpl.value) target.value = tpl.value;
    });
  }
})();
