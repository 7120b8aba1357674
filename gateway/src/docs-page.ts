import { Router } from 'express';
import type { ApiSpec } from '@ecom/common/http';
import { apiDocument } from './apis';

// The page loads its script from /docs/docs.js (same origin), so the default helmet CSP
// (script-src 'self') holds and no inline script is needed.
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>E-commerce API</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1rem 2rem;color:#222}
h1{margin-bottom:.2rem} h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
details{border:1px solid #e3e3e3;border-radius:6px;margin:.4rem 0;background:#fafafa}
summary{cursor:pointer;padding:.45rem .6rem;font-family:ui-monospace,monospace}
.m{display:inline-block;min-width:4.2rem;font-weight:700;text-transform:uppercase}
.get{color:#0a6ebd}.post{color:#2e8b57}.put{color:#b8860b}.delete{color:#c0392b}
.lock{float:right;font-size:12px;color:#777} pre{background:#fff;border:1px solid #eee;padding:.5rem;overflow:auto;margin:.3rem .6rem}
.body{padding:0 .6rem .6rem}
</style>
</head>
<body>
<h1>E-commerce platform API</h1>
<p id="intro">Loading <a href="/docs/openapi.json">/docs/openapi.json</a>…</p>
<div id="ops"></div>
<script src="/docs/docs.js"></script>
</body>
</html>
`;

const SCRIPT = `(function () {
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function resolve(doc, node) {
    if (node && node.$ref) {
      var parts = node.$ref.replace('#/', '').split('/');
      var cur = doc;
      parts.forEach(function (p) { cur = cur && cur[p]; });
      return cur;
    }
    return node;
  }
  fetch('/docs/openapi.json').then(function (r) { return r.json(); }).then(function (doc) {
    var intro = document.getElementById('intro');
    intro.textContent = doc.info.description + ' ';
    intro.appendChild(el('a', { href: '/docs/openapi.json' }, 'OpenAPI JSON'));
    var byTag = {};
    Object.keys(doc.paths).forEach(function (path) {
      Object.keys(doc.paths[path]).forEach(function (method) {
        var op = doc.paths[path][method];
        var tag = (op.tags || ['Other'])[0];
        (byTag[tag] = byTag[tag] || []).push({ path: path, method: method, op: op });
      });
    });
    var root = document.getElementById('ops');
    (doc.tags || []).forEach(function (t) {
      var ops = byTag[t.name];
      if (!ops) return;
      root.appendChild(el('h2', {}, t.name));
      root.appendChild(el('p', {}, t.description || ''));
      ops.forEach(function (o) {
        var d = el('details');
        var s = el('summary');
        s.appendChild(el('span', { class: 'm ' + o.method }, o.method));
        s.appendChild(document.createTextNode(' ' + o.path + ' — ' + (o.op.summary || '')));
        s.appendChild(el('span', { class: 'lock' }, o.op.security && o.op.security.length === 0 ? 'public' : 'bearer token'));
        d.appendChild(s);
        var body = el('div', { class: 'body' });
        if (o.op.parameters) {
          body.appendChild(el('strong', {}, 'Parameters'));
          body.appendChild(el('pre', {}, o.op.parameters.map(function (p) {
            return p.in + ' ' + p.name + (p.required ? ' (required)' : '') + ': ' + JSON.stringify(p.schema);
          }).join('\\n')));
        }
        if (o.op.requestBody) {
          body.appendChild(el('strong', {}, 'Body'));
          var schema = resolve(doc, o.op.requestBody.content['application/json'].schema);
          body.appendChild(el('pre', {}, JSON.stringify(schema, null, 2)));
        }
        body.appendChild(el('strong', {}, 'Responses'));
        body.appendChild(el('pre', {}, Object.keys(o.op.responses).map(function (code) {
          var r = resolve(doc, o.op.responses[code]);
          return code + ' ' + (r && r.description || '');
        }).join('\\n')));
        d.appendChild(body);
        root.appendChild(d);
      });
    });
  }).catch(function (err) {
    document.getElementById('intro').textContent = 'Could not load the API description: ' + err;
  });
})();
`;

/** `/docs` (a browsable page), `/docs/docs.js`, `/docs/openapi.json` (from the services' specs). */
export function docsRoutes(apis: readonly ApiSpec[]): Router {
  const router = Router();
  const document = JSON.stringify(apiDocument(apis));
  router.get('/docs/openapi.json', (_req, res) => {
    res.type('application/json').send(document);
  });
  router.get('/docs/docs.js', (_req, res) => {
    res.type('application/javascript').send(SCRIPT);
  });
  router.get(['/docs', '/docs/'], (_req, res) => {
    res.type('html').send(PAGE);
  });
  return router;
}
