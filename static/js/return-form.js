// The return form: live row and column totals; a click selects a field's content (typing
// replaces it); the server's rules checked while typing and on the Check button; a
// confirmation before submitting that names the warnings; re-applying one's own input after
// a conflict with another clerk.
(function () {
  "use strict";
  var form = document.getElementById("return-form");
  if (!form) { return; }
  var lang = document.documentElement.lang || "zh-CN";
  var fmt = new Intl.NumberFormat(lang);

  function value(input) {
    var text = (input.value || "").replace(/[,，\s]/g, "");
    if (text === "") { return 0; }
    return /^\d+$/.test(text) ? parseInt(text, 10) : NaN;
  }
  function show(cell, n) { cell.textContent = isNaN(n) ? "?" : fmt.format(n); }
  function share(nev, all) {
    if (isNaN(nev) || isNaN(all) || all === 0) { return "—"; }
    return (100 * nev / all).toFixed(1) + "%";
  }

  function recalc() {
    var colTotals = { bev: 0, phev: 0, fcev: 0 };
    var nevTotal = 0, allTotal = 0;
    form.querySelectorAll("tr[data-category]").forEach(function (row) {
      var nev = 0;
      row.querySelectorAll("input.nev").forEach(function (input) {
        var n = value(input);
        nev += n;
        var kind = input.name.split("_").pop();
        colTotals[kind] += n;
      });
      var all = value(row.querySelector("input.all-new"));
      show(row.querySelector(".row-nev"), nev);
      row.querySelector(".row-share").textContent = share(nev, all);
      row.classList.toggle("table-danger", !isNaN(nev) && !isNaN(all) && nev > all);
      nevTotal += nev;
      allTotal += all;
    });
    form.querySelectorAll(".col-total").forEach(function (cell) {
      show(cell, colTotals[cell.dataset.kind]);
    });
    show(document.getElementById("nev-total"), nevTotal);
    show(document.getElementById("all-new-total"), allTotal);
    document.getElementById("share-total").textContent = share(nevTotal, allTotal);
  }

  // A click into a number selects what is there, so "120" replaces it instead of appending.
  form.querySelectorAll("input.count:not([readonly])").forEach(function (input) {
    var justFocused = false;
    input.addEventListener("focus", function () { input.select(); justFocused = true; });
    input.addEventListener("mouseup", function (event) {
      if (justFocused) { event.preventDefault(); justFocused = false; }
    });
  });

  // --- the server's rules, before saving -------------------------------------------------
  var box = document.getElementById("live-check");
  var csrf = form.querySelector("input[name=csrf_token]");
  var timer = null;
  var lastResult = null;

  function check() {
    var headers = { "X-Requested-With": "fetch" };
    if (csrf) { headers["X-CSRFToken"] = csrf.value; }
    return fetch(form.dataset.checkUrl, {
      method: "POST", body: new FormData(form), headers: headers, credentials: "same-origin"
    }).then(function (response) {
      if (!response.ok) { throw new Error(response.status); }
      return response.json();
    }).then(function (result) { lastResult = result; render(result); return result; });
  }

  function item(problem) {
    var li = document.createElement("li");
    li.textContent = (problem.label ? problem.label + ": " : "") + problem.message;
    li.dataset.field = problem.field || "";
    return li;
  }
  function list(title, problems, cls, id) {
    var div = document.createElement("div");
    div.className = "alert py-2 mb-2 " + cls;
    div.id = id;
    var strong = document.createElement("strong");
    strong.textContent = title;
    var ul = document.createElement("ul");
    ul.className = "mb-0";
    problems.forEach(function (p) { ul.appendChild(item(p)); });
    div.appendChild(strong);
    div.appendChild(ul);
    return div;
  }
  function render(result) {
    if (!box) { return; }
    box.replaceChildren();
    if (result.errors.length) {
      box.appendChild(list(form.dataset.errorText, result.errors, "alert-danger", "check-errors"));
    }
    if (result.warnings.length) {
      box.appendChild(list(form.dataset.warningText, result.warnings, "alert-warning",
                           "check-warnings"));
    }
    if (!result.errors.length && !result.warnings.length) {
      var ok = document.createElement("div");
      ok.className = "text-success";
      ok.id = "check-ok";
      ok.textContent = form.dataset.okText;
      box.appendChild(ok);
    }
  }

  form.addEventListener("input", function () {
    recalc();
    if (!box) { return; }
    window.clearTimeout(timer);
    timer = window.setTimeout(function () { check().catch(function () {}); }, 500);
  });
  recalc();
  var checkButton = document.getElementById("check-return");
  if (checkButton) {
    checkButton.addEventListener("click", function () { check().catch(function () {}); });
  }

  // Submitting: ask first, naming the rules' warnings when there are any.
  var submit = document.getElementById("submit-return");
  var confirmed = false;
  if (submit) {
    submit.addEventListener("click", function (event) {
      if (confirmed) { return; }
      event.preventDefault();
      window.clearTimeout(timer);
      check().catch(function () { return lastResult || { errors: [], warnings: [] }; })
        .then(function (result) {
          var text = submit.dataset.confirm;
          if (result && result.warnings.length) {
            text = form.dataset.warningsConfirm + "\n" + result.warnings.map(function (p) {
              return "• " + (p.label ? p.label + ": " : "") + p.message;
            }).join("\n") + "\n\n" + text;
          }
          if (window.confirm(text)) {
            confirmed = true;
            if (form.requestSubmit) { form.requestSubmit(submit); } else { submit.click(); }
          }
        });
    });
  }

  // After a conflict: put the clerk's own input back into the fields.
  var reapply = document.getElementById("reapply");
  if (reapply) {
    reapply.addEventListener("click", function () {
      document.querySelectorAll("#conflict-table tr[data-field]").forEach(function (row) {
        var input = form.elements[row.dataset.field];
        if (input) { input.value = row.dataset.mine; }
      });
      recalc();
      if (box) { check().catch(function () {}); }
    });
  }
})();
