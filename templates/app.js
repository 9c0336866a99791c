// 标准 — small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // A clause number in the preview opens the comment form on that clause.
  document.addEventListener("click", function (e) {
    var a = e.target.closest ? e.target.closest("a.comment-on") : null;
    if (!a) return;
    var sel = document.querySelector("form.new-comment select[name=clause]");
    var body = document.querySelector("form.new-comment input[name=body]");
    if (!sel || !body) return;
    e.preventDefault();
    sel.value = a.getAttribute("data-clause");
    body.focus();
    body.scrollIntoView({ block: "center" });
  });

  // Long-running forms (running an audit's checks): say what is happening and
  // keep the button from being pressed twice while the server works.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var busy = form.getAttribute && form.getAttribute("data-busy");
    if (!busy) return;
    var button = form.querySelector("button[type=submit], button:not([type])");
    if (button) { button.disabled = true; button.textContent = busy; }
    var note = document.createElement("p");
    note.className = "busy";
    note.setAttribute("role", "status");
    note.textContent = busy;
    form.appendChild(note);
  });

  // Award application forms: a live character count per field, counted as the
  // form counts (acceptance::chars): every character except spaces, line breaks
  // and zero-width characters; over the limit turns red (the server refuses to
  // export it).
  var countChars = function (text) {
    var n = 0;
    Array.from(text).forEach(function (c) {
      if (!/[\s\u200B-\u200D\u2060\uFEFF]/.test(c) && !/[\u0000-\u001F\u007F-\u009F]/.test(c)) n++;
    });
    return n;
  };
  document.querySelectorAll("textarea[data-limit]").forEach(function (t) {
    var counter = document.querySelector(".counter[data-for='" + t.id + "']");
    if (!counter) return;
    var limit = parseInt(t.getAttribute("data-limit"), 10);
    var update = function () {
      var n = countChars(t.value);
      counter.textContent = n + " / " + limit;
      counter.classList.toggle("over", n > limit);
    };
    t.addEventListener("input", update);
    update();
  });

  // Live monitoring pages: the server pushes a message (server-sent events) when
  // alerts change; the page then fetches itself and swaps in the new list and
  // figures. Without EventSource (or if the stream drops) it polls every 15 s.
  var live = document.getElementById("live");
  if (live) {
    var busy = false;
    var refresh = function () {
      if (busy) return;
      busy = true;
      fetch(location.href, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          busy = false;
          if (!html) return;
          var doc = new DOMParser().parseFromString(html, "text/html");
          ["alerts", "summary", "live-status", "today", "towns"].forEach(function (id) {
            var now = document.getElementById(id), next = doc.getElementById(id);
            // Do not replace a list while someone is typing into it.
            if (now && next && !now.contains(document.activeElement)) now.innerHTML = next.innerHTML;
          });
          live.setAttribute("data-refreshed", String(Date.now()));
        })
        .catch(function () { busy = false; });
    };
    if (window.EventSource) {
      var es = new EventSource(live.getAttribute("data-stream"));
      es.addEventListener("alerts", refresh);
    }
    setInterval(refresh, 15000);
  }

  // The submission editor. As you type (debounced), one request to
  // POST /api/v1/preview returns the same diagnostics as `biaozhun check` and the
  // draft rendered by the standard page's own template. Diagnostics are marked in a
  // line-number gutter next to the offending line and listed below; clicking one
  // selects its line.
  var text = document.getElementById("submission-text");
  if (!text) return;
  var out = document.getElementById("live-lint");
  var summary = document.getElementById("lint-summary");
  var gutter = document.getElementById("gutter");
  var preview = document.getElementById("preview-body");
  var file = document.getElementById("submission-file");
  var code = text.getAttribute("data-code") || "";
  var timer = null;
  var marks = {};
  var seq = 0;

  function drawGutter() {
    if (!gutter) return;
    var n = text.value.split("\n").length;
    var frag = document.createDocumentFragment();
    for (var i = 1; i <= n; i++) {
      var d = document.createElement("div");
      d.textContent = String(i);
      var m = marks[i];
      if (m) { d.className = m.cls; d.title = m.msg; }
      frag.appendChild(d);
    }
    gutter.textContent = "";
    gutter.appendChild(frag);
    gutter.scrollTop = text.scrollTop;
  }

  function goTo(line) {
    var lines = text.value.split("\n");
    var start = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
    var end = start + (lines[line - 1] || "").length;
    text.focus();
    text.setSelectionRange(start, end);
    text.scrollTop = Math.max(0, (line - 3) * 21);
    drawGutter();
  }

  function render(diags, total) {
    out.textContent = "";
    marks = {};
    var errors = 0;
    diags.forEach(function (d) {
      var err = d.severity === "error";
      if (err) errors++;
      var label = err ? "错误" : "警告";
      var li = document.createElement("li");
      li.className = err ? "error" : "warning";
      li.setAttribute("data-line", String(d.line));
      var text = d.title_zh ? d.title_zh + "：" + d.message + "（" + d.advice_zh + "）"
        : d.message + (d.help ? "（" + d.help + "）" : "");
      li.textContent = "第 " + d.line + " 行 · " + label + "：" + text;
      out.appendChild(li);
      var prev = marks[d.line];
      if (!prev || (err && prev.cls !== "error")) {
        marks[d.line] = { cls: err ? "error" : "warning", msg: label + "：" + text };
      } else {
        prev.msg += "\n" + label + "：" + text;
      }
    });
    if (diags.length === 0) {
      var ok = document.createElement("li");
      ok.textContent = "没有发现问题。";
      out.appendChild(ok);
    }
    if (total > diags.length) {
      var more = document.createElement("li");
      more.textContent = "……另有 " + (total - diags.length) + " 条检查结果未列出";
      out.appendChild(more);
    }
    if (summary) summary.textContent = errors > 0 ? errors + " 个错误" : "";
    drawGutter();
  }

  function refresh() {
    var mine = ++seq;
    fetch("/api/v1/preview", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ text: text.value, code: code })
    })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) {
        if (!j || mine !== seq) return; // a newer request is on its way
        render(j.diagnostics, j.diagnostics_total || j.diagnostics.length);
        if (preview) {
          // Server-rendered by the askama template (escaped there), not user HTML.
          preview.innerHTML = j.html || '<p class="card">文本还不能解析为标准，请先修正检查结果中的错误。</p>';
        }
      })
      .catch(function () {});
  }

  out.addEventListener("click", function (e) {
    var li = e.target.closest ? e.target.closest("li[data-line]") : null;
    if (li) goTo(parseInt(li.getAttribute("data-line"), 10));
  });
  text.addEventListener("input", function () {
    drawGutter();
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  });
  text.addEventListener("scroll", function () { if (gutter) gutter.scrollTop = text.scrollTop; });
  var notes = document.getElementById("import-notes");
  function note(lines) {
    if (!notes) return;
    notes.textContent = "";
    lines.forEach(function (l) {
      var li = document.createElement("li");
      li.textContent = l;
      notes.appendChild(li);
    });
  }
  // A Word file is converted on the server (POST /api/v1/import/docx); what it
  // could not convert is listed. Nothing is saved until the author clicks 保存.
  function importDocx(f) {
    note(["正在转换 " + f.name + " ……"]);
    var q = "code=" + encodeURIComponent(code) +
      "&title=" + encodeURIComponent(text.getAttribute("data-title") || "") +
      "&category=" + encodeURIComponent(text.getAttribute("data-category") || "");
    fetch("/api/v1/import/docx?" + q, {
      method: "POST",
      headers: { "Content-Type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document" },
      credentials: "same-origin",
      body: f
    })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
      .then(function (res) {
        if (!res.ok) { note(["无法导入 " + f.name + "：" + (res.j.error || "未知错误")]); return; }
        text.value = res.j.markdown;
        var lines = ["已从 " + f.name + " 导入，请检查后保存。"];
        res.j.warnings.forEach(function (w) { lines.push(w); });
        note(lines);
        drawGutter();
        refresh();
      })
      .catch(function () { note(["无法导入 " + f.name + "：网络错误"]); });
  }
  if (file) {
    file.addEventListener("change", function () {
      var f = file.files && file.files[0];
      if (!f) return;
      if (/\.docx$/i.test(f.name)) { importDocx(f); return; }
      var reader = new FileReader();
      reader.onload = function () { note([]); text.value = String(reader.result); drawGutter(); refresh(); };
      reader.readAsText(f, "utf-8");
    });
  }
  // Marks for the diagnostics the server rendered with the page.
  Array.prototype.forEach.call(out.querySelectorAll("li[data-line]"), function (li) {
    var line = parseInt(li.getAttribute("data-line"), 10);
    var cls = li.className === "error" ? "error" : "warning";
    if (!marks[line] || cls === "error") marks[line] = { cls: cls, msg: li.textContent };
  });
  drawGutter();
})();
