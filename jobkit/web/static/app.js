// jobkit dashboard: the live chart, confirmations and "select all". Served as a file so the
// Content-Security-Policy can forbid inline scripts; builds DOM nodes, never HTML strings.
"use strict";

(function () {
  function confirmations() {
    document.querySelectorAll("form[data-confirm], button[data-confirm]").forEach(function (el) {
      var form = el.tagName === "FORM" ? el : el.form;
      var handler = function (event) {
        if (!window.confirm(el.getAttribute("data-confirm"))) {
          event.preventDefault();
        }
      };
      if (el.tagName === "FORM") {
        form.addEventListener("submit", handler);
      } else {
        el.addEventListener("click", handler);
      }
    });
  }

  function selectAll() {
    document.querySelectorAll("input.select-all").forEach(function (box) {
      box.addEventListener("change", function () {
        box.closest("table").querySelectorAll("tbody input[type=checkbox]").forEach(function (c) {
          c.checked = box.checked;
        });
      });
    });
  }

  function liveChart(root) {
    var url = root.getAttribute("data-url");
    var interval = parseInt(root.getAttribute("data-interval"), 10) || 5000;
    var keep = 60;
    var previous = null;
    var points = [];
    var status = root.querySelector(".status");
    var lines = {
      processed: root.querySelector("polyline.processed"),
      failed: root.querySelector("polyline.failed")
    };
    var ymax = root.querySelector(".ymax");

    function number(n) {
      return Number(n).toLocaleString("en-US");
    }

    function draw() {
      var top = 1;
      points.forEach(function (p) { top = Math.max(top, p.processed, p.failed); });
      ymax.textContent = number(top);
      Object.keys(lines).forEach(function (name) {
        var coords = points.map(function (p, i) {
          var x = 40 + (670 * i) / (keep - 1);
          var y = 140 - (125 * p[name]) / top;
          return x.toFixed(1) + "," + y.toFixed(1);
        });
        lines[name].setAttribute("points", coords.join(" "));
      });
    }

    function update(data) {
      document.querySelectorAll("[data-live]").forEach(function (el) {
        var key = el.getAttribute("data-live");
        if (key in data) {
          el.textContent = number(data[key]);
        }
      });
      if (previous !== null) {
        points.push({
          processed: Math.max(0, data.processed - previous.processed),
          failed: Math.max(0, data.failed - previous.failed)
        });
        if (points.length > keep) {
          points.shift();
        }
        draw();
      }
      previous = data;
      status.textContent = "updated " + new Date(data.time * 1000).toISOString().slice(11, 19) + " UTC";
      root.setAttribute("data-polls", String((parseInt(root.getAttribute("data-polls"), 10) || 0) + 1));
    }

    function poll() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(update)
        .catch(function (error) { status.textContent = "live update failed: " + error.message; })
        .finally(function () { window.setTimeout(poll, interval); });
    }

    poll();
  }

  document.addEventListener("DOMContentLoaded", function () {
    confirmations();
    selectAll();
    var chart = document.getElementById("live-chart");
    if (chart) {
      liveChart(chart);
    }
  });
})();
