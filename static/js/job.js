/* A background job's page (templates/jobs/show.html): while the job is queued or running,
   ask its JSON status once a second and move the progress bar (CSS classes w-pct-N, no style
   attribute: the Content-Security-Policy forbids them); once it is ready, failed or gone,
   load the page again to show the download or the reason. Without script, the page's
   refresh link does the same by hand. */
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box) { return; }
  var status = box.getAttribute("data-status");
  if (status !== "queued" && status !== "running") { return; }
  var url = box.getAttribute("data-status-url");
  var bar = document.getElementById("job-bar");
  var fill = document.getElementById("job-bar-fill");
  var statusText = document.getElementById("job-status");
  var progressText = document.getElementById("job-progress-text");
  var refresh = document.getElementById("job-refresh");
  if (refresh) { refresh.classList.add("d-none"); }
  var failures = 0;

  function show(info) {
    var pct = info.percent === null ? 0 : Math.max(0, Math.min(100, info.percent));
    if (fill) {
      fill.className = fill.className.replace(/\bw-pct-\d+\b/, "") + " w-pct-" + pct;
    }
    if (bar) { bar.setAttribute("aria-valuenow", String(pct)); }
    if (statusText) { statusText.textContent = info.status_text; }
    if (progressText) { progressText.textContent = info.progress_text; }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (info) {
        failures = 0;
        show(info);
        if (info.status === "queued" || info.status === "running") {
          window.setTimeout(poll, 1000);
        } else {
          window.location.reload();
        }
      })
      .catch(function () {
        failures += 1;
        if (failures > 5 && refresh) { refresh.classList.remove("d-none"); }
        window.setTimeout(poll, Math.min(10000, 1000 * (failures + 1)));
      });
  }
  window.setTimeout(poll, 500);
}());
