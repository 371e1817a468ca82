// The embeddable widget: put <script src="https://OTKLIK/widget.js" data-source="KEY" async></script>
// where the form should appear on an organisation's site; it inserts the form in an iframe.
(function () {
  var me = document.currentScript;
  if (!me) return;
  var base = me.src.replace(/\/widget\.js(\?.*)?$/, "");
  var frame = document.createElement("iframe");
  var source = me.getAttribute("data-source") || "";
  frame.src = base + "/form?embed=1" + (source ? "&source=" + encodeURIComponent(source) : "");
  frame.title = "Сообщить о проблеме";
  frame.loading = "lazy";
  frame.style.width = "100%";
  frame.style.minHeight = me.getAttribute("data-height") || "1100px";
  frame.style.border = "0";
  me.parentNode.insertBefore(frame, me.nextSibling);
})();
