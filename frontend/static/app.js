// Search suggestions as you type: fills the search box's datalist with names that start with
// what has been typed. Without this script the search form still works.
(function () {
  "use strict";
  var input = document.querySelector("form.search input[data-suggest]");
  if (!input || !window.fetch) { return; }
  var list = document.getElementById(input.getAttribute("list"));
  var timer = null;
  var asked = "";
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var typed = input.value.trim();
      if (typed === asked) { return; }
      asked = typed;
      if (typed.length === 0) { list.innerHTML = ""; return; }
      fetch(input.getAttribute("data-suggest") + "?q=" + encodeURIComponent(typed), { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : []; })
        .then(function (hits) {
          if (input.value.trim() !== typed) { return; }
          list.innerHTML = "";
          hits.forEach(function (hit) {
            var option = document.createElement("option");
            option.value = hit.title;
            list.appendChild(option);
          });
        })
        .catch(function () { list.innerHTML = ""; });
    }, 150);
  });
})();
