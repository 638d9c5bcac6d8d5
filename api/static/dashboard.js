// The chargeback dashboard: reads only this server's /api/v1 (the page's CSP forbids any other fetch).
"use strict";
(function () {
  var API = "/api/v1";
  var state = { scheme: sessionStorage.getItem("scheme") || "bearer", secret: sessionStorage.getItem("secret") || "" };

  function $(id) { return document.getElementById(id); }
  function text(tag, value, cls) {
    var cell = document.createElement(tag);
    cell.textContent = value === null || value === undefined ? "" : String(value);
    if (cls) { cell.className = cls; }
    return cell;
  }
  function money(value) { return value === null || value === undefined ? "unpriced" : value; }
  function headers() {
    var h = {};
    if (state.secret) {
      if (state.scheme === "key") { h["X-Api-Key"] = state.secret; } else { h.Authorization = "Bearer " + state.secret; }
    }
    return h;
  }
  function get(path) {
    return fetch(API + path, { headers: headers() }).then(function (response) {
      if (!response.ok) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          throw new Error(response.status + ": " + (body.detail || response.statusText));
        });
      }
      return response.json();
    });
  }
  function status(message, isError) {
    $("status").textContent = message;
    $("status").className = isError ? "error" : "";
  }
  function download(path, accept, name) {
    fetch(API + path, { headers: Object.assign({ Accept: accept }, headers()) })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.blob(); })
      .then(function (blob) {
        var link = document.createElement("a");
        link.href = URL.createObjectURL(blob);
        link.download = name;
        link.click();
      })
      .catch(function (e) { status("Download failed: " + e.message, true); });
  }

  function loadMonths() {
    status("Loading…");
    return get("/months").then(function (body) {
      var select = $("month");
      select.textContent = "";
      body.months.forEach(function (m) { var o = document.createElement("option"); o.value = m; o.textContent = m; select.appendChild(o); });
      $("overview").hidden = false;
      if (!body.months.length) { status("No month has been rolled up yet (run chargeback aggregate)."); return; }
      loadBudgets();
      return loadMonth(select.value);
    }).catch(function (e) { $("overview").hidden = true; status("Cannot load: " + e.message, true); });
  }

  function loadMonth(month) {
    $("drill").hidden = true;
    return get("/chargeback/report?month=" + encodeURIComponent(month)).then(function (body) {
      var c = body.completeness;
      $("completeness").textContent = c.last_day_rolled_up
        ? "Rolled up to " + c.last_day_rolled_up + "; from " + c.provisional_from + " late data may still change it."
        : "Nothing rolled up yet.";
      var totals = $("totals");
      totals.textContent = "";
      body.totals.forEach(function (t) {
        var kpi = text("span", "Total " + t.currency, "kpi");
        kpi.appendChild(text("b", t.total_cost));
        kpi.setAttribute("data-currency", t.currency);
        kpi.setAttribute("data-total", t.total_cost);
        totals.appendChild(kpi);
      });
      var tbody = $("teams").querySelector("tbody");
      tbody.textContent = "";
      var widest = 0;
      body.teams.forEach(function (row) { widest = Math.max(widest, Number(row.total_cost || 0)); });
      body.teams.forEach(function (row) {
        var tr = document.createElement("tr");
        tr.className = "team";
        tr.setAttribute("data-team", row.team === null ? "" : row.team);
        tr.setAttribute("data-total", row.total_cost === null ? "" : row.total_cost);
        tr.setAttribute("data-currency", row.currency === null ? "" : row.currency);
        tr.appendChild(text("td", row.team === null ? "(unallocated PTU)" : row.team));
        tr.appendChild(text("td", row.currency));
        tr.appendChild(text("td", row.requests, "n"));
        tr.appendChild(text("td", row.total_tokens, "n"));
        tr.appendChild(text("td", money(row.token_cost), "n"));
        tr.appendChild(text("td", money(row.ptu_cost), "n"));
        tr.appendChild(text("td", money(row.total_cost), "n"));
        tr.appendChild(text("td", row.unpriced_tokens, "n"));
        var bars = document.createElement("td");
        [["token", row.token_cost], ["ptu", row.ptu_cost]].forEach(function (pair) {
          var bar = text("span", "", "bar " + pair[0]);
          bar.style.width = widest > 0 ? Math.round(160 * Number(pair[1] || 0) / widest) + "px" : "0px";
          bars.appendChild(bar);
        });
        tr.appendChild(bars);
        if (row.team !== null) { tr.addEventListener("click", function () { drill(month, row.team, tr); }); }
        tbody.appendChild(tr);
      });
      status("Month " + month + ": " + body.teams.length + " rows.");
      document.body.setAttribute("data-loaded-month", month);
    }).catch(function (e) { status("Cannot load the month: " + e.message, true); });
  }

  function loadBudgets() {
    return get("/budgets/status").then(function (body) {
      var tbody = $("budgets").querySelector("tbody");
      tbody.textContent = "";
      $("budgets-as-of").textContent = body.rows.length ? "as of " + body.rows[0].as_of : "none evaluated yet";
      body.rows.forEach(function (row) {
        var tr = document.createElement("tr");
        tr.setAttribute("data-budget", row.budget_id);
        tr.setAttribute("data-spend", row.spend);
        tr.appendChild(text("td", row.budget_id));
        tr.appendChild(text("td", row.scope));
        tr.appendChild(text("td", row.period_start + " – " + row.period_end));
        tr.appendChild(text("td", row.amount + " " + row.unit, "n"));
        tr.appendChild(text("td", row.spend, "n"));
        tr.appendChild(text("td", Math.round(row.used_pct) + "%", "n"));
        tr.appendChild(text("td", row.forecast + " (" + row.forecast_method + ")", "n"));
        tr.appendChild(text("td", row.unpriced_tokens, "n"));
        tr.appendChild(text("td", row.crossed.map(function (c) { return c + "%"; }).join(", ")));
        tbody.appendChild(tr);
      });
      document.body.setAttribute("data-budgets-loaded", String(body.rows.length));
    }).catch(function (e) { status("Cannot load budgets: " + e.message, true); });
  }

  function lastDay(month) {
    var parts = month.split("-");
    var d = new Date(Date.UTC(Number(parts[0]), Number(parts[1]), 0));
    return d.toISOString().slice(0, 10);
  }

  function drill(month, team, tr) {
    document.querySelectorAll("tr.selected").forEach(function (r) { r.classList.remove("selected"); });
    tr.classList.add("selected");
    var range = "from=" + month + "-01&to=" + lastDay(month) + "&team=" + encodeURIComponent(team);
    Promise.all([get("/usage/summary?" + range + "&group_by=model,deployment"), get("/usage/summary?" + range + "&group_by=date")])
      .then(function (bodies) {
        $("drill-team").textContent = team;
        var models = $("drill-models").querySelector("tbody");
        models.textContent = "";
        bodies[0].rows.forEach(function (row) {
          var r = document.createElement("tr");
          [row.model, row.deployment].forEach(function (v) { r.appendChild(text("td", v)); });
          r.appendChild(text("td", row.requests, "n"));
          r.appendChild(text("td", row.total_tokens, "n"));
          r.appendChild(text("td", money(row.total_cost), "n"));
          models.appendChild(r);
        });
        var days = $("drill-days").querySelector("tbody");
        days.textContent = "";
        bodies[1].rows.sort(function (a, b) { return a.date < b.date ? -1 : 1; }).forEach(function (row) {
          var r = document.createElement("tr");
          r.appendChild(text("td", row.date));
          r.appendChild(text("td", row.requests, "n"));
          r.appendChild(text("td", money(row.total_cost), "n"));
          days.appendChild(r);
        });
        $("drill").hidden = false;
        document.body.setAttribute("data-drilled-team", team);
      })
      .catch(function (e) { status("Cannot load team " + team + ": " + e.message, true); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("scheme").value = state.scheme;
    $("secret").value = state.secret;
    $("credentials").addEventListener("submit", function (event) {
      event.preventDefault();
      state.scheme = $("scheme").value;
      state.secret = $("secret").value.trim();
      sessionStorage.setItem("scheme", state.scheme);
      sessionStorage.setItem("secret", state.secret);
      loadMonths();
    });
    $("month").addEventListener("change", function () { loadMonth($("month").value); });
    $("export-csv").addEventListener("click", function (e) {
      e.preventDefault(); download("/chargeback/report?month=" + $("month").value, "text/csv", "chargeback-" + $("month").value + ".csv");
    });
    $("focus-csv").addEventListener("click", function (e) {
      e.preventDefault(); download("/chargeback/focus?month=" + $("month").value, "text/csv", "focus-" + $("month").value + ".csv");
    });
    $("focus-parquet").addEventListener("click", function (e) {
      e.preventDefault();
      download("/chargeback/focus?month=" + $("month").value, "application/vnd.apache.parquet", "focus-" + $("month").value + ".parquet");
    });
    if (state.secret) { loadMonths(); }
  });
})();
