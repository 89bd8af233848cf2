// The console: api.js
