// Progressive enhancement of the web form: topics follow the chosen direction, and the browser's
// location fills the point. The form works without it.
(function () {
  // After a refused submission, the list of problems is read first.
  var errors = document.getElementById("form-errors");
  if (errors) errors.focus();
  var direction = document.getElementById("direction");
  var category = document.getElementById("category");
  if (direction && category) {
    var groups = Array.prototype.slice.call(category.querySelectorAll("optgroup"));
    var sync = function () {
      var d = direction.value;
      groups.forEach(function (g) {
        var show = !d || g.getAttribute("data-direction") === d;
        g.hidden = !show;
        g.disabled = !show;
      });
      var sel = category.options[category.selectedIndex];
      if (sel && sel.parentNode.disabled) category.value = "";
    };
    direction.addEventListener("change", sync);
    sync();
  }
  var locate = document.getElementById("locate");
  if (locate && navigator.geolocation) {
    locate.hidden = false;
    locate.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (p) {
        document.getElementById("lat").value = p.coords.latitude.toFixed(6);
        document.getElementById("lon").value = p.coords.longitude.toFixed(6);
      });
    });
  }
})();
