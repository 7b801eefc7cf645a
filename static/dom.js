// Small helpers shared by the phone and host pages.
window.consultDom = {
  // An id made on the device: answers carry it so a retry is recognised, not counted twice.
  newId: function () {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  },
  // A count and its word, the same rule as the write-ups (consult/words.py): count(1, "note") is
  // "1 note", count(2, "note") "2 notes"; irregular plurals are passed: count(n, "person", "people").
  plural: function (n, one, many) { return n === 1 ? one : (many || one + "s"); },
  count: function (n, one, many) { return n + " " + window.consultDom.plural(n, one, many); },
  el: function (tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "className") node.className = attrs[k]; else node.setAttribute(k, attrs[k]);
    });
    if (text !== undefined && text !== null) node.textContent = text;  // never innerHTML: text is untrusted
    return node;
  }
};
