/* The sites' front end (sandbox.flask_site, sandbox.django_site): one bundle that every page loads.
   It enhances server-rendered HTML; nothing here is needed to read a page. */
(function () {
  "use strict";

  var money = new Intl.NumberFormat("en-GB", { style: "currency", currency: "EUR", maximumFractionDigits: 0 });

  function formatPrices(root) {
    var cells = root.querySelectorAll("[data-price]");
    for (var i = 0; i < cells.length; i += 1) {
      var value = Number(cells[i].getAttribute("data-price"));
      if (!Number.isNaN(value)) {
        cells[i].textContent = money.format(value) + " / month";
      }
    }
  }

  function markCurrentLink(root) {
    var links = root.querySelectorAll("nav a[href]");
    for (var i = 0; i < links.length; i += 1) {
      if (links[i].getAttribute("href") === window.location.pathname) {
        links[i].setAttribute("aria-current", "page");
      }
    }
  }

  function row(item) {
    var tr = document.createElement("tr");
    var title = document.createElement("td");
    var city = document.createElement("td");
    var price = document.createElement("td");
    title.textContent = item.title;
    city.textContent = item.city;
    price.setAttribute("data-price", String(item.price_per_month));
    tr.appendChild(title);
    tr.appendChild(city);
    tr.appendChild(price);
    return tr;
  }

  // A page with a live listing reads it from the same-origin API with the session cookie.
  function loadListing(root) {
    var table = root.querySelector("[data-listing]");
    if (!table) {
      return;
    }
    fetch(table.getAttribute("data-listing"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("listing answered " + response.status);
        }
        return response.json();
      })
      .then(function (page) {
        var body = table.querySelector("tbody");
        body.textContent = "";
        page.items.forEach(function (item) {
          body.appendChild(row(item));
        });
        formatPrices(body);
      })
      .catch(function (error) {
        table.setAttribute("data-error", String(error.message || error));
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    formatPrices(document);
    markCurrentLink(document);
    loadListing(document);
  });
})();
