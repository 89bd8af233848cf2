// The web messenger: api.js
