/* 我的证照: the print button of the printable page (no inline script under the CSP). */
(function () {
  "use strict";
  var button = document.getElementById("print-button");
  if (button) {
    button.addEventListener("click", function () { window.print(); });
  }
}());
