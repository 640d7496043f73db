/* Progressive enhancement for /take: everything works without this file.
   - focus: the error summary when there is one, else the question heading;
   - a countdown from the server-rendered remaining time (the server enforces deadlines anyway),
     with spoken notices at 5 minutes, 1 minute and 10 seconds, and at 0: send the answer if one
     is given, otherwise reload to move on;
   - ordering: choosing a part already placed elsewhere swaps the two (when leaving the list). */
(function () {
  "use strict";

  var live = document.getElementById("live");
  function say(text) { if (live) { live.textContent = text; } }

  // An embedded test tells the page that frames it what happened, and only that page's origin
  // (the server names it; never "*"): etest:started, etest:answered, etest:finished.
  var embed = document.getElementById("etest-embed");
  if (embed && window.parent !== window) {
    var parentOrigin = embed.getAttribute("data-parent");
    var attemptId = embed.getAttribute("data-attempt-id");
    var post = function (type, extra) {
      var message = { type: type, attempt_id: attemptId };
      Object.keys(extra).forEach(function (k) { message[k] = extra[k]; });
      window.parent.postMessage(message, parentOrigin);
    };
    var answered = embed.getAttribute("data-answered");
    if (answered) { post("etest:answered", { position: parseInt(answered, 10) }); }
    var event = embed.getAttribute("data-event");
    if (event === "started") { post("etest:started", {}); }
    if (event === "finished") { post("etest:finished", { kind: embed.getAttribute("data-kind") }); }
  }

  var summary = document.getElementById("error-summary");
  var heading = document.querySelector("[data-focus-on-load]");
  if (summary) { summary.focus(); } else if (heading) { heading.focus(); }

  // the time in the page's language: formats from the timer's data-words-* attributes
  // ("%(h)s h %(m)s min"), English when a page has none
  function fill(format, values) {
    return format.replace(/%\((\w+)\)s/g, function (all, name) { return values[name]; });
  }
  function words(seconds, el) {
    var total = Math.max(0, Math.ceil(seconds));
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    function two(n) { return (n < 10 ? "0" : "") + n; }
    function say(key, fallback) { return (el && el.getAttribute("data-words-" + key)) || fallback; }
    if (h) { return fill(say("hm", "%(h)s h %(m)s min"), { h: h, m: two(m) }); }
    if (m) { return fill(say("ms", "%(m)s min %(s)s s"), { m: m, s: two(s) }); }
    return fill(say("s", "%(s)s s"), { s: s });
  }

  function answerGiven(form) {
    if (form.querySelector("input[type=radio]:checked, input[type=checkbox]:checked")) { return true; }
    var text = form.querySelector("input[type=text]");
    if (text) { return text.value.trim() !== ""; }
    var selects = form.querySelectorAll("select"), filled = 0, i;
    for (i = 0; i < selects.length; i++) { if (selects[i].value) { filled++; } }
    if (form.querySelector("[data-order]")) { return selects.length > 0 && filled === selects.length; }
    return filled > 0;
  }

  var finished = false;
  function timeUp(which, el) {
    if (finished) { return; }
    finished = true;
    say(el.getAttribute("data-words-up") ||
        (which === "question" ? "Time is up for this question." : "Time is up for the test."));
    var form = document.querySelector("form.answer-form");
    if (form && answerGiven(form)) { form.submit(); return; }
    // past the server's grace period, the page shows the next question or the result
    window.setTimeout(function () { window.location.assign(window.location.pathname); }, 2500);
  }

  var loaded = window.performance && performance.now ? performance.now() : Date.now();
  function elapsed() {
    var now = window.performance && performance.now ? performance.now() : Date.now();
    return (now - loaded) / 1000;
  }

  var timers = document.querySelectorAll("[data-remaining]");
  Array.prototype.forEach.call(timers, function (el) {
    var start = parseFloat(el.getAttribute("data-remaining"));
    var out = el.querySelector(".timer-value");
    var which = el.getAttribute("data-timer");
    var marks = [300, 60, 10].filter(function (m) { return start > m; });
    if (isNaN(start) || !out) { return; }
    function tick() {
      var left = start - elapsed();
      out.textContent = words(left, el);
      while (marks.length && left <= marks[0]) {
        var time = words(marks.shift(), el);
        say(fill(el.getAttribute("data-words-left") ||
                 ("%(time)s left" + (which === "question" ? " for this question." : " for the test.")),
                 { time: time }));
      }
      if (left < 60) { el.classList.add("timer-low"); }
      if (left <= 0) { timeUp(which, el); return; }
      window.setTimeout(tick, 1000 - ((left * 1000) % 1000 || 0) + 20);
    }
    tick();
  });

  // A recording with a play limit (an accommodation): after that many plays to the end the
  // player is replaced by the server's sentence (the server counts its downloads as well).
  Array.prototype.forEach.call(document.querySelectorAll("audio[data-plays-left]"), function (audio) {
    var left = parseInt(audio.getAttribute("data-plays-left"), 10);
    var hint = audio.nextElementSibling;
    audio.addEventListener("ended", function () {
      left -= 1;
      if (left > 0) { return; }
      var used = document.createElement("p");
      used.className = "clip-used";
      used.textContent = audio.getAttribute("data-words-used");
      audio.pause();
      audio.replaceWith(used);
      if (hint && hint.classList.contains("clip-plays")) { hint.remove(); }
      say(used.textContent);
    });
  });

  // On leaving a select (not on each change: arrow keys on a closed select fire a change per
  // step), the part it took from another position moves there in exchange.
  var order = document.querySelector("[data-order]");
  if (order) {
    var selects = order.querySelectorAll("select");
    Array.prototype.forEach.call(selects, function (select) {
      select.addEventListener("focus", function () {
        select.setAttribute("data-previous", select.value);
      });
      select.addEventListener("blur", function () {
        var previous = select.getAttribute("data-previous") || "";
        if (!select.value || select.value === previous) { return; }
        Array.prototype.forEach.call(selects, function (other) {
          if (other !== select && other.value === select.value) {
            other.value = previous;
            var label = order.querySelector("label[for='" + other.id + "']");
            say(fill(order.getAttribute("data-words-swap") || "%(position)s now has %(part)s.", {
              position: label ? label.textContent : "",
              part: previous ? other.options[other.selectedIndex].text
                : (order.getAttribute("data-words-none") || "no part")
            }));
          }
        });
      });
    });
  }
}());
