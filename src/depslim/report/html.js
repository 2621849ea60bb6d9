// Sortable tables: each header holds a button (Tab reaches it, Enter or Space sorts); the sorted
// header carries aria-sort and a status line announces the order to screen readers.
(function () {
  "use strict";
  function key(row, index, numeric) {
    var cell = row.children[index];
    var value = cell ? (cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent) : "";
    if (numeric) { var n = parseFloat(value); return isNaN(n) ? -Infinity : n; }
    return String(value).toLowerCase();
  }
  function sortBy(table, th) {
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = th.getAttribute("data-type") === "number";
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.forEach(function (row, i) { row.setAttribute("data-order", String(i)); });
    rows.sort(function (a, b) {
      var x = key(a, index, numeric), y = key(b, index, numeric);
      var c = x < y ? -1 : x > y ? 1 : 0;
      return (ascending ? c : -c) || (+a.getAttribute("data-order") - +b.getAttribute("data-order"));
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var status = document.getElementById("sort-status");
    if (status) { status.textContent = th.textContent + " sorted " + (ascending ? "ascending" : "descending"); }
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable th button"), function (button) {
    button.addEventListener("click", function () {
      var th = button.parentNode;
      sortBy(th.closest("table"), th);
    });
  });
})();
