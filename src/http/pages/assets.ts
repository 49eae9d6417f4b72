// The pages' style sheet and their one script, served by the plugin itself
// under /fhir/.assets/ (nothing is loaded from elsewhere, and the pages'
// Content-Security-Policy allows only these). The script only adds to pages
// that work without it: the worklist refreshes itself in place, with a
// button to stop it (WCAG 2.2.1), instead of a <meta refresh>.

export const ASSET_PATH = '.assets';

const STYLE = `
:root{color:#1a1a1a;background:#fff;font-family:system-ui,sans-serif;line-height:1.4}
body{margin:0}
header{background:#1f3a5f;color:#fff;padding:.5em 2em}
header a{color:#fff;margin-right:1.2em}
header a[aria-current]{font-weight:bold;text-decoration:underline}
main{margin:1em 2em;max-width:90em}
a{color:#0645ad}
a:focus,button:focus,input:focus,select:focus,summary:focus{outline:3px solid #c60;outline-offset:2px}
.skip{position:absolute;left:-999em}
.skip:focus{left:1em;top:1em;background:#fff;color:#0645ad;padding:.3em}
pre{background:#f6f8fa;padding:1em;overflow:auto}
.k{color:#905}.s{color:#060}.n{color:#00a}.error{color:#a00}
table{border-collapse:collapse;margin:.5em 0}
th,td{text-align:left;padding:.3em .8em;border-bottom:1px solid #ccc;vertical-align:top}
th{background:#eef2f7}
table.summary th{background:none;font-weight:normal;color:#444}
.filters a{margin-right:.6em}
.filters a[aria-current]{font-weight:bold;color:#1a1a1a}
form label{display:inline-block;margin:.2em 1em .2em 0}
fieldset{border:1px solid #ccc}
.previews{display:flex;flex-wrap:wrap;gap:1em;list-style:none;padding:0}
.previews li{width:12em}
.previews img{width:12em;height:12em;object-fit:contain;background:#000;display:block;image-rendering:pixelated}
.timeline{list-style:none;padding:0;border-left:3px solid #1f3a5f;margin-left:.5em}
.timeline li{margin:0 0 1em 0;padding-left:1em;display:flex;gap:1em;align-items:flex-start}
.timeline img{width:6em;height:6em;object-fit:contain;background:#000;image-rendering:pixelated}
.status{font-weight:bold}
.muted{color:#555}
`;

const SCRIPT = `
(function () {
  var main = document.querySelector('main[data-refresh]');
  if (!main || !window.fetch || !window.DOMParser) return;
  var seconds = Number(main.getAttribute('data-refresh')) || 60;
  var status = document.getElementById('refresh-status');
  var button = document.createElement('button');
  button.type = 'button';
  button.textContent = 'Stop refreshing';
  var running = true;
  var timer = setInterval(refresh, seconds * 1000);
  button.addEventListener('click', function () {
    running = !running;
    button.textContent = running ? 'Stop refreshing' : 'Refresh every ' + seconds + ' s';
    if (running) { refresh(); timer = setInterval(refresh, seconds * 1000); } else { clearInterval(timer); }
  });
  if (status) status.parentNode.insertBefore(button, status);
  function refresh() {
    fetch(location.href, { headers: { accept: 'text/html' }, credentials: 'same-origin' })
      .then(function (answer) { if (!answer.ok) throw new Error(String(answer.status)); return answer.text(); })
      .then(function (text) {
        var fresh = new DOMParser().parseFromString(text, 'text/html').getElementById('refreshed');
        var current = document.getElementById('refreshed');
        if (fresh && current) current.replaceWith(fresh);
        if (status) status.textContent = 'Updated at ' + new Date().toLocaleTimeString();
      })
      .catch(function (error) { if (status) status.textContent = 'Could not refresh (' + error.message + ')'; });
  }
})();
`;

export const ASSETS: ReadonlyMap<string, { contentType: string; body: string }> = new Map([
  ['pages.css', { contentType: 'text/css; charset=utf-8', body: STYLE.trim() }],
  ['pages.js', { contentType: 'text/javascript; charset=utf-8', body: SCRIPT.trim() }],
]);

/**
 * What the pages may load: this server's own style sheet, script and images
 * (Orthanc's previews), and nothing inline, so that even a value that
 * escaped escaping could not run.
 */
export const PAGE_SECURITY_POLICY = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; "
  + "form-action 'self'; frame-ancestors 'self'; base-uri 'none'";
