// The web messenger: render.js
