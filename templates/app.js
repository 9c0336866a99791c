// 标准 — small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // The submission editor: load a .md file into the editor, and lint as you type
  // with the same diagnostics as `biaozhun check` (POST /api/v1/lint).
  var text = document.getElementById("submission-text");
  if (!text) return;
  var out = document.getElementById("live-lint");
  var file = document.getElementById("submission-file");
  var code = text.getAttribute("data-code") || "";
  var timer = null;
  function render(diags) {
    out.textContent = "";
    if (diags.length === 0) {
      var ok = document.createElement("li");
      ok.textContent = "没有发现问题。";
      out.appendChild(ok);
      return;
    }
    diags.forEach(function (d) {
      var li = document.createElement("li");
      li.className = d.severity;
      li.textContent = "第 " + d.line + " 行 · " + (d.severity === "error" ? "错误" : "警告") + "：" + d.message;
      out.appendChild(li);
    });
  }
  function lint() {
    fetch("/api/v1/lint", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ text: text.value, code: code })
    })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) { if (j) render(j.diagnostics); })
      .catch(function () {});
  }
  text.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(lint, 400);
  });
  if (file) {
    file.addEventListener("change", function () {
      var f = file.files && file.files[0];
      if (!f) return;
      var reader = new FileReader();
      reader.onload = function () { text.value = String(reader.result); lint(); };
      reader.readAsText(f, "utf-8");
    });
  }
})();
