// Live row and column totals of the return grid, and a confirmation before submitting.
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

  form.addEventListener("input", recalc);
  recalc();
  var submit = document.getElementById("submit-return");
  if (submit) {
    submit.addEventListener("click", function (event) {
      if (!window.confirm(submit.dataset.confirm)) { event.preventDefault(); }
    });
  }
})();
