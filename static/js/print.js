// Buttons marked data-print open the browser's print dialogue (no inline handler: CSP).
document.querySelectorAll('[data-print]').forEach(function (button) {
  button.addEventListener('click', function () { window.print(); });
});
