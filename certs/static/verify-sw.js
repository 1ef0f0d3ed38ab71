/* Service worker of the verification page (scope /verify): after the first visit the
 * page and its files open without a network. Verdicts always need the server, so the
 * API is never answered from the cache: without a network the page's fetch fails and
 * the page says "offline". The asset list and cache name are filled in by the server
 * (certs/verification.py, GET /verify-sw.js). */
"use strict";

var CACHE = "__CACHE_NAME__";
var ASSETS = __ASSETS__;

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) { return cache.addAll(ASSETS); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf("authority-verify-") === 0 && name !== CACHE;
      }).map(function (name) { return caches.delete(name); }));
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.indexOf("/api/") === 0) { return; }
  if (request.mode === "navigate") {
    /* The page: network first (fresh wording, language), the cached copy offline. */
    event.respondWith(
      fetch(request).then(function (response) {
        if (response.ok) {
          var copy = response.clone();
          caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
        }
        return response;
      }).catch(function () {
        return caches.match(request, { ignoreVary: true }).then(function (hit) {
          return hit || caches.match(ASSETS[0], { ignoreVary: true });
        });
      })
    );
    return;
  }
  /* Scripts, styles and icons: the cached copy (the cache name changes when a file
   * does). The app sends Vary: Accept-Language, Cookie on everything, which does not
   * matter for these files, hence ignoreVary. */
  event.respondWith(
    caches.match(request, { ignoreVary: true }).then(function (hit) {
      return hit || fetch(request);
    })
  );
});
