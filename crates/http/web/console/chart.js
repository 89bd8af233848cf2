// The console: chart.js
